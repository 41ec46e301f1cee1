"""The twins' ports: the device registry, the telemetry history, the quarantine and the named shadows.

Adapters: ``chalicelib.adapters.twins`` (DynamoDB, S3), ``chalicelib.adapters.shadows`` (IoT data plane),
``chalicelib.adapters.memory`` (in process).

Example:
    >>> from chalicelib.adapters.memory import MemoryDevices
    >>> isinstance(MemoryDevices(), Devices)
    True
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from twin_models.history import Segment
from twin_models.states import DEFAULT_TAXONOMY, PlantStateCodes, StateTaxonomy
from twin_models.tenancy import Device

__all__ = [
    "DEVICE_CACHE_MAX_AGE_S",
    "Backlog",
    "Devices",
    "History",
    "Quarantine",
    "ShadowVersionConflictError",
    "Shadows",
    "StateCodes",
    "site_taxonomy",
]


#: How long an adapter may answer a machine from its cache. It bounds how late a change reaches ingest: a key
#: retired (or added) through the API is refused (or accepted) at most this long after the change was stored,
#: and exactly from its retirement time when that time lies at least this far ahead.
DEVICE_CACHE_MAX_AGE_S = 60.0


@runtime_checkable
class StateCodes(Protocol):
    """Each site's own state codes mapped onto the categories (:class:`~twin_models.states.PlantStateCodes`)."""

    def put(self, site: str, codes: PlantStateCodes) -> None:
        """Store a site's mapping (replacing the one stored before)."""
        ...

    def get(self, site: str, max_age_s: float = DEVICE_CACHE_MAX_AGE_S) -> PlantStateCodes | None:
        """A site's mapping, or None when none is stored (an adapter may cache it for ``max_age_s``, the
        same bound as a device's: a mapping reaches ingest at most this long after it was stored)."""
        ...


def site_taxonomy(codes: StateCodes, site: str) -> StateTaxonomy:
    """The taxonomy a site's data is read with: its own codes where it has a mapping, else the default.

    Example:
        >>> from chalicelib.adapters.memory import MemoryStateCodes
        >>> store = MemoryStateCodes()
        >>> store.put("plant-a", PlantStateCodes.model_validate({"codes": {"1500": "idle"}}))
        >>> site_taxonomy(store, "plant-a").category(1500).value, site_taxonomy(store, "plant-b").knows(1500)
        ('idle', False)
    """
    found = codes.get(site)
    return found.taxonomy() if found is not None else DEFAULT_TAXONOMY


class ShadowVersionConflictError(Exception):
    """The shadow moved on since it was read (HTTP 409): read again and retry."""


@runtime_checkable
class Devices(Protocol):
    """Registered machines, their parties and their gateways' public keys."""

    def put(self, device: Device) -> None:
        """Register or update a machine."""
        ...

    def get(self, machine_id: str, max_age_s: float = DEVICE_CACHE_MAX_AGE_S) -> Device | None:
        """The machine (an adapter may cache it for ``max_age_s``; 0: read the store)."""
        ...

    def for_tenant(self, tenant: str) -> list[Device]:
        """Machines the tenant owns or leases, by id."""
        ...

    def all(self) -> list[Device]:
        """Every registered machine, by id (the scheduled runs visit them all)."""
        ...


@runtime_checkable
class History(Protocol):
    """One segment per ``(machine, seq)``: the stored, verified telemetry."""

    def put_segment(self, segment: Segment, received_at: datetime) -> bool:
        """Store a segment unless ``(machine, seq)`` exists; False for a duplicate (one conditional write)."""
        ...

    def get_segment(self, machine_id: str, seq: int) -> Segment | None:
        """The stored segment of ``(machine, seq)``."""
        ...

    def segments(self, machine_id: str, start: datetime, end: datetime, lookback_s: float = 3600.0) -> list[Segment]:
        """Segments overlapping ``[start, end)``, ordered by start."""
        ...

    def latest_before(self, machine_id: str, at: datetime, limit: int = 4) -> list[Segment]:
        """Up to ``limit`` segments starting at or before ``at``, newest first."""
        ...

    def since(self, machine_id: str, after_seq: int) -> list[Segment]:
        """Segments with ``seq > after_seq``, by seq (the table's own key: no index)."""
        ...


@runtime_checkable
class Quarantine(Protocol):
    """Rejected records: the reason and the raw payload. Nothing is dropped."""

    def put(
        self, record_id: str, reason: str, detail: str, raw: bytes, machine_id: str | None, received_at: datetime
    ) -> str:
        """Keep a rejected record; returns where its raw payload is kept."""
        ...

    def list_day(self, day: str) -> list[dict[str, str]]:
        """The quarantined records of one UTC day (``YYYY-MM-DD``)."""
        ...

    def raw(self, key: str) -> bytes:
        """The raw payload kept for a quarantined record."""
        ...


@runtime_checkable
class Shadows(Protocol):
    """Named shadows as AWS IoT keeps them: desired, reported, delta and a version."""

    def get(self, machine_id: str, shadow: str) -> tuple[dict[str, Any], int] | None:
        """``(reported, version)`` of a named shadow, or None if it does not exist."""
        ...

    def document(self, machine_id: str, shadow: str) -> dict[str, Any] | None:
        """The whole shadow document (state with desired, reported, delta; metadata; version)."""
        ...

    def update(self, machine_id: str, shadow: str, payload: bytes) -> int:
        """Apply an update document; raises :class:`ShadowVersionConflictError` on a version conflict."""
        ...


@runtime_checkable
class Backlog(Protocol):
    """Envelopes already in history whose later steps (shadow, metering) failed: kept here, raw, until a
    catch-up run completes them, so nothing stored is ever sent back to SQS (and on to its dead-letter
    queue) because a later step failed."""

    def put(self, machine_id: str, seq: int, body: bytes, reason: str, since: datetime) -> None:
        """Keep one envelope for catch-up (the same ``(machine, seq)`` again replaces nothing)."""
        ...

    def machines(self, limit: int = 100) -> list[str]:
        """Machines with envelopes waiting, oldest first."""
        ...

    def entries(self, machine_id: str) -> list[tuple[int, bytes]]:
        """A machine's waiting envelopes, ``(seq, raw body)`` by seq."""
        ...

    def remove(self, machine_id: str, seqs: list[int]) -> None:
        """Forget envelopes whose catch-up is done."""
        ...
