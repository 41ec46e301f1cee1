"""Maintenance histories anchored on a real Ganache devnet: 100 entries over 8 machines, the heads of each
schedule interval in one transaction, and ``twinledger verify --maintenance`` on an exported history — which
passes untouched and names the place of one changed, one dropped and two swapped entries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chalicelib import wiring
from chalicelib.adapters.chain import AnchorClient, deploy_anchor_registry
from chalicelib.maintenance.requests import NewEntry
from chalicelib.wiring import Services
from twin_models.hashchain import machine_key
from twin_models.maintenance import check_export
from twin_models.tenancy import Device, Principal
from twinledger.cli import main as cli
from twinledger.local.ganache import DETERMINISTIC_KEYS, Ganache

pytestmark = pytest.mark.integration

MACHINES = [f"cnc-{i:02d}" for i in range(1, 9)]
TECH = Principal(subject="tom", tenant="toolmaker", role="technician")
KINDS = ("inspection", "calibration", "tool_change", "note", "repair", "software_update")
T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def built(ganache: Ganache, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Services, AnchorClient, Clock]]:
    monkeypatch.setenv("TWINLEDGER_ADAPTERS", "memory")
    monkeypatch.setenv("TWINLEDGER_CHAIN_RPC_URL", ganache.url)
    admin: LocalAccount = Account.from_key(DETERMINISTIC_KEYS[0])
    w3 = ganache.w3()
    client = AnchorClient(w3, deploy_anchor_registry(w3, admin), admin)
    clock = Clock()
    services = wiring.build(anchor_chain=lambda: client, clock=clock)
    for machine_id in MACHINES:
        services.adapters.devices.put(
            Device(machine_id=machine_id, site="plant-a", lessor="toolmaker", lessee="factory-1")
        )
    yield services, client, clock
    wiring.reset()


def test_100_entries_over_8_machines_one_transaction_per_interval_verified_by_the_cli(
    built: tuple[Services, AnchorClient, Clock], ganache: Ganache, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    services, client, clock = built
    maintenance = services.maintenance
    intervals: list[dict[str, Any]] = []
    entries_per_interval = (20, 25, 15, 30, 10)
    written = 0
    for count in entries_per_interval:
        for i in range(count):
            machine_id = MACHINES[(written * 5 + i) % len(MACHINES)]
            body = NewEntry(kind=KINDS[written % len(KINDS)], text=f"entry {written}")
            maintenance.create_entry(TECH, machine_id, body)
            written += 1
            clock.now += timedelta(minutes=1)
        heads = maintenance.anchor_heads()
        drained = services.anchoring.run_once()
        intervals.append(
            {
                "heads": len(heads.heads),
                "batches": drained.batches,
                "tx": drained.tx_hashes,
                "gas": drained.gas_used,
                "anchored": drained.anchored,
            }
        )
        clock.now += timedelta(minutes=5)

    assert written == 100
    assert sum(len(maintenance.store.entries(m)) for m in MACHINES) == 100
    # one transaction per interval, whatever the number of entries and machines in it
    assert [len(i["tx"]) for i in intervals] == [1] * len(entries_per_interval)
    events = client.contract.events.RootAnchored.get_logs(from_block=0)
    assert len(events) == len(entries_per_interval)
    assert all(e["args"]["kind"] == "maintenance-head" for e in events)
    gas_per_entry = sum(i["gas"] for i in intervals) / written
    single = [client.append_log_entry(machine_key("cnc-single"), bytes([n + 1]) * 32).gas_used for n in range(5)]
    assert gas_per_entry * 10 < sum(single) / len(single)

    # the exported history of one machine, verified off line and against Ganache
    principal = Principal(subject="olga", tenant="factory-1", role="lessee")
    export = maintenance.export(principal, "cnc-03")
    assert len(export["entries"]) >= 10 and check_export(export).ok

    def verify(doc: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        path = tmp_path / "history.json"
        path.write_text(json.dumps(doc))
        code = cli(["verify", "--maintenance", str(path), "--rpc", ganache.url])
        return code, json.loads(capsys.readouterr().out)

    code, report = verify(export)
    assert code == 0 and report["ok"] and report["on_chain"]
    assert len(report["checkpoints"]) == len(export["checkpoints"]) >= 2

    changed = json.loads(json.dumps(export))
    changed["entries"][4]["text"] = "nothing to see"
    code, report = verify(changed)
    assert code == 1 and (report["first_break"]["position"], report["first_break"]["kind"]) == (4, "edited")
    assert report["first_break"]["entry_id"] == "cnc-03.4"

    dropped = json.loads(json.dumps(export))
    del dropped["entries"][6]
    code, report = verify(dropped)
    assert code == 1 and (report["first_break"]["position"], report["first_break"]["kind"]) == (6, "deleted")

    swapped = json.loads(json.dumps(export))
    swapped["entries"][2], swapped["entries"][3] = swapped["entries"][3], swapped["entries"][2]
    code, report = verify(swapped)
    assert code == 1 and (report["first_break"]["position"], report["first_break"]["kind"]) == (2, "reordered")
