"""``twinledger demo``: the whole data path on embedded defaults.

Each phase reports its progress on standard error (a bar on a terminal, one ``phase: done (n s)`` line
otherwise); the report goes to standard output, as text or (``--json``) as one JSON document.

Example:
    $ twinledger demo --machines 3 --seed 1
    $ twinledger demo --machines 1 --json > demo.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from datetime import date

from twin_models.bounds import day, seed, whole
from twinledger.cli.federated import _json_ready  # NaN (a figure without both classes) as null
from twinledger.paths import require_checkout
from twinledger.progress import Progress

__all__ = ["MAX_BATCH", "MAX_DAYS", "MAX_MACHINES", "register"]

#: The largest fleet the demo simulates (8 machines take about a minute).
MAX_MACHINES = 64
#: The longest run: a month of plant days, one invoice per day.
MAX_DAYS = 31
#: The most samples per envelope: the simulator's samples take about 280 bytes each in an envelope, so 400
#: stay well under the 128 KiB an envelope may have (``twin_models.telemetry.MAX_ENVELOPE_BYTES``).
MAX_BATCH = 400


def _run(args: argparse.Namespace) -> int:
    require_checkout()
    from twinledger.local.demo import report_document, run_demo, write_report

    stdout = sys.stdout
    progress = Progress(sys.stderr)
    # with --json, standard output carries the document alone: anything else printed while the demo runs
    # goes to standard error
    with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
        result = run_demo(
            machines=args.machines,
            days=args.days,
            seed=args.seed,
            start_day=args.start,
            batch_samples=args.batch,
            progress=progress,
        )
    if args.json:
        stdout.write(json.dumps(_json_ready(report_document(result)), default=str, allow_nan=False) + "\n")
    else:
        write_report(result, stdout)
    stdout.flush()
    return 0 if result.ok else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo``."""
    parser = subparsers.add_parser(
        "demo",
        help="one plant day of a leased fleet through the whole platform (in-process, no account)",
        description="Runs in-process: in-memory stores for AWS, eth-tester for the chain. No account, no servers.",
    )
    parser.add_argument(
        "--machines", type=whole(1, MAX_MACHINES), default=8, help=f"fleet size, 1 to {MAX_MACHINES} (default 8)"
    )
    parser.add_argument(
        "--days", type=whole(1, MAX_DAYS), default=1, help=f"simulated days, 1 to {MAX_DAYS} (default 1)"
    )
    parser.add_argument("--seed", type=seed(), default=7, help="simulator seed (default 7)")
    parser.add_argument(
        "--start",
        type=day(date(2000, 1, 1), date(2099, 12, 31)),
        default=date(2026, 1, 5),
        help="first day (plant time, YYYY-MM-DD; default 2026-01-05)",
    )
    parser.add_argument(
        "--batch",
        type=whole(1, MAX_BATCH),
        default=300,
        help=f"samples per envelope, 1 to {MAX_BATCH} (default 300)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON document")
    parser.set_defaults(handler=_run)
