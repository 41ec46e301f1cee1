"""OPC UA on the gateway: the machine adapter (client) and the simulator served as a real OPC UA server.

:class:`OpcUaSource` connects to a machine's OPC UA server, subscribes to the nodes of a configurable
node map (``{thing: {sample_field: node_id}}``), keeps the latest value of each, and every sampling
interval emits one :class:`Sample` per thing, built by
:func:`~edge_greengrass.readings.sample_from_readings`: a value the model cannot take (``NaN``, out of
range, wrong type) is left out of the sample and counted per field in ``readings``. When the connection
drops it reconnects (after ``reconnect_delay_s``) and subscribes again; samples are only emitted while
values are fresh.

The lessor's ``lease_lock`` is written to each thing's lock node (``lock_nodes``, a Boolean the
controller's logic honours by starting no new cycle), again after every reconnect.

:class:`SimulatorOpcUaServer` publishes the fleet simulator's machines as OPC UA objects
(``ns=2;s=<thing>.<field>``, and a writable ``ns=2;s=<thing>.lease_lock`` the simulator honours) so the
adapter reads and writes them over the wire exactly as it does with a real CNC;
:class:`SimulatorOpcUaSource` runs both in one process for ``source: {type: simulator, opcua: true}``.

Example:
    >>> default_node_map(["cnc-01"])["cnc-01"]["spindle_speed_rpm"]
    'ns=2;s=cnc-01.spindle_speed_rpm'
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from typing import Any

from edge_greengrass.errors import SourceError
from edge_greengrass.readings import REQUIRED_FIELDS, ReadingCounters, sample_from_readings, utc_now_ms
from edge_greengrass.sources import Emit, SimulatorSource
from twin_models.telemetry import Sample

__all__ = [
    "NAMESPACE_URI",
    "SAMPLE_FIELDS",
    "OpcUaSource",
    "SimulatorOpcUaServer",
    "SimulatorOpcUaSource",
    "default_lock_nodes",
    "default_node_map",
]

_log = logging.getLogger(__name__)

NAMESPACE_URI = "urn:twinledger:cnc-simulator"
#: The sample fields a simulated machine exposes as OPC UA variables.
SAMPLE_FIELDS = (
    "state",
    "spindle_speed_rpm",
    "feed_rate_mm_min",
    "spindle_load_pct",
    "vibration_rms_mm_s",
    "temperature_c",
    "power_kw",
    "part_count",
    "reject_count",
    "tool_id",
    "tool_wear_pct",
    "program",
    "alarm_code",
)


def default_node_map(things: list[str], namespace_index: int = 2) -> dict[str, dict[str, str]]:
    """The node map of :class:`SimulatorOpcUaServer` (also a template for a real machine)."""
    return {thing: {name: f"ns={namespace_index};s={thing}.{name}" for name in SAMPLE_FIELDS} for thing in things}


def default_lock_nodes(things: list[str], namespace_index: int = 2) -> dict[str, str]:
    """The lock nodes of :class:`SimulatorOpcUaServer`: ``ns=2;s=<thing>.lease_lock``.

    Example:
        >>> default_lock_nodes(["cnc-01"])
        {'cnc-01': 'ns=2;s=cnc-01.lease_lock'}
    """
    return {thing: f"ns={namespace_index};s={thing}.lease_lock" for thing in things}


class _Latest:
    """Data-change handler: remembers the latest value of each subscribed node."""

    def __init__(self, fields_by_node: Mapping[str, tuple[str, str]]) -> None:
        self.fields_by_node = fields_by_node
        self.values: dict[str, dict[str, Any]] = {}

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        key = node.nodeid.to_string()
        mapped = self.fields_by_node.get(key)
        if mapped is not None:
            thing, name = mapped
            self.values.setdefault(thing, {})[name] = val

    def status_change_notification(self, status: Any) -> None:
        _log.info("OPC UA subscription status changed: %s", status)


class OpcUaSource:
    """The machine adapter: OPC UA subscriptions -> 1 Hz samples, reconnecting forever."""

    def __init__(
        self,
        url: str,
        node_map: Mapping[str, Mapping[str, str]],
        *,
        sampling_interval_s: float = 1.0,
        reconnect_delay_s: float = 2.0,
        readings: ReadingCounters | None = None,
        lock_nodes: Mapping[str, str] | None = None,
    ) -> None:
        unknown = {name for fields in node_map.values() for name in fields} - set(Sample.model_fields) - {"ts"}
        if unknown:
            raise SourceError(f"node map names fields a sample does not have: {sorted(unknown)}")
        self.url = url
        self.node_map = {thing: dict(fields) for thing, fields in node_map.items()}
        self.sampling_interval_s = sampling_interval_s
        self.reconnect_delay_s = reconnect_delay_s
        self.connections = 0
        #: readings dropped whole (their state or timestamp unusable); bad single values are in ``readings``
        self.invalid_samples = 0
        self.readings = readings if readings is not None else ReadingCounters(source=f"OPC UA {url}")
        self._intervals: dict[str, float] = {}
        self.lock_nodes = dict(lock_nodes or {})
        #: the lock each thing should have, and what this connection has written (reset on reconnect)
        self._locks: dict[str, bool] = {}
        self._written: dict[str, bool] = {}
        self.lock_writes = 0

    def things(self) -> list[str]:
        """The things in the node map."""
        return sorted(self.node_map)

    def set_sampling_interval(self, thing: str, seconds: float) -> None:
        """Change one thing's sampling interval (applied from the shadow)."""
        self._intervals[thing] = seconds

    def set_lease_lock(self, thing: str, locked: bool) -> None:
        """Write ``locked`` to the thing's lock node (on the adapter's loop, and again after a reconnect)."""
        if thing not in self.lock_nodes:
            _log.warning("%s has no lock node: the lease lock is stamped on its samples only", thing)
        self._locks[thing] = locked

    async def _write_locks(self, client: Any) -> None:
        for thing, locked in list(self._locks.items()):
            node_id = self.lock_nodes.get(thing)
            if node_id is None or self._written.get(thing) is locked:
                continue
            await client.get_node(node_id).write_value(locked)
            self._written[thing] = locked
            self.lock_writes += 1

    def run(self, emit: Emit, stop: threading.Event) -> None:
        """Run the adapter's event loop in this thread until ``stop`` is set."""
        asyncio.run(self._main(emit, stop))

    async def _main(self, emit: Emit, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                await self._session(emit, stop)
            except (TimeoutError, OSError, ConnectionError) as exc:
                _log.warning(
                    "OPC UA connection to %s lost (%r); retrying in %s s", self.url, exc, self.reconnect_delay_s
                )
            except Exception as exc:  # asyncua raises its own UaError family on protocol failures
                if type(exc).__module__.startswith("asyncua"):
                    _log.warning("OPC UA error from %s (%r); retrying", self.url, exc)
                else:
                    raise
            await asyncio.sleep(self.reconnect_delay_s)

    async def _session(self, emit: Emit, stop: threading.Event) -> None:
        from asyncua.client.client import Client

        client = Client(self.url, timeout=5)
        await client.connect()
        self._written = {}
        try:
            self.connections += 1
            fields_by_node = {
                node_id: (thing, name) for thing, fields in self.node_map.items() for name, node_id in fields.items()
            }
            handler = _Latest({client.get_node(nid).nodeid.to_string(): tf for nid, tf in fields_by_node.items()})
            subscription = await client.create_subscription(100, handler)
            await subscription.subscribe_data_change([client.get_node(nid) for nid in fields_by_node])
            next_due: dict[str, float] = {}
            loop = asyncio.get_running_loop()
            while not stop.is_set():
                await asyncio.sleep(0.05)
                await client.check_connection()
                await self._write_locks(client)
                now = loop.time()
                batch: list[tuple[str, Sample]] = []
                for thing in self.node_map:
                    if now < next_due.get(thing, 0.0):
                        continue
                    interval = self._intervals.get(thing, self.sampling_interval_s)
                    next_due[thing] = now + interval
                    sample = self._sample(thing, handler.values.get(thing))
                    if sample is not None:
                        batch.append((thing, sample))
                if batch:
                    emit(batch)
        finally:
            try:
                await client.disconnect()
            except Exception:  # the connection is already gone; nothing left to release
                _log.debug("disconnect after a lost connection failed", exc_info=True)

    def _sample(self, thing: str, values: dict[str, Any] | None) -> Sample | None:
        if not values or "state" not in values:
            return None
        readings = {k: v for k, v in values.items() if k not in REQUIRED_FIELDS}
        ts = values.get("ts")
        sample = sample_from_readings(utc_now_ms() if ts is None else ts, values["state"], readings, self.readings)
        if sample is None:
            self.invalid_samples += 1
        return sample


def _plain(value: Any) -> Any:
    """The value as its plain type (an ``IntEnum`` state is an ``int``), so every write keeps the variable's
    OPC UA type."""
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


class SimulatorOpcUaServer:
    """The fleet simulator served over OPC UA (one object per machine, one variable per field)."""

    def __init__(self, simulator: SimulatorSource, *, host: str = "127.0.0.1", port: int = 4840) -> None:
        self.simulator = simulator
        self.url = f"opc.tcp://{host}:{port}/twinledger/"
        self.ready = threading.Event()
        self.ticks = 0

    async def serve(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set, writing each simulated second's values."""
        from asyncua import ua
        from asyncua.server.server import Server

        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("twinledger CNC simulator")
        idx = await server.register_namespace(NAMESPACE_URI)
        sims = self.simulator.machines()
        variables: dict[str, dict[str, Any]] = {}
        locks: dict[str, Any] = {}
        for thing, sim in sims.items():
            obj = await server.nodes.objects.add_object(
                ua.NodeId(ua.String(thing), ua.Int16(idx)), ua.QualifiedName(thing, idx)
            )
            first = sim.step()
            variables[thing] = {}
            for name in SAMPLE_FIELDS:
                value = _plain(getattr(first, name))
                var = await obj.add_variable(
                    ua.NodeId(ua.String(f"{thing}.{name}"), ua.Int16(idx)), ua.QualifiedName(name, idx), value
                )
                variables[thing][name] = var
            locks[thing] = await obj.add_variable(
                ua.NodeId(ua.String(f"{thing}.lease_lock"), ua.Int16(idx)), ua.QualifiedName("lease_lock", idx), False
            )
            await locks[thing].set_writable()
        period = 1.0 / self.simulator.speed
        async with server:
            self.ready.set()
            while not stop.is_set():
                for thing, sim in sims.items():
                    sim.lease_lock = bool(await locks[thing].read_value())
                    sample = sim.step()
                    for name, var in variables[thing].items():
                        await var.write_value(_plain(getattr(sample, name)))
                self.ticks += 1
                await asyncio.sleep(period)

    def run(self, stop: threading.Event) -> None:
        """Serve in this thread."""
        asyncio.run(self.serve(stop))


class SimulatorOpcUaSource:
    """Serve the simulator over OPC UA in a thread and read it back through :class:`OpcUaSource`."""

    def __init__(
        self,
        simulator: SimulatorSource,
        *,
        port: int = 4840,
        sampling_interval_s: float = 1.0,
        readings: ReadingCounters | None = None,
    ) -> None:
        self.server = SimulatorOpcUaServer(simulator, port=port)
        self.adapter = OpcUaSource(
            self.server.url,
            default_node_map(simulator.things()),
            sampling_interval_s=sampling_interval_s,
            reconnect_delay_s=0.5,
            readings=readings,
            lock_nodes=default_lock_nodes(simulator.things()),
        )
        self.readings = self.adapter.readings

    def things(self) -> list[str]:
        """The simulated things."""
        return self.adapter.things()

    def set_sampling_interval(self, thing: str, seconds: float) -> None:
        """Forwarded to the adapter."""
        self.adapter.set_sampling_interval(thing, seconds)

    def set_lease_lock(self, thing: str, locked: bool) -> None:
        """Written to the simulator's lock node over OPC UA, which the simulator honours."""
        self.adapter.set_lease_lock(thing, locked)

    def run(self, emit: Emit, stop: threading.Event) -> None:
        """Start the server thread, then run the adapter until ``stop``."""
        thread = threading.Thread(target=self.server.run, args=(stop,), name="opcua-server", daemon=True)
        thread.start()
        if not self.server.ready.wait(30):
            raise SourceError("the simulator's OPC UA server did not start")
        try:
            self.adapter.run(emit, stop)
        finally:
            stop.set()
            thread.join(10)
