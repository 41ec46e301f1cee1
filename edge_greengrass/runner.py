"""Wires a gateway from its configuration: source thread -> publisher loop -> transport.

The same :class:`Gateway` runs under Greengrass (transport = IPC, built by the component's
``main.py``) and outside it (``twinledger edge run --config FILE``, transport = direct MQTT5).

Example:
    >>> from edge_greengrass.config import load_config               # doctest: +SKIP
    >>> gateway = Gateway.from_config(load_config(Path("gw.yaml")))  # doctest: +SKIP
    >>> gateway.run()                                                # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import queue
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from edge_greengrass.config import (
    GatewayConfig,
    OpcUaSourceConfig,
    ReplaySourceConfig,
    SimulatorSourceConfig,
)
from edge_greengrass.errors import ConfigurationError
from edge_greengrass.pki import load_private_key
from edge_greengrass.publisher import EnvelopeSigner, TelemetryPublisher
from edge_greengrass.readings import ReadingCounters
from edge_greengrass.shadow import DeviceSettings, ShadowSync
from edge_greengrass.sources import ReplaySource, SampleSource, SimulatorSource
from edge_greengrass.spool import Spool
from edge_greengrass.transport import DirectMqttTransport, MqttEndpoint, MqttIdentity, Transport
from twin_models.states import StateCode
from twin_models.telemetry import Sample

__all__ = ["Gateway", "build_source", "build_spool", "direct_transport"]

_log = logging.getLogger(__name__)


def build_spool(config: GatewayConfig) -> Spool:
    """The spool as configured."""
    return Spool(
        config.spool.path,
        max_bytes=config.spool.max_bytes,
        max_age=dt.timedelta(seconds=config.spool.max_age_s),
        policy=config.spool.policy,
    )


def build_source(
    config: GatewayConfig, publisher: TelemetryPublisher, readings: ReadingCounters | None = None
) -> SampleSource:
    """The configured machine data source, resuming where the spool left off.

    Sources that build samples from raw values (replay, OPC UA) count their bad readings in
    ``readings`` (the gateway reports them in its status).
    """
    src = config.source
    if isinstance(src, SimulatorSourceConfig):
        sim = SimulatorSource(
            machines=src.machines, seed=src.seed, start=src.start, speed=src.speed, resume=publisher.resume_point
        )
        if not src.opcua:
            return sim
        from edge_greengrass.opcua import SimulatorOpcUaSource

        return SimulatorOpcUaSource(sim, port=src.opcua_port, readings=readings)
    if isinstance(src, ReplaySourceConfig):
        return ReplaySource(
            src.path,
            thing=src.thing,
            speed=src.speed,
            start=src.start,
            rows_per_sample=src.rows_per_sample,
            loop=src.loop,
            resume=publisher.resume_point,
            readings=readings,
        )
    if isinstance(src, OpcUaSourceConfig):
        from edge_greengrass.opcua import OpcUaSource

        return OpcUaSource(
            src.url,
            src.node_map,
            sampling_interval_s=src.sampling_interval_s,
            reconnect_delay_s=src.reconnect_delay_s,
            readings=readings,
            lock_nodes=src.lock_nodes,
        )
    raise ConfigurationError(f"unknown source {src!r}")  # pragma: no cover - the model is a closed union


def direct_transport(config: GatewayConfig, things: list[str]) -> DirectMqttTransport:
    """One mTLS MQTT5 connection per thing, from ``mqtt.credentials_dir/<thing>.crt|.key``."""
    if config.mqtt is None:
        raise ConfigurationError("transport 'mqtt' needs an 'mqtt' section (endpoint, credentials_dir)")
    mqtt = config.mqtt
    endpoint = MqttEndpoint(mqtt.endpoint, mqtt.port, mqtt.ca_file, mqtt.iot_core_limits)
    identities = {
        thing: MqttIdentity(thing, mqtt.credentials_dir / f"{thing}.crt", mqtt.credentials_dir / f"{thing}.key")
        for thing in things
    }
    return DirectMqttTransport.connect(endpoint, identities)


class Gateway:
    """Source, publisher, shadow sync and transport of one gateway, run until stopped."""

    def __init__(
        self,
        config: GatewayConfig,
        transport: Transport,
        *,
        spool: Spool | None = None,
    ) -> None:
        self.config = config
        self.transport = transport
        self.spool = spool or build_spool(config)
        key = load_private_key(config.signing.key_file)
        self.signer = EnvelopeSigner(
            site=config.site, key=key, key_id=config.signing.key_id, version=config.publisher.envelope_version
        )
        self.publisher = TelemetryPublisher(
            self.spool,
            transport,
            self.signer,
            batch_size=config.publisher.batch_size,
            max_batch_age=dt.timedelta(seconds=config.publisher.max_batch_age_s),
            window=config.publisher.window,
        )
        #: bad readings per field and readings dropped whole, counted by the source
        self.readings = ReadingCounters(source=f"source {config.source.type}")
        self.source = build_source(config, self.publisher, self.readings)
        self.shadow: ShadowSync | None = None
        self.in_maintenance: set[str] = set()
        #: things under the lessor's lease lock (their samples carry state 710)
        self.locked: set[str] = set()
        #: the settings each thing's samples are stamped with (ideal cycle time in effect)
        self.settings: dict[str, DeviceSettings] = {}
        if config.shadow.enabled:
            self.shadow = ShadowSync(
                transport,
                self.source.things(),
                shadow_name=config.shadow.shadow_name,
                state_file=config.spool.path.with_name(config.spool.path.name + ".settings.json"),
            )
            self.shadow.listeners.append(self._apply_settings)
            self.shadow.restored()
        self._queue: queue.Queue[list[tuple[str, Sample]]] = queue.Queue(maxsize=10_000)
        self.stop_event = threading.Event()
        self._source_thread: threading.Thread | None = None
        self.source_error: BaseException | None = None
        self._dropped: dict[str, int] = {}

    @classmethod
    def from_config(cls, config: GatewayConfig) -> Gateway:
        """Build with a direct MQTT5 transport (outside Greengrass)."""
        things = _things_of(config)
        return cls(config, direct_transport(config, things))

    def _apply_settings(self, thing: str, settings: DeviceSettings) -> None:
        self.settings[thing] = settings
        if settings.maintenance_mode:
            self.in_maintenance.add(thing)
        else:
            self.in_maintenance.discard(thing)
        was_locked = thing in self.locked
        if settings.lease_lock:
            self.locked.add(thing)
        else:
            self.locked.discard(thing)
        if was_locked != settings.lease_lock:
            _log.warning("%s: lease lock %s", thing, "applied" if settings.lease_lock else "released")
        set_lock = getattr(self.source, "set_lease_lock", None)
        if callable(set_lock):
            set_lock(thing, settings.lease_lock)
        set_interval = getattr(self.source, "set_sampling_interval", None)
        if callable(set_interval):
            set_interval(thing, settings.sampling_interval_s)

    def _run_source(self) -> None:
        try:
            self.source.run(self._queue.put, self.stop_event)
        except BaseException as exc:  # reported by run(); the spool keeps what was read
            self.source_error = exc
            _log.exception("source stopped")

    def install_signal_handlers(self) -> None:
        """Stop cleanly on SIGTERM/SIGINT (the spool is durable either way)."""

        def handle(signum: int, frame: FrameType | None) -> None:
            self.stop_event.set()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def run(self, *, duration_s: float | None = None, status_every_s: float = 1.0) -> int:
        """Run until stopped (or ``duration_s``); returns 0, or 1 when the source failed."""
        self._source_thread = threading.Thread(target=self._run_source, name="source", daemon=True)
        self._source_thread.start()
        if self.shadow is not None:
            self.shadow.start()
        started = time.monotonic()
        next_status = started
        try:
            while not self.stop_event.is_set():
                took = self._intake()
                acked = self.publisher.pump()
                if self.shadow is not None:
                    self.shadow.pump()
                now = time.monotonic()
                if now >= next_status:
                    self.spool.enforce_bounds()
                    self._report_drops()
                    self._write_status()
                    next_status = now + status_every_s
                if duration_s is not None and now - started >= duration_s:
                    break
                if self.source_error is not None:
                    break
                busy = took or acked or self.publisher.inflight
                self.stop_event.wait(0.005 if busy else 0.05)  # idle at 1 Hz: 20 wake-ups a second
        finally:
            self.stop_event.set()
            self._source_thread.join(5)
            self._intake()
            self._write_status()
        return 1 if self.source_error is not None else 0

    def _intake(self) -> int:
        batch: list[tuple[str, Sample]] = []
        while len(batch) < 5000:
            try:
                batch.extend(self._queue.get_nowait())
            except queue.Empty:
                break
        if batch and (self.settings or self.in_maintenance or self.locked):
            batch = [(thing, self._stamp(thing, sample)) for thing, sample in batch]
        if batch:
            self.publisher.add_many(batch)
        return len(batch)

    def _stamp(self, thing: str, sample: Sample) -> Sample:
        """The sample as the settings in effect make it: state 710 under a lease lock (which outranks
        maintenance), 702 in maintenance mode, the ideal cycle time of its program, and the production order
        (order id, material lot, product), each unless the source stated one."""
        update: dict[str, Any] = {}
        if thing in self.locked:
            update["state"] = int(StateCode.LEASE_LOCKED)
        elif thing in self.in_maintenance:
            update["state"] = int(StateCode.PLANNED_MAINTENANCE)
        settings = self.settings.get(thing)
        if settings is not None and sample.ideal_cycle_time_s is None:
            ideal = settings.ideal_cycle_time(sample.program)
            if ideal is not None:
                update["ideal_cycle_time_s"] = ideal
        if settings is not None:  # the production order in effect, unless the source stated its own
            update |= {k: v for k, v in settings.production_order.items() if getattr(sample, k) is None}
        return sample.model_copy(update=update) if update else sample

    def status(self) -> dict[str, Any]:
        """Metrics of the publisher and the spool, and the source's bad readings, JSON-ready.

        ``readings.bad_fields`` counts dropped values per sample field, ``readings.dropped_samples``
        readings dropped whole per reason (``<field>:<error type>``); ``spool.staged_rejected`` the
        unreadable staged rows moved to ``staged_rejects`` at start-up, ``publisher.rejected_invalid``
        the samples refused before staging.

        Example:
            >>> gateway.status()["readings"]  # doctest: +SKIP
            {'bad_fields': {'spindle_speed_rpm': 3}, 'dropped_samples': {}}
        """
        return {
            "at": dt.datetime.now(dt.UTC).isoformat(),
            "publisher": dataclasses.asdict(self.publisher.metrics),
            "spool": dataclasses.asdict(self.spool.stats()),
            "readings": self.readings.snapshot(),
            "inflight": self.publisher.inflight,
            "next_seq": {thing: self.spool.next_seq(thing) for thing in self.source.things()},
            "lease_locked": sorted(self.locked),
            "in_maintenance": sorted(self.in_maintenance),
        }

    def _report_drops(self) -> None:
        """Log every growth of the spool's drop counters: a loss is never silent."""
        stats = self.spool.stats()
        dropped = {"full": stats.dropped_full, "age": stats.dropped_age}
        for reason, total in dropped.items():
            new = total - self._dropped.get(reason, total)
            if new > 0:
                _log.warning(
                    "spool dropped %d envelopes (%s; %d in total, ranges in the gaps table)", new, reason, total
                )
        self._dropped = dropped

    def _write_status(self) -> None:
        path = self.config.status_file
        if path is None:
            return
        tmp = Path(f"{path}.tmp")
        tmp.write_text(json.dumps(self.status()))
        tmp.replace(path)

    def close(self) -> None:
        """Close the transport and the spool."""
        self.transport.close()
        self.spool.close()


def _things_of(config: GatewayConfig) -> list[str]:
    return config.source.things()
