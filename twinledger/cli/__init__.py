"""The ``twinledger`` command line: wiring only, no domain logic.

Every module in this package that defines ``register(subparsers)`` adds its own
sub-commands; ``main`` discovers them, so an area plugs in without editing this file.

Bad input never ends in a traceback: every number, day and choice an option takes is checked as the
arguments are parsed (the ``type=`` callables of :mod:`twin_models.bounds`, argparse's ``choices``), and a
refusal is one line on standard error with exit code 2; so is a domain error (``TwinModelsError``,
``ValueError``) that a command's input raises once it runs.

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
from typing import Any, NoReturn

from twin_models.errors import TwinModelsError
from twinledger.paths import CheckoutRequiredError

__all__ = ["CommandLineParser", "build_parser", "main", "one_line"]

Handler = Callable[[argparse.Namespace], int]


def one_line(text: str) -> str:
    """``text`` as one line: its lines joined with ``; `` (a pydantic error spans several).

    Example:
        >>> one_line("1 validation error for Lease\\nlease_id\\n  Field required")
        '1 validation error for Lease; lease_id; Field required'
    """
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


class CommandLineParser(argparse.ArgumentParser):
    """An argument parser whose refusal is one line (``twinledger demo: error: argument --machines: ...``)
    with a pointer to ``--help``, and exit code 2; its sub-parsers are of the same class.

    Example:
        >>> parser = CommandLineParser(prog="twinledger")
        >>> _ = parser.add_argument("--by", choices=["shift", "day"])
        >>> parser.parse_args(["--by", "month"])  # doctest: +SKIP
        twinledger: error: argument --by: invalid choice: 'month' (choose from 'shift', 'day') (see twinledger --help)
    """

    def error(self, message: str) -> NoReturn:
        """Print the one line and exit with 2."""
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser with every area's sub-commands registered."""
    parser = CommandLineParser(
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

    Bad arguments, a command that needs a source checkout, an optional dependency that is not installed, or
    a domain error from the command's input: one line on stderr and 2 (no traceback).

    Example:
        >>> main(["demo", "--machines", "0"])  # doctest: +SKIP
        twinledger demo: error: argument --machines: must be a whole number from 1 to 64, not '0' (see ...)
        2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a refusal (2) or --help (0): the code, not an exception, to the caller
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except (TwinModelsError, ValueError) as exc:  # the input did not fit a domain rule
        print(f"twinledger {args.command}: error: {one_line(str(exc)) or type(exc).__name__}", file=sys.stderr)
        return 2
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
