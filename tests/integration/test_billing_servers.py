"""Billing with real processes: moto in server mode, a Ganache devnet and ``twinledger billing`` commands
run as separate OS processes, two of them at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from chalicelib.adapters import aws
from chalicelib.adapters.billing import InvoiceStore, LeaseStore
from chalicelib.adapters.chain import LeaseClient, LeaseTerms, deploy_lease
from chalicelib.adapters.tables import create_resources
from tests.integration.aws_servers import moto_server
from twin_models.billing import load_lease
from twin_models.merkle import keccak256
from twinledger.local.ganache import DETERMINISTIC_KEYS, Ganache

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
LEASE = REPO / "docs" / "examples" / "lease-monthly.json"
USAGE = REPO / "docs" / "examples" / "usage-lease-0042.jsonl"


@pytest.fixture
def ganache(ganache_factory: Callable[..., Ganache]) -> Ganache:
    """A devnet of its own whose clock is past the billed periods (a period is posted once it ended)."""
    node = ganache_factory()
    w3 = node.w3()
    target = int(datetime(2026, 12, 5, tzinfo=UTC).timestamp())
    now = int(w3.eth.get_block("latest")["timestamp"])
    if now < target:
        w3.provider.make_request("evm_increaseTime", [target - now])
        w3.provider.make_request("evm_mine", [])
    return node


@pytest.fixture
def env(aws_env: None, ganache: Ganache, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Given moto in server mode with the project's tables and a Ganache devnet."""
    with moto_server() as endpoint:
        values = {
            "TWINLEDGER_AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "eu-central-1",
            "TWINLEDGER_CHAIN_RPC_URL": ganache.url,
            "TWINLEDGER_CHAIN_PRIVATE_KEY": DETERMINISTIC_KEYS[0],
        }
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        aws.reset_clients()
        create_resources(aws.client("dynamodb"), aws.client("s3"))
        yield {**os.environ, **values}
    aws.reset_clients()


def cli(env: dict[str, str], *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "twinledger", *argv],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> dict[str, object]:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err + out
    result: dict[str, object] = json.loads(out)
    return result


def test_two_billing_processes_at_once_issue_and_post_each_invoice_once(env: dict[str, str], ganache: Ganache) -> None:
    # Given the example lease, its PayPerUseLease on Ganache (operator = the service's key) and its usage
    w3: Web3 = ganache.w3()
    lessor = Account.from_key(DETERMINISTIC_KEYS[0])
    lessee = Account.from_key(DETERMINISTIC_KEYS[1])
    lease = load_lease(LEASE.read_text())
    terms = LeaseTerms(
        lessor=lessor.address,
        lessee=lessee.address,
        operator=lessor.address,
        tariff_hash=keccak256(lease.tariff.model_dump_json().encode()),
        machine_ids=tuple(keccak256(m.encode()) for m in lease.machine_ids),
        starts_at=lease.start,
        dispute_window_seconds=86_400,
    )
    contract = deploy_lease(w3, lessor, terms)
    assert finish(cli(env, "billing", "register", "--lease", str(LEASE), "--contract", contract))["created"]
    recorded = finish(cli(env, "billing", "record", "--usage", str(USAGE), "--received-at", "2026-11-01T00:00:00Z"))
    assert recorded["stored"] == 315
    # When two scheduled runs close October and November at the same time
    runs = [cli(env, "billing", "close", "--now", "2026-12-05T00:00:00Z") for _ in range(2)]
    reports = [finish(p) for p in runs]
    # Then each invoice was issued by one of them, and posted on chain once, in order
    issued = sorted(i for r in reports for i in r["issued"])  # type: ignore[attr-defined]
    assert issued == ["acme-machine-tools:lease-0042@2026-10", "acme-machine-tools:lease-0042@2026-11"]
    settle = finish(cli(env, "billing", "close", "--now", "2026-12-05T01:00:00Z"))
    assert settle["issued"] == [] and settle["errors"] == []
    chain = LeaseClient(w3, contract)
    periods = chain.periods()
    stored = [InvoiceStore().get(f"acme-machine-tools:lease-0042@{p}") for p in ("2026-10", "2026-11")]
    assert [p.invoice_hash.hex() for p in periods] == [r.invoice.hash[2:] for r in stored if r]
    assert [p.amount for p in periods] == [1339050, 1239641]  # 13390.50 and 12396.41 EUR in cents
    assert LeaseStore().get("acme-machine-tools:lease-0042").anchored_through == "2026-11"  # type: ignore[union-attr]
