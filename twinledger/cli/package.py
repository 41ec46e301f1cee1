"""``twinledger package``: the deployable Lambda bundle (``chalice package``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from twinledger.paths import require_checkout

__all__ = ["register"]


def _run(args: argparse.Namespace) -> int:
    require_checkout()
    from twinledger.packaging import package_functions

    bundle = package_functions(Path(args.out), stage=args.stage, region=args.region)
    print(bundle)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``package``."""
    parser = subparsers.add_parser("package", help="build the Lambda deployment bundle with chalice package")
    parser.add_argument("--out", default="build/lambda", help="output folder (default build/lambda)")
    parser.add_argument("--stage", default="dev", help="Chalice stage (default dev)")
    parser.add_argument("--region", default=None, help="AWS region for the template (no credentials needed)")
    parser.set_defaults(handler=_run)
