"""The ``twinledger`` command line: wiring only, no domain logic.

Every module in this package that defines ``register(subparsers)`` adds its own
sub-commands; ``main`` discovers them, so an area plugs in without editing this file.

Example:
    $ twinledger demo --machines 8 --days 1 --seed 7
    $ twinledger oee --scenario docs/examples/oee-scenario.json --json
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence
from typing import Any

from twinledger.paths import CheckoutRequiredError

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The parser with every area's sub-commands registered."""
    parser = argparse.ArgumentParser(
        prog="twinledger",
        description="Trusted machine data for leased CNC machines: twins, OEE, maintenance, billing, anchoring.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module: Any = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(subparsers)
    return parser


#: Top-level modules that exist only in a source checkout (the Chalice project), never in the wheel.
_CHECKOUT_MODULES = frozenset({"app", "chalicelib"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command and return its exit code (2 on a usage error).

    A command that needs a source checkout, or an optional dependency that is not installed, says so in one
    line on stderr and returns 2 (no traceback).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except CheckoutRequiredError as exc:
        print(f"twinledger {args.command}: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing in _CHECKOUT_MODULES:
            print(
                f"twinledger {args.command}: needs a source checkout of twinledger ({missing} is not installed)",
                file=sys.stderr,
            )
        else:
            print(
                f"twinledger {args.command}: needs the optional package {missing!r}, which is not installed "
                "(in a checkout: scripts/setup.sh demo)",
                file=sys.stderr,
            )
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
