"""The lessor's lease lock and the ideal cycle times at the gateway: applied from the shadow, stamped on
the samples, honoured by the simulator, reported back."""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from edge_greengrass.config import load_config_dict
from edge_greengrass.pki import provision_device
from edge_greengrass.runner import Gateway
from edge_greengrass.shadow import shadow_topic
from edge_greengrass.simulator import MachineProfile, MachineSimulator
from twin_models.jws import readable_document
from twin_models.states import DEFAULT_TAXONOMY, StateCategory, StateCode

START = datetime(2026, 1, 5, 6, tzinfo=UTC)


def test_the_simulator_starts_no_cycle_while_locked_and_resumes_after() -> None:
    sim = MachineSimulator(MachineProfile("cnc-01"), seed=3, start=START)
    before = list(sim.run(3600))
    assert before[-1].part_count > 0
    sim.lease_lock = True
    locked = list(sim.run(1800))
    assert {s.state for s in locked} == {StateCode.LEASE_LOCKED}
    assert {s.part_count for s in locked} == {before[-1].part_count}  # no part while locked
    assert all(s.spindle_speed_rpm == 0 for s in locked)
    sim.lease_lock = False
    after = list(sim.run(3600))
    assert after[-1].part_count > before[-1].part_count and StateCode.LEASE_LOCKED not in {s.state for s in after}
    assert DEFAULT_TAXONOMY.category(StateCode.LEASE_LOCKED) is StateCategory.PLANNED_STOP


class Bus:
    """A transport that acknowledges every publish and lets the test play the shadow service."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.published: list[tuple[str, bytes]] = []
        self.callbacks: dict[str, Any] = {}

    def publish(self, thing: str, topic: str, payload: bytes) -> Future[None]:
        with self.lock:
            self.published.append((topic, payload))
        done: Future[None] = Future()
        done.set_result(None)
        return done

    def subscribe(self, thing: str, topic: str, callback: Any) -> None:
        self.callbacks[topic] = callback

    def is_connected(self, thing: str) -> bool:
        return True

    def close(self) -> None:
        return None

    def telemetry(self) -> list[dict[str, Any]]:
        with self.lock:
            return [readable_document(p) for t, p in self.published if t.endswith("/telemetry")]

    def reports(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(p)["state"]["reported"] for t, p in self.published if t.endswith("/config/update")]


def test_a_lock_from_the_shadow_holds_the_machine_and_every_sample_says_so(tmp_path: Path) -> None:
    # Given: a gateway on one simulated machine, running a simulated hour every few seconds
    key = provision_device(tmp_path / "keys", "gw").private_key
    config = load_config_dict(
        {
            "site": "plant-a",
            "signing": {"key_file": str(key), "key_id": "gw"},
            "source": {"type": "simulator", "machines": 1, "speed": 400, "start": START.isoformat()},
            "publisher": {"batch_size": 60},
            "status_file": "status.json",
        },
        base=tmp_path,
    )
    bus = Bus()
    gateway = Gateway(config, bus)
    runner = threading.Thread(target=gateway.run, kwargs={"duration_s": 60, "status_every_s": 0.2})
    runner.start()
    try:
        _wait(lambda: len(bus.telemetry()) >= 5)
        # When: the lessor locks the machine and sets an ideal cycle time for every program
        delta = shadow_topic("cnc-01", "config", "update/delta")
        bus.callbacks[delta](
            delta, json.dumps({"state": {"lease_lock": True, "ideal_cycle_times_s": {"*": 25}}, "version": 2}).encode()
        )
        _wait(lambda: any(r.get("lease_lock") for r in bus.reports()))
        locked_from = len(bus.telemetry())
        _wait(lambda: len(bus.telemetry()) >= locked_from + 10)
    finally:
        gateway.stop_event.set()
        runner.join(20)
    status = json.loads((tmp_path / "status.json").read_text())
    gateway.close()
    # Then: it was reported as applied, and the samples sealed after it carry the lock and the ideal time
    assert bus.reports()[-1]["lease_lock"] is True and bus.reports()[-1]["ideal_cycle_times_s"] == {"*": 25.0}
    assert status["lease_locked"] == ["cnc-01"]
    later = [s for doc in bus.telemetry()[locked_from + 2 :] for s in doc["samples"]]
    assert later and {s["state"] for s in later} == {StateCode.LEASE_LOCKED}
    assert {s["ideal_cycle_time_s"] for s in later} == {25.0}
    assert len({s["part_count"] for s in later}) == 1  # the machine made nothing while locked
    first = [s for s in bus.telemetry()[0]["samples"]]
    assert all("ideal_cycle_time_s" not in s for s in first)  # nothing stated before the setting arrived


def _wait(condition: Any, timeout: float = 30.0) -> None:
    deadline = datetime.now(UTC) + timedelta(seconds=timeout)
    while not condition():
        assert datetime.now(UTC) < deadline, "timed out"
        threading.Event().wait(0.05)


def test_the_applied_lock_survives_a_gateway_restart_before_the_shadow_answers(tmp_path: Path) -> None:
    key = provision_device(tmp_path / "keys", "gw").private_key
    config = load_config_dict(
        {
            "site": "plant-a",
            "signing": {"key_file": str(key), "key_id": "gw"},
            "source": {"type": "simulator", "machines": 2, "speed": 1, "start": START.isoformat()},
        },
        base=tmp_path,
    )
    first = Gateway(config, Bus())
    assert first.shadow is not None and first.locked == set()
    delta = shadow_topic("cnc-02", "config", "update/delta")
    first.shadow.handle("cnc-02", delta, json.dumps({"state": {"lease_lock": True}, "version": 9}).encode())
    assert first.locked == {"cnc-02"}
    first.close()
    # a restart: nothing heard from the shadow yet, the lock holds from the saved settings
    second = Gateway(config, Bus())
    assert second.locked == {"cnc-02"}
    settings_file = config.spool.path.with_name(config.spool.path.name + ".settings.json")
    assert settings_file.stat().st_mode & 0o777 == 0o600
    second.close()
