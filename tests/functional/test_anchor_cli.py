"""``twinledger verify`` and ``twinledger anchor`` against the in-process chain (``--rpc eth-tester``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib import wiring
from tests.functional.conftest import reset_services
from twin_models.anchoring import bytes32_hex, record_hash
from twinledger.cli import main as cli

INVOICE = {"invoice": "2026-11/lease-0042", "total": "1234.50", "currency": "EUR"}


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TWINLEDGER_CHAIN_RPC_URL", "eth-tester")
    monkeypatch.setenv("TWINLEDGER_ANCHOR_STORE", "memory")
    monkeypatch.delenv("TWINLEDGER_ANCHOR_REGISTRY", raising=False)
    reset_services()
    yield
    reset_services()


def bundle_file(tmp_path: Path, record: object) -> Path:
    service = wiring.services().anchoring
    service.submit("invoice/0042", record_hash(INVOICE), "billing")
    service.run_once()
    path = tmp_path / "proof.json"
    path.write_text(service.bundle("invoice/0042", record=record).model_dump_json())
    return path


def test_verify_exit_codes(embedded: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = bundle_file(tmp_path, INVOICE)
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**json.loads(good.read_text()), "record": {**INVOICE, "total": "1.00"}}))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")

    assert cli(["verify", "--record", str(good), "--rpc", "eth-tester"]) == 0
    assert json.loads(capsys.readouterr().out)["on_chain"] is True
    assert cli(["verify", "--record", str(forged), "--rpc", "eth-tester"]) == 1
    assert "does not hash" in capsys.readouterr().out
    assert cli(["verify", "--record", str(broken), "--rpc", "eth-tester"]) == 2


def test_anchor_hash_and_drain(embedded: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "invoice.json"
    record.write_text(json.dumps(INVOICE))
    wiring.services().anchoring.submit("invoice/0042", record_hash(INVOICE), "billing")

    assert cli(["anchor", "hash", str(record)]) == 0
    assert capsys.readouterr().out.strip() == bytes32_hex(record_hash(INVOICE))
    assert cli(["anchor", "drain"]) == 0
    assert json.loads(capsys.readouterr().out)["anchored"] == 1
