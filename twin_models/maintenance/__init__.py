"""Transparent maintenance: one verifiable maintenance history per machine, shared by lessor and lessee.

* :mod:`~twin_models.maintenance.entries` — the log's entries (alarm, inspection, repair, part replacement,
  calibration, tool change, software update, note), each hashed in the canonical form of
  :func:`twin_models.anchoring.record_hash` over the previous entry's hash: a per-machine hash chain;
* :mod:`~twin_models.maintenance.chain` — the exported history and its verification, which names the
  first entry that breaks (edited, deleted, inserted, reordered);
* :mod:`~twin_models.maintenance.tickets` — one ticket per fault episode, ``open -> acknowledged ->
  in_progress -> resolved | dismissed``, kept as events in the log (MTTA, MTTR);
* :mod:`~twin_models.maintenance.access` — who may do what (operators, service technicians, readers);
* :mod:`~twin_models.maintenance.plan` — the lessor's maintenance plan per machine type, the due list and
  the instruction that fits an alarm;
* :mod:`~twin_models.maintenance.stats` and :mod:`~twin_models.maintenance.trend` — usage statistics,
  MTBF/MTTR, and the health-score trend with its projected time to critical.

Pure domain: no I/O; the functions' maintenance area stores and serves it.

Example:
    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    >>> tech = Author(subject="tom", tenant="toolmaker", role="service_technician")
    >>> entry = seal_entry(EntryContent(kind="calibration", occurred_at=at, text="axis X backlash compensated"),
    ...                    machine_id="cnc-01", previous=None, author=tech, recorded_at=at)
    >>> check_export(build_export("cnc-01", [entry], [], exported_at=at)).pending
    1
"""

from __future__ import annotations

from twin_models.maintenance.access import (
    ACTIONS,
    MaintenanceAction,
    MaintenanceRole,
    maintenance_role,
    may,
    may_record,
    who_may,
)
from twin_models.maintenance.chain import (
    EXPORT_FORMAT,
    BreakKind,
    ChainBreak,
    ChainCheck,
    ChainLink,
    Checkpoint,
    MaintenanceExport,
    build_export,
    check_export,
    entry_bundle,
)
from twin_models.maintenance.entries import (
    ENTRY_KINDS,
    GENESIS_HASH,
    SEVERITIES,
    WORK_KINDS,
    Alarm,
    Attachment,
    Author,
    AuthorRole,
    EntryContent,
    EntryKind,
    Health,
    LogEntry,
    Part,
    Severity,
    SinceLast,
    TicketEvent,
    TicketEventKind,
    UsageSnapshot,
    entry_id_of,
    seal_entry,
    split_entry_id,
    split_ticket_id,
    ticket_id_of,
)
from twin_models.maintenance.errors import (
    EntryError,
    MaintenanceError,
    PlanError,
    TicketError,
    TicketTransitionError,
)
from twin_models.maintenance.plan import (
    PLAN_FORMAT,
    PLAN_SCHEMA,
    Due,
    Interval,
    MaintenancePlan,
    Task,
    TaskUsage,
    Trigger,
    due_list,
    instruction_for,
    last_performed,
    load_plan,
    task_usage,
)
from twin_models.maintenance.stats import band_labels, log_statistics, usage_statistics
from twin_models.maintenance.tickets import (
    OPEN_STATES,
    TICKET_STATES,
    Ticket,
    TicketState,
    apply_event,
    next_states,
    severity_rank,
)
from twin_models.maintenance.trend import (
    Projection,
    RulCheck,
    TrendModel,
    check_run_to_failure,
    constant_rate,
    project,
)

__all__ = [
    "ACTIONS",
    "ENTRY_KINDS",
    "EXPORT_FORMAT",
    "GENESIS_HASH",
    "OPEN_STATES",
    "PLAN_FORMAT",
    "PLAN_SCHEMA",
    "SEVERITIES",
    "TICKET_STATES",
    "WORK_KINDS",
    "Alarm",
    "Attachment",
    "Author",
    "AuthorRole",
    "BreakKind",
    "ChainBreak",
    "ChainCheck",
    "ChainLink",
    "Checkpoint",
    "Due",
    "EntryContent",
    "EntryError",
    "EntryKind",
    "Health",
    "Interval",
    "LogEntry",
    "MaintenanceAction",
    "MaintenanceError",
    "MaintenanceExport",
    "MaintenancePlan",
    "MaintenanceRole",
    "Part",
    "PlanError",
    "Projection",
    "RulCheck",
    "Severity",
    "SinceLast",
    "Task",
    "TaskUsage",
    "Ticket",
    "TicketError",
    "TicketEvent",
    "TicketEventKind",
    "TicketState",
    "TicketTransitionError",
    "TrendModel",
    "Trigger",
    "UsageSnapshot",
    "apply_event",
    "band_labels",
    "build_export",
    "check_export",
    "check_run_to_failure",
    "constant_rate",
    "due_list",
    "entry_bundle",
    "entry_id_of",
    "instruction_for",
    "last_performed",
    "load_plan",
    "log_statistics",
    "maintenance_role",
    "may",
    "may_record",
    "next_states",
    "project",
    "seal_entry",
    "severity_rank",
    "split_entry_id",
    "split_ticket_id",
    "task_usage",
    "ticket_id_of",
    "usage_statistics",
    "who_may",
]
