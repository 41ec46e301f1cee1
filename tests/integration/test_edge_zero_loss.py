"""Zero loss from gateway to ingest through a real mosquitto that is killed, and a publisher killed mid-stream.

Given a local mTLS broker, the ingest bridge and a gateway process publishing 8 simulated machines
(accelerated), when the broker is killed with SIGKILL and restarted three times, the gateway is
killed with SIGKILL once and restarted, and the bridge is stopped and started again, then every
``(thing, seq)`` the gateway sealed reaches the bridge's receiver, every signature verifies, and the
samples of each machine are contiguous seconds: nothing is lost, duplicates are only re-deliveries of
identical envelopes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from edge_greengrass.pki import load_private_key, provision_device
from edge_greengrass.transport import MqttEndpoint, MqttIdentity
from twin_models.jws import open_envelope, readable_document
from twinledger.local.bridge import MqttIngestBridge
from twinledger.local.broker import BRIDGE_IDENTITY, MosquittoBroker, find_mosquitto, free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed (apt-get install mosquitto)"),
]

REPO_ROOT = Path(__file__).resolve().parents[2]
MACHINES = 8


class Receiver:
    """The downstream end: verifies each envelope and deduplicates on (thing, seq), as ingest does."""

    def __init__(self, public_key: Any) -> None:
        self.public_key = public_key
        self.envelopes: dict[tuple[str, int], bytes] = {}
        self.duplicates = 0
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        for record in event["Records"]:
            envelope, _ = open_envelope(record["body"], self.public_key, now=datetime.now(UTC))
            key = (envelope.machine_id, envelope.seq)
            with self.lock:
                if key in self.envelopes:
                    self.duplicates += 1
                    assert self.envelopes[key] == record["body"].encode(), f"{key} re-sent with other content"
                else:
                    self.envelopes[key] = record["body"].encode()
        return {"batchItemFailures": []}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    with MosquittoBroker(tmp_path / "broker", port=free_port()) as running:
        yield running


def _start_gateway(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "twinledger", "edge", "run", "--config", str(config), "--drain", "30"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=log.open("ab"),
    )


def _status(path: Path) -> dict[str, Any]:
    for _ in range(50):
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return data
        except (OSError, ValueError):
            time.sleep(0.1)
    raise AssertionError(f"no status in {path}")


def _wait_acked(status_file: Path, at_least: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if status_file.exists() and _status(status_file)["spool"]["acked"] >= at_least:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {at_least} envelopes acknowledged within {timeout} s")


def _wait_received(receiver: Receiver, at_least: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with receiver.lock:
            if len(receiver.envelopes) >= at_least:
                return
        time.sleep(0.1)
    raise AssertionError(f"the bridge received fewer than {at_least} envelopes within {timeout} s")


def test_every_seq_arrives_through_broker_and_publisher_kills(broker: MosquittoBroker, tmp_path: Path) -> None:
    # Given: credentials for 8 things and the bridge, a gateway signing key, the bridge running
    things = [f"cnc-{i + 1:02d}" for i in range(MACHINES)]
    for thing in things:
        broker.client_credentials(thing)
    bridge_creds = broker.client_credentials(BRIDGE_IDENTITY)
    signing = provision_device(tmp_path / "gateway", "gateway-1")
    receiver = Receiver(load_private_key(signing.private_key).public_key())
    endpoint = MqttEndpoint("127.0.0.1", broker.port, broker.ca_certificate)

    def start_bridge() -> MqttIngestBridge:
        return MqttIngestBridge(
            endpoint,
            MqttIdentity("ingest-bridge", bridge_creds.certificate, bridge_creds.private_key),
            receiver,
            inbox_path=tmp_path / "bridge" / "inbox.db",
        ).start()

    bridge = start_bridge()
    status_file = tmp_path / "gateway" / "status.json"
    config = tmp_path / "gateway" / "gateway.yaml"
    start = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    config.write_text(
        yaml.safe_dump(
            {
                "site": "plant-a",
                "signing": {"key_file": str(signing.private_key), "key_id": "gateway-1"},
                "source": {
                    "type": "simulator",
                    "machines": MACHINES,
                    "seed": 7,
                    "start": start.isoformat(),
                    "speed": 200,
                },
                "transport": "mqtt",
                "mqtt": {
                    "endpoint": "127.0.0.1",
                    "port": broker.port,
                    "ca_file": str(broker.ca_certificate),
                    "credentials_dir": str(broker.pki_dir / "clients"),
                },
                "spool": {"path": str(tmp_path / "gateway" / "spool.db")},
                "publisher": {"batch_size": 10, "window": 16},
                "shadow": {"enabled": False},
                "status_file": str(status_file),
            }
        )
    )
    log = tmp_path / "gateway" / "gateway.log"
    gateway = _start_gateway(config, log)
    try:
        # When: the broker dies three times and the gateway once, mid-stream
        _wait_acked(status_file, 30, timeout=20)
        broker.kill()
        time.sleep(1.5)
        broker.start()
        _wait_acked(status_file, 80, timeout=20)
        os.kill(gateway.pid, signal.SIGKILL)
        gateway.wait(5)
        acked_before = _status(status_file)["spool"]["acked"]
        gateway = _start_gateway(config, log)
        _wait_acked(status_file, acked_before + 40, timeout=20)
        bridge.stop()  # the ingest side goes away too: its persistent session queues at the broker
        time.sleep(1.0)
        bridge = start_bridge()
        # mosquitto saves its queues after it acknowledges (persistence is not synchronous): a SIGKILL just
        # then loses what it queued for the offline bridge, a gap of the local broker that IoT Core, whose
        # rule hands each message to SQS, does not have. Let the queue reach the bridge before the next kill.
        _wait_received(receiver, _status(status_file)["spool"]["acked"], timeout=20)
        broker.kill()
        time.sleep(1.0)
        broker.start()
        time.sleep(3.0)
        broker.kill()
        time.sleep(0.5)
        broker.start()
        _wait_acked(status_file, _status(status_file)["spool"]["acked"] + 40, timeout=20)
        gateway.send_signal(signal.SIGTERM)
        out, _ = gateway.communicate(timeout=60)
    finally:
        if gateway.poll() is None:
            gateway.kill()
            gateway.wait(5)
    final = json.loads(out.decode().strip().splitlines()[-1])
    assert final["spool"]["pending"] == 0, final
    assert bridge.wait_idle(20)
    # Then: every seq the gateway sealed arrived, verified, exactly once after dedup
    deadline = time.monotonic() + 20
    expected = {(thing, seq) for thing, n in final["next_seq"].items() for seq in range(n)}
    while time.monotonic() < deadline and not expected <= set(receiver.envelopes):
        time.sleep(0.2)
    bridge.stop()
    missing = sorted(expected - set(receiver.envelopes))
    assert not missing, f"{len(missing)} envelopes lost, e.g. {missing[:5]}"
    assert set(receiver.envelopes) == expected
    assert all(final["next_seq"][t] >= 10 for t in things), final["next_seq"]
    # and the samples of each machine are consecutive seconds from the start: no sample lost or doubled
    for thing in things:
        stamps: list[datetime] = []
        for seq in range(final["next_seq"][thing]):
            doc = readable_document(receiver.envelopes[(thing, seq)])
            stamps.extend(datetime.fromisoformat(s["ts"].replace("Z", "+00:00")) for s in doc["samples"])
        assert stamps[0] == start
        assert stamps == [start + timedelta(seconds=i) for i in range(len(stamps))], thing
