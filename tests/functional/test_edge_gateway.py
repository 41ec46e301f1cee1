"""The gateway loop: offline for long, a full spool drops oldest envelopes — metered, logged, in gaps."""

from __future__ import annotations

import json
import logging
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_greengrass.config import load_config_dict
from edge_greengrass.pki import provision_device
from edge_greengrass.runner import Gateway
from edge_greengrass.sources import read_cnc_csv
from twin_models.jws import readable_document


class Offline:
    """A transport that never connects (a gateway cut off from the cloud)."""

    def publish(self, thing: str, topic: str, payload: bytes) -> Future[None]:
        raise AssertionError("nothing may be sent while offline")

    def subscribe(self, thing: str, topic: str, callback: object) -> None:
        return None

    def is_connected(self, thing: str) -> bool:
        return False

    def close(self) -> None:
        return None


def test_full_spool_drops_oldest_and_reports_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key = provision_device(tmp_path / "keys", "gw").private_key
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    config = load_config_dict(
        {
            "site": "plant-a",
            "signing": {"key_file": str(key), "key_id": "gw"},
            "source": {"type": "simulator", "machines": 2, "speed": 2000, "start": start.isoformat()},
            "spool": {"max_bytes": 60_000, "policy": "drop_oldest"},
            "publisher": {"batch_size": 30},
            "shadow": {"enabled": False},
            "status_file": "status.json",
        },
        base=tmp_path,
    )
    gateway = Gateway(config, Offline())
    with caplog.at_level(logging.WARNING, logger="edge_greengrass.runner"):
        gateway.run(duration_s=2.5, status_every_s=0.5)
    gaps = gateway.spool.gaps()
    gateway.close()
    status = json.loads((tmp_path / "status.json").read_text())
    spool = status["spool"]
    assert spool["dropped_full"] > 0 and spool["pending_bytes"] <= 60_000
    assert spool["appended"] == spool["pending"] + spool["dropped_full"]  # every envelope: kept or metered
    assert any("spool dropped" in r.getMessage() for r in caplog.records)
    assert {g[0] for g in gaps} == {"cnc-01", "cnc-02"} and all(g[3] == "full" for g in gaps)


class Recorder(Offline):
    """A transport that acknowledges everything at once."""

    def __init__(self) -> None:
        self.payloads: list[bytes] = []

    def publish(self, thing: str, topic: str, payload: bytes) -> Future[None]:
        self.payloads.append(payload)
        done: Future[None] = Future()
        done.set_result(None)
        return done

    def is_connected(self, thing: str) -> bool:
        return True


@pytest.mark.data
def test_replay_of_real_mill_data_through_the_gateway(shared_data: Path, tmp_path: Path) -> None:
    key = provision_device(tmp_path / "keys", "gw").private_key
    csv = shared_data / "cnc_mill_tool_wear" / "experiment_12.csv"  # CR-only line endings
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    config = load_config_dict(
        {
            "site": "plant-a",
            "signing": {"key_file": str(key), "key_id": "gw"},
            "source": {
                "type": "replay",
                "path": str(csv),
                "thing": "mill-1",
                "speed": 5000,
                "start": start.isoformat(),
            },
            "shadow": {"enabled": False},
        },
        base=tmp_path,
    )
    transport = Recorder()
    gateway = Gateway(config, transport)
    gateway.run(duration_s=3)
    gateway.publisher.flush()
    assert gateway.publisher.drain(5)
    gateway.close()
    docs = [readable_document(p) for p in transport.payloads]
    stamps = [s["ts"] for d in docs for s in d["samples"]]
    rows = sum(1 for _ in read_cnc_csv(csv))
    assert [d["seq"] for d in docs] == list(range(len(docs))) and len(stamps) == rows // 10
    assert stamps[0] == start.strftime("%Y-%m-%dT%H:%M:%SZ") and len(set(stamps)) == len(stamps)
