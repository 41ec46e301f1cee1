"""A part's proof bundle on a real Ganache devnet: it verifies end to end with ``twinledger verify --part``;
a changed process value, a changed disposition, a swapped envelope and a key registered after the data each
fail, and the failure names its check."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from chalicelib import wiring
from chalicelib.adapters.chain import AnchorClient, deploy_anchor_registry
from chalicelib.http import PageRequest
from chalicelib.settings import Settings
from chalicelib.wiring import Services
from tests.functional.conftest import sqs_event
from twin_models.jws import seal_jws
from twin_models.parts import Inspection, Measurement
from twin_models.signing import generate_private_key, public_key_pem
from twin_models.telemetry import Sample
from twin_models.tenancy import Device, Principal
from twinledger.cli import main as cli
from twinledger.local.ganache import DETERMINISTIC_KEYS, Ganache

pytestmark = pytest.mark.integration

LESSEE = Principal(subject="qa", tenant="factory-1", role="lessee")


def stack(w3: Web3) -> Services:
    admin = Account.from_key(DETERMINISTIC_KEYS[0])
    client = AnchorClient(w3, deploy_anchor_registry(w3, admin), admin)
    return wiring.build(Settings(adapters="memory"), anchor_chain=lambda: client)


def register(built: Services, machine_id: str) -> Any:
    key = generate_private_key()
    built.adapters.devices.put(
        Device(
            machine_id=machine_id,
            site="plant-a",
            lessor="toolmaker",
            lessee="factory-1",
            keys={f"{machine_id}/1": public_key_pem(key)},
        )
    )
    return key


def produce(built: Services, machine_id: str, key: Any, start: datetime) -> list[str]:
    """Two envelopes of 30 samples: a part every 6 s, the fifth rejected (reject counter steps with it)."""
    made = [
        Sample(
            ts=start + timedelta(seconds=i),
            state=100,
            part_count=i // 6,
            reject_count=int(i >= 30),
            program="P100",
            material_lot="L-9",
            order_id="O-1",
            spindle_load_pct=50 + i % 7,
            vibration_rms_mm_s=1.2,
            temperature_c=31.5,
            power_kw=11.0,
            tool_id="T0001",
            tool_wear_pct=12.5,
        )
        for i in range(60)
    ]
    bodies = [
        seal_jws(machine_id, "plant-a", 0, made[:30], key, f"{machine_id}/1", sent_at=made[29].ts).decode(),
        seal_jws(
            machine_id, "plant-a", 1, made[30:], key, f"{machine_id}/1", sent_at=made[59].ts, previous=made[29]
        ).decode(),
    ]
    built.ingest.handle_batch(sqs_event(bodies, [f"{machine_id}-0", f"{machine_id}-1"]))
    return bodies


def chain_now(w3: Web3) -> datetime:
    return datetime.fromtimestamp(int(w3.eth.get_block("latest")["timestamp"]), UTC)


def bundles(built: Services, machine_id: str) -> dict[str, dict[str, Any]]:
    listed = built.parts.list_parts(
        LESSEE, machine_id, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC), PageRequest(limit=100)
    )
    return {r["result"]: built.parts.bundle(LESSEE, r["part_id"]) for r in listed["items"]}


def verify(tmp_path: Path, ganache: Ganache, bundle: dict[str, Any], name: str) -> tuple[int, dict[str, Any]]:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(bundle))
    code = cli(["verify", "--part", str(path), "--rpc", ganache.url])
    return code, json.loads(path.read_text())


@pytest.fixture
def anchored(ganache_w3: Web3) -> tuple[Services, str, list[str]]:
    # Given a machine whose key registration is anchored first, then a part made and anchored
    built = stack(ganache_w3)
    key = register(built, "cnc-07")
    built.parts.register_key("cnc-07", "cnc-07/1")
    assert built.anchoring.run_once().as_dict()["error"] in (None, "")
    start = chain_now(ganache_w3) + timedelta(seconds=2)
    bodies = produce(built, "cnc-07", key, start)
    found = bundles(built, "cnc-07")
    good_id = found["good"]["part_id"]
    built.parts.inspect(
        LESSEE,
        good_id,
        Inspection(
            inspected_at=start + timedelta(minutes=5),
            inspector="qa-1",
            result="conformant",
            measurements=[Measurement(characteristic="bore", value=12.01, uom="MMT")],
        ),
    )
    built.anchoring.run_once()
    return built, good_id, bodies


def test_a_good_and_a_rejected_part_verify_end_to_end(
    anchored: tuple[Services, str, list[str]], ganache: Ganache, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built, _, _ = anchored
    found = bundles(built, "cnc-07")

    for result in ("good", "rejected"):
        bundle = found[result]
        assert bundle["proof"] is not None and bundle["key"] is not None and len(bundle["envelopes"]) >= 1
        capsys.readouterr()
        assert verify(tmp_path, ganache, bundle, result)[0] == 0
        report = json.loads(capsys.readouterr().out)
        assert report["ok"] and [c["name"] for c in report["checks"]][-1] == "key_registered_before_data"
    assert found["rejected"]["events"][1]["disposition"] == "non_conformant"
    assert len(found["good"]["inspections"]) == 1 and len(found["good"]["events"]) == 3


def _failed(tmp_path: Path, ganache: Ganache, bundle: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    code, _ = verify(tmp_path, ganache, bundle, "tampered")
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and not report["ok"]
    return str(report["failed"])


def test_each_forgery_fails_and_is_named(
    anchored: tuple[Services, str, list[str]],
    ganache: Ganache,
    ganache_w3: Web3,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    built, good_id, _ = anchored
    bundle = built.parts.bundle(LESSEE, good_id)

    # a changed process value in the record
    changed = json.loads(json.dumps(bundle))
    changed["record"]["process"]["spindle_load_pct"]["max"] += 1.0
    assert _failed(tmp_path, ganache, changed, capsys) == "record_hash"

    # a changed process value in the commissioning event only
    changed = json.loads(json.dumps(bundle))
    changed["events"][0]["sensorElementList"][0]["sensorReport"][0]["maxValue"] += 1.0
    assert _failed(tmp_path, ganache, changed, capsys) == "epcis_event_ids"

    # a changed disposition (the inspector's conformant made non-conformant)
    changed = json.loads(json.dumps(bundle))
    changed["events"][2]["disposition"] = "non_conformant"
    assert _failed(tmp_path, ganache, changed, capsys) == "epcis_event_ids"

    # a swapped envelope: another validly signed envelope of the same machine
    changed = json.loads(json.dumps(bundle))
    other = {0: 1, 1: 0}[changed["record"]["evidence"][0]["seq"]]
    swapped = built.adapters.parts.envelope("cnc-07", other)
    assert swapped is not None
    changed["envelopes"][0] = swapped.decode()
    assert _failed(tmp_path, ganache, changed, capsys) == "envelope_signatures"

    # a key registered after the data was sent
    late = register(built, "cnc-08")
    produce(built, "cnc-08", late, chain_now(ganache_w3) - timedelta(minutes=10))
    built.parts.register_key("cnc-08", "cnc-08/1")
    built.anchoring.run_once()
    late_bundle = bundles(built, "cnc-08")["good"]
    assert _failed(tmp_path, ganache, late_bundle, capsys) == "key_registered_before_data"
