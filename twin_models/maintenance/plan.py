"""The lessor's maintenance plan per machine type, what is due, and the instruction that fits an alarm.

A plan (validated by :data:`PLAN_SCHEMA`, the JSON schema of :class:`MaintenancePlan`) lists *tasks*, each
with usage-based intervals (spindle hours, parts), a calendar interval (days) — whichever comes first —
and the kind of log entry that performs it; and *condition triggers*: an alarm on a component at a
severity makes a task due within a number of days.

A task counts as performed by the latest work entry that names it (``task``) or, naming no task, is of
the task's kind and concerns its component (``component``). :func:`due_list` compares the usage since
then with the intervals and the open tickets with the triggers; :func:`instruction_for` words what an
alarm asks for.

Example:
    >>> plan = load_plan({"machine_type": "vmc-800", "tasks": [
    ...     {"id": "bearings", "title": "Bearing inspection", "component": "spindle_bearings",
    ...      "every": {"spindle_hours": 2000, "days": 365}}],
    ...     "triggers": [{"component": "spindle_bearings", "severity": "warning", "task": "bearings",
    ...                   "within_days": 3}]})
    >>> print(instruction_for(plan, "spindle_bearings", "warning", {"bearings": TaskUsage(1850, last_entry="m.4")}))
    spindle bearing vibration rising; 1,850 of 2,000 h since the last bearing inspection: inspect within 3 days
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from twin_models.maintenance.entries import WORK_KINDS, LogEntry, Severity
from twin_models.maintenance.errors import PlanError
from twin_models.maintenance.tickets import Ticket, severity_rank

__all__ = [
    "PLAN_FORMAT",
    "PLAN_SCHEMA",
    "Due",
    "Interval",
    "MaintenancePlan",
    "Task",
    "TaskUsage",
    "Trigger",
    "due_list",
    "instruction_for",
    "last_performed",
    "load_plan",
    "task_usage",
]

PLAN_FORMAT = "twinledger-maintenance-plan"
TaskId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")]
_CONDITION_WORDS = {
    "spindle_bearings": "spindle bearing vibration rising",
    "cooling_system": "temperature above its baseline",
    "tool_change": "tool wear and cutting load rising",
    "general_inspection": "several signals deviate",
}


class Interval(BaseModel):
    """Whichever comes first: spindle hours, parts, days."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spindle_hours: Annotated[float, Field(gt=0, le=1e6)] | None = None
    parts: Annotated[int, Field(gt=0, le=10**9)] | None = None
    days: Annotated[float, Field(gt=0, le=36500)] | None = None

    @model_validator(mode="after")
    def _one(self) -> Interval:
        if self.spindle_hours is None and self.parts is None and self.days is None:
            raise ValueError("an interval needs spindle_hours, parts or days")
        return self


class Task(BaseModel):
    """One recurring task of the plan."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: TaskId
    title: Annotated[str, Field(min_length=1, max_length=200)]
    component: Annotated[str, Field(min_length=1, max_length=128)]
    kind: Literal["inspection", "repair", "part_replacement", "calibration", "tool_change", "software_update"] = (
        "inspection"
    )
    every: Interval
    due_soon: Annotated[float, Field(gt=0, le=1)] = Field(0.9, description="the fraction of an interval that is due")
    verb: Annotated[str, Field(min_length=1, max_length=40)] = "inspect"
    instruction: Annotated[str, Field(max_length=2000)] = ""


class Trigger(BaseModel):
    """A condition trigger: an alarm on ``component`` at ``severity`` (or above) makes ``task`` due."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    component: Annotated[str, Field(min_length=1, max_length=128)]
    severity: Severity
    task: TaskId
    within_days: Annotated[float, Field(gt=0, le=365)]
    condition: Annotated[str, Field(max_length=200)] = Field(
        "", description="how the condition reads, e.g. 'spindle bearing vibration rising'"
    )


class MaintenancePlan(BaseModel):
    """The maintenance plan of one machine type, as the lessor publishes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["twinledger-maintenance-plan"] = "twinledger-maintenance-plan"
    v: Literal[1] = 1
    machine_type: Annotated[str, Field(pattern=r"^[A-Za-z0-9_:\-]{1,64}$")]
    version: Annotated[int, Field(ge=1)] = 1
    tasks: Annotated[list[Task], Field(min_length=1, max_length=200)]
    triggers: Annotated[list[Trigger], Field(max_length=200)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _refs(self) -> MaintenancePlan:
        ids = [t.id for t in self.tasks]
        if len(set(ids)) != len(ids):
            raise ValueError("task ids must be unique")
        unknown = sorted({t.task for t in self.triggers} - set(ids))
        if unknown:
            raise ValueError(f"triggers name unknown tasks: {', '.join(unknown)}")
        return self

    def task(self, task_id: str) -> Task:
        """The task with ``task_id``."""
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise PlanError(f"the plan has no task {task_id!r}")

    def trigger_for(self, component: str, severity: str) -> Trigger | None:
        """The most urgent trigger an alarm on ``component`` at ``severity`` sets off (None: none)."""
        fitting = [
            t
            for t in self.triggers
            if t.component == component and severity_rank(severity) >= severity_rank(t.severity)
        ]
        return min(fitting, key=lambda t: (t.within_days, -severity_rank(t.severity)), default=None)


#: The JSON schema a plan document is validated by (published with the API's documentation).
PLAN_SCHEMA: dict[str, Any] = MaintenancePlan.model_json_schema()


def load_plan(document: Mapping[str, Any]) -> MaintenancePlan:
    """A plan from its JSON document; :class:`PlanError` names the first field that does not fit."""
    try:
        return MaintenancePlan.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "plan"
        raise PlanError(f"{where}: {first['msg']}") from exc


@dataclass(frozen=True)
class TaskUsage:
    """The usage since a task was last performed (or since the log began)."""

    spindle_hours: float = 0.0
    parts: int = 0
    days: float | None = None
    last_entry: str | None = None
    last_at: datetime | None = None


def _performs(entry: LogEntry, task: Task) -> bool:
    """Work that names the task (any kind of work), or work of the task's kind on its component."""
    if entry.kind not in WORK_KINDS:
        return False
    if entry.task is not None:
        return entry.task == task.id
    return entry.kind == task.kind and entry.component == task.component


def last_performed(entries: Sequence[LogEntry], task: Task) -> LogEntry | None:
    """The latest entry (by when it happened) that performs ``task``."""
    done = [e for e in entries if _performs(e, task)]
    return max(done, key=lambda e: (e.occurred_at, e.seq), default=None)


def task_usage(
    plan: MaintenancePlan, entries: Sequence[LogEntry], spindle_hours: float, parts: int, now: datetime
) -> dict[str, TaskUsage]:
    """The usage since each task of ``plan`` was last performed; ``spindle_hours`` and ``parts`` are the
    machine's counts now (on the log's scale: from the start of the log)."""
    start = min((e.occurred_at for e in entries), default=None)
    out: dict[str, TaskUsage] = {}
    for task in plan.tasks:
        last = last_performed(entries, task)
        if last is None:
            days = None if start is None else (now - start).total_seconds() / 86400
            out[task.id] = TaskUsage(spindle_hours=spindle_hours, parts=parts, days=days)
            continue
        out[task.id] = TaskUsage(
            spindle_hours=max(spindle_hours - last.usage.spindle_hours, 0.0),
            parts=max(parts - last.usage.parts, 0),
            days=max((now - last.occurred_at).total_seconds() / 86400, 0.0),
            last_entry=last.entry_id,
            last_at=last.occurred_at,
        )
    return out


@dataclass(frozen=True)
class Due:
    """One task's standing: ``overdue``, ``due`` (within its due-soon share, or triggered) or ``ok``."""

    task: str
    title: str
    component: str
    status: Literal["overdue", "due", "ok"]
    fraction: float
    reason: str
    usage: dict[str, dict[str, float | None]] = field(default_factory=dict)
    last_entry: str | None = None
    due_by: datetime | None = None
    ticket: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ``...Z`` text)."""
        from_time = None if self.due_by is None else self.due_by.isoformat().replace("+00:00", "Z")
        return {
            "task": self.task,
            "title": self.title,
            "component": self.component,
            "status": self.status,
            "fraction": round(self.fraction, 4),
            "reason": self.reason,
            "usage": self.usage,
            "last_entry": self.last_entry,
            "due_by": from_time,
            "ticket": self.ticket,
        }


def _dimensions(task: Task, used: TaskUsage) -> dict[str, dict[str, float | None]]:
    dims: dict[str, dict[str, float | None]] = {}
    if task.every.spindle_hours is not None:
        dims["spindle_hours"] = {"since": round(used.spindle_hours, 3), "every": task.every.spindle_hours}
    if task.every.parts is not None:
        dims["parts"] = {"since": float(used.parts), "every": float(task.every.parts)}
    if task.every.days is not None:
        dims["days"] = {"since": None if used.days is None else round(used.days, 3), "every": task.every.days}
    return dims


def _fraction(dims: Mapping[str, Mapping[str, float | None]]) -> tuple[float, str]:
    """The largest share of an interval used, and which interval it is ("" when none can be measured)."""
    best, which = 0.0, ""
    for name, d in dims.items():
        since, every = d.get("since"), d.get("every")
        if since is None or not every:
            continue
        share = float(since) / float(every)
        if share > best or not which:
            best, which = share, name
    return best, which


_UNITS = {"spindle_hours": "h", "parts": "parts", "days": "days"}


def due_list(
    plan: MaintenancePlan,
    entries: Sequence[LogEntry],
    spindle_hours: float,
    parts: int,
    now: datetime,
    tickets: Sequence[Ticket] = (),
) -> list[Due]:
    """Every task's standing, most urgent first (overdue, then due, each by the share of its interval)."""
    usage = task_usage(plan, entries, spindle_hours, parts, now)
    rows: list[Due] = []
    for task in plan.tasks:
        used = usage[task.id]
        dims = _dimensions(task, used)
        fraction, which = _fraction(dims)
        status: Literal["overdue", "due", "ok"] = (
            "overdue" if fraction >= 1 else "due" if fraction >= task.due_soon else "ok"
        )
        if which:
            d = dims[which]
            reason = f"{float(d['since'] or 0):,.0f} of {float(d['every'] or 0):,.0f} {_UNITS[which]} since the " + (
                "last time" if used.last_entry else "log began"
            )
        else:
            reason = "no usage recorded yet"
        due_by: datetime | None = None
        ticket_id: str | None = None
        alarmed = ""
        for ticket in tickets:
            if not ticket.is_open:
                continue
            trigger = plan.trigger_for(ticket.component, ticket.severity)
            if trigger is None or trigger.task != task.id:
                continue
            if used.last_at is not None and used.last_at >= ticket.opened_at:
                continue  # performed since the alarm
            since = ticket.escalated_at if trigger.severity == "critical" and ticket.escalated_at else ticket.opened_at
            deadline = since + timedelta(days=trigger.within_days)
            if due_by is None or deadline < due_by:
                due_by, ticket_id, alarmed = deadline, ticket.ticket_id, f"{ticket.severity} {ticket.component}"
        if due_by is not None:
            triggered: Literal["overdue", "due"] = "overdue" if now >= due_by else "due"
            if status != "overdue":
                status = triggered
            reason = f"{reason}; the {alarmed} alarm ({ticket_id}) asks for it by " + due_by.isoformat().replace(
                "+00:00", "Z"
            )
        rows.append(
            Due(
                task=task.id,
                title=task.title,
                component=task.component,
                status=status,
                fraction=fraction,
                reason=reason,
                usage=dims,
                last_entry=used.last_entry,
                due_by=due_by,
                ticket=ticket_id,
            )
        )
    order = {"overdue": 0, "due": 1, "ok": 2}
    return sorted(
        rows, key=lambda r: (order[r.status], r.due_by or datetime.max.replace(tzinfo=now.tzinfo), -r.fraction)
    )


def _within(days: float) -> str:
    if days < 1:
        hours = days * 24
        return f"{hours:g} h"
    return f"{days:g} day" + ("" if days == 1 else "s")


def instruction_for(
    plan: MaintenancePlan | None, component: str, severity: str, usage: Mapping[str, TaskUsage], fallback: str = ""
) -> str:
    """The instruction an alarm on ``component`` at ``severity`` asks for, with the usage since the task it
    triggers was last performed (``usage`` by task id, see :func:`task_usage`); ``fallback`` when the plan
    has no trigger for it."""
    trigger = plan.trigger_for(component, severity) if plan is not None else None
    if plan is None or trigger is None:
        return fallback
    task = plan.task(trigger.task)
    used = usage.get(task.id, TaskUsage())
    condition = trigger.condition or _CONDITION_WORDS.get(component, f"{component.replace('_', ' ')} alarm")
    since = f"since the last {task.title[0].lower() + task.title[1:]}" if used.last_entry else "since the log began"
    if task.every.spindle_hours is not None:
        amount = f"{used.spindle_hours:,.0f} of {task.every.spindle_hours:,.0f} h {since}"
    elif task.every.parts is not None:
        amount = f"{used.parts:,} of {task.every.parts:,} parts {since}"
    elif task.every.days is not None and used.days is not None:
        amount = f"{used.days:,.0f} of {task.every.days:,.0f} days {since}"
    else:
        amount = since
    text = f"{condition}; {amount}: {task.verb} within {_within(trigger.within_days)}"
    return f"{text}. {task.instruction}" if task.instruction else text
