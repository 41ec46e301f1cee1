"""Usage events: what a lease is billed on, deduplicated by id and aggregated per period.

A usage event says that ``quantity`` of ``meter`` was used on ``machine_id`` at ``ts``.
Each event has an ``id``; an event seen twice is counted once, and a second event with the
same id but different content is refused (:class:`UsageConflictError`). ``received_at``
is when the platform first stored the event (the earliest one wins for duplicates); it
decides whether the event was on time for its period or is billed as a late adjustment,
and is not part of the event's hash. An event without ``received_at`` counts as on time.

Aggregation is per machine, then summed over the lease's machines: ``sum`` and ``count`` are
the plain totals, ``max`` is the sum of each machine's peak, ``latest`` the sum of each
machine's last reading (latest ``ts``, ties broken by ``id``).

Example:
    >>> from decimal import Decimal
    >>> evs = read_usage_lines([
    ...     '{"id": "e1", "machine_id": "cnc-01", "meter": "parts", "ts": "2026-10-01T06:00:00Z", "quantity": 3}',
    ...     '{"id": "e1", "machine_id": "cnc-01", "meter": "parts", "ts": "2026-10-01T06:00:00Z", "quantity": 3}',
    ...     '{"id": "e2", "machine_id": "cnc-01", "meter": "parts", "ts": "2026-10-01T07:00:00Z", "quantity": "2"}',
    ... ])
    >>> unique = dedupe(evs)
    >>> len(unique), aggregate(unique, Aggregation.SUM)
    (2, Decimal('5'))
    >>> unique[0].hash[:2]
    '0x'
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from twin_models.billing.canonical import canonical_json, merkle_root, sha256_hex
from twin_models.billing.errors import UsageConflictError, UsageError
from twin_models.billing.lease import ID_PATTERN, METER_PATTERN, Aggregation
from twin_models.billing.money import add
from twin_models.telemetry import U64_MAX
from twin_models.timestamps import TimestampError, format_utc, parse_utc

__all__ = [
    "MAX_QUANTITY",
    "MAX_QUANTITY_PLACES",
    "UsageEvent",
    "aggregate",
    "conflict_detail",
    "dedupe",
    "parse_usage_event",
    "read_usage_lines",
    "read_usage_text",
    "usage_root",
]

_ID = re.compile(ID_PATTERN)
_METER = re.compile(METER_PATTERN)
_PLAIN = re.compile(r"^[A-Za-z0-9_:.+\-]*$")
_REQUIRED = frozenset({"id", "machine_id", "meter", "ts", "quantity"})
_FIELDS = _REQUIRED | {"received_at", "lease_id"}

#: The largest quantity a usage event may carry (the 64-bit bound of the telemetry counters).
MAX_QUANTITY: Final = Decimal(U64_MAX)
#: The most decimals a usage quantity may carry (derived meters carry six).
MAX_QUANTITY_PLACES: Final = 12


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One metered usage record. Build it with :func:`parse_usage_event` to get validation."""

    id: str
    machine_id: str
    meter: str
    ts: datetime
    quantity: Decimal
    received_at: datetime | None = None
    lease_id: str | None = None
    _hash: list[str] = field(default_factory=list, init=False, repr=False, compare=False)

    def content(self) -> dict[str, str]:
        """The hashed content: everything but ``received_at`` (and the optional lease id)."""
        return {
            "id": self.id,
            "machine_id": self.machine_id,
            "meter": self.meter,
            "ts": format_utc(self.ts),
            "quantity": format(self.quantity, "f"),
        }

    @property
    def hash(self) -> str:
        """``sha256`` of the canonical (RFC 8785) JSON of :meth:`content`.

        Every member is an ASCII string without characters JSON escapes (ids and meters are
        validated against their patterns), for which sorted-key ``json.dumps`` writes exactly
        the JCS bytes, several times faster; anything else goes through :mod:`rfc8785`.
        """
        if not self._hash:
            content = self.content()
            if all(_PLAIN.match(v) for v in content.values()):
                data = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
            else:
                data = canonical_json(content)
            self._hash.append(sha256_hex(data))
        return self._hash[0]

    def to_json(self) -> dict[str, Any]:
        """The JSON-lines form (the inverse of :func:`parse_usage_event`)."""
        doc: dict[str, Any] = self.content()
        if self.received_at is not None:
            doc["received_at"] = format_utc(self.received_at)
        if self.lease_id is not None:
            doc["lease_id"] = self.lease_id
        return doc

    def received_by(self, instant: datetime) -> bool:
        """True when the event had arrived at ``instant`` (events without ``received_at`` always had)."""
        return self.received_at is None or self.received_at <= instant


def _ts(doc: dict[str, Any], name: str) -> datetime:
    raw = doc[name]
    if not isinstance(raw, str):
        raise UsageError(f"{name} must be an ISO 8601 string, got {raw!r}", field=name)
    try:
        return parse_utc(raw)
    except TimestampError as exc:
        raise UsageError(f"{name} {exc}", field=name) from None


def _quantity(raw: Any) -> Decimal:
    if isinstance(raw, float) and not math.isfinite(raw):
        raise UsageError(f"quantity {raw!r} must be a finite number >= 0", field="quantity")
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise UsageError(
            f"quantity {raw!r} must be a decimal string or an integer (no binary floats)", field="quantity"
        )
    try:
        quantity = Decimal(raw)
    except (InvalidOperation, ValueError):
        raise UsageError(f"quantity {raw!r} is not a decimal number", field="quantity") from None
    if not quantity.is_finite() or quantity < 0:
        raise UsageError(f"quantity {raw!r} must be a finite number >= 0", field="quantity")
    if quantity > MAX_QUANTITY:
        raise UsageError(f"quantity {raw!r} is out of range (at most {MAX_QUANTITY})", field="quantity")
    exponent = quantity.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_QUANTITY_PLACES:
        raise UsageError(f"quantity {raw!r} is out of range (at most {MAX_QUANTITY_PLACES} decimals)", field="quantity")
    return quantity


def parse_usage_event(doc: Any) -> UsageEvent:
    """Validate one usage event given as a JSON object; :class:`UsageError` says what is wrong.

    The error's ``field`` names the offending field, and its message starts with it.

    Example:
        >>> parse_usage_event({"id": "e1", "machine_id": "cnc-01", "meter": "parts",
        ...                    "ts": "2026-10-01T06:00:00", "quantity": 3})
        Traceback (most recent call last):
        ...
        twin_models.billing.errors.UsageError: ts '2026-10-01T06:00:00' has no time zone (use Z for UTC)
    """
    if not isinstance(doc, dict):
        raise UsageError(f"a usage event is a JSON object, got {type(doc).__name__}")
    unknown = set(doc) - _FIELDS
    if unknown:
        raise UsageError(f"unknown fields {sorted(unknown)}", field=min(unknown))
    missing = _REQUIRED - set(doc)
    if missing:
        raise UsageError(f"missing fields {sorted(missing)}", field=min(missing))
    for name in ("id", "machine_id"):
        if not isinstance(doc[name], str) or not _ID.match(doc[name]):
            raise UsageError(f"{name} {doc[name]!r} must match {ID_PATTERN}", field=name)
    if not isinstance(doc["meter"], str) or not _METER.match(doc["meter"]):
        raise UsageError(f"meter {doc['meter']!r} must match {METER_PATTERN}", field="meter")
    quantity = _quantity(doc["quantity"])
    lease_id = doc.get("lease_id")
    if lease_id is not None and not isinstance(lease_id, str):
        raise UsageError(f"lease_id {lease_id!r} must be a string", field="lease_id")
    return UsageEvent(
        id=doc["id"],
        machine_id=doc["machine_id"],
        meter=doc["meter"],
        ts=_ts(doc, "ts"),
        quantity=quantity,
        received_at=_ts(doc, "received_at") if doc.get("received_at") is not None else None,
        lease_id=lease_id,
    )


_BLANK: Final = object()


class _DuplicateField(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"field {name!r} appears twice in the line")
        self.name = name


def _unique_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):  # which of the two values counts would be up to the parser
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateField(key)
            seen.add(key)
    return found


def _decode(line: str | bytes, number: int, source: str | None) -> Any:
    """One line's JSON; a :class:`UsageError` at ``source: line number`` when it is none."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
    except UnicodeDecodeError as exc:
        raise UsageError(f"not UTF-8 text (byte {exc.start + 1})", source=source, lines=[number]) from None
    if not text.strip():
        return _BLANK
    try:
        return json.loads(text, object_pairs_hook=_unique_fields)
    except json.JSONDecodeError as exc:
        detail = f"not JSON: {exc.msg} at column {exc.colno}"
        raise UsageError(detail, source=source, lines=[number]) from None
    except _DuplicateField as exc:
        raise UsageError(str(exc), source=source, lines=[number], field=exc.name) from None
    except (ValueError, RecursionError) as exc:  # an integer of more than 4,300 digits, deep nesting
        raise UsageError(f"not JSON: {exc or 'nested too deeply'}", source=source, lines=[number]) from None


def read_usage_lines(lines: Iterable[str | bytes], source: str | None = None) -> list[UsageEvent]:
    """Parse JSON lines (blank lines skipped), every event, duplicates included, in file order.

    ``source`` is the file's name for messages (nothing is read here). A line that is not a
    valid event, or an event whose id an earlier line used with different content, raises
    :class:`UsageError` (:class:`UsageConflictError`) naming the source, the 1-based line(s)
    and the field (:func:`~twin_models.billing.errors.usage_location` is the format).

    Example:
        >>> e = '{"id": "e-42", "machine_id": "cnc-01", "meter": "parts", "ts": "2026-10-01T06:00:00Z", "quantity": %s}'
        >>> len(read_usage_lines([e % 3, "", e % 3], "usage.jsonl"))
        2
        >>> read_usage_lines([e % 3, "", e % 4], "usage.jsonl")
        Traceback (most recent call last):
        ...
        twin_models.billing.errors.UsageConflictError: usage.jsonl: lines 1 and 3: event 'e-42' appears twice ...
        >>> read_usage_lines([e % '"-1"'], "usage.jsonl")
        Traceback (most recent call last):
        ...
        twin_models.billing.errors.UsageError: usage.jsonl: line 1: quantity '-1' must be a finite number >= 0
    """
    events: list[UsageEvent] = []
    first: dict[str, tuple[UsageEvent, int]] = {}
    for number, line in enumerate(lines, start=1):
        doc = _decode(line, number, source)
        if doc is _BLANK:
            continue
        try:
            event = parse_usage_event(doc)
        except UsageError as exc:
            raise UsageError(exc.detail, source=source, lines=[number], field=exc.field) from None
        seen = first.setdefault(event.id, (event, number))
        if seen[1] != number and not _same(seen[0], event):
            raise UsageConflictError(conflict_detail(event.id), source=source, lines=[seen[1], number])
        events.append(event)
    return events


def read_usage_text(data: str | bytes, source: str | None = None) -> list[UsageEvent]:
    """:func:`read_usage_lines` over a whole usage file's content (lines end in LF, CRLF or CR).

    Example:
        >>> read_usage_text(b'\\n{"id": "e1"}\\n', "usage.jsonl")
        Traceback (most recent call last):
        ...
        twin_models.billing.errors.UsageError: usage.jsonl: line 2: missing fields ['machine_id', 'meter', ...]
    """
    return read_usage_lines(data.splitlines(), source)


def conflict_detail(event_id: str) -> str:
    """What a conflicting duplicate is called (with the lines or machines in front of it)."""
    return f"event {event_id!r} appears twice with different content"


def _same(a: UsageEvent, b: UsageEvent) -> bool:
    return (a.machine_id, a.meter, a.ts, a.quantity) == (b.machine_id, b.meter, b.ts, b.quantity)


def dedupe(events: Iterable[UsageEvent]) -> list[UsageEvent]:
    """Each id once, ordered by ``(ts, id)``; duplicates keep the earliest ``received_at``.

    The result does not depend on the input order, so billing is reproducible.
    """
    seen: dict[str, UsageEvent] = {}
    for ev in events:
        old = seen.get(ev.id)
        if old is None:
            seen[ev.id] = ev
            continue
        if not _same(old, ev):
            raise UsageConflictError(conflict_detail(ev.id))
        # no received_at means "on time", which is earlier than any stamp
        if old.received_at is not None and (ev.received_at is None or ev.received_at < old.received_at):
            seen[ev.id] = ev
    return sorted(seen.values(), key=lambda e: (e.ts, e.id))


def aggregate(events: Sequence[UsageEvent], how: Aggregation) -> Decimal:
    """One quantity from a meter's events: per machine by ``how``, then summed over machines."""
    if how is Aggregation.SUM:
        return add(e.quantity for e in events)
    if how is Aggregation.COUNT:
        return Decimal(len(events))
    per_machine: dict[str, UsageEvent] = {}
    for ev in events:
        best = per_machine.get(ev.machine_id)
        if best is None:
            per_machine[ev.machine_id] = ev
        elif how is Aggregation.MAX:
            if ev.quantity > best.quantity:
                per_machine[ev.machine_id] = ev
        elif (ev.ts, ev.id) > (best.ts, best.id):
            per_machine[ev.machine_id] = ev
    return add(e.quantity for e in per_machine.values())


def usage_root(events: Iterable[UsageEvent]) -> str:
    """Merkle root (see :mod:`twin_models.billing.canonical`) over the events' hashes."""
    return merkle_root([e.hash for e in events])
