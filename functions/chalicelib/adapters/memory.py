"""In-process adapters for every store port: the same observable semantics as the AWS adapters, in dicts.

They serve the tests, the benchmarks and the embedded demo. None of them subclasses an AWS adapter or
imports boto3; each store guards its state with one :class:`threading.Lock`, so concurrent use cases
(the concurrent billing runs, the ingest benchmark's workers) see the same conditional writes DynamoDB
gives them: a segment once per ``(machine, seq)``, a usage event once per ``(machine, id)``, an invoice
once per ``(lease, period)``, a cursor moved only from the value it was read at, one claim per invoice.

:class:`MemoryShadows` behaves as AWS IoT named shadows do (recursive merge, ``null`` deletes, delta,
versions and 409s, the 8 KB state and 6-level depth limits), following AWS where moto differs.

Example:
    >>> from chalicelib.ports.archive import Archive
    >>> from chalicelib.ports.twins import Shadows
    >>> isinstance(MemoryArchive(), Archive), isinstance(MemoryShadows(), Shadows)
    (True, True)
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.ports.anchoring import (
    AnchoredProof,
    AnchorStore,
    Batch,
    BatchState,
    QueuedRecord,
    RecordConflictError,
    RecordStatus,
)
from chalicelib.ports.billing import InvoiceRecord, LeaseRecord, PutReport
from chalicelib.ports.oee import OeeProgress, StoredPeriod
from chalicelib.ports.twins import DEVICE_CACHE_MAX_AGE_S, ShadowVersionConflictError
from twin_models.billing import Invoice, Lease, UsageEvent, canonical_json
from twin_models.device_config import MAX_SHADOW_DEPTH, MAX_SHADOW_STATE_BYTES, state_depth, state_size
from twin_models.history import Segment
from twin_models.oee import PlantCalendar
from twin_models.states import PlantStateCodes
from twin_models.tenancy import Device

__all__ = [
    "MAX_SHADOW_DEPTH",
    "MAX_SHADOW_STATE_BYTES",
    "InMemoryAnchorStore",
    "InvalidShadowUpdateError",
    "MemoryAlerts",
    "MemoryArchive",
    "MemoryBacklog",
    "MemoryCalendars",
    "MemoryCooldowns",
    "MemoryDevices",
    "MemoryHistory",
    "MemoryInvoiceArchive",
    "MemoryInvoices",
    "MemoryLeases",
    "MemoryOeeResults",
    "MemoryQuarantine",
    "MemoryShadows",
    "MemoryUsage",
    "PublishedAlert",
    "ShadowDocumentTooDeepError",
    "ShadowDocumentTooLargeError",
]

logger = logging.getLogger(__name__)


def _key_ts(value: datetime) -> str:
    """The billing tables' sortable UTC timestamp (``2026-10-01T06:00:00.000000Z``), as the AWS adapter writes it."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# -- archive -----------------------------------------------------------------------------------------------


class MemoryArchive:
    """Documents kept by key in a dict (the archive bucket).

    Example:
        >>> archive = MemoryArchive()
        >>> archive.put("tickets/t-1.json", b"{}")
        >>> archive.get("tickets/t-1.json"), archive.keys("tickets/")
        (b'{}', ['tickets/t-1.json'])
        >>> archive.get("missing")
        Traceback (most recent call last):
        ...
        KeyError: 'missing'
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, tuple[bytes, str]] = {}

    def put(self, key: str, body: bytes, content_type: str = "application/json") -> None:
        """Keep ``body`` under ``key`` (a later put replaces it, as S3 does)."""
        with self._lock:
            self._objects[key] = (bytes(body), content_type)

    def get(self, key: str) -> bytes:
        """The bytes kept under ``key``; KeyError when there are none."""
        with self._lock:
            found = self._objects.get(key)
        if found is None:
            raise KeyError(key)
        return found[0]

    def content_type(self, key: str) -> str:
        """The content type ``key`` was written with; KeyError when there is none."""
        with self._lock:
            found = self._objects.get(key)
        if found is None:
            raise KeyError(key)
        return found[1]

    def keys(self, prefix: str = "") -> list[str]:
        """The keys under ``prefix``, sorted (as S3 lists them)."""
        with self._lock:
            return sorted(k for k in self._objects if k.startswith(prefix))


# -- twins -------------------------------------------------------------------------------------------------


class MemoryDevices:
    """Registered machines by ``machine_id`` (the ``devices`` table).

    Example:
        >>> devices = MemoryDevices()
        >>> devices.put(Device(machine_id="cnc-01", site="plant-a", lessor="toolmaker", lessee="factory-1"))
        >>> [d.machine_id for d in devices.for_tenant("factory-1")], devices.get("cnc-02")
        (['cnc-01'], None)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._devices: dict[str, Device] = {}

    def put(self, device: Device) -> None:
        """Register or update a machine (the whole entry is replaced)."""
        with self._lock:
            self._devices[device.machine_id] = device

    def get(self, machine_id: str, max_age_s: float = DEVICE_CACHE_MAX_AGE_S) -> Device | None:
        """The machine (always the current entry: there is no cache to age)."""
        with self._lock:
            return self._devices.get(machine_id)

    def for_tenant(self, tenant: str) -> list[Device]:
        """Machines the tenant owns or leases, by id."""
        with self._lock:
            found = [d for d in self._devices.values() if d.lessor == tenant or (d.lessee and d.lessee == tenant)]
        return sorted(found, key=lambda d: d.machine_id)

    def all(self) -> list[Device]:
        """Every registered machine, by id."""
        with self._lock:
            found = list(self._devices.values())
        return sorted(found, key=lambda d: d.machine_id)


class MemoryHistory:
    """One segment per ``(machine, seq)``, indexed by start time as the ``by_time`` index is.

    Example:
        >>> from datetime import timedelta
        >>> from twin_models.history import segment_from_envelope
        >>> from twin_models.telemetry import Sample, TelemetryEnvelope
        >>> t0 = datetime(2026, 1, 5, 6, tzinfo=UTC)
        >>> samples = [Sample(ts=t0 + timedelta(seconds=i), state=100) for i in range(10)]
        >>> seg = segment_from_envelope(TelemetryEnvelope(machine_id="cnc-01", site="plant-a", seq=0,
        ...                                               sent_at=t0, samples=samples))
        >>> history = MemoryHistory()
        >>> history.put_segment(seg, t0), history.put_segment(seg, t0)
        (True, False)
        >>> [s.seq for s in history.segments("cnc-01", t0, t0 + timedelta(minutes=1))]
        [0]
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._segments: dict[str, dict[int, tuple[Segment, datetime]]] = {}
        self._by_time: dict[str, list[tuple[float, int]]] = {}

    def put_segment(self, segment: Segment, received_at: datetime) -> bool:
        """Store a segment unless ``(machine, seq)`` exists; False for a duplicate (the first one stays)."""
        with self._lock:
            machine = self._segments.setdefault(segment.machine_id, {})
            if segment.seq in machine:
                return False
            machine[segment.seq] = (segment, _utc(received_at))
            bisect.insort(self._by_time.setdefault(segment.machine_id, []), (segment.start.timestamp(), segment.seq))
            return True

    def get_segment(self, machine_id: str, seq: int) -> Segment | None:
        """The stored segment of ``(machine, seq)``."""
        with self._lock:
            found = self._segments.get(machine_id, {}).get(seq)
        return found[0] if found else None

    def _starting_between(self, machine_id: str, low: float, high: float) -> list[Segment]:
        """Segments with ``low <= start <= high`` (the index query's BETWEEN), by (start, seq)."""
        with self._lock:
            keys = self._by_time.get(machine_id, [])
            machine = self._segments.get(machine_id, {})
            first = bisect.bisect_left(keys, (low,))
            found: list[Segment] = []
            for start, seq in itertools.islice(keys, first, None):
                if start > high:
                    break
                found.append(machine[seq][0])
        return found

    def segments(self, machine_id: str, start: datetime, end: datetime, lookback_s: float = 3600.0) -> list[Segment]:
        """Segments overlapping ``[start, end)`` that started at most ``lookback_s`` before ``start``, by start."""
        found = self._starting_between(machine_id, start.timestamp() - lookback_s, end.timestamp())
        out = [s for s in found if s.end > start and s.start < end]
        out.sort(key=lambda s: (s.start, s.seq))
        return out

    def latest_before(self, machine_id: str, at: datetime, limit: int = 4) -> list[Segment]:
        """Up to ``limit`` segments starting at or before ``at``, newest first (``limit=0``: all of them)."""
        found = self._starting_between(machine_id, 0.0, at.timestamp())
        found.reverse()
        return found[:limit] if limit else found

    def since(self, machine_id: str, after_seq: int) -> list[Segment]:
        """Segments with ``seq > after_seq``, by seq."""
        with self._lock:
            machine = self._segments.get(machine_id, {})
            return [machine[k][0] for k in sorted(machine) if k > after_seq]


class MemoryBacklog:
    """Envelopes waiting for catch-up, by ``(machine, seq)``; the first record of a pair stays.

    Example:
        >>> backlog = MemoryBacklog()
        >>> backlog.put("cnc-01", 4, b"{}", "shadow down", datetime(2026, 1, 5, tzinfo=UTC))
        >>> backlog.machines(), backlog.entries("cnc-01")
        (['cnc-01'], [(4, b'{}')])
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, int], tuple[bytes, str, datetime]] = {}

    def put(self, machine_id: str, seq: int, body: bytes, reason: str, since: datetime) -> None:
        """Keep one envelope (a second put of the same pair keeps the first)."""
        with self._lock:
            self._items.setdefault((machine_id, seq), (bytes(body), reason[:500], _utc(since)))

    def machines(self, limit: int = 100) -> list[str]:
        """Machines with envelopes waiting, oldest first."""
        with self._lock:
            first: dict[str, datetime] = {}
            for (machine, _), (_, _, since) in self._items.items():
                first[machine] = min(first.get(machine, since), since)
        return sorted(first, key=lambda m: (first[m], m))[:limit]

    def entries(self, machine_id: str) -> list[tuple[int, bytes]]:
        """The machine's waiting envelopes by seq."""
        with self._lock:
            return sorted((seq, body) for (m, seq), (body, _, _) in self._items.items() if m == machine_id)

    def remove(self, machine_id: str, seqs: list[int]) -> None:
        """Forget caught-up envelopes."""
        with self._lock:
            for seq in seqs:
                self._items.pop((machine_id, seq), None)


class MemoryQuarantine:
    """Rejected records: the reason in a table-like dict, the raw payload in an archive.

    ``archive`` is where the raw payloads go (as the AWS adapter writes them to the archive bucket);
    by default a :class:`MemoryArchive` of its own.

    Example:
        >>> quarantine = MemoryQuarantine()
        >>> at = datetime(2026, 1, 5, 6, tzinfo=UTC)
        >>> key = quarantine.put("msg-1", "bad_signature", "tampered", b"{}", None, at)
        >>> key, quarantine.raw(key), quarantine.list_day("2026-01-05")[0]["machine_id"]
        ('quarantine/2026-01-05/msg-1', b'{}', '-')
    """

    def __init__(self, archive: MemoryArchive | None = None) -> None:
        self._lock = threading.Lock()
        self.archive = archive if archive is not None else MemoryArchive()
        self._items: dict[str, dict[str, dict[str, str]]] = {}

    def put(
        self, record_id: str, reason: str, detail: str, raw: bytes, machine_id: str | None, received_at: datetime
    ) -> str:
        """Keep a rejected record; returns the key of its raw payload (``quarantine/<day>/<record_id>``)."""
        day = _utc(received_at).strftime("%Y-%m-%d")
        key = f"quarantine/{day}/{record_id}"
        self.archive.put(key, raw, "binary/octet-stream")
        item = {
            "day": day,
            "record_id": record_id,
            "reason": reason,
            "detail": detail[:2000],
            "machine_id": machine_id or "-",
            "received_at": _utc(received_at).isoformat(),
            "raw_key": key,
            "raw_bytes": str(len(raw)),
        }
        with self._lock:
            self._items.setdefault(day, {})[record_id] = item
        return key

    def list_day(self, day: str) -> list[dict[str, str]]:
        """The quarantined records of one UTC day (``YYYY-MM-DD``), by record id."""
        with self._lock:
            found = self._items.get(day, {})
            return [dict(found[k]) for k in sorted(found)]

    def raw(self, key: str) -> bytes:
        """The raw payload kept for a quarantined record; KeyError when there is none."""
        return self.archive.get(key)


# -- shadows -----------------------------------------------------------------------------------------------

_SECTIONS = ("desired", "reported")


class InvalidShadowUpdateError(ValueError):
    """An update document AWS IoT rejects with 400 (not JSON, no ``state`` object, an unknown node...)."""


class ShadowDocumentTooLargeError(InvalidShadowUpdateError):
    """The shadow's state would exceed AWS IoT's 8 KB (HTTP 413)."""


class ShadowDocumentTooDeepError(InvalidShadowUpdateError):
    """The update nests objects deeper than AWS IoT's 6 levels (HTTP 400)."""


def _copy_json(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars): what ``copy.deepcopy`` does, several times faster."""
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value


def _metadata_of(value: Any, ts: int) -> Any:
    """AWS's metadata of a value: the same shape, with ``{"timestamp": ts}`` for every leaf."""
    if isinstance(value, dict):
        return {k: _metadata_of(v, ts) for k, v in value.items()}
    if isinstance(value, list):
        return [_metadata_of(v, ts) for v in value]
    return {"timestamp": ts}


def _merged(
    state: dict[str, Any], metadata: dict[str, Any], update: dict[str, Any], ts: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``update`` merged into ``state`` as AWS does (objects merge, arrays and scalars replace, null deletes),
    with its metadata; new dicts along the changed paths only, the stored ones are never modified (they are
    shared with the previous version, which stays intact if the update is refused)."""
    state, metadata = dict(state), dict(metadata)
    for key, value in update.items():
        if value is None:
            state.pop(key, None)
            metadata.pop(key, None)
        elif isinstance(value, dict):
            current, sub = state.get(key), metadata.get(key)
            state[key], metadata[key] = _merged(
                current if isinstance(current, dict) else {}, sub if isinstance(sub, dict) else {}, value, ts
            )
        else:
            state[key] = _copy_json(value)
            metadata[key] = _metadata_of(value, ts)
    return state, metadata


def _same(a: Any, b: Any) -> bool:
    """JSON equality: a boolean is not a number, numbers compare by value, containers element-wise."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _delta(desired: dict[str, Any], reported: dict[str, Any]) -> dict[str, Any]:
    """The desired keys whose values differ from reported (nested objects compared key by key)."""
    out: dict[str, Any] = {}
    for key, want in desired.items():
        if key not in reported:
            out[key] = _copy_json(want)
            continue
        have = reported[key]
        if _same(want, have):
            continue
        if isinstance(want, dict) and isinstance(have, dict):
            sub = _delta(want, have)
            if sub:
                out[key] = sub
        else:
            out[key] = _copy_json(want)
    return out


@dataclass
class _Shadow:
    version: int = 0
    state: dict[str, dict[str, Any]] = field(default_factory=lambda: {"desired": {}, "reported": {}})
    metadata: dict[str, dict[str, Any]] = field(default_factory=lambda: {"desired": {}, "reported": {}})


class MemoryShadows:
    """Named shadows as AWS IoT keeps them: desired, reported, delta, per-field metadata and a version.

    An update document is ``{"state": {"desired": {...}, "reported": {...}}, "version": n}`` (``version``
    optional, ``clientToken`` allowed). Sections merge recursively into the stored state (objects merge,
    arrays and scalars replace, ``null`` deletes a key, ``"desired": null`` clears the section); every
    accepted update adds 1 to the version. A ``version`` other than the current one (0 for a shadow that
    does not exist yet) raises :class:`ShadowVersionConflictError`; a malformed document raises
    :class:`InvalidShadowUpdateError`, a state over 8 KB :class:`ShadowDocumentTooLargeError`, objects
    nested deeper than 6 levels :class:`ShadowDocumentTooDeepError` — and the shadow is left as it was.

    ``clock`` gives the epoch seconds stamped in the metadata and the documents (default: the wall clock).

    Example:
        >>> shadows = MemoryShadows(clock=lambda: 1_767_600_000)
        >>> shadows.update("cnc-01", "config", b'{"state": {"desired": {"rate": 2, "mode": "run"}}}')
        1
        >>> shadows.update("cnc-01", "config", b'{"state": {"reported": {"rate": 2}}, "version": 1}')
        2
        >>> doc = shadows.document("cnc-01", "config")
        >>> doc["state"]["delta"], doc["metadata"]["reported"], doc["version"]
        ({'mode': 'run'}, {'rate': {'timestamp': 1767600000}}, 2)
        >>> shadows.get("cnc-01", "config"), shadows.get("cnc-01", "state")
        (({'rate': 2}, 2), None)
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._shadows: dict[tuple[str, str], _Shadow] = {}

    def get(self, machine_id: str, shadow: str) -> tuple[dict[str, Any], int] | None:
        """``(reported, version)`` of a named shadow, or None if it does not exist."""
        with self._lock:
            found = self._shadows.get((machine_id, shadow))
            if found is None:
                return None
            return _copy_json(found.state["reported"]), found.version

    def document(self, machine_id: str, shadow: str) -> dict[str, Any] | None:
        """The whole document: ``state`` (non-empty sections and the delta), ``metadata``, ``version``."""
        with self._lock:
            found = self._shadows.get((machine_id, shadow))
            if found is None:
                return None
            state: dict[str, Any] = {}
            metadata: dict[str, Any] = {}
            for section in _SECTIONS:
                if found.state[section]:
                    state[section] = _copy_json(found.state[section])
                    metadata[section] = _copy_json(found.metadata[section])
            delta = _delta(found.state["desired"], found.state["reported"])
            version = found.version
        if delta:
            state["delta"] = delta
        return {"state": state, "metadata": metadata, "version": version, "timestamp": int(self._clock())}

    @staticmethod
    def _parse(payload: bytes) -> tuple[dict[str, Any], int | None]:
        try:
            body = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidShadowUpdateError("Invalid JSON") from exc
        if not isinstance(body, dict) or "state" not in body:
            raise InvalidShadowUpdateError("Missing required node: state")
        state = body["state"]
        if not isinstance(state, dict):
            raise InvalidShadowUpdateError("State node must be an object")
        for node, value in state.items():
            if node not in _SECTIONS:
                raise InvalidShadowUpdateError("State contains an invalid node")
            if value is not None and not isinstance(value, dict):
                raise InvalidShadowUpdateError(f"{node.capitalize()} node must be an object")
            if value is not None and state_depth(value) > MAX_SHADOW_DEPTH:
                raise ShadowDocumentTooDeepError(
                    f"JSON contains too many levels of nesting; maximum is {MAX_SHADOW_DEPTH}"
                )
        if state_size(state) > MAX_SHADOW_STATE_BYTES:
            raise ShadowDocumentTooLargeError("The payload exceeds the maximum size allowed")
        version = body.get("version")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise InvalidShadowUpdateError("Invalid version")
        return state, version

    def update(self, machine_id: str, shadow: str, payload: bytes) -> int:
        """Apply an update document; returns the new version (see the class doc for what is rejected)."""
        request, version = self._parse(payload)
        with self._lock:
            current = self._shadows.get((machine_id, shadow))
            base = current if current is not None else _Shadow()
            if version is not None and version != base.version:
                raise ShadowVersionConflictError(f"{machine_id}/{shadow}: version conflict")
            ts = int(self._clock())
            new = _Shadow(version=base.version + 1)
            for section in _SECTIONS:
                if section not in request:
                    new.state[section] = base.state[section]
                    new.metadata[section] = base.metadata[section]
                elif request[section] is None:
                    continue  # "desired": null / "reported": null clears the section
                else:
                    new.state[section], new.metadata[section] = _merged(
                        base.state[section], base.metadata[section], request[section], ts
                    )
            if state_size({k: v for k, v in new.state.items() if v}) > MAX_SHADOW_STATE_BYTES:
                raise ShadowDocumentTooLargeError(
                    f"{machine_id}/{shadow}: the state would exceed {MAX_SHADOW_STATE_BYTES} bytes"
                )
            self._shadows[(machine_id, shadow)] = new
            return new.version


# -- billing -----------------------------------------------------------------------------------------------


class MemoryLeases:
    """Leases and their cursors (the ``leases`` table).

    Example:
        >>> from twin_models.billing import load_lease
        >>> lease = load_lease({
        ...     "lease_id": "lease-1", "lessor": "maker", "lessee": "plant", "machine_ids": ["cnc-01"],
        ...     "start": "2026-10-01T00:00:00+02:00", "billing_interval": "monthly",
        ...     "timezone": "Europe/Berlin", "currency": "EUR", "tax_rate": "0.19",
        ...     "tariff": {"components": [{"id": "parts", "meter": "parts", "unit_price": "0.15"}]}})
        >>> leases = MemoryLeases()
        >>> leases.create(lease), leases.create(lease)
        (True, False)
        >>> lease.lease_id
        'maker:lease-1'
        >>> leases.advance("maker:lease-1", "billed_through", None, "2026-10"), leases.advance(
        ...     "maker:lease-1", "billed_through", None, "2026-11")
        (True, False)
        >>> leases.get("maker:lease-1").billed_through
        '2026-10'
    """

    CURSORS = ("billed_through", "anchored_through")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._leases: dict[str, LeaseRecord] = {}

    def create(self, lease: Lease, contract_address: str | None = None) -> bool:
        """Store a new lease; False when the id is taken (the stored lease is left as it is)."""
        with self._lock:
            if lease.lease_id in self._leases:
                return False
            self._leases[lease.lease_id] = LeaseRecord(lease=lease, contract_address=contract_address or None)
            return True

    def get(self, lease_id: str) -> LeaseRecord | None:
        """The lease, or None."""
        with self._lock:
            return self._leases.get(lease_id)

    def all(self) -> Iterator[LeaseRecord]:
        """Every lease, by id (a snapshot taken when iteration starts)."""
        with self._lock:
            found = [self._leases[k] for k in sorted(self._leases)]
        yield from found

    def for_tenant(self, tenant: str) -> list[LeaseRecord]:
        """Leases where the tenant is lessor or lessee, by id."""
        with self._lock:
            return [
                self._leases[k]
                for k in sorted(self._leases)
                if tenant in (self._leases[k].lease.lessor, self._leases[k].lease.lessee)
            ]

    def advance(self, lease_id: str, cursor: str, old: str | None, new: str) -> bool:
        """Move ``cursor`` from ``old`` (None: not set yet) to ``new``; False if it is elsewhere or no such lease."""
        if cursor not in self.CURSORS:
            raise ValueError(f"unknown cursor {cursor}")
        with self._lock:
            record = self._leases.get(lease_id)
            if record is None or getattr(record, cursor) != old:
                return False
            if cursor == "billed_through":
                self._leases[lease_id] = replace(record, billed_through=new)
            else:
                self._leases[lease_id] = replace(record, anchored_through=new)
            return True


def _stored_event(ev: UsageEvent, received_at: datetime) -> UsageEvent:
    """The event as the usage table gives it back: UTC times, plain decimal quantity, first arrival time."""
    return UsageEvent(
        id=ev.id,
        machine_id=ev.machine_id,
        meter=ev.meter,
        ts=_utc(ev.ts),
        quantity=Decimal(format(ev.quantity, "f")),
        received_at=_utc(received_at),
        lease_id=ev.lease_id or None,
    )


class MemoryUsage:
    """Usage events, each stored once per ``(machine, id)``, stamped with when it first arrived.

    Example:
        >>> at = datetime(2026, 10, 10, 8, tzinfo=UTC)
        >>> ev = UsageEvent(id="e1", machine_id="cnc-01", meter="parts", ts=at, quantity=Decimal(5))
        >>> usage = MemoryUsage()
        >>> usage.put([ev], at), usage.put([ev], at)
        (PutReport(stored=1, duplicates=0, conflicts=[]), PutReport(stored=0, duplicates=1, conflicts=[]))
        >>> usage.put([UsageEvent(id="e1", machine_id="cnc-01", meter="parts", ts=at, quantity=Decimal(6))], at)
        PutReport(stored=0, duplicates=0, conflicts=['e1'])
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, dict[str, tuple[UsageEvent, str]]] = {}

    def put(self, events: Iterable[UsageEvent], received_at: datetime) -> PutReport:
        """Store events not seen before; an id stored with other content is reported in ``conflicts``."""
        report = PutReport()
        for ev in events:
            digest = ev.hash
            with self._lock:
                machine = self._events.setdefault(ev.machine_id, {})
                found = machine.get(ev.id)
                if found is None:
                    machine[ev.id] = (_stored_event(ev, received_at), digest)
                    report.stored += 1
                    continue
            if found[1] == digest:
                report.duplicates += 1
            else:
                report.conflicts.append(ev.id)
                logger.warning("usage event %s on %s conflicts with the stored one", ev.id, ev.machine_id)
        return report

    def _of(self, machine_id: str) -> list[UsageEvent]:
        with self._lock:
            return [ev for ev, _ in self._events.get(machine_id, {}).values()]

    def between(self, machine_id: str, start: datetime, end: datetime) -> list[UsageEvent]:
        """Events of a machine with ``start <= ts < end``, by (ts, id)."""
        found = [e for e in self._of(machine_id) if start <= e.ts < end]
        return sorted(found, key=lambda e: f"{_key_ts(e.ts)}#{e.id}")

    def received_between(self, machine_id: str, after: datetime, until: datetime) -> list[UsageEvent]:
        """Events of a machine that arrived in ``(after, until]``, by (arrival, id)."""
        found = [e for e in self._of(machine_id) if e.received_at is not None and after < e.received_at <= until]
        return sorted(found, key=lambda e: f"{_key_ts(e.received_at or after)}#{e.id}")


@dataclass
class _InvoiceRow:
    invoice: Invoice
    issued_at: datetime
    status: str = "issued"
    archived: bool = False
    anchor_status: str = "pending"
    claim: str | None = None
    claim_until: int | None = None
    anchor: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    answer: dict[str, Any] = field(default_factory=dict)

    def record(self) -> InvoiceRecord:
        anchor = dict(self.anchor)
        if self.error is not None:
            anchor["error"] = self.error
        return InvoiceRecord(
            invoice=self.invoice,
            status=self.status,
            issued_at=self.issued_at,
            archived=self.archived,
            anchor_status=self.anchor_status,
            anchor=anchor,
            answer=dict(self.answer),
        )


class MemoryInvoices:
    """Invoices, put once per ``(lease, period)``; only the status fields move, each by a conditional step.

    Example:
        >>> from twin_models.billing import compute_invoice, load_lease
        >>> lease = load_lease({
        ...     "lease_id": "lease-1", "lessor": "maker", "lessee": "plant", "machine_ids": ["cnc-01"],
        ...     "start": "2026-10-01T00:00:00+02:00", "billing_interval": "monthly",
        ...     "timezone": "Europe/Berlin", "currency": "EUR", "tax_rate": "0.19",
        ...     "tariff": {"components": [{"id": "base", "kind": "base_fee", "amount": "100.00"}]}})
        >>> invoice = compute_invoice(lease, lease.period("2026-10"), [])
        >>> invoices, now = MemoryInvoices(), datetime(2026, 11, 3, tzinfo=UTC)
        >>> invoices.put_new(invoice, now), invoices.put_new(invoice, now)
        (True, False)
        >>> [invoices.claim_anchor(invoice.invoice_id, token, now, 60) for token in ("a", "b")]
        [True, False]
        >>> invoices.finish_anchor(invoice.invoice_id, "a", 0, "0xabc", "0xdef")
        True
        >>> invoices.get(invoice.invoice_id).anchor
        {'index': 0, 'tx_hash': '0xabc', 'contract': '0xdef'}
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, _InvoiceRow] = {}

    def put_new(self, invoice: Invoice, issued_at: datetime) -> bool:
        """Store an issued invoice; False when this lease and period already has one."""
        with self._lock:
            if invoice.invoice_id in self._rows:
                return False
            self._rows[invoice.invoice_id] = _InvoiceRow(invoice=invoice, issued_at=_utc(issued_at))
            return True

    def get(self, invoice_id: str) -> InvoiceRecord | None:
        """The invoice, or None."""
        with self._lock:
            row = self._rows.get(invoice_id)
            return row.record() if row else None

    def for_lease(self, lease_id: str) -> list[InvoiceRecord]:
        """A lease's invoices, oldest period first."""
        with self._lock:
            rows = [r for r in self._rows.values() if r.invoice.lease_id == lease_id]
            rows.sort(key=lambda r: (_key_ts(r.invoice.period_start), r.invoice.invoice_id))
            return [r.record() for r in rows]

    def mark_archived(self, invoice_id: str) -> None:
        """Note that the document is archived (nothing happens for an unknown invoice)."""
        with self._lock:
            row = self._rows.get(invoice_id)
            if row is not None:
                row.archived = True

    def claim_anchor(self, invoice_id: str, token: str, now: datetime, ttl_s: int) -> bool:
        """Take the right to post this invoice on chain (pending, or a posting claim that expired)."""
        stamp = int(now.timestamp())
        with self._lock:
            row = self._rows.get(invoice_id)
            if row is None:
                return False
            expired = row.anchor_status == "posting" and row.claim_until is not None and row.claim_until < stamp
            if row.anchor_status != "pending" and not expired:
                return False
            row.anchor_status, row.claim, row.claim_until = "posting", token, stamp + ttl_s
            return True

    def finish_anchor(self, invoice_id: str, token: str, index: int, tx_hash: str, contract: str) -> bool:
        """Record where the invoice went on chain (only under our claim)."""
        with self._lock:
            row = self._rows.get(invoice_id)
            if row is None or row.claim is None or row.claim != token:
                return False
            row.anchor_status = "posted"
            row.anchor = {"index": int(index), "tx_hash": tx_hash, "contract": contract}
            row.claim = row.claim_until = row.error = None
            return True

    def release_anchor(self, invoice_id: str, token: str, error: str) -> bool:
        """Give the claim back after a failed attempt, noting why (only under our claim)."""
        with self._lock:
            row = self._rows.get(invoice_id)
            if row is None or row.claim is None or row.claim != token:
                return False
            row.anchor_status, row.error = "pending", error[:500]
            row.claim = row.claim_until = None
            return True

    def answer(self, invoice_id: str, status: str, by: str, at: datetime, reason: str | None) -> bool:
        """Move an issued invoice to ``status``; False when it was answered before (or is unknown)."""
        with self._lock:
            row = self._rows.get(invoice_id)
            if row is None or row.status != "issued":
                return False
            answer: dict[str, Any] = {"answered_by": by, "answered_at": _utc(at).isoformat()}
            if reason is not None:
                answer["reason"] = reason
                answer["reason_hash"] = "0x" + hashlib.sha256(reason.encode()).hexdigest()
            row.status, row.answer = status, answer
            return True


class MemoryInvoiceArchive:
    """The issued documents as canonical JSON, one per invoice (the ``invoices`` bucket).

    Example:
        >>> from twin_models.billing import compute_invoice, load_lease
        >>> lease = load_lease({
        ...     "lease_id": "lease-1", "lessor": "maker", "lessee": "plant", "machine_ids": ["cnc-01"],
        ...     "start": "2026-10-01T00:00:00+02:00", "billing_interval": "monthly",
        ...     "timezone": "Europe/Berlin", "currency": "EUR", "tax_rate": "0.19",
        ...     "tariff": {"components": [{"id": "base", "kind": "base_fee", "amount": "100.00"}]}})
        >>> invoice = compute_invoice(lease, lease.period("2026-10"), [])
        >>> archive = MemoryInvoiceArchive()
        >>> archive.put(invoice)
        'invoices/maker:lease-1/2026-10.json'
        >>> Invoice.from_json(json.loads(archive.get(invoice))).hash == invoice.hash
        True
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._documents: dict[str, bytes] = {}

    @staticmethod
    def key(invoice: Invoice) -> str:
        """``invoices/<lease>/<period>.json``."""
        return f"invoices/{invoice.lease_id}/{invoice.period}.json"

    def put(self, invoice: Invoice) -> str:
        """Write the document (the same bytes every time); returns its key."""
        key = self.key(invoice)
        body = canonical_json(invoice.to_json())
        with self._lock:
            self._documents[key] = body
        return key

    def get(self, invoice: Invoice) -> bytes:
        """The stored document bytes; KeyError when it was never written."""
        key = self.key(invoice)
        with self._lock:
            found = self._documents.get(key)
        if found is None:
            raise KeyError(key)
        return found


# -- OEE ---------------------------------------------------------------------------------------------------


def _copy_period(period: StoredPeriod) -> StoredPeriod:
    return StoredPeriod(
        machine_id=period.machine_id,
        start_us=int(period.start_us),
        end_us=int(period.end_us),
        label=period.label,
        shift=period.shift or None,
        row={k: float(v) for k, v in period.row.items()},
        notes=[str(n) for n in period.notes],
    )


class MemoryOeeResults:
    """Per-machine, per-period totals, one per ``(machine, period start)``.

    Example:
        >>> results = MemoryOeeResults()
        >>> results.put([StoredPeriod("cnc-01", 0, 10, "p0", None, {"run_s": 8.0}, [])], datetime.now(UTC))
        1
        >>> [p.label for p in results.between("cnc-01", 0, 10)], results.between("cnc-01", 0, 9)
        (['p0'], [])
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._periods: dict[str, dict[int, tuple[StoredPeriod, datetime]]] = {}
        self._progress: dict[str, OeeProgress] = {}

    def put(self, periods: list[StoredPeriod], computed_at: datetime) -> int:
        """Write (or overwrite) periods; returns how many were written."""
        stamped = [(_copy_period(p), _utc(computed_at)) for p in periods]
        with self._lock:
            for entry in stamped:
                self._periods.setdefault(entry[0].machine_id, {})[entry[0].start_us] = entry
        return len(stamped)

    def between(self, machine_id: str, start_us: int, end_us: int) -> list[StoredPeriod]:
        """Stored periods with ``start_us <= start <= end_us`` and ``end <= end_us``, in time order."""
        with self._lock:
            machine = self._periods.get(machine_id, {})
            starts = sorted(s for s in machine if start_us <= s <= end_us)
            found = [machine[s][0] for s in starts]
        return [_copy_period(p) for p in found if p.end_us <= end_us]

    def progress(self, machine_id: str) -> OeeProgress | None:
        """Where the machine's last scheduled run left off, or None before its first."""
        with self._lock:
            return self._progress.get(machine_id)

    def put_progress(self, progress: OeeProgress) -> None:
        """Store where the machine's scheduled run left off (frozen: kept as given)."""
        with self._lock:
            self._progress[progress.machine_id] = progress


class MemoryCalendars:
    """Each site's shift calendar.

    Example:
        >>> calendars = MemoryCalendars()
        >>> calendars.put("plant-a", PlantCalendar(timezone="Europe/Berlin"))
        >>> calendars.get("plant-a").timezone, calendars.get("plant-b")
        ('Europe/Berlin', None)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calendars: dict[str, str] = {}

    def put(self, site: str, calendar: PlantCalendar) -> None:
        """Store a site's calendar (replacing the one stored before)."""
        body = calendar.model_dump_json()
        with self._lock:
            self._calendars[site] = body

    def get(self, site: str) -> PlantCalendar | None:
        """A site's calendar, or None when none is stored."""
        with self._lock:
            body = self._calendars.get(site)
        return PlantCalendar.model_validate_json(body) if body is not None else None


class MemoryStateCodes:
    """Each site's own state codes.

    Example:
        >>> codes = MemoryStateCodes()
        >>> codes.put("plant-a", PlantStateCodes.model_validate({"codes": {"1500": "running"}}))
        >>> codes.get("plant-a").codes, codes.get("plant-b")
        ({1500: <StateCategory.RUNNING: 'running'>}, None)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, str] = {}

    def put(self, site: str, codes: PlantStateCodes) -> None:
        """Store a site's mapping (replacing the one stored before)."""
        body = codes.model_dump_json()
        with self._lock:
            self._codes[site] = body

    def get(self, site: str, max_age_s: float = DEVICE_CACHE_MAX_AGE_S) -> PlantStateCodes | None:
        """A site's mapping, or None when none is stored (always the stored one: nothing to cache)."""
        with self._lock:
            body = self._codes.get(site)
        return PlantStateCodes.model_validate_json(body) if body is not None else None


# -- anomaly -----------------------------------------------------------------------------------------------


class MemoryCooldowns:
    """One page per fault: a key is free when never taken or when its cooldown ended (``until <= now``).

    Example:
        >>> cooldowns = MemoryCooldowns()
        >>> [cooldowns.try_acquire("cnc-01#stop", t, 600) for t in (0, 599, 600)]
        [True, False, True]
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, int] = {}

    def try_acquire(self, alert_key: str, now_s: int, cooldown_s: int) -> bool:
        """True (and the cooldown is started) when no page was sent for this key in the last cooldown."""
        with self._lock:
            until = self._until.get(alert_key)
            if until is not None and until > now_s:
                return False
            self._until[alert_key] = now_s + cooldown_s
            return True


@dataclass(frozen=True)
class PublishedAlert:
    """One alert :class:`MemoryAlerts` published."""

    message_id: str
    subject: str
    message: str
    attributes: dict[str, str]


class MemoryAlerts:
    """An alert publisher that keeps what it published in ``published``; message ids ``alert-1``, ``alert-2``...

    Example:
        >>> alerts = MemoryAlerts()
        >>> alerts.publish("cnc-01: spindle", "stop the machine", {"machine_id": "cnc-01"})
        'alert-1'
        >>> [a.subject for a in alerts.published]
        ['cnc-01: spindle']
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.published: list[PublishedAlert] = []

    def publish(self, subject: str, message: str, attributes: dict[str, str]) -> str:
        """Keep one alert (the subject cut to SNS's 100 characters); returns its id."""
        with self._lock:
            message_id = f"alert-{len(self.published) + 1}"
            self.published.append(PublishedAlert(message_id, subject[:100], message, dict(attributes)))
        return message_id


# -- anchoring ---------------------------------------------------------------------------------------------


class InMemoryAnchorStore(AnchorStore):
    """Everything in process, guarded by one lock.

    Example:
        >>> store = InMemoryAnchorStore()
        >>> store.enqueue(QueuedRecord("r1", bytes(32), "demo", datetime.now(UTC)))
        True
        >>> [r.record_id for r in store.pending(10)]
        ['r1']
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, QueuedRecord] = {}
        self._batches: dict[str, Batch] = {}
        self._drain_lock: tuple[str, float] | None = None

    def enqueue(self, record: QueuedRecord) -> bool:
        with self._lock:
            found = self._records.get(record.record_id)
            if found is not None:
                if found.record_hash != record.record_hash:
                    raise RecordConflictError(f"record {record.record_id!r} was queued with another hash")
                return False
            self._records[record.record_id] = replace(record, status=RecordStatus.PENDING)
            return True

    def pending(self, limit: int) -> list[QueuedRecord]:
        with self._lock:
            found = [r for r in self._records.values() if r.status is RecordStatus.PENDING]
        return sorted(found, key=lambda r: (r.queued_at, r.record_id))[:limit]

    def count_pending(self) -> int:
        with self._lock:
            return sum(1 for r in self._records.values() if r.status is RecordStatus.PENDING)

    def get(self, record_id: str) -> QueuedRecord | None:
        with self._lock:
            return self._records.get(record_id)

    def put_batch(self, batch: Batch) -> None:
        with self._lock:
            self._batches[batch.batch_id] = batch

    def claim(self, batch_id: str, record_ids: Sequence[str]) -> list[str]:
        claimed: list[str] = []
        with self._lock:
            for record_id in record_ids:
                record = self._records.get(record_id)
                if record is not None and record.status is RecordStatus.PENDING:
                    self._records[record_id] = replace(record, status=RecordStatus.BATCHED, batch_id=batch_id)
                    claimed.append(record_id)
        return claimed

    def open_batches(self) -> list[Batch]:
        with self._lock:
            found = [b for b in self._batches.values() if b.state is not BatchState.ANCHORED]
        return sorted(found, key=lambda b: (b.created_at, b.batch_id))

    def release(self, batch: Batch) -> None:
        with self._lock:
            for record in list(self._records.values()):
                if record.batch_id == batch.batch_id and record.status is RecordStatus.BATCHED:
                    self._records[record.record_id] = replace(record, status=RecordStatus.PENDING, batch_id="")
            self._batches.pop(batch.batch_id, None)

    def complete(self, batch: Batch, proofs: Sequence[AnchoredProof]) -> None:
        with self._lock:
            for record_id, proof in zip(batch.record_ids, proofs, strict=True):
                record = self._records[record_id]
                self._records[record_id] = replace(
                    record, status=RecordStatus.ANCHORED, batch_id=batch.batch_id, anchored=proof
                )
            self._batches[batch.batch_id] = replace(batch, state=BatchState.ANCHORED)

    def acquire_lock(self, owner: str, now: datetime, ttl_seconds: int) -> bool:
        with self._lock:
            held = self._drain_lock
            if held is not None and held[0] != owner and held[1] > now.timestamp():
                return False
            self._drain_lock = (owner, now.timestamp() + ttl_seconds)
            return True

    def release_lock(self, owner: str) -> None:
        with self._lock:
            if self._drain_lock is not None and self._drain_lock[0] == owner:
                self._drain_lock = None
