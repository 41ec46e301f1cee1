"""The chain heads of every machine anchored together in one Merkle batch per interval (moto DynamoDB, the
in-process chain), the proof of one entry through the API and ``twinledger verify --record``, and the
exported history through ``twinledger verify --maintenance``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.maintenance.service import HEAD_KIND
from tests.functional.maintenance_support import MACHINE, Api, api, register_machine
from twin_models.hashchain import machine_key
from twin_models.maintenance import check_export
from twinledger.cli import main as cli

__all__ = ["api"]

MACHINES = [MACHINE, "cnc-02", "cnc-03"]


def record(api: Api, machine_id: str, text: str) -> dict[str, Any]:
    answer: dict[str, Any] = api.ok(
        "POST", f"/machines/{machine_id}/maintenance", "technician", {"kind": "inspection", "text": text}
    )
    return answer


def interval(api: Api) -> dict[str, Any]:
    """One schedule interval: the heads job, then the anchoring drain."""
    heads = api.services.maintenance.anchor_heads().as_dict()
    drained = api.services.anchoring.run_once().as_dict()
    return {"heads": heads, "drain": drained}


@pytest.fixture
def fleet(api: Api) -> Api:
    for machine_id in MACHINES[1:]:
        register_machine(machine_id)
    return api


def test_every_machines_head_goes_in_one_transaction_per_interval(fleet: Api) -> None:
    api = fleet
    for i in range(4):
        for machine_id in MACHINES:
            record(api, machine_id, f"round {i}")
    first = interval(api)
    for machine_id in MACHINES[:2]:
        record(api, machine_id, "round 4")
    second = interval(api)
    quiet = interval(api)

    assert first["heads"]["submitted"] == 3 and first["drain"]["batches"] == 1
    assert first["drain"]["anchored"] == 3 and len(first["drain"]["tx_hashes"]) == 1
    assert second["heads"]["submitted"] == 2 and second["drain"]["batches"] == 1
    assert quiet["heads"]["submitted"] == 0 and quiet["drain"]["batches"] == 0
    record_ids = [h for r in (first, second) for h in r["heads"]["heads"]]
    assert f"{HEAD_KIND}/{MACHINE}/3" in record_ids and f"{HEAD_KIND}/{MACHINE}/4" in record_ids


def test_an_entry_proof_checks_through_the_api_and_the_command_line(
    fleet: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = fleet
    for i in range(5):
        record(api, MACHINE, f"inspection {i}")
    interval(api)
    got = api.ok("GET", f"/maintenance/{MACHINE}.1", "operator")
    proof = got["proof"]
    assert got["proof_status"] == "anchored"
    assert proof["record"] == got["entry"] and len(proof["chain_after"]) == 3  # entries 2..4 up to the head

    checked = api.ok("POST", "/proofs/verify", "operator", proof)
    assert checked["ok"] is True and checked["on_chain"] is True
    good = tmp_path / "entry.json"
    good.write_text(json.dumps(proof))
    assert cli(["verify", "--record", str(good), "--rpc", "eth-tester"]) == 0
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**proof, "record": {**proof["record"], "text": "never inspected"}}))
    assert cli(["verify", "--record", str(forged), "--rpc", "eth-tester"]) == 1
    capsys.readouterr()


def test_an_entry_after_the_anchored_head_has_no_proof_yet(api: Api) -> None:
    record(api, MACHINE, "first")
    interval(api)
    record(api, MACHINE, "second")
    assert api.ok("GET", f"/maintenance/{MACHINE}.1", "operator")["proof_status"] == "pending"
    assert api.ok("GET", f"/maintenance/{MACHINE}.0", "operator")["proof_status"] == "anchored"


def test_verify_maintenance_checks_the_export_offline_then_on_chain(
    fleet: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api = fleet
    for i in range(6):
        record(api, MACHINE, f"inspection {i}")
        if i % 2:
            interval(api)
    export = api.ok("GET", f"/machines/{MACHINE}/maintenance/export", "lessor")
    assert check_export(export).ok and len(export["checkpoints"]) == 3

    def run(doc: Any) -> tuple[int, dict[str, Any]]:
        path = tmp_path / "export.json"
        path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
        code = cli(["verify", "--maintenance", str(path), "--rpc", "eth-tester"])
        out = capsys.readouterr().out
        return code, json.loads(out) if out.strip() else {}

    code, report = run(export)
    assert code == 0 and report["ok"] and report["on_chain"] and len(report["checkpoints"]) == 3

    changed = json.loads(json.dumps(export))
    changed["entries"][2]["text"] = "inspection skipped"
    code, report = run(changed)
    assert code == 1 and report["first_break"]["position"] == 2 and report["first_break"]["kind"] == "edited"

    dropped = json.loads(json.dumps(export))
    del dropped["entries"][3]
    code, report = run(dropped)
    assert code == 1 and (report["first_break"]["position"], report["first_break"]["kind"]) == (3, "deleted")

    swapped = json.loads(json.dumps(export))
    swapped["entries"][1], swapped["entries"][4] = swapped["entries"][4], swapped["entries"][1]
    code, report = run(swapped)
    assert code == 1 and (report["first_break"]["position"], report["first_break"]["kind"]) == (1, "reordered")

    assert run("{not json")[0] == 2
    assert cli(["verify", "--maintenance", str(tmp_path / "missing.json"), "--rpc", "eth-tester"]) == 2


def test_a_root_that_is_not_on_this_chain_fails_on_chain(
    api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record(api, MACHINE, "inspection")
    interval(api)
    export = api.ok("GET", f"/machines/{MACHINE}/maintenance/export", "operator")
    from chalicelib.adapters.chain import AnchorClient, deploy_anchor_registry
    from chalicelib.adapters.chain.config import connect, get_chain_settings

    w3 = connect(get_chain_settings())
    other = AnchorClient(w3, deploy_anchor_registry(w3, w3.eth.accounts[0]), w3.eth.accounts[0])
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    code = cli(["verify", "--maintenance", str(path), "--rpc", "eth-tester", "--registry", other.address])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["on_chain"] is False and report["first_break"]["kind"] == "anchor_mismatch"
    assert cli(["verify", "--maintenance", str(path), "--offline"]) == 0


def test_gas_per_entry_against_one_transaction_per_entry(fleet: Api) -> None:
    api = fleet
    for i in range(4):
        for machine_id in MACHINES:
            record(api, machine_id, f"round {i}")
    batched = interval(api)["drain"]["gas_used"]
    chain = api.services.anchoring.chain
    per_entry = [
        chain.append_log_entry(machine_key(f"{MACHINE}-single"), bytes([i + 1]) * 32).gas_used for i in range(12)
    ]
    entries = 4 * len(MACHINES)
    # one Merkle root for all heads against one appendLogEntry transaction per entry
    assert batched / entries * 10 < sum(per_entry) / len(per_entry)
