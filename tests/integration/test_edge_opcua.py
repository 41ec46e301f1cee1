"""The OPC UA machine adapter reads the simulator over the wire and survives a server restart."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from edge_greengrass.errors import SourceError
from edge_greengrass.opcua import OpcUaSource, SimulatorOpcUaServer, default_lock_nodes, default_node_map
from edge_greengrass.sources import SimulatorSource
from twin_models.telemetry import Sample
from twinledger.local.broker import free_port

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)


def _serve(port: int) -> tuple[SimulatorOpcUaServer, threading.Event, threading.Thread]:
    server = SimulatorOpcUaServer(SimulatorSource(machines=2, seed=7, start=T0, speed=5), port=port)
    stop = threading.Event()
    thread = threading.Thread(target=server.run, args=(stop,), daemon=True)
    thread.start()
    assert server.ready.wait(30)
    return server, stop, thread


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_adapter_samples_the_simulator_over_opcua_and_reconnects() -> None:
    # Given: the simulator served over OPC UA and the adapter subscribed to its node map
    port = free_port()
    server, server_stop, server_thread = _serve(port)
    adapter = OpcUaSource(
        server.url, default_node_map(["cnc-01", "cnc-02"]), sampling_interval_s=0.2, reconnect_delay_s=0.3
    )
    got: list[tuple[str, Sample]] = []
    lock = threading.Lock()

    def emit(batch: list[tuple[str, Sample]]) -> None:
        with lock:
            got.extend(batch)

    stop = threading.Event()
    reader = threading.Thread(target=adapter.run, args=(emit, stop), daemon=True)
    reader.start()
    try:
        # When: it runs, then the server goes away and comes back on the same port
        assert _wait(lambda: len(got) >= 10, 15), "no samples over OPC UA"
        server_stop.set()
        server_thread.join(10)
        time.sleep(1.0)
        before = len(got)
        server, server_stop, server_thread = _serve(port)
        assert _wait(lambda: adapter.connections >= 2 and len(got) >= before + 10, 20), "no reconnect"
    finally:
        stop.set()
        server_stop.set()
        reader.join(10)
        server_thread.join(10)
    # Then: both machines were sampled with the simulator's values
    things = {thing for thing, _ in got}
    assert things == {"cnc-01", "cnc-02"}
    assert all(s.tool_id.startswith("T") and s.program in {"P100", "P200"} for _, s in got)
    assert {s.state for _, s in got} <= {100, 200, 300, 301, 400, 500, 501, 600, 601, 602, 700, 701}


def test_the_lease_lock_is_written_to_the_lock_node_and_the_machine_honours_it() -> None:
    # Given: the adapter on the simulator's server, with the simulator's lock nodes
    port = free_port()
    server, server_stop, server_thread = _serve(port)
    adapter = OpcUaSource(
        server.url,
        default_node_map(["cnc-01", "cnc-02"]),
        sampling_interval_s=0.2,
        reconnect_delay_s=0.3,
        lock_nodes=default_lock_nodes(["cnc-01", "cnc-02"]),
    )
    got: list[tuple[str, Sample]] = []
    lock = threading.Lock()

    def emit(batch: list[tuple[str, Sample]]) -> None:
        with lock:
            got.extend(batch)

    stop = threading.Event()
    reader = threading.Thread(target=adapter.run, args=(emit, stop), daemon=True)
    reader.start()
    try:
        assert _wait(lambda: len(got) >= 4, 15), "no samples over OPC UA"
        # When: the gateway applies the lessor's lock to cnc-01
        adapter.set_lease_lock("cnc-01", True)
        assert _wait(lambda: adapter.lock_writes >= 1, 10), "the lock node was not written"
        mark = len(got)
        # Then: the simulated controller holds cnc-01 (its own state node says 710), cnc-02 runs on
        assert _wait(lambda: sum(1 for t, s in got[mark:] if t == "cnc-01" and s.state == 710) >= 5, 15)
        with lock:
            after = got[mark:]
        late = [s for t, s in after if t == "cnc-01"][-3:]
        assert all(s.state == 710 for s in late) and len({s.part_count for s in late}) == 1
        assert all(s.state != 710 for t, s in after if t == "cnc-02")
    finally:
        stop.set()
        server_stop.set()
        reader.join(10)
        server_thread.join(10)


def test_node_map_with_unknown_fields_is_refused() -> None:
    with pytest.raises(SourceError, match="spindle_rpm"):
        OpcUaSource("opc.tcp://127.0.0.1:4840/", {"cnc-01": {"spindle_rpm": "ns=2;s=x"}})
