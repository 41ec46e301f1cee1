"""Shadow sync: desired configuration in, reported configuration out, per thing.

The named shadow ``config`` of each machine carries what the cloud wants the gateway to do:

* ``sampling_interval_s`` — how often the source samples (0.1 .. 60 s, the range the cloud accepts: both
  check with :class:`twin_models.device_config.DesiredConfig`);
* ``ideal_cycle_times_s`` — ideal cycle time per program (``{"P100": 30.0}``), used by OEE;
* ``maintenance_mode`` — while true, the machine's samples carry state 702 (planned maintenance).

The sync subscribes to ``$aws/things/<thing>/shadow/name/config/update/delta`` (and ``get/accepted`` /
``get/rejected`` for the initial state, requested until answered), applies every valid key, and
publishes what it applied as ``reported``; invalid values are not applied and are reported under
``rejected`` with the reason, so the cloud sees why the delta stays open. Messages arrive on the
MQTT thread and are applied by :meth:`ShadowSync.pump` in the gateway loop.

Example:
    >>> settings = DeviceSettings()
    >>> applied, rejected = settings.apply({"sampling_interval_s": 5, "maintenance_mode": "yes"})
    >>> applied, rejected
    ({'sampling_interval_s': 5.0}, {'maintenance_mode': 'Input should be a valid boolean'})
"""

from __future__ import annotations

import json
import logging
import queue
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from edge_greengrass.transport import MessageCallback
from twin_models.device_config import DesiredConfig

__all__ = ["DeviceSettings", "ShadowSync", "shadow_topic"]

_log = logging.getLogger(__name__)


class _PubSub(Protocol):
    def publish(self, thing: str, topic: str, payload: bytes) -> Future[None]: ...

    def subscribe(self, thing: str, topic: str, callback: MessageCallback) -> None: ...


def shadow_topic(thing: str, shadow_name: str, suffix: str) -> str:
    """``$aws/things/<thing>/shadow/name/<shadow_name>/<suffix>`` (e.g. suffix ``update/delta``)."""
    return f"$aws/things/{thing}/shadow/name/{shadow_name}/{suffix}"


@dataclass
class DeviceSettings:
    """The configuration one machine's gateway applies."""

    sampling_interval_s: float = 1.0
    ideal_cycle_times_s: dict[str, float] = field(default_factory=dict)
    maintenance_mode: bool = False

    def reported(self) -> dict[str, Any]:
        """The reported section."""
        return {
            "sampling_interval_s": self.sampling_interval_s,
            "ideal_cycle_times_s": dict(self.ideal_cycle_times_s),
            "maintenance_mode": self.maintenance_mode,
        }

    def apply(self, desired: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Apply a delta (or a whole desired section) as AWS IoT defines it; ``(applied, rejected-with-reason)``.

        A nested object merges recursively onto the current value (a delta carries only the changed path:
        ``{"ideal_cycle_times_s": {"P300": 40}}`` adds one program and keeps the others); ``null`` deletes
        (a program, or a whole setting, which falls back to its default). Every value is checked by the one
        settings model the cloud checks with (:class:`twin_models.device_config.DesiredConfig`, same ranges).
        """
        applied: dict[str, Any] = {}
        rejected: dict[str, str] = {}
        for key, value in desired.items():
            if key not in _APPLIED:
                rejected[key] = (
                    "not enforced by this gateway" if key in DesiredConfig.model_fields else "unknown setting"
                )
                continue
            current = getattr(self, key)
            if value is None:
                wanted = _DEFAULTS[key]
            elif isinstance(value, dict) and isinstance(current, dict):
                wanted = {k: v for k, v in {**current, **value}.items() if v is not None}
            else:
                wanted = value
            try:
                checked = DesiredConfig.model_validate({key: wanted}, strict=True)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"][1:])
                rejected[key] = f"{where}: {first['msg']}" if where else str(first["msg"])
                continue
            new = getattr(checked, key)
            setattr(self, key, dict(new) if isinstance(new, dict) else new)
            applied[key] = getattr(self, key) if not isinstance(new, dict) else dict(new)
        return applied, rejected


#: The settings this gateway applies (``lease_lock`` is known to the model but not enforced here yet).
_APPLIED = ("sampling_interval_s", "ideal_cycle_times_s", "maintenance_mode")
_DEFAULTS: dict[str, Any] = {"sampling_interval_s": 1.0, "ideal_cycle_times_s": {}, "maintenance_mode": False}


Listener = Callable[[str, DeviceSettings], None]


class ShadowSync:
    """Keeps each thing's :class:`DeviceSettings` in step with its ``config`` shadow."""

    def __init__(
        self,
        transport: _PubSub,
        things: list[str],
        *,
        shadow_name: str = "config",
        get_retry_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.get_retry_s = get_retry_s
        self._monotonic = monotonic
        self.synced: set[str] = set()
        self._next_get: dict[str, float] = {}
        self.shadow_name = shadow_name
        self.settings: dict[str, DeviceSettings] = {thing: DeviceSettings() for thing in things}
        self.listeners: list[Listener] = []
        self._inbox: queue.Queue[tuple[str, str, bytes]] = queue.Queue()
        self.versions: dict[str, int] = {}

    def start(self) -> None:
        """Subscribe to every thing's delta and get responses; :meth:`pump` requests the documents."""
        for thing in self.settings:
            for suffix in ("update/delta", "get/accepted", "get/rejected"):
                topic = shadow_topic(thing, self.shadow_name, suffix)
                self.transport.subscribe(thing, topic, self._enqueue(thing))

    def _request_documents(self) -> None:
        """Ask for each unsynced thing's document, again every ``get_retry_s`` until an answer came."""
        now = self._monotonic()
        for thing in self.settings:
            if thing in self.synced or now < self._next_get.get(thing, 0.0):
                continue
            self._next_get[thing] = now + self.get_retry_s
            self.transport.publish(thing, shadow_topic(thing, self.shadow_name, "get"), b"{}")

    def _enqueue(self, thing: str) -> MessageCallback:
        def on_message(topic: str, payload: bytes) -> None:
            self._inbox.put((thing, topic, payload))

        return on_message

    def pump(self) -> int:
        """Request missing documents, apply queued shadow messages; returns how many were handled."""
        self._request_documents()
        handled = 0
        while True:
            try:
                thing, topic, payload = self._inbox.get_nowait()
            except queue.Empty:
                return handled
            handled += 1
            self.handle(thing, topic, payload)

    def handle(self, thing: str, topic: str, payload: bytes) -> None:
        """Apply one delta or get/accepted document and report the result."""
        self.synced.add(thing)  # any answer (even "no shadow yet") ends the initial request
        if topic.endswith("/get/rejected"):
            return
        try:
            doc = json.loads(payload)
        except ValueError:
            _log.warning("ignoring non-JSON shadow message on %s", topic)
            return
        state = doc.get("state") if isinstance(doc, dict) else None
        if topic.endswith("/get/accepted") and isinstance(state, dict):
            state = state.get("desired")
        if not isinstance(state, dict):
            return
        version = doc.get("version")
        if isinstance(version, int):
            if version <= self.versions.get(thing, -1):
                return  # an older document arriving late
            self.versions[thing] = version
        settings = self.settings[thing]
        applied, rejected = settings.apply(state)
        if applied:
            for listener in self.listeners:
                listener(thing, settings)
        reported: dict[str, Any] = settings.reported()
        reported["rejected"] = rejected or None
        body = json.dumps({"state": {"reported": reported}}).encode()
        self.transport.publish(thing, shadow_topic(thing, self.shadow_name, "update"), body)
