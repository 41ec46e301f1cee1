"""``twinledger oee``: evaluate an OEE scenario file (wiring only: ``twinledger.files.oee`` reads the file,
``twin_models.oee`` computes).

Example:
    $ twinledger oee --scenario docs/examples/oee-worksheet.json --json
    $ twinledger oee --scenario docs/examples/oee-rollup.json --by day
"""

from __future__ import annotations

import argparse
import sys

from twin_models.oee import OeeError, OeeMetrics, evaluate_scenario
from twinledger.files.oee import load_scenario

__all__ = ["register"]


def _pct(value: float | None) -> str:
    return "   n/a" if value is None else f"{value * 100:6.2f}"


def _row(name: str, m: OeeMetrics) -> str:
    return (
        f"{name:<28} {_pct(m.availability)} {_pct(m.performance)} {_pct(m.quality)} "
        f"{_pct(m.oee)} {_pct(m.teep)} {m.total_count:>9} {m.good_count:>9}"
    )


def _run(args: argparse.Namespace) -> int:
    try:
        report = evaluate_scenario(load_scenario(args.scenario), by=args.by)
    except OeeError as exc:
        print(f"twinledger oee: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(report.model_dump_json(indent=2))
        return 0
    header = f"{'':<28} {'A %':>6} {'P %':>6} {'Q %':>6} {'OEE %':>6} {'TEEP %':>6} {'total':>9} {'good':>9}"
    print(header)
    for period in report.periods or []:
        print(_row(period.label, period.total))
    for machine in report.machines:
        print(_row(machine.machine_id, machine))
    for line in report.lines:
        print(_row(f"line {line.line}", line))
    print(_row("all machines", report.total))
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``oee`` sub-command."""
    parser = subparsers.add_parser(
        "oee",
        help="compute OEE (availability, performance, quality, TEEP, six big losses) for a scenario file",
        description="Compute ISO 22400 OEE KPIs for the machines of a scenario file (format: docs/oee.md).",
    )
    parser.add_argument("--scenario", required=True, metavar="FILE.json", help="scenario file (see docs/oee.md)")
    parser.add_argument("--by", choices=("shift", "day", "week"), help="also report per shift, local day or ISO week")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.set_defaults(handler=_run)
