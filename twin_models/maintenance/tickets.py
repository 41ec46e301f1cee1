"""Tickets: one per fault episode, with a lifecycle, kept as events in the maintenance log.

``open -> acknowledged -> in_progress -> resolved | dismissed`` (a ticket may be dismissed from any state
before it is resolved). Every move is an entry of the machine's log carrying a :class:`TicketEvent`, so a
ticket's state is the fold of its events (:func:`apply_event`) and its times (MTTA: opened to
acknowledged, MTTR: opened to resolved) can be checked by anyone holding the exported history.

One ticket per fault episode: an alarm on a component that already has a ticket not yet resolved or
dismissed adds to that ticket (``recurred``, or ``escalated`` when the severity rises) instead of opening
another one.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> from twin_models.maintenance.entries import (Alarm, Author, EntryContent, TicketEvent, seal_entry,
    ...                                              ticket_id_of)
    >>> at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    >>> system = Author(subject="twinledger/anomaly", tenant="twinledger", role="system")
    >>> alarm = Alarm(source="anomaly", code="spindle_bearings", severity="warning", component="spindle_bearings")
    >>> opened = seal_entry(EntryContent(kind="alarm", occurred_at=at, alarm=alarm,
    ...                                  ticket_event=TicketEvent(ticket_id=ticket_id_of("cnc-03", 0), event="opened")),
    ...                     machine_id="cnc-03", previous=None, author=system, recorded_at=at)
    >>> ticket = apply_event(None, opened)
    >>> ticket.ticket_id, ticket.state, ticket.severity
    ('cnc-03.t0', 'open', 'warning')
    >>> ack = seal_entry(EntryContent(kind="note", occurred_at=at + timedelta(minutes=12),
    ...                               ticket_event=TicketEvent(ticket_id="cnc-03.t0", event="acknowledged")),
    ...                  machine_id="cnc-03", previous=opened,
    ...                  author=Author(subject="olga", tenant="factory-1", role="operator"), recorded_at=at)
    >>> apply_event(ticket, ack).hours_to_acknowledge
    0.2
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from twin_models.maintenance.entries import SEVERITIES, Author, LogEntry, Severity, ticket_id_of
from twin_models.maintenance.errors import TicketError, TicketTransitionError
from twin_models.telemetry import UtcDatetime

__all__ = [
    "OPEN_STATES",
    "TICKET_STATES",
    "Ticket",
    "TicketState",
    "apply_event",
    "next_states",
    "severity_rank",
]

TicketState = Literal["open", "acknowledged", "in_progress", "resolved", "dismissed"]
TICKET_STATES: tuple[str, ...] = get_args(TicketState)
#: The states of a ticket whose episode is still going on.
OPEN_STATES: tuple[str, ...] = ("open", "acknowledged", "in_progress")

_MOVES: dict[str, tuple[str, str]] = {
    # event: (from state, to state); dismissed is allowed from every open state
    "acknowledged": ("open", "acknowledged"),
    "started": ("acknowledged", "in_progress"),
    "resolved": ("in_progress", "resolved"),
}


def severity_rank(severity: str | None) -> int:
    """0 for none, 1 warning, 2 critical.

    Example:
        >>> severity_rank("critical") > severity_rank("warning") > severity_rank(None)
        True
    """
    return SEVERITIES.index(severity) + 1 if severity in SEVERITIES else 0


def next_states(state: str) -> tuple[str, ...]:
    """Where a ticket in ``state`` may move.

    Example:
        >>> next_states("open"), next_states("resolved")
        (('acknowledged', 'dismissed'), ())
    """
    moves = tuple(to for source, to in _MOVES.values() if source == state)
    return (*moves, "dismissed") if state in OPEN_STATES else ()


class Ticket(BaseModel):
    """A ticket's state as its events in the log leave it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: str
    machine_id: str
    state: TicketState
    source: Literal["anomaly", "machine", "operator"]
    component: str
    code: str
    severity: Severity
    title: str = ""
    instruction: str = ""
    opened_at: UtcDatetime
    opened_by: Author
    opening_entry: str
    acknowledged_at: UtcDatetime | None = None
    acknowledged_by: Author | None = None
    started_at: UtcDatetime | None = None
    started_by: Author | None = None
    resolved_at: UtcDatetime | None = None
    resolved_by: Author | None = None
    resolving_entry: str | None = None
    dismissed_at: UtcDatetime | None = None
    dismissed_by: Author | None = None
    dismiss_reason: str = ""
    escalated_at: UtcDatetime | None = None
    alarms: int = Field(1, ge=1, description="alarm entries of the episode: the opening one, recurrences, escalations")
    paged_at: UtcDatetime | None = None
    entries: list[str] = Field(default_factory=list, description="the log entries of the ticket's events")
    model_hash: str | None = Field(
        default=None, description="the hash of the model version whose alarm opened the ticket (anomaly alarms)"
    )
    as_of_seq: int = Field(ge=0, description="the last log entry folded in")

    @property
    def is_open(self) -> bool:
        """Whether the episode is still going on (not resolved or dismissed)."""
        return self.state in OPEN_STATES

    @property
    def hours_to_acknowledge(self) -> float | None:
        """Hours from opening to acknowledgement (None until acknowledged): this ticket's share of MTTA."""
        return _hours(self.opened_at, self.acknowledged_at)

    @property
    def hours_to_resolve(self) -> float | None:
        """Hours from opening to resolution (None until resolved): this ticket's share of MTTR."""
        return _hours(self.opened_at, self.resolved_at)

    def paged(self, at: datetime) -> Ticket:
        """The ticket with its page recorded (a critical ticket pages once)."""
        return self.model_copy(update={"paged_at": at})

    def view(self) -> dict[str, object]:
        """The JSON form the API returns: the state, the times and MTTA/MTTR in hours."""
        body = self.model_dump(mode="json")
        body["mtta_h"] = self.hours_to_acknowledge
        body["mttr_h"] = self.hours_to_resolve
        body["next"] = list(next_states(self.state))
        return body


def _hours(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else round(max((end - start).total_seconds(), 0.0) / 3600, 4)


def apply_event(ticket: Ticket | None, entry: LogEntry) -> Ticket:
    """The ticket after the event ``entry`` carries; :class:`TicketTransitionError` if the lifecycle forbids it."""
    event = entry.ticket_event
    if event is None:
        raise TicketError(f"entry {entry.entry_id} carries no ticket event")
    at, who = entry.occurred_at, entry.author
    if event.event == "opened":
        if ticket is not None:
            raise TicketTransitionError(f"ticket {event.ticket_id} is already open")
        if entry.alarm is None:
            raise TicketError("a ticket is opened by an alarm entry")
        if event.ticket_id != ticket_id_of(entry.machine_id, entry.seq):
            raise TicketError(
                f"the ticket opened by entry {entry.entry_id} is {ticket_id_of(entry.machine_id, entry.seq)}"
            )
        return Ticket(
            ticket_id=event.ticket_id,
            machine_id=entry.machine_id,
            state="open",
            source=entry.alarm.source,
            component=entry.alarm.component,
            code=entry.alarm.code,
            severity=entry.alarm.severity,
            title=entry.text[:200],
            instruction=entry.alarm.instruction,
            opened_at=at,
            opened_by=who,
            opening_entry=entry.entry_id,
            entries=[entry.entry_id],
            model_hash=entry.alarm.model_hash,
            as_of_seq=entry.seq,
        )
    if ticket is None:
        raise TicketError(f"no ticket {event.ticket_id}")
    if ticket.ticket_id != event.ticket_id:
        raise TicketError(f"entry {entry.entry_id} is about ticket {event.ticket_id}, not {ticket.ticket_id}")
    if not ticket.is_open:
        raise TicketTransitionError(f"ticket {ticket.ticket_id} is {ticket.state}")
    common = {"entries": [*ticket.entries, entry.entry_id], "as_of_seq": entry.seq}
    if event.event in ("recurred", "escalated"):
        severity = ticket.severity
        update: dict[str, object] = {"alarms": ticket.alarms + 1}
        if entry.alarm is not None and severity_rank(entry.alarm.severity) > severity_rank(severity):
            severity = entry.alarm.severity
            update["escalated_at"] = at
            if entry.alarm.instruction:
                update["instruction"] = entry.alarm.instruction
        return ticket.model_copy(update={**update, "severity": severity, **common})
    if event.event == "dismissed":
        if not event.reason.strip():
            raise TicketError("dismissing a ticket needs a reason")
        return ticket.model_copy(
            update={
                "state": "dismissed",
                "dismissed_at": at,
                "dismissed_by": who,
                "dismiss_reason": event.reason,
                **common,
            }
        )
    source, target = _MOVES[event.event]
    if ticket.state != source:
        raise TicketTransitionError(
            f"ticket {ticket.ticket_id} is {ticket.state}: it can move to {', '.join(next_states(ticket.state))}"
        )
    fields = {"acknowledged": "acknowledged", "started": "started", "resolved": "resolved"}[event.event]
    update = {"state": target, f"{fields}_at": at, f"{fields}_by": who, **common}
    if event.event == "resolved":
        update["resolving_entry"] = event.entry or entry.entry_id
    return ticket.model_copy(update=update)
