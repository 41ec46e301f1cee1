"""The parts area's use cases: list a machine's parts, a part's proof bundle and EPCIS document, inspections,
shares, the lessee's id scheme, and the anchored registration of a device key.

Visibility is :func:`twin_models.tenancy.party_to` over a part's parties: the tenant that produced it (the
machine's lessee when it was made) and the tenants it was shared with. For anyone else a part does not exist.

Example:
    >>> from chalicelib.adapters.memory import MemoryDevices
    >>> from chalicelib.adapters.memory_parts import MemoryParts
    >>> service = PartsService(MemoryParts(), MemoryDevices(), anchors=None, proofs=lambda rid, rec: None)
    >>> service.parts.scheme("cnc-01") is None
    True
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib.errors import BadInputError, ConflictingStateError, NotAllowedError, NotVisibleError
from chalicelib.http import PageRequest, page, page_body
from chalicelib.parts.step import PART_KIND, part_record_id
from chalicelib.ports.anchoring import AnchorQueue
from chalicelib.ports.parts import Parts, StoredPart
from chalicelib.ports.twins import Devices
from twin_models.anchoring import ProofBundle, record_hash
from twin_models.jws import is_jws, jws_header
from twin_models.parts import (
    Inspection,
    PartBundle,
    PartIdScheme,
    epcis_document,
    inspection_record,
    key_record,
    part_events,
)
from twin_models.telemetry import EnvelopeError, TelemetryEnvelope
from twin_models.tenancy import Principal, acting_role, parties, party_to
from twin_models.timestamps import to_micros

__all__ = ["KEY_KIND", "PartsService", "key_record_id"]

#: The anchoring kind of a device key's registration.
KEY_KIND = "device_key"

#: ``(record_id, record) -> ProofBundle`` of an anchored record, None while it is not anchored.
ProofSource = Callable[[str, Any], ProofBundle | None]


def key_record_id(machine_id: str, key_id: str) -> str:
    """The anchoring record id of a device key's registration.

    Example:
        >>> key_record_id("cnc-01", "cnc-01/1")
        'keys/cnc-01/cnc-01/1'
    """
    return f"keys/{machine_id}/{key_id}"


def _sort_key(stored: StoredPart) -> str:
    return f"{to_micros(stored.record.cycle_end):020d}:{stored.record.count:020d}"


def _key_id(body: str) -> str | None:
    """The key an envelope (v2 or v1) names as its signer."""
    try:
        if is_jws(body):
            return jws_header(body).key_id
        signature = TelemetryEnvelope.model_validate_json(body).signature
    except (EnvelopeError, ValueError):
        return None
    return signature.key_id if signature is not None else None


class PartsService:
    """Part queries and the producer's actions on its parts."""

    def __init__(
        self,
        parts: Parts,
        devices: Devices,
        anchors: AnchorQueue | None,
        proofs: ProofSource,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.parts = parts
        self.devices = devices
        self.anchors = anchors
        self.proofs = proofs
        self.clock = clock

    # -- reading ------------------------------------------------------------------------------------
    def _visible(self, principal: Principal, part_id: str) -> StoredPart:
        stored = self.parts.get(part_id)
        if stored is None or not party_to(principal, stored.parties):
            raise NotVisibleError(f"no part {part_id!r}")
        return stored

    def list_parts(
        self,
        principal: Principal,
        machine_id: str,
        start: datetime,
        end: datetime,
        request: PageRequest,
        order: str | None = None,
        lot: str | None = None,
    ) -> dict[str, Any]:
        """The caller's visible parts of a machine made in ``[start, end)``, optionally of one order or lot."""
        if end <= start:
            raise BadInputError("query parameter 'to' must be after 'from'", field="query.to")
        found = [
            p
            for p in self.parts.for_machine(machine_id, start, end)
            if party_to(principal, p.parties)
            and (order is None or p.record.order_id == order)
            and (lot is None or p.record.material_lot == lot)
        ]
        chosen, cursor = page(found, _sort_key, request)
        return page_body([p.record.document() for p in chosen], cursor)

    def bundle(self, principal: Principal, part_id: str) -> dict[str, Any]:
        """The part's :class:`~twin_models.parts.PartBundle` as JSON."""
        return self._bundle(self._visible(principal, part_id)).model_dump(mode="json")

    def _bundle(self, stored: StoredPart) -> PartBundle:
        record = stored.record
        document = record.document()
        inspections = self.parts.inspections(record.part_id)
        events = part_events(record) + [i.event(record) for i in inspections]
        inspection_proofs = []
        for inspection in inspections:
            proof = self.proofs(
                f"{part_record_id(record.part_id)}/inspections/{inspection.number}", inspection.model_dump(mode="json")
            )
            if proof is not None:
                inspection_proofs.append(proof)
        envelopes = []
        for ref in record.evidence:
            body = self.parts.envelope(ref.machine_id, ref.seq)
            if body:
                envelopes.append(body.decode())
        return PartBundle(
            part_id=record.part_id,
            record=document,
            events=events,
            proof=self.proofs(part_record_id(record.part_id), document),
            inspections=inspection_proofs,
            envelopes=envelopes,
            key=self._key_proof(record.machine_id, envelopes),
        )

    def _key_proof(self, machine_id: str, envelopes: list[str]) -> ProofBundle | None:
        if not envelopes:
            return None
        key_id = _key_id(envelopes[0])
        if key_id is None:
            return None
        device = self.devices.get(machine_id)
        pem = device.keys.get(key_id) if device is not None else None
        if pem is None:
            return None
        return self.proofs(key_record_id(machine_id, key_id), key_record(machine_id, key_id, pem).model_dump())

    def epcis(self, principal: Principal, part_id: str) -> dict[str, Any]:
        """The part's events as an EPCIS 2.0 ``EPCISDocument``."""
        stored = self._visible(principal, part_id)
        inspections = self.parts.inspections(part_id)
        events = part_events(stored.record) + [i.event(stored.record) for i in inspections]
        return epcis_document(events, self.clock())

    # -- the producer's actions -----------------------------------------------------------------------
    def _producer(self, principal: Principal, part_id: str) -> StoredPart:
        stored = self._visible(principal, part_id)
        if principal.tenant != stored.record.producer or principal.role not in ("lessee", "technician"):
            raise NotAllowedError(f"only the producer's lessee or technicians may change part {part_id!r}")
        return stored

    def inspect(self, principal: Principal, part_id: str, inspection: Inspection) -> dict[str, Any]:
        """Record an inspector's result (the next number), anchored like the part itself."""
        stored = self._producer(principal, part_id)
        for _ in range(3):
            number = len(self.parts.inspections(part_id)) + 1
            record = inspection_record(stored.record, inspection, number, self.clock())
            if self.parts.add_inspection(record):
                if self.anchors is not None:
                    record_id = f"{part_record_id(part_id)}/inspections/{number}"
                    digest = record_hash(record.model_dump(mode="json"))
                    self.anchors.submit(record_id, digest, PART_KIND, stored.parties)
                return record.model_dump(mode="json")
        raise ConflictingStateError(f"part {part_id!r}: inspections are being recorded concurrently; try again")

    def share(self, principal: Principal, part_id: str, tenant: str) -> dict[str, Any]:
        """Give ``tenant`` (the lessee's customer) read access to the part."""
        stored = self._producer(principal, part_id)
        self.parts.share(part_id, tenant)
        return {"part_id": part_id, "shared_with": sorted({*stored.shared_with, tenant})}

    def set_scheme(self, principal: Principal, machine_id: str, scheme: PartIdScheme) -> dict[str, Any]:
        """The machine's lessee sets how its parts are named from now on."""
        device = self.devices.get(machine_id)
        if device is None or acting_role(principal, device) is None:
            raise NotVisibleError(f"no machine {machine_id!r}")
        if acting_role(principal, device) != "lessee":
            raise NotAllowedError("only the machine's lessee sets its part id scheme")
        self.parts.set_scheme(machine_id, scheme)
        return scheme.model_dump(mode="json")

    # -- key registration -----------------------------------------------------------------------------
    def register_key(self, machine_id: str, key_id: str) -> str:
        """Queue the registration of a machine's gateway key for anchoring; returns its record id. Whoever
        registers a key calls this, so that a verifier can see the key was known before the data it signed."""
        device = self.devices.get(machine_id, max_age_s=0)
        if device is None or key_id not in device.keys:
            raise NotVisibleError(f"no key {key_id!r} registered for {machine_id!r}")
        record_id = key_record_id(machine_id, key_id)
        if self.anchors is not None:
            document = key_record(machine_id, key_id, device.keys[key_id]).model_dump()
            self.anchors.submit(record_id, record_hash(document), KEY_KIND, parties(device))
        return record_id
