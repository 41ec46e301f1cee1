"""Read side of the twins: machines a caller may see, their twin now or at a time, and timelines."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from chalicelib.errors import BadInputError, NotAllowedError, NotVisibleError, PayloadTooLargeError
from chalicelib.ports.twins import Devices, History, Shadows
from twin_models.device_config import DesiredConfig, ShadowDocumentError
from twin_models.history import state_at, timeline
from twin_models.shadow import SHADOW_NAMES
from twin_models.states import DEFAULT_TAXONOMY, StateCode
from twin_models.tenancy import Device, Principal, acting_role, can_see
from twin_models.timestamps import format_utc

__all__ = ["TwinQueries"]

MAX_TIMELINE_DAYS = 93


class TwinQueries:
    """Tenant-scoped twin queries over the devices, history and shadows ports."""

    def __init__(self, *, devices: Devices, history: History, shadows: Shadows) -> None:
        self.devices = devices
        self.history = history
        self.shadows = shadows

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
                    "category": DEFAULT_TAXONOMY.category(code).value,
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
                    "category": DEFAULT_TAXONOMY.category(code).value,
                    "program": found["program"] if found else "",
                    "covered": bool(found and found["covered"]),
                }
            )
        return {"at": format_utc(at), "machines": machines}

    def set_desired(self, principal: Principal, machine_id: str, body: Any) -> dict[str, Any]:
        """Push configuration to the edge (desired section of the ``config`` shadow)."""
        device = self.device(principal, machine_id)
        try:
            config = DesiredConfig.model_validate(body)
        except ValidationError as exc:
            raise BadInputError(f"invalid configuration: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}") from exc
        if not config.fields_set():
            raise BadInputError("nothing to change")
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
        self.device(principal, machine_id)
        if end <= start:
            raise BadInputError("'to' must be after 'from'")
        if (end - start).days > MAX_TIMELINE_DAYS:
            raise BadInputError(f"a timeline spans at most {MAX_TIMELINE_DAYS} days")
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
                    "category": DEFAULT_TAXONOMY.category(i.code).value,
                    "program": i.program,
                    **({"ideal_cycle_time_s": i.ideal_cycle_time_s} if i.ideal_cycle_time_s is not None else {}),
                }
                for i in intervals
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
