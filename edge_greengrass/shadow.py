"""Shadow sync: desired configuration in, reported configuration out, per thing.

The named shadow ``config`` of each machine carries what the cloud wants the gateway to do:

* ``sampling_interval_s`` — how often the source samples (0.1 .. 60 s, the range the cloud accepts: both
  check with :class:`twin_models.device_config.DesiredConfig`);
* ``ideal_cycle_times_s`` — ideal cycle time per program (``{"P100": 30.0}``), used by OEE;
* ``maintenance_mode`` — while true, the machine's samples carry state 702 (planned maintenance);
* ``lease_lock`` — the lessor's lock: while true the source starts no new cycle (the simulator holds,
  the OPC UA adapter writes the thing's lock node) and the samples carry state 710 (lease locked).

What was applied is reported as AWS IoT expects, so the delta closes: a program deleted from
``ideal_cycle_times_s`` is reported as ``null`` (which deletes it from ``reported``).

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
import os
import queue
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from edge_greengrass.transport import MessageCallback
from twin_models.device_config import DesiredConfig

__all__ = ["DeviceSettings", "ShadowSync", "removed_keys", "reported_update", "shadow_topic"]

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
    lease_lock: bool = False
    production_order: dict[str, str] = field(default_factory=dict)

    def reported(self) -> dict[str, Any]:
        """The reported section (``production_order`` only while an order is set)."""
        reported: dict[str, Any] = {
            "sampling_interval_s": self.sampling_interval_s,
            "ideal_cycle_times_s": dict(self.ideal_cycle_times_s),
            "maintenance_mode": self.maintenance_mode,
            "lease_lock": self.lease_lock,
        }
        if self.production_order:
            reported["production_order"] = dict(self.production_order)
        return reported

    def ideal_cycle_time(self, program: str) -> float | None:
        """The ideal cycle time in effect for ``program`` (else the ``"*"`` default, else ``None``).

        Example:
            >>> DeviceSettings(ideal_cycle_times_s={"P100": 30.0, "*": 45.0}).ideal_cycle_time("P200")
            45.0
        """
        found = self.ideal_cycle_times_s.get(program)
        return found if found is not None else self.ideal_cycle_times_s.get("*")

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


#: The settings this gateway applies: every field of the one settings model.
_APPLIED = ("sampling_interval_s", "ideal_cycle_times_s", "maintenance_mode", "lease_lock", "production_order")
_DEFAULTS: dict[str, Any] = {
    "sampling_interval_s": 1.0,
    "ideal_cycle_times_s": {},
    "maintenance_mode": False,
    "lease_lock": False,
    "production_order": {},
}


def removed_keys(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Keys (at any depth) ``before`` has and ``after`` lacks, as a delta of ``null`` s that deletes them.

    Example:
        >>> removed_keys({"m": {"a": 1, "b": 2}, "x": 1, "y": 2}, {"m": {"a": 1}, "y": 2})
        {'m': {'b': None}, 'x': None}
    """
    out: dict[str, Any] = {}
    for key, value in before.items():
        if key not in after:
            out[key] = None
        elif isinstance(value, dict) and isinstance(after[key], dict):
            nested = removed_keys(value, after[key])
            if nested:
                out[key] = nested
    return out


def reported_update(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The ``reported`` section to send: ``current``, with ``null`` for every key (at any depth) that
    ``previous`` reported and ``current`` no longer has, so AWS IoT deletes it from ``reported``.

    Example:
        >>> reported_update({"m": {"a": 1, "b": 2}, "old": 1}, {"m": {"a": 1}})
        {'m': {'a': 1, 'b': None}, 'old': None}
    """
    out: dict[str, Any] = dict(current)
    for key, before in previous.items():
        if key not in current:
            out[key] = None
        elif isinstance(before, dict) and isinstance(current[key], dict):
            out[key] = reported_update(before, current[key])
    return out


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
        state_file: Path | None = None,
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
        #: what the shadow's ``reported`` holds per thing, as far as this gateway knows
        self._reported: dict[str, dict[str, Any]] = {}
        #: the applied settings survive a restart (a lease lock holds before the shadow answers again)
        self.state_file = state_file
        self._restore()

    def _restore(self) -> None:
        if self.state_file is None or not self.state_file.is_file():
            return
        try:
            saved = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            _log.warning("ignoring unreadable settings file %s", self.state_file)
            return
        for thing, values in (saved if isinstance(saved, dict) else {}).items():
            if thing in self.settings and isinstance(values, dict):
                _, rejected = self.settings[thing].apply(values)
                if rejected:
                    _log.warning("%s: saved settings not restored: %s", thing, rejected)

    def _save(self) -> None:
        if self.state_file is None:
            return
        body = json.dumps({thing: s.reported() for thing, s in self.settings.items()}, sort_keys=True)
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.state_file)

    def restored(self) -> None:
        """Tell the listeners the settings restored from the last run (call once the source exists)."""
        for thing, settings in self.settings.items():
            if settings != DeviceSettings():
                for listener in self.listeners:
                    listener(thing, settings)

    def start(self) -> None:
        """Subscribe to every thing's delta and get responses; :meth:`pump` requests the documents."""
        for thing in self.settings:
            for suffix in ("update/delta", "update/documents", "get/accepted", "get/rejected"):
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
        if topic.endswith("/update/documents"):
            self._apply_deletions(thing, doc)
            return
        state = doc.get("state") if isinstance(doc, dict) else None
        if topic.endswith("/get/accepted") and isinstance(state, dict):
            if isinstance(state.get("reported"), dict):
                self._reported[thing] = state["reported"]
            state = state.get("desired")
        if not isinstance(state, dict):
            return
        version = doc.get("version")
        if isinstance(version, int):
            if version <= self.versions.get(thing, -1):
                return  # an older document arriving late
            self.versions[thing] = version
        self._apply(thing, state)

    def _apply_deletions(self, thing: str, doc: Any) -> None:
        """A delta never says that a desired key was deleted (``null``); ``update/documents`` shows it as a key
        the previous desired had and the current one lacks. Deleting is idempotent, so a document is applied
        unless it is older than the last delta."""
        if not isinstance(doc, dict) or not isinstance(doc.get("current"), dict):
            return
        current, previous = doc["current"], doc.get("previous")
        version = current.get("version")
        if isinstance(version, int) and version < self.versions.get(thing, -1):
            return
        before = previous.get("state", {}).get("desired") if isinstance(previous, dict) else None
        after = current.get("state", {}).get("desired")
        removed = removed_keys(before if isinstance(before, dict) else {}, after if isinstance(after, dict) else {})
        if removed:
            self._apply(thing, removed)

    def _apply(self, thing: str, state: dict[str, Any]) -> None:
        settings = self.settings[thing]
        applied, rejected = settings.apply(state)
        if applied:
            self._save()
            for listener in self.listeners:
                listener(thing, settings)
        current: dict[str, Any] = settings.reported()
        reported = reported_update(self._reported.get(thing, {}), current)
        reported["rejected"] = rejected or None
        self._reported[thing] = current
        body = json.dumps({"state": {"reported": reported}}).encode()
        self.transport.publish(thing, shadow_topic(thing, self.shadow_name, "update"), body)
