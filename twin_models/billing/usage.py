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
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from twin_models.billing.canonical import canonical_json, merkle_root, sha256_hex
from twin_models.billing.errors import UsageConflictError, UsageError
from twin_models.billing.lease import ID_PATTERN, METER_PATTERN, Aggregation
from twin_models.timestamps import TimestampError, format_utc, parse_utc

__all__ = [
    "UsageEvent",
    "aggregate",
    "dedupe",
    "parse_usage_event",
    "read_usage_lines",
    "usage_root",
]

_ID = re.compile(ID_PATTERN)
_METER = re.compile(METER_PATTERN)
_PLAIN = re.compile(r"^[A-Za-z0-9_:.+\-]*$")
_FIELDS = {"id", "machine_id", "meter", "ts", "quantity", "received_at", "lease_id"}


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
        raise UsageError(f"{name} must be an ISO 8601 string, got {raw!r}")
    try:
        return parse_utc(raw)
    except TimestampError as exc:
        raise UsageError(f"{name} {exc}") from None


def parse_usage_event(doc: Any) -> UsageEvent:
    """Validate one usage event given as a JSON object; :class:`UsageError` says what is wrong."""
    if not isinstance(doc, dict):
        raise UsageError(f"a usage event is a JSON object, got {type(doc).__name__}")
    unknown = set(doc) - _FIELDS
    if unknown:
        raise UsageError(f"unknown fields {sorted(unknown)}")
    missing = {"id", "machine_id", "meter", "ts", "quantity"} - set(doc)
    if missing:
        raise UsageError(f"missing fields {sorted(missing)}")
    for name in ("id", "machine_id"):
        if not isinstance(doc[name], str) or not _ID.match(doc[name]):
            raise UsageError(f"{name} {doc[name]!r} must match {ID_PATTERN}")
    if not isinstance(doc["meter"], str) or not _METER.match(doc["meter"]):
        raise UsageError(f"meter {doc['meter']!r} must match {METER_PATTERN}")
    raw_q = doc["quantity"]
    if isinstance(raw_q, bool) or not isinstance(raw_q, str | int):
        raise UsageError(f"quantity {raw_q!r} must be a decimal string or an integer (no binary floats)")
    try:
        quantity = Decimal(raw_q)
    except InvalidOperation:
        raise UsageError(f"quantity {raw_q!r} is not a decimal number") from None
    if not quantity.is_finite() or quantity < 0:
        raise UsageError(f"quantity {raw_q!r} must be a finite number >= 0")
    lease_id = doc.get("lease_id")
    if lease_id is not None and not isinstance(lease_id, str):
        raise UsageError(f"lease_id {lease_id!r} must be a string")
    return UsageEvent(
        id=doc["id"],
        machine_id=doc["machine_id"],
        meter=doc["meter"],
        ts=_ts(doc, "ts"),
        quantity=quantity,
        received_at=_ts(doc, "received_at") if doc.get("received_at") is not None else None,
        lease_id=lease_id,
    )


def read_usage_lines(lines: Iterable[str]) -> list[UsageEvent]:
    """Parse JSON lines (blank lines skipped); an error names the 1-based line number."""
    events: list[UsageEvent] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"line {number}: not JSON: {exc}") from exc
        try:
            events.append(parse_usage_event(doc))
        except UsageError as exc:
            raise UsageError(f"line {number}: {exc}") from exc
    return events


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
            raise UsageConflictError(f"usage event {ev.id!r} was sent twice with different content")
        # no received_at means "on time", which is earlier than any stamp
        if old.received_at is not None and (ev.received_at is None or ev.received_at < old.received_at):
            seen[ev.id] = ev
    return sorted(seen.values(), key=lambda e: (e.ts, e.id))


def aggregate(events: Sequence[UsageEvent], how: Aggregation) -> Decimal:
    """One quantity from a meter's events: per machine by ``how``, then summed over machines."""
    if how is Aggregation.SUM:
        return sum((e.quantity for e in events), Decimal(0))
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
    return sum((e.quantity for e in per_machine.values()), Decimal(0))


def usage_root(events: Iterable[UsageEvent]) -> str:
    """Merkle root (see :mod:`twin_models.billing.canonical`) over the events' hashes."""
    return merkle_root([e.hash for e in events])
