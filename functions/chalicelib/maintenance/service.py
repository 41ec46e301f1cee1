"""The maintenance use cases: the shared log, tickets, anchoring of the chain heads, plans, due lists,
statistics and the health trend.

Every write is one append to the machine's log (:meth:`MaintenanceService._append`): the entry is sealed on
the current head, its ticket's new state folded from it, and both written in one atomic store write that
takes the entry's place in the chain; a writer that lost the place to another reads the new head and
tries again. The ticket the API serves is therefore always the state its events in the log give.

Tenant and role rules (:mod:`twin_models.maintenance.access`): another tenant's machine is a 404; a party
whose role may not take an action is a 403 naming who may.

Example:
    >>> from chalicelib import wiring
    >>> wiring.build().maintenance.anchor_heads().as_dict()["heads"]  # doctest: +SKIP
    []
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from chalicelib.errors import (
    BadInputError,
    ConflictingStateError,
    NotAllowedError,
    NotVisibleError,
    ServiceError,
    validation_error,
)
from chalicelib.http import API_TIMES, PageRequest, page, page_body
from chalicelib.maintenance.requests import (
    MAX_ATTACHMENT_BYTES,
    Dismissal,
    Move,
    NewEntry,
    NewTicket,
    Resolution,
    UploadedAttachment,
)
from chalicelib.ports.anchoring import AnchorQueue
from chalicelib.ports.anomaly import AlertPublisher, Cooldowns
from chalicelib.ports.archive import Archive
from chalicelib.ports.billing import Usage
from chalicelib.ports.chain import ChainError
from chalicelib.ports.maintenance import AnchoredProofs, HeadRecord, HealthPoint, MaintenanceStore, PublishedPlan
from chalicelib.ports.twins import Devices, History, Shadows, StateCodes, site_taxonomy
from twin_models.anchoring import ProofBundle
from twin_models.components import component_of
from twin_models.maintenance import (
    OPEN_STATES,
    WORK_KINDS,
    Alarm,
    Attachment,
    Author,
    Checkpoint,
    EntryContent,
    Health,
    LogEntry,
    MaintenanceAction,
    MaintenanceError,
    MaintenancePlan,
    SinceLast,
    Ticket,
    TicketEvent,
    UsageSnapshot,
    apply_event,
    build_export,
    due_list,
    entry_bundle,
    instruction_for,
    log_statistics,
    maintenance_role,
    may,
    may_record,
    next_states,
    project,
    seal_entry,
    severity_rank,
    split_entry_id,
    split_ticket_id,
    task_usage,
    ticket_id_of,
    usage_statistics,
    who_may,
)
from twin_models.states import DEFAULT_TAXONOMY
from twin_models.tenancy import Device, Principal, parties
from twin_models.timestamps import format_utc, parse_utc

__all__ = ["HEAD_KIND", "HeadsReport", "LogBusyError", "MaintenanceService", "head_record_id"]

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]

#: The anchoring kind of a machine's chain head: all heads of an interval go in one Merkle batch.
HEAD_KIND = "maintenance-head"
#: The author of the entries anomaly detection writes.
SYSTEM = Author(subject="twinledger/anomaly", tenant="twinledger", role="system")
#: How far back the usage counters of a machine's first entry reach.
FIRST_ENTRY_LOOKBACK = timedelta(days=31)
MAX_STATISTICS_RANGE = timedelta(days=93)
_MAX_FUTURE = timedelta(minutes=5)
#: What an alarm's ``model_hash`` may be (anything else is not recorded).
_MODEL_HASH = re.compile(r"0x[0-9a-f]{64}")
_APPEND_ATTEMPTS = 12
_RECENT = 256


def head_record_id(machine_id: str, seq: int) -> str:
    """The anchoring record id of a machine's head at ``seq``.

    Example:
        >>> head_record_id("cnc-01", 12)
        'maintenance-head/cnc-01/12'
    """
    return f"{HEAD_KIND}/{machine_id}/{seq}"


class LogBusyError(ServiceError):
    """Other writers kept taking the log's next place (503: try again)."""

    status = 503


@dataclass
class HeadsReport:
    """What one run of the head anchoring did."""

    heads: list[str] = field(default_factory=list)
    already: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"heads": self.heads, "submitted": len(self.heads), "already": self.already, "errors": self.errors}


@dataclass(frozen=True)
class _Write:
    """What one append writes: the entry's content, its author, and the ticket it moves (folded from it)."""

    content: EntryContent
    author: Author
    ticket: Ticket | None = None
    fold: bool = False  # fold the entry's ticket event into ``ticket`` (or open one)
    page: bool = False


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _quantity(value: Decimal | float) -> float:
    return float(value)


class MaintenanceService:
    """The maintenance area over its ports (built by :mod:`chalicelib.wiring`)."""

    def __init__(
        self,
        *,
        store: MaintenanceStore,
        devices: Devices,
        archive: Archive,
        usage: Usage,
        history: History,
        shadows: Shadows,
        anchors: AnchorQueue,
        proofs: AnchoredProofs,
        alerts: AlertPublisher | None = None,
        cooldowns: Cooldowns | None = None,
        cooldown_s: int = 3600,
        clock: Clock = _utcnow,
        state_codes: StateCodes | None = None,
    ) -> None:
        self.state_codes = state_codes
        self.store = store
        self.devices = devices
        self.archive = archive
        self.usage = usage
        self.history = history
        self.shadows = shadows
        self.anchors = anchors
        self.proofs = proofs
        self.alerts = alerts
        self.cooldowns = cooldowns
        self.cooldown_s = cooldown_s
        self.clock = clock

    # -- who may -------------------------------------------------------------------------------------
    def _machine(self, principal: Principal, machine_id: str, action: MaintenanceAction) -> tuple[Device, str]:
        device = self.devices.get(machine_id)
        role = maintenance_role(principal, device) if device is not None else None
        if device is None or role is None:
            raise NotVisibleError(f"no machine {machine_id!r}")
        if not may(role, action):
            raise NotAllowedError(f"{action.replace('_', ' ')} needs the role {who_may(action)}; the caller is {role}")
        return device, role

    @staticmethod
    def _author(principal: Principal, role: str) -> Author:
        return Author(subject=principal.subject or "unknown", tenant=principal.tenant, role=role)

    # -- the one write -------------------------------------------------------------------------------
    def _append(self, machine_id: str, build: Callable[[LogEntry | None], _Write]) -> tuple[LogEntry, Ticket | None]:
        """Seal what ``build`` makes of the current head and append it; again when another writer won."""
        for _ in range(_APPEND_ATTEMPTS):
            head = self.store.head(machine_id)
            write = build(head)
            usage = self._usage_snapshot(machine_id, write.content, head)
            entry = seal_entry(
                write.content,
                machine_id=machine_id,
                previous=head,
                author=write.author,
                recorded_at=self.clock(),
                usage=usage,
            )
            ticket = write.ticket
            if write.fold:
                try:
                    ticket = apply_event(write.ticket, entry)
                except MaintenanceError as exc:
                    raise ConflictingStateError(str(exc)) from exc
                if write.page:
                    ticket = ticket.paged(entry.recorded_at)
            if self.store.append(entry, ticket):
                return entry, ticket
        raise LogBusyError(f"the log of {machine_id} is busy; try again")

    # -- usage and condition at an entry's time ------------------------------------------------------
    def _metered(self, machine_id: str, start: datetime, end: datetime) -> tuple[float, int, float]:
        hours = energy = 0.0
        parts = 0
        for event in self.usage.between(machine_id, start, end) if end > start else []:
            if event.meter == "spindle_hours":
                hours += _quantity(event.quantity)
            elif event.meter == "parts":
                parts += int(event.quantity)
            elif event.meter == "energy_kwh":
                energy += _quantity(event.quantity)
        return hours, parts, energy

    def _health_now(self, machine_id: str) -> Health | None:
        found = self.shadows.get(machine_id, "health")
        if not found:
            return None
        reported = found[0]
        severity = reported.get("severity")
        if severity not in ("ok", "warning", "critical"):
            return None

        def number(key: str) -> float | None:
            value = reported.get(key)
            return round(float(value), 4) if isinstance(value, int | float) else None

        action = reported.get("action")
        return Health(
            severity=severity,
            score=number("score"),
            threshold=number("threshold"),
            critical=number("critical"),
            component=action if isinstance(action, str) and action else None,
        )

    def _usage_snapshot(self, machine_id: str, content: EntryContent, head: LogEntry | None) -> UsageSnapshot:
        """The machine's usage counters at ``content.occurred_at``: the latest entry before it plus the metered
        usage since; and the usage since the last entry of the same kind (and task)."""
        at = content.occurred_at
        recent = self.store.entries(machine_id, max(head.seq - _RECENT + 1, 0), head.seq) if head else []
        before = [e for e in recent if e.occurred_at <= at]
        if head is not None and not before and head.seq >= _RECENT:  # an entry back-dated past the recent ones
            before = [e for e in self.store.entries(machine_id) if e.occurred_at <= at]
        base = max(before, key=lambda e: (e.occurred_at, e.seq), default=None)
        start = base.occurred_at if base is not None else at - FIRST_ENTRY_LOOKBACK
        hours, parts, energy = self._metered(machine_id, start, at)
        base_usage = base.usage if base is not None else UsageSnapshot()
        usage = UsageSnapshot(
            spindle_hours=round(base_usage.spindle_hours + hours, 6),
            parts=base_usage.parts + parts,
            energy_kwh=round(base_usage.energy_kwh + energy, 6),
            health=self._health_now(machine_id),
        )
        same = [e for e in before if e.kind == content.kind and (content.task is None or e.task == content.task)]
        last = max(same, key=lambda e: (e.occurred_at, e.seq), default=None)
        if last is not None:
            since = SinceLast(
                entry_id=last.entry_id,
                spindle_hours=round(max(usage.spindle_hours - last.usage.spindle_hours, 0.0), 6),
                parts=max(usage.parts - last.usage.parts, 0),
                hours=round(max((at - last.occurred_at).total_seconds(), 0.0) / 3600, 4),
            )
            usage = usage.model_copy(update={"since_same_kind": since})
        return usage

    def _usage_now(self, machine_id: str, entries: Sequence[LogEntry], now: datetime) -> tuple[float, int]:
        """Spindle hours and parts now, on the log's scale."""
        base = max((e for e in entries if e.occurred_at <= now), key=lambda e: (e.occurred_at, e.seq), default=None)
        if base is None:
            hours, parts, _ = self._metered(machine_id, now - FIRST_ENTRY_LOOKBACK, now)
            return hours, parts
        hours, parts, _ = self._metered(machine_id, base.occurred_at, now)
        return base.usage.spindle_hours + hours, base.usage.parts + parts

    # -- plans ---------------------------------------------------------------------------------------
    def _plan_of(self, device: Device) -> MaintenancePlan | None:
        published = self.store.plan(device.lessor, device.machine_type) if device.machine_type else None
        return published.plan if published else None

    def publish_plan(self, principal: Principal, machine_type: str, document: Mapping[str, Any]) -> dict[str, Any]:
        """The lessor publishes (or replaces) its plan for a machine type; the document is schema-checked."""
        if principal.role != "lessor":
            raise NotAllowedError(
                f"publishing a maintenance plan needs the role lessor; the caller is {principal.role}"
            )
        try:
            plan = MaintenancePlan.model_validate(
                {**document, "machine_type": document.get("machine_type", machine_type)}
            )
        except ValidationError as exc:
            raise validation_error(exc, "body") from exc
        if plan.machine_type != machine_type:
            raise BadInputError(
                f"machine_type: the plan is for {plan.machine_type!r}, not {machine_type!r}", field="body.machine_type"
            )
        published = PublishedPlan(plan, principal.tenant, self.clock(), principal.subject)
        self.store.put_plan(published)
        return self._plan_view(published)

    def plan(self, principal: Principal, machine_type: str) -> dict[str, Any]:
        """The caller's (lessor's) plan for a machine type."""
        published = self.store.plan(principal.tenant, machine_type)
        if published is None:
            raise NotVisibleError(f"no maintenance plan for {machine_type!r}")
        return self._plan_view(published)

    @staticmethod
    def _plan_view(published: PublishedPlan) -> dict[str, Any]:
        return {
            "plan": published.plan.model_dump(mode="json"),
            "lessor": published.lessor,
            "published_at": format_utc(published.published_at),
            "published_by": published.published_by,
        }

    # -- entries -------------------------------------------------------------------------------------
    def _upload(self, machine_id: str, files: Sequence[UploadedAttachment], where: str) -> list[Attachment]:
        kept: list[Attachment] = []
        for i, f in enumerate(files):
            try:
                body = base64.b64decode(f.content_base64, validate=True)
            except (binascii.Error, ValueError) as exc:
                at = f"{where}.attachments.{i}.content_base64"
                raise BadInputError(f"{at}: not base64", field=at) from exc
            if len(body) > MAX_ATTACHMENT_BYTES:
                at = f"{where}.attachments.{i}"
                raise BadInputError(f"{at}: larger than {MAX_ATTACHMENT_BYTES} bytes", field=at)
            digest = hashlib.sha256(body).hexdigest()
            self.archive.put(f"maintenance/{machine_id}/attachments/{digest}", body, f.content_type)
            kept.append(Attachment(name=f.name, content_type=f.content_type, sha256=digest, size=len(body)))
        return kept

    def _when(self, occurred_at: datetime | None, where: str = "body") -> datetime:
        now = self.clock()
        at = occurred_at or now
        field = f"{where}.occurred_at"
        if at > now + _MAX_FUTURE:
            raise BadInputError(f"{field}: {format_utc(at)} is in the future", field=field)
        if at < API_TIMES[0]:
            raise BadInputError(f"{field}: {format_utc(at)} is before {API_TIMES[0].year}", field=field)
        return at

    def _content(
        self, machine_id: str, body: NewEntry, role: str, device: Device, where: str = "body", **links: Any
    ) -> EntryContent:
        alarm = None
        if body.kind == "alarm":
            if body.alarm is None:
                at = f"{where}.alarm"
                raise BadInputError(f"{at}: an alarm entry names its code, severity and component", field=at)
            source = "machine" if role == "integration" else "operator"
            alarm = Alarm(
                source=source, code=body.alarm.code, severity=body.alarm.severity, component=body.alarm.component
            )
        elif body.alarm is not None:
            raise BadInputError(f"{where}.alarm: only an alarm entry carries one", field=f"{where}.alarm")
        if body.task is not None:
            plan = self._plan_of(device)
            if plan is None or body.task not in {t.id for t in plan.tasks}:
                at = f"{where}.task"
                raise BadInputError(f"{at}: {body.task!r} is not a task of this machine's maintenance plan", field=at)
        for i, corrected in enumerate(body.corrects):
            at = f"{where}.corrects.{i}"
            try:
                owner, seq = split_entry_id(corrected)
            except MaintenanceError as exc:
                raise BadInputError(f"{at}: {exc}", field=at) from exc
            if owner != machine_id or self.store.entry(machine_id, seq) is None:
                raise BadInputError(f"{at}: no entry {corrected!r} in the log of {machine_id}", field=at)
        try:
            return EntryContent(
                kind=body.kind,
                occurred_at=self._when(body.occurred_at, where),
                text=body.text,
                attachments=self._upload(machine_id, body.attachments, where),
                parts=body.parts,
                alarm=alarm,
                component=body.component,
                task=body.task,
                corrects=body.corrects,
                **links,
            )
        except ValidationError as exc:
            raise validation_error(exc, where) from exc

    def create_entry(self, principal: Principal, machine_id: str, body: NewEntry) -> dict[str, Any]:
        """``POST /machines/{id}/maintenance``: records one entry (work, a note, an alarm code)."""
        device, role = self._machine(principal, machine_id, "read")
        if not may_record(role, body.kind):
            raise NotAllowedError(f"a {role} may not record {body.kind} entries")
        content = self._content(machine_id, body, role, device)
        author = self._author(principal, role)
        entry, _ = self._append(machine_id, lambda head: _Write(content, author))
        return self._entry_view(entry)

    @staticmethod
    def _entry_view(entry: LogEntry) -> dict[str, Any]:
        return {"entry": entry.document(), "hash": entry.hash_hex}

    def list_entries(
        self,
        principal: Principal,
        machine_id: str,
        request: PageRequest,
        kind: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> dict[str, Any]:
        """``GET /machines/{id}/maintenance?kind=&from=&to=``: entries in log order, a page at a time."""
        self._machine(principal, machine_id, "read")
        entries = [
            e
            for e in self.store.entries(machine_id)
            if (kind is None or e.kind == kind)
            and (start is None or e.occurred_at >= start)
            and (end is None or e.occurred_at < end)
        ]
        chosen, nxt = page(entries, lambda e: f"{e.seq:012d}", request)
        return page_body([self._entry_view(e) for e in chosen], nxt, machine_id=machine_id)

    def _bundle(self, head: HeadRecord, record: Mapping[str, Any]) -> ProofBundle | None:
        try:
            return self.proofs.bundle(head.record_id, record=dict(record))
        except ChainError:
            return None  # submitted, not anchored yet

    def entry(self, principal: Principal, entry_id: str) -> dict[str, Any]:
        """``GET /maintenance/{entry_id}``: the entry with its proof bundle (through the entries after it up to
        the first anchored head that covers it; ``proof: null`` until one is anchored)."""
        try:
            machine_id, seq = split_entry_id(entry_id)
        except MaintenanceError as exc:
            raise NotVisibleError(str(exc)) from exc
        self._machine(principal, machine_id, "read")
        entry = self.store.entry(machine_id, seq)
        if entry is None:
            raise NotVisibleError(f"no entry {entry_id!r}")
        view = self._entry_view(entry)
        for head in (h for h in self.store.heads(machine_id) if h.seq >= seq):
            following = self.store.entries(machine_id, seq + 1, head.seq)
            head_doc = following[-1].document() if following else entry.document()
            bundle = self._bundle(head, head_doc)
            if bundle is not None:
                proof = entry_bundle(entry.document(), [e.document() for e in following], bundle)
                return {**view, "proof": proof.model_dump(mode="json"), "proof_status": "anchored"}
        return {**view, "proof": None, "proof_status": "pending"}

    def export(self, principal: Principal, machine_id: str) -> dict[str, Any]:
        """``GET /machines/{id}/maintenance/export``: the whole history, its hashes and links, and the anchored
        heads with their proof bundles."""
        self._machine(principal, machine_id, "read")
        entries = self.store.entries(machine_id)
        checkpoints = []
        for head in self.store.heads(machine_id):
            if head.seq >= len(entries):
                continue
            bundle = self._bundle(head, entries[head.seq].document())
            if bundle is not None:
                checkpoints.append(Checkpoint(seq=head.seq, hash=head.hash, bundle=bundle))
        export = build_export(machine_id, entries, checkpoints, exported_at=self.clock())
        body: dict[str, Any] = export.model_dump(mode="json")
        return body

    # -- tickets -------------------------------------------------------------------------------------
    def tickets(
        self, principal: Principal, machine_id: str, request: PageRequest, state: str | None = None
    ) -> dict[str, Any]:
        """``GET /machines/{id}/tickets?state=``: the machine's tickets, a page at a time."""
        self._machine(principal, machine_id, "read")
        if state is not None and state not in (
            "open",
            "acknowledged",
            "in_progress",
            "resolved",
            "dismissed",
            "active",
        ):
            raise BadInputError(f"query parameter 'state': not a ticket state: {state!r}", field="query.state")
        found = [
            t
            for t in self.store.tickets(machine_id)
            if state is None or t.state == state or (state == "active" and t.state in OPEN_STATES)
        ]
        chosen, nxt = page(found, lambda t: f"{int(t.opening_entry.rpartition('.')[2]):012d}", request)
        return page_body([t.view() for t in chosen], nxt, machine_id=machine_id)

    def _open_ticket_for(self, machine_id: str, component: str) -> Ticket | None:
        return next((t for t in self.store.tickets(machine_id) if t.is_open and t.component == component), None)

    def _instruction(self, device: Device, component: str, severity: str, fallback: str, now: datetime) -> str:
        plan = self._plan_of(device)
        if plan is None:
            return fallback
        entries = self.store.entries(device.machine_id)
        hours, parts = self._usage_now(device.machine_id, entries, now)
        return instruction_for(plan, component, severity, task_usage(plan, entries, hours, parts, now), fallback)

    def open_ticket(self, principal: Principal, machine_id: str, body: NewTicket) -> dict[str, Any]:
        """``POST /machines/{id}/tickets``: an operator reports a fault the sensors do not see."""
        device, role = self._machine(principal, machine_id, "open")
        author = self._author(principal, role)
        at = self._when(body.occurred_at)
        instruction = self._instruction(device, body.component, body.severity, "", at)

        def build(head: LogEntry | None) -> _Write:
            existing = self._open_ticket_for(machine_id, body.component)
            if existing is not None:
                raise ConflictingStateError(
                    f"ticket {existing.ticket_id} is {existing.state} for {body.component}: add to it instead"
                )
            seq = 0 if head is None else head.seq + 1
            alarm = Alarm(
                source="operator",
                code=body.code or body.component,
                severity=body.severity,
                component=body.component,
                instruction=instruction,
            )
            event = TicketEvent(ticket_id=ticket_id_of(machine_id, seq), event="opened", severity=body.severity)
            content = EntryContent(kind="alarm", occurred_at=at, text=body.text, alarm=alarm, ticket_event=event)
            return _Write(content, author, None, fold=True, page=body.severity == "critical")

        entry, ticket = self._append(machine_id, build)
        assert ticket is not None
        self._page(device, ticket, entry)
        return {"ticket": ticket.view(), **self._entry_view(entry)}

    def _ticket(self, principal: Principal, ticket_id: str, action: MaintenanceAction) -> tuple[Device, str, Ticket]:
        try:
            machine_id, _ = split_ticket_id(ticket_id)
        except MaintenanceError as exc:
            raise NotVisibleError(str(exc)) from exc
        device, role = self._machine(principal, machine_id, "read")
        ticket = self.store.ticket(machine_id, ticket_id)
        if ticket is None:
            raise NotVisibleError(f"no ticket {ticket_id!r}")
        if not may(role, action):
            raise NotAllowedError(f"to {action} a ticket needs the role {who_may(action)}; the caller is {role}")
        return device, role, ticket

    def _move(
        self,
        principal: Principal,
        ticket_id: str,
        action: MaintenanceAction,
        event: str,
        make: Callable[[Ticket, Author, datetime], EntryContent],
    ) -> dict[str, Any]:
        device, role, _ = self._ticket(principal, ticket_id, action)
        author = self._author(principal, role)
        at = self.clock()

        def build(head: LogEntry | None) -> _Write:
            current = self.store.ticket(device.machine_id, ticket_id)
            assert current is not None
            target = {"acknowledged": "acknowledged", "started": "in_progress", "resolved": "resolved"}.get(
                event, event
            )
            if target not in next_states(current.state):
                allowed = ", ".join(next_states(current.state)) or "nothing (it is closed)"
                raise ConflictingStateError(f"ticket {ticket_id} is {current.state}: it can move to {allowed}")
            return _Write(make(current, author, at), author, current, fold=True)

        entry, ticket = self._append(device.machine_id, build)
        assert ticket is not None
        return {"ticket": ticket.view(), **self._entry_view(entry)}

    def acknowledge(self, principal: Principal, ticket_id: str, body: Move) -> dict[str, Any]:
        """``POST /tickets/{id}/acknowledge`` (the lessee's operators)."""
        return self._move(principal, ticket_id, "acknowledge", "acknowledged", self._note("acknowledged", body.note))

    def start(self, principal: Principal, ticket_id: str, body: Move) -> dict[str, Any]:
        """``POST /tickets/{id}/start`` (the lessor's service technicians)."""
        return self._move(principal, ticket_id, "start", "started", self._note("started", body.note))

    def dismiss(self, principal: Principal, ticket_id: str, body: Dismissal) -> dict[str, Any]:
        """``POST /tickets/{id}/dismiss`` with a reason (the lessor's service technicians)."""
        return self._move(principal, ticket_id, "dismiss", "dismissed", self._note("dismissed", "", body.reason))

    @staticmethod
    def _note(event: str, text: str, reason: str = "") -> Callable[[Ticket, Author, datetime], EntryContent]:
        def make(ticket: Ticket, author: Author, at: datetime) -> EntryContent:
            words = text or reason or f"ticket {ticket.ticket_id} {event}"
            return EntryContent(
                kind="note",
                occurred_at=at,
                text=words,
                component=ticket.component,
                ticket_event=TicketEvent(ticket_id=ticket.ticket_id, event=event, reason=reason),
            )

        return make

    def resolve(self, principal: Principal, ticket_id: str, body: Resolution) -> dict[str, Any]:
        """``POST /tickets/{id}/resolve`` (the lessor's service technicians): needs the entry that resolves the
        ticket, recorded with it (``entry``) or already in the log (``entry_id``)."""
        device, role, ticket = self._ticket(principal, ticket_id, "resolve")
        machine_id = device.machine_id
        if body.entry is not None:
            content = self._content(machine_id, body.entry, role, device, "body.entry", resolves=ticket_id)
            if not may_record(role, content.kind):
                raise NotAllowedError(f"a {role} may not record {content.kind} entries")
            event = TicketEvent(ticket_id=ticket_id, event="resolved")
            work = content.model_copy(update={"ticket_event": event})
            return self._move(principal, ticket_id, "resolve", "resolved", lambda t, a, at: work)
        assert body.entry_id is not None
        try:
            owner, seq = split_entry_id(body.entry_id)
        except MaintenanceError as exc:
            raise BadInputError(f"entry_id: {exc}", field="body.entry_id") from exc
        work_entry = self.store.entry(machine_id, seq) if owner == machine_id else None
        if work_entry is None:
            raise BadInputError(
                f"entry_id: no entry {body.entry_id!r} in the log of {machine_id}", field="body.entry_id"
            )
        if work_entry.kind not in WORK_KINDS:
            raise BadInputError(
                f"entry_id: a {work_entry.kind} entry is not work that resolves a ticket", field="body.entry_id"
            )
        if work_entry.occurred_at < ticket.opened_at - timedelta(days=1):
            raise BadInputError(
                f"entry_id: {body.entry_id} happened before the ticket was opened", field="body.entry_id"
            )

        def make(current: Ticket, author: Author, at: datetime) -> EntryContent:
            return EntryContent(
                kind="note",
                occurred_at=at,
                text=body.note or f"ticket {ticket_id} resolved by {body.entry_id}",
                component=current.component,
                ticket_event=TicketEvent(ticket_id=ticket_id, event="resolved", entry=body.entry_id),
            )

        return self._move(principal, ticket_id, "resolve", "resolved", make)

    # -- from the ingest path (MaintenanceInbox) -----------------------------------------------------
    def record_alarm(self, machine_id: str, tenants: tuple[str, ...], alarm: Mapping[str, Any]) -> bool:
        """An anomaly alarm: the onset of an episode (``kind: maintenance_ticket``) or its escalation
        (``kind: alarm_escalation``). It goes to the component's open ticket (recurred or escalated) or opens
        one; a ticket that becomes critical pages once. False when this alarm was recorded before."""
        severity = str(alarm.get("severity", ""))
        component = str(alarm.get("action") or "general_inspection")
        if severity not in ("warning", "critical"):
            return False
        device = self.devices.get(machine_id)
        if device is None:
            logger.warning("alarm for unregistered machine %s dropped", machine_id)
            return False
        ref = str(alarm.get("ticket_id") or alarm.get("content_hash") or "")
        at_text = alarm.get("opened_at") or alarm.get("at")
        at = parse_utc(str(at_text)) if at_text else self.clock()
        if ref and any(e.alarm is not None and e.alarm.ref == ref for e in self._recent(machine_id)):
            return False
        instruction = self._instruction(device, component, severity, str(alarm.get("action_text", "")), at)
        score, threshold = alarm.get("score"), alarm.get("threshold")
        text = str(alarm.get("action_text", ""))
        raised_by = alarm.get("model_hash")
        model_hash = raised_by if isinstance(raised_by, str) and _MODEL_HASH.fullmatch(raised_by) else None
        if isinstance(score, int | float) and isinstance(threshold, int | float):
            text = f"anomaly score {score:.2f} (threshold {threshold:.2f}): {text}"

        def build(head: LogEntry | None) -> _Write:
            ticket = self._open_ticket_for(machine_id, component)
            if ticket is None:
                seq = 0 if head is None else head.seq + 1
                event = TicketEvent(ticket_id=ticket_id_of(machine_id, seq), event="opened", severity=severity)
            else:
                rises = severity_rank(severity) > severity_rank(ticket.severity)
                event = TicketEvent(
                    ticket_id=ticket.ticket_id, event="escalated" if rises else "recurred", severity=severity
                )
            content = EntryContent(
                kind="alarm",
                occurred_at=min(at, self.clock() + _MAX_FUTURE),
                text=text[:4000],
                component=component,
                alarm=Alarm(
                    source="anomaly",
                    code=component,
                    severity=severity,
                    component=component,
                    score=float(score) if isinstance(score, int | float) else None,
                    threshold=float(threshold) if isinstance(threshold, int | float) else None,
                    critical=float(alarm["critical"]) if isinstance(alarm.get("critical"), int | float) else None,
                    instruction=instruction[:1000],
                    ref=ref[:160],
                    model_hash=model_hash,
                ),
                ticket_event=event,
            )
            page_now = severity == "critical" and (ticket is None or ticket.paged_at is None)
            return _Write(content, SYSTEM, ticket, fold=True, page=page_now)

        entry, ticket = self._append(machine_id, build)
        if ticket is not None and ticket.paged_at == entry.recorded_at:
            self._page(device, ticket, entry)
        return True

    def _recent(self, machine_id: str) -> list[LogEntry]:
        head = self.store.head(machine_id)
        return self.store.entries(machine_id, max(head.seq - 63, 0), head.seq) if head else []

    def _page(self, device: Device, ticket: Ticket, entry: LogEntry) -> None:
        """One page per critical ticket (the ticket records it); the cooldown per machine and component is a
        second guard against a storm of tickets."""
        if ticket.severity != "critical" or ticket.paged_at != entry.recorded_at:
            return
        key = f"{device.machine_id}#{ticket.component}"
        if self.cooldowns is not None and not self.cooldowns.try_acquire(
            key, int(entry.recorded_at.timestamp()), self.cooldown_s
        ):
            return
        if self.alerts is None:
            return
        message = {
            "machine_id": device.machine_id,
            "ticket_id": ticket.ticket_id,
            "severity": ticket.severity,
            "component": ticket.component,
            "instruction": ticket.instruction,
            "entry_id": entry.entry_id,
            "at": format_utc(entry.recorded_at),
        }
        self.alerts.publish(
            f"CRITICAL {device.machine_id}: {ticket.component.replace('_', ' ')} ({ticket.ticket_id})",
            json.dumps(message, separators=(",", ":")),
            {"machine_id": device.machine_id, "severity": ticket.severity},
        )

    def observe_health(self, machine_id: str, reported: Mapping[str, Any]) -> None:
        """Keep a scoring for the health trend (one per machine and ten minutes)."""
        score, threshold, critical = reported.get("score"), reported.get("threshold"), reported.get("critical")
        if not all(isinstance(v, int | float) for v in (score, threshold, critical)):
            return
        shares: dict[str, float] = {}
        for item in reported.get("contributions") or []:
            if isinstance(item, Mapping) and isinstance(item.get("share"), int | float):
                comp = component_of(str(item.get("feature", "")))
                shares[comp] = round(shares.get(comp, 0.0) + float(item["share"]), 6)
        at_text = reported.get("updated_at")
        at = parse_utc(str(at_text)) if isinstance(at_text, str) else self.clock()
        self.store.observe(
            HealthPoint(
                machine_id=machine_id,
                at=at,
                severity=str(reported.get("severity", "ok")),
                score=float(score),  # type: ignore[arg-type]
                threshold=float(threshold),  # type: ignore[arg-type]
                critical=float(critical),  # type: ignore[arg-type]
                shares=shares,
                action=str(reported.get("action", "")),
            )
        )

    # -- anchoring of the heads (the schedule) ------------------------------------------------------
    def anchor_heads(self, limit: int = 1000) -> HeadsReport:
        """Queue every machine's new head for the next Merkle batch: one leaf per machine and interval,
        however many entries it got."""
        report = HeadsReport()
        for machine_id, marked in self.store.pending_heads(limit):
            try:
                head = self.store.head(machine_id)
                device = self.devices.get(machine_id)
                if head is None:
                    self.store.clear_pending(machine_id, marked)
                    continue
                record_id = head_record_id(machine_id, head.seq)
                tenants = parties(device) if device is not None else ()
                queued = self.anchors.submit(record_id, head.hash, kind=HEAD_KIND, tenants=tenants)
                self.store.put_head(HeadRecord(machine_id, head.seq, head.hash_hex, record_id, self.clock()))
                if queued:
                    report.heads.append(record_id)
                else:
                    report.already += 1
                self.store.clear_pending(machine_id, marked)  # a newer append keeps the mark for the next run
            except Exception as exc:  # one machine's failure holds up no other
                logger.exception("head of %s not queued", machine_id)
                report.errors.append(f"{machine_id}: {type(exc).__name__}: {exc}")
        return report

    # -- due list, statistics, trend -----------------------------------------------------------------
    def due(self, principal: Principal, machine_id: str) -> dict[str, Any]:
        """``GET /machines/{id}/maintenance/due``: each task of the machine's plan, overdue and due first."""
        device, _ = self._machine(principal, machine_id, "read")
        plan = self._plan_of(device)
        now = self.clock()
        if plan is None:
            return {"machine_id": machine_id, "plan": None, "items": [], "at": format_utc(now)}
        entries = self.store.entries(machine_id)
        hours, parts = self._usage_now(machine_id, entries, now)
        rows = due_list(plan, entries, hours, parts, now, self.store.tickets(machine_id))
        return {
            "machine_id": machine_id,
            "plan": {"machine_type": plan.machine_type, "version": plan.version},
            "at": format_utc(now),
            "usage": {"spindle_hours": round(hours, 3), "parts": parts},
            "items": [r.as_dict() for r in rows],
        }

    def statistics(self, principal: Principal, machine_id: str, start: datetime, end: datetime) -> dict[str, Any]:
        """``GET /machines/{id}/statistics?from=&to=``: usage, alarms, MTBF/MTTR and the health trend."""
        device, _ = self._machine(principal, machine_id, "read")
        if end <= start:
            raise BadInputError("query parameter 'to' must be after 'from'", field="query.to")
        if end - start > MAX_STATISTICS_RANGE:
            raise BadInputError(f"the range may span at most {MAX_STATISTICS_RANGE.days} days", field="query.from")
        taxonomy = DEFAULT_TAXONOMY if self.state_codes is None else site_taxonomy(self.state_codes, device.site)
        usage = usage_statistics(self.history.segments(machine_id, start, end), start, end, taxonomy)
        log = log_statistics(
            self.store.entries(machine_id), self.store.tickets(machine_id), start, end, usage["spindle_hours"]
        )
        return {
            "machine_id": machine_id,
            "from": format_utc(start),
            "to": format_utc(end),
            "usage": usage,
            **log,
            "health_trend": self.trend(machine_id, end),
        }

    def trend(self, machine_id: str, now: datetime, window_h: float = 48.0) -> list[dict[str, Any]]:
        """The health-score trend of each component that takes a share of the recent scores, and its projected
        time to the critical threshold (see :mod:`twin_models.maintenance.trend`)."""
        points = self.store.health(machine_id, now - timedelta(hours=window_h), now + timedelta(seconds=1))
        if not points:
            return []
        components = sorted({c for p in points for c in p.shares})
        out = []
        origin = points[0].at
        for component in components:
            series = [((p.at - origin).total_seconds() / 3600, p.score * p.shares.get(component, 0.0)) for p in points]
            mean_share = sum(p.shares.get(component, 0.0) for p in points) / len(points)
            if mean_share < 0.2:
                continue  # a component that takes little of the score has no trend worth a projection
            critical = points[-1].critical
            fit = project(
                [t for t, _ in series],
                [v for _, v in series],
                critical,
                now_h=(now - origin).total_seconds() / 3600,
                window_h=window_h,
            )
            row: dict[str, Any] = {"component": component, "share": round(mean_share, 4), **fit.as_dict()}
            if fit.hours_to_critical is not None:
                row["projected_critical_at"] = format_utc(now + timedelta(hours=fit.hours_to_critical))
            out.append(row)
        return out
