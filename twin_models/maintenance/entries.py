"""The maintenance log's entries: what one entry records, and the hash that chains it to the entry before.

One log per machine. An entry is never edited: a correction is a new entry that names the entries it
corrects (``corrects``). Each entry carries its place in the machine's log (``seq``, from 0) and the hash of
the entry before it (``prev_hash``; the zero hash before the first), and is hashed as a whole in the
canonical form of :func:`twin_models.anchoring.record_hash` (keccak-256 of its RFC 8785 JSON). The hash of an
entry therefore covers every entry before it: the entries form a per-machine hash chain whose *head* (the
last entry's hash) is what gets anchored.

Example:
    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    >>> who = Author(subject="ana", tenant="toolmaker", role="service_technician")
    >>> first = seal_entry(EntryContent(kind="inspection", occurred_at=at, text="spindle bearings ok"),
    ...                    machine_id="cnc-01", previous=None, author=who, recorded_at=at)
    >>> first.entry_id, first.seq, first.prev_hash == GENESIS_HASH
    ('cnc-01.0', 0, True)
    >>> second = seal_entry(EntryContent(kind="note", occurred_at=at, text="coolant topped up"),
    ...                     machine_id="cnc-01", previous=first, author=who, recorded_at=at)
    >>> second.prev_hash == first.hash_hex
    True
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from twin_models.anchoring import bytes32_hex, record_hash
from twin_models.maintenance.errors import EntryError
from twin_models.telemetry import NAME_PATTERN, UtcDatetime

__all__ = [
    "ENTRY_KINDS",
    "GENESIS_HASH",
    "SEVERITIES",
    "WORK_KINDS",
    "Alarm",
    "Attachment",
    "Author",
    "AuthorRole",
    "EntryContent",
    "EntryKind",
    "Health",
    "LogEntry",
    "Part",
    "Severity",
    "SinceLast",
    "TicketEvent",
    "TicketEventKind",
    "UsageSnapshot",
    "entry_id_of",
    "seal_entry",
    "split_entry_id",
    "split_ticket_id",
    "ticket_id_of",
]

EntryKind = Literal[
    "alarm", "inspection", "repair", "part_replacement", "calibration", "tool_change", "software_update", "note"
]
#: Every kind of entry, in the order the API documents them.
ENTRY_KINDS: tuple[str, ...] = get_args(EntryKind)
#: The kinds of hands-on work: an entry of one of them can resolve a ticket and perform a plan's task.
WORK_KINDS: tuple[str, ...] = (
    "inspection",
    "repair",
    "part_replacement",
    "calibration",
    "tool_change",
    "software_update",
)

#: Who wrote an entry, in maintenance terms (see :func:`twin_models.maintenance.maintenance_role`).
AuthorRole = Literal["operator", "service_technician", "integration", "system"]
Severity = Literal["warning", "critical"]
#: Alarm severities, lowest first.
SEVERITIES: tuple[str, ...] = ("warning", "critical")
TicketEventKind = Literal["opened", "escalated", "recurred", "acknowledged", "started", "resolved", "dismissed"]

#: ``prev_hash`` of a machine's first entry.
GENESIS_HASH = "0x" + "00" * 32
HASH_PATTERN = r"^0x[0-9a-f]{64}$"
_ID = re.compile(r"^(?P<machine>[A-Za-z0-9_:\-]{1,128})\.(?P<seq>0|[1-9][0-9]{0,11})$")
_TICKET = re.compile(r"^(?P<machine>[A-Za-z0-9_:\-]{1,128})\.t(?P<seq>0|[1-9][0-9]{0,11})$")

Text = Annotated[str, Field(max_length=4000)]
Name = Annotated[str, Field(min_length=1, max_length=128)]


def entry_id_of(machine_id: str, seq: int) -> str:
    """An entry's id: ``<machine>.<seq>`` (a machine id holds no ``.``).

    Example:
        >>> entry_id_of("cnc-01", 7), split_entry_id("cnc-01.7")
        ('cnc-01.7', ('cnc-01', 7))
    """
    return f"{machine_id}.{seq}"


def split_entry_id(entry_id: str) -> tuple[str, int]:
    """``(machine_id, seq)`` of an entry id; :class:`EntryError` for anything else."""
    found = _ID.match(entry_id)
    if found is None:
        raise EntryError(f"not an entry id: {entry_id!r:.80} (expected <machine>.<seq>)")
    return found["machine"], int(found["seq"])


def ticket_id_of(machine_id: str, opening_seq: int) -> str:
    """A ticket's id: ``<machine>.t<seq of the entry that opened it>``.

    Example:
        >>> ticket_id_of("cnc-03", 12), split_ticket_id("cnc-03.t12")
        ('cnc-03.t12', ('cnc-03', 12))
    """
    return f"{machine_id}.t{opening_seq}"


def split_ticket_id(ticket_id: str) -> tuple[str, int]:
    """``(machine_id, opening seq)`` of a ticket id; :class:`EntryError` for anything else."""
    found = _TICKET.match(ticket_id)
    if found is None:
        raise EntryError(f"not a ticket id: {ticket_id!r:.80} (expected <machine>.t<seq>)")
    return found["machine"], int(found["seq"])


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Author(_Frozen):
    """Who recorded an entry: the caller's subject and tenant, and the role it acted in."""

    subject: Annotated[str, Field(min_length=1, max_length=256)]
    tenant: Annotated[str, Field(min_length=1, max_length=128)]
    role: AuthorRole


class SinceLast(_Frozen):
    """Usage since the last entry of the same kind (and, for a plan's task, of the same task)."""

    entry_id: str
    spindle_hours: Annotated[float, Field(ge=0)]
    parts: Annotated[int, Field(ge=0)]
    hours: Annotated[float, Field(ge=0, description="calendar hours")]


class Health(_Frozen):
    """The machine's condition when the entry was recorded (its ``health`` shadow)."""

    severity: Literal["ok", "warning", "critical"]
    score: float | None = None
    threshold: float | None = None
    critical: float | None = None
    component: str | None = None


class UsageSnapshot(_Frozen):
    """The machine's usage and condition at the entry's time.

    ``spindle_hours``, ``parts`` and ``energy_kwh`` count from the start of the machine's log (the metered
    usage, the same meters billing uses), so the difference between two entries is the usage between them.
    """

    spindle_hours: Annotated[float, Field(ge=0)] = 0.0
    parts: Annotated[int, Field(ge=0)] = 0
    energy_kwh: Annotated[float, Field(ge=0)] = 0.0
    since_same_kind: SinceLast | None = None
    health: Health | None = None


class Attachment(_Frozen):
    """A file kept in the archive bucket; the entry holds its SHA-256."""

    name: Annotated[str, Field(min_length=1, max_length=255)]
    content_type: Annotated[str, Field(min_length=1, max_length=128)] = "application/octet-stream"
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    size: Annotated[int, Field(ge=0)]


class Part(_Frozen):
    """A replaced part."""

    part_number: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: Annotated[int, Field(ge=1, le=10_000)] = 1
    description: Annotated[str, Field(max_length=256)] = ""
    serial_removed: Annotated[str, Field(max_length=64)] = ""
    serial_installed: Annotated[str, Field(max_length=64)] = ""


class Alarm(_Frozen):
    """What an ``alarm`` entry reports: from anomaly detection, a machine alarm code, or an operator."""

    source: Literal["anomaly", "machine", "operator"]
    code: Annotated[str, Field(min_length=1, max_length=64, description="the component (anomaly) or alarm code")]
    severity: Severity
    component: Name
    score: float | None = None
    threshold: float | None = None
    critical: float | None = None
    instruction: Annotated[str, Field(max_length=1000)] = ""
    ref: Annotated[str, Field(max_length=160)] = Field(
        default="", description="the alarm's id at its source (the anomaly ticket), so a repeat is recognised"
    )
    model_hash: Annotated[str, Field(pattern=HASH_PATTERN)] | None = Field(
        default=None,
        description="the hash of the model version that raised an anomaly alarm (for a federated model: the "
        "global-model hash anchored for its federation round)",
    )


class TicketEvent(_Frozen):
    """A move of a ticket, recorded in the log: the ticket's state is the fold of its events."""

    ticket_id: Annotated[str, Field(max_length=160)]
    event: TicketEventKind
    severity: Severity | None = None
    reason: Annotated[str, Field(max_length=2000)] = ""
    entry: Annotated[str, Field(max_length=160)] | None = Field(
        default=None, description="the work entry that resolves the ticket, when it is not this entry"
    )


class EntryContent(_Frozen):
    """What the author states: the kind, when it happened, the text and the links.

    ``resolves`` names the ticket the work resolves, ``corrects`` the entries this one corrects, ``task``
    the plan task it performs, ``component`` the part of the machine it concerns.
    """

    kind: EntryKind
    occurred_at: UtcDatetime
    text: Text = ""
    attachments: Annotated[list[Attachment], Field(max_length=20)] = Field(default_factory=list)
    parts: Annotated[list[Part], Field(max_length=50)] = Field(default_factory=list)
    alarm: Alarm | None = None
    component: Annotated[str, Field(max_length=128)] | None = None
    task: Annotated[str, Field(max_length=128)] | None = None
    resolves: Annotated[str, Field(max_length=160)] | None = None
    corrects: Annotated[list[str], Field(max_length=20)] = Field(default_factory=list)
    ticket_event: TicketEvent | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EntryContent:
        if (self.kind == "alarm") != (self.alarm is not None):
            raise ValueError("an alarm entry needs 'alarm', and only an alarm entry may carry one")
        if self.kind == "part_replacement" and not self.parts:
            raise ValueError("a part_replacement entry lists the replaced parts ('parts')")
        if self.kind != "part_replacement" and self.parts:
            raise ValueError("only a part_replacement entry lists parts")
        if self.resolves is not None and self.kind not in WORK_KINDS:
            raise ValueError(f"only work entries ({', '.join(WORK_KINDS)}) resolve a ticket")
        if len(set(self.corrects)) != len(self.corrects):
            raise ValueError("'corrects' names an entry twice")
        return self


class LogEntry(EntryContent):
    """An entry as the log keeps it: the content, its author, its place in the chain and the usage then."""

    v: Literal[1] = 1
    entry_id: str
    machine_id: Annotated[str, Field(pattern=NAME_PATTERN)]
    seq: Annotated[int, Field(ge=0)]
    prev_hash: Annotated[str, Field(pattern=HASH_PATTERN)]
    recorded_at: UtcDatetime
    author: Author
    usage: UsageSnapshot = Field(default_factory=UsageSnapshot)

    @model_validator(mode="after")
    def _placed(self) -> LogEntry:
        if self.entry_id != entry_id_of(self.machine_id, self.seq):
            raise ValueError(f"entry_id must be {entry_id_of(self.machine_id, self.seq)!r}")
        if self.seq == 0 and self.prev_hash != GENESIS_HASH:
            raise ValueError("the first entry's prev_hash is the zero hash")
        return self

    def document(self) -> dict[str, Any]:
        """The JSON document that is hashed and exported (every field, ``null`` included)."""
        return self.model_dump(mode="json")

    @property
    def hash(self) -> bytes:
        """keccak-256 of the document's RFC 8785 form (:func:`twin_models.anchoring.record_hash`)."""
        return record_hash(self.document())

    @property
    def hash_hex(self) -> str:
        """:attr:`hash` as ``0x`` hex."""
        return bytes32_hex(self.hash)

    @property
    def content(self) -> EntryContent:
        """What the author stated, without the log's fields."""
        return EntryContent.model_validate(self.model_dump(include=set(EntryContent.model_fields)))


def seal_entry(
    content: EntryContent,
    *,
    machine_id: str,
    previous: LogEntry | None,
    author: Author,
    recorded_at: datetime,
    usage: UsageSnapshot | None = None,
) -> LogEntry:
    """The next entry of a machine's log after ``previous`` (``None``: the first)."""
    if previous is not None and previous.machine_id != machine_id:
        raise EntryError(f"entry {previous.entry_id} is not in the log of {machine_id}")
    seq = 0 if previous is None else previous.seq + 1
    return LogEntry(
        **content.model_dump(),
        entry_id=entry_id_of(machine_id, seq),
        machine_id=machine_id,
        seq=seq,
        prev_hash=GENESIS_HASH if previous is None else previous.hash_hex,
        recorded_at=recorded_at,
        author=author,
        usage=usage or UsageSnapshot(),
    )
