"""The twins' use cases: machines a caller may see, their twin now or at a time, timelines, desired
configuration, and the lessor's registration of machines and their gateway keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.errors import (
    BadInputError,
    ConflictingStateError,
    NotAllowedError,
    NotVisibleError,
    PayloadTooLargeError,
)
from chalicelib.ports.twins import Devices, History, Shadows, StateCodes, site_taxonomy
from twin_models.device_config import DesiredConfig, ShadowDocumentError
from twin_models.history import state_at, timeline
from twin_models.shadow import SHADOW_NAMES
from twin_models.states import DEFAULT_TAXONOMY, PlantStateCodes, StateCode, StateTaxonomy
from twin_models.tenancy import Device, Principal, acting_role, can_see
from twin_models.timestamps import format_utc

__all__ = ["TwinQueries"]

MAX_TIMELINE_DAYS = 93


class TwinQueries:
    """Tenant-scoped twin queries over the devices, history and shadows ports."""

    def __init__(
        self, *, devices: Devices, history: History, shadows: Shadows, state_codes: StateCodes | None = None
    ) -> None:
        self.devices = devices
        self.history = history
        self.shadows = shadows
        self.state_codes = state_codes

    def taxonomy(self, device: Device) -> StateTaxonomy:
        """The state codes the machine's site reads its data with."""
        return DEFAULT_TAXONOMY if self.state_codes is None else site_taxonomy(self.state_codes, device.site)

    def device(self, principal: Principal, machine_id: str) -> Device:
        """The device if the caller may see it; otherwise it does not exist for them (404)."""
        device = self.devices.get(machine_id)
        if device is None or not can_see(principal, device):
            raise NotVisibleError(f"no machine {machine_id!r}")
        return device

    def machines(self, principal: Principal) -> list[dict[str, Any]]:
        """The caller's machines with their site, line and lease parties."""
        return [_summary(d) for d in self.devices.for_tenant(principal.tenant)]

    def twin(self, principal: Principal, machine_id: str, at: datetime | None = None) -> dict[str, Any]:
        """The live twin (every named shadow), or, with ``at``, the state the history shows at that time."""
        device = self.device(principal, machine_id)
        if at is not None:
            found = state_at(self.history.latest_before(machine_id, at), at)
            if found is None:
                raise NotVisibleError(f"no history for {machine_id!r} at {format_utc(at)}")
            code = int(str(found["state"]))
            return {
                **_summary(device),
                "at": format_utc(at),
                "source": "history",
                "lease_locked": code == StateCode.LEASE_LOCKED,
                "state": {
                    "state": code,
                    "category": self.taxonomy(device).category(code).value,
                    "program": found["program"],
                    "since": format_utc(found["since"]) if isinstance(found["since"], datetime) else None,
                    "covered": found["covered"],
                    "counters": {
                        "controller": {"parts": found["controller_parts"], "rejects": found["controller_rejects"]}
                    },
                },
            }
        shadows: dict[str, Any] = {}
        for name in SHADOW_NAMES:
            doc = self.shadows.document(machine_id, name)
            if doc is not None:
                shadows[name] = {
                    "reported": doc.get("state", {}).get("reported", {}),
                    "desired": doc.get("state", {}).get("desired", {}),
                    "delta": doc.get("state", {}).get("delta", {}),
                    "version": doc.get("version"),
                }
        return {**_summary(device), "source": "shadow", "lease_lock": _lease_lock(shadows), "shadows": shadows}

    def fleet_at(self, principal: Principal, at: datetime) -> dict[str, Any]:
        """Every machine of the caller as its history shows it at ``at`` (one index query per machine)."""
        machines = []
        for device in self.devices.for_tenant(principal.tenant):
            found = state_at(self.history.latest_before(device.machine_id, at), at)
            code = int(str(found["state"])) if found else 0
            machines.append(
                {
                    **_summary(device),
                    "state": code,
                    "category": self.taxonomy(device).category(code).value,
                    "program": found["program"] if found else "",
                    "covered": bool(found and found["covered"]),
                }
            )
        return {"at": format_utc(at), "machines": machines}

    def set_desired(self, principal: Principal, machine_id: str, config: DesiredConfig) -> dict[str, Any]:
        """Push configuration to the edge (desired section of the ``config`` shadow)."""
        device = self.device(principal, machine_id)
        if not config.fields_set():
            raise BadInputError("nothing to change: name at least one setting", field="body")
        role = acting_role(principal, device)  # the role claim must be backed by the relationship
        forbidden = config.forbidden_for(role or "service")
        if forbidden:
            who = f"a {role}" if role else f"tenant {principal.tenant!r} as {principal.role} of {machine_id!r}"
            raise NotAllowedError(f"{who} may not set {', '.join(forbidden)}")
        try:
            payload = config.payload()
        except ShadowDocumentError as exc:
            raise (PayloadTooLargeError if exc.too_large else BadInputError)(str(exc)) from exc
        version = self.shadows.update(machine_id, "config", payload)
        return {"machine_id": machine_id, "desired": config.fields_set(), "version": version}

    def timeline(self, principal: Principal, machine_id: str, start: datetime, end: datetime) -> dict[str, Any]:
        """State intervals between ``start`` and ``end``; uncovered time is reported as gaps."""
        taxonomy = self.taxonomy(self.device(principal, machine_id))
        if end <= start:
            raise BadInputError("'to' must be after 'from'", field="query.to")
        if (end - start).days > MAX_TIMELINE_DAYS:
            raise BadInputError(f"a timeline spans at most {MAX_TIMELINE_DAYS} days", field="query.from")
        intervals = timeline(self.history.segments(machine_id, start, end), start, end)
        covered = sum(i.seconds for i in intervals)
        return {
            "machine_id": machine_id,
            "from": format_utc(start),
            "to": format_utc(end),
            "covered_s": covered,
            "unknown_s": (end - start).total_seconds() - covered,
            "intervals": [
                {
                    "start": format_utc(i.start),
                    "end": format_utc(i.end),
                    "state": i.code,
                    "category": taxonomy.category(i.code).value,
                    "program": i.program,
                    **({"ideal_cycle_time_s": i.ideal_cycle_time_s} if i.ideal_cycle_time_s is not None else {}),
                }
                for i in intervals
            ],
        }

    # -- a site's own state codes ---------------------------------------------------------------------------
    def site_state_codes(self, principal: Principal, site: str) -> dict[str, Any]:
        """A site's state-code mapping (empty: the default table), for anyone with a machine there."""
        if not any(d.site == site for d in self.devices.for_tenant(principal.tenant)):
            raise NotVisibleError(f"no site {site!r}")
        found = self.state_codes.get(site, 0) if self.state_codes is not None else None
        return {"site": site, "codes": _codes_out(found or PlantStateCodes())}

    def set_site_state_codes(self, principal: Principal, site: str, codes: PlantStateCodes) -> dict[str, Any]:
        """The lessor of every machine at the site maps the plant's own state codes (replacing the mapping).

        Metering reads samples with it, so it decides billed running time: a lessee may not set it, and
        neither may a lessor while another lessor's machines share the site. It applies to data received
        from then on (ingest caches it like a device, for at most
        :data:`~chalicelib.ports.twins.DEVICE_CACHE_MAX_AGE_S`); usage already metered stays as metered.
        """
        mine = [d for d in self.devices.for_tenant(principal.tenant) if d.site == site]
        if not mine:
            raise NotVisibleError(f"no site {site!r}")
        if principal.role != "lessor" or any(d.lessor != principal.tenant for d in mine):
            raise NotAllowedError(f"only the lessor of the machines at {site!r} may map its state codes")
        others = sorted({d.lessor for d in self.devices.all() if d.site == site and d.lessor != principal.tenant})
        if others:
            raise NotAllowedError(f"machines of other lessors share {site!r}: its state codes are not one lessor's")
        if self.state_codes is None:
            raise NotAllowedError("this deployment keeps no state-code mappings")
        self.state_codes.put(site, codes)
        return {"site": site, "codes": _codes_out(codes)}

    # -- registration (the lessor's) ------------------------------------------------------------------------
    def register(self, principal: Principal, registration: dict[str, Any]) -> dict[str, Any]:
        """A lessor registers a machine and its gateway's keys (again with the same entry: no change).

        The caller's tenant becomes the machine's lessor; a machine id another lessor holds is a 409 that
        names no owner.
        """
        if principal.role != "lessor":
            raise NotAllowedError("only a lessor registers machines")
        try:
            device = Device.model_validate({**registration, "lessor": principal.tenant})
        except ValueError as exc:
            raise BadInputError(str(exc)[:500], field="body") from exc
        stored = self.devices.get(device.machine_id, max_age_s=0)
        if stored is not None and stored.lessor != principal.tenant:
            raise ConflictingStateError(f"machine {device.machine_id!r} is registered to another lessor")
        if stored is not None and stored.retired_keys:  # a retirement stays: registration cannot revive a key
            device = device.model_copy(update={"retired_keys": stored.retired_keys})
        self.devices.put(device)
        return _with_keys(device)

    def _owned(self, principal: Principal, machine_id: str) -> Device:
        """The machine, read from the store, if the caller is its lessor (others: 404 or 403)."""
        device = self.devices.get(machine_id, max_age_s=0)
        if device is None or not can_see(principal, device):
            raise NotVisibleError(f"no machine {machine_id!r}")
        if acting_role(principal, device) != "lessor":
            raise NotAllowedError(f"only the lessor of {machine_id!r} manages its keys")
        return device

    def keys(self, principal: Principal, machine_id: str) -> dict[str, Any]:
        """The machine with its keys and their retirement times."""
        return _with_keys(self.device(principal, machine_id))

    def add_key(self, principal: Principal, machine_id: str, key_id: str, pem: str) -> dict[str, Any]:
        """Register one more gateway key (the same key again: no change; another under a used id: 409)."""
        device = self._owned(principal, machine_id)
        if key_id in device.keys and device.keys[key_id] != pem:
            raise ConflictingStateError(f"key {key_id!r} of {machine_id!r} exists with another public key")
        if key_id in device.retired_keys:
            raise ConflictingStateError(f"key {key_id!r} of {machine_id!r} is retired; use a new key id")
        updated = device.model_copy(update={"keys": {**device.keys, key_id: pem}})
        self.devices.put(Device.model_validate(updated.model_dump()))
        return _with_keys(updated)

    def retire_key(self, principal: Principal, machine_id: str, key_id: str, at: datetime) -> dict[str, Any]:
        """Refuse envelopes signed with ``key_id`` that are received from ``at`` on (an earlier time stays)."""
        device = self._owned(principal, machine_id)
        if key_id not in device.keys:
            raise NotVisibleError(f"no key {key_id!r} for {machine_id!r}")
        since = min(at, device.retired_keys.get(key_id, at))
        updated = device.model_copy(update={"retired_keys": {**device.retired_keys, key_id: since}})
        self.devices.put(updated)
        return _with_keys(updated)


def _with_keys(device: Device) -> dict[str, Any]:
    return {
        **_summary(device),
        "timezone": device.timezone,
        "keys": [
            {"key_id": k, "retired_from": format_utc(device.retired_keys[k]) if k in device.retired_keys else None}
            for k in sorted(device.keys)
        ],
    }


def _summary(device: Device) -> dict[str, Any]:
    return {
        "machine_id": device.machine_id,
        "site": device.site,
        "line": device.line,
        "lessor": device.lessor,
        "lessee": device.lessee,
    }


def _lease_lock(shadows: dict[str, Any]) -> dict[str, Any]:
    """The lessor's lease lock as the twin shows it: what the lessor wants (``config`` desired), what the
    gateway applied (``config`` reported), whether the delta is still open, and whether the machine's last
    state is the locked one (710)."""
    config = shadows.get("config", {})
    desired = config.get("desired", {}).get("lease_lock")
    reported = config.get("reported", {}).get("lease_lock")
    state = shadows.get("state", {}).get("reported", {}).get("state")
    return {
        "desired": desired,
        "reported": reported,
        "pending": "lease_lock" in config.get("delta", {}),
        "machine_locked": state == StateCode.LEASE_LOCKED,
    }


def _codes_out(codes: PlantStateCodes) -> dict[str, str]:
    return {str(code): category.value for code, category in sorted(codes.codes.items())}
