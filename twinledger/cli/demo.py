"""``twinledger demo``: the whole data path on embedded defaults."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from twinledger.paths import require_checkout

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    require_checkout()
    from twinledger.local.demo import run_demo

    result = run_demo(
        machines=args.machines,
        days=args.days,
        seed=args.seed,
        start_day=args.start,
        batch_samples=args.batch,
        out=sys.stdout,
    )
    return 0 if all(m.proof_ok for m in result.machines) and result.accepted else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo``."""
    parser = subparsers.add_parser(
        "demo",
        help="one plant day of a leased fleet through the whole platform (in-process, no account)",
        description="Runs in-process: in-memory stores for AWS, eth-tester for the chain. No account, no servers.",
    )
    parser.add_argument("--machines", type=int, default=8, help="fleet size (default 8)")
    parser.add_argument("--days", type=int, default=1, help="simulated days (default 1)")
    parser.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 5), help="first day (plant time)")
    parser.add_argument("--batch", type=int, default=300, help="samples per envelope (default 300)")
    parser.set_defaults(handler=_run)
