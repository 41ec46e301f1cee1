"""``twinledger maintenance``: maintenance plans and exported histories, off line.

* ``plan-schema`` prints the JSON schema a maintenance plan is validated by;
* ``plan-check PLAN.json`` validates a plan (exit 1 naming the first field that does not fit);
* ``tickets EXPORT.json`` folds the ticket events of an exported history into each ticket's state, times,
  MTTA and MTTR — what the API serves, recomputed from the log alone;
* ``due --plan PLAN.json --export EXPORT.json`` computes what is due and overdue from an exported history
  (its usage counters, or ``--spindle-hours`` / ``--parts`` for the machine's counts now).

Checking an export against the chain is ``twinledger verify --maintenance EXPORT.json``.

Example:
    $ twinledger maintenance plan-check docs/examples/maintenance-plan.json
    $ twinledger maintenance tickets cnc-03-history.json
    $ twinledger maintenance due --plan docs/examples/maintenance-plan.json --export cnc-03-history.json
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from twin_models.bounds import instant, number, whole

if TYPE_CHECKING:
    from twin_models.maintenance import LogEntry, Ticket

__all__ = ["register"]

# twin_models.maintenance loads the numeric stack (history, OEE): the handlers import it, so that building
# the parser stays light (tests/unit/test_cli.py)


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _entries(path: Path) -> list[LogEntry]:
    from twin_models.maintenance import LogEntry, MaintenanceExport

    export = MaintenanceExport.model_validate(_read_json(path))
    return [LogEntry.model_validate(doc) for doc in export.entries]


def _plan_schema(args: argparse.Namespace) -> int:
    from twin_models.maintenance import PLAN_SCHEMA

    _print(PLAN_SCHEMA)
    return 0


def _plan_check(args: argparse.Namespace) -> int:
    from twin_models.maintenance import MaintenanceError, load_plan

    try:
        plan = load_plan(_read_json(args.plan))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, MaintenanceError) else 2
    _print(
        {
            "ok": True,
            "machine_type": plan.machine_type,
            "version": plan.version,
            "tasks": [t.id for t in plan.tasks],
            "triggers": len(plan.triggers),
        }
    )
    return 0


def _fold(entries: list[LogEntry]) -> dict[str, Ticket]:
    from twin_models.maintenance import apply_event

    tickets: dict[str, Ticket] = {}
    for entry in entries:
        if entry.ticket_event is not None:
            tid = entry.ticket_event.ticket_id
            tickets[tid] = apply_event(tickets.get(tid), entry)
    return tickets


def _tickets(args: argparse.Namespace) -> int:
    try:
        tickets = _fold(_entries(args.export))
    except (OSError, ValueError, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print([t.view() for t in tickets.values()])
    return 0


def _due(args: argparse.Namespace) -> int:
    from twin_models.maintenance import due_list, load_plan

    try:
        plan = load_plan(_read_json(args.plan))
        entries = _entries(args.export)
        now = args.at or datetime.now(UTC)
    except (OSError, ValueError, ValidationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    last = max(entries, key=lambda e: (e.occurred_at, e.seq), default=None)
    hours = args.spindle_hours if args.spindle_hours is not None else (last.usage.spindle_hours if last else 0.0)
    parts = args.parts if args.parts is not None else (last.usage.parts if last else 0)
    rows = due_list(plan, entries, hours, parts, now, list(_fold(entries).values()))
    _print({"at": now.isoformat(), "spindle_hours": hours, "parts": parts, "items": [r.as_dict() for r in rows]})
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``maintenance`` (plan-schema, plan-check, tickets, due)."""
    parser = subparsers.add_parser("maintenance", help="maintenance plans and exported histories (off line)")
    commands = parser.add_subparsers(dest="maintenance_command", metavar="COMMAND", required=True)
    schema = commands.add_parser("plan-schema", help="print the JSON schema of a maintenance plan")
    schema.set_defaults(handler=_plan_schema)
    check = commands.add_parser("plan-check", help="validate a maintenance plan document")
    check.add_argument("plan", type=Path)
    check.set_defaults(handler=_plan_check)
    tickets = commands.add_parser("tickets", help="each ticket's state, MTTA and MTTR from an exported history")
    tickets.add_argument("export", type=Path, help="GET /machines/{id}/maintenance/export")
    tickets.set_defaults(handler=_tickets)
    due = commands.add_parser("due", help="what a plan says is due, from an exported history")
    due.add_argument("--plan", type=Path, required=True)
    due.add_argument("--export", type=Path, required=True)
    due.add_argument("--at", type=instant, help="the time to compute for (ISO 8601 with zone; default now)")
    due.add_argument("--spindle-hours", type=number(0), help="the machine's spindle hours now (log scale)")
    due.add_argument("--parts", type=whole(0), help="the machine's parts now (log scale)")
    due.set_defaults(handler=_due)
