"""``twinledger billing`` against the stores (moto): the service issues what ``twinledger bill`` computes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.adapters.billing import InvoiceStore
from twinledger.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
LEASE = str(EXAMPLES / "lease-monthly.json")
USAGE = str(EXAMPLES / "usage-lease-0042.jsonl")

pytestmark = pytest.mark.usefixtures("moto_aws")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_register_record_close_issues_the_invoices_the_bill_command_computes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert json.loads(run(capsys, "billing", "register", "--lease", LEASE)[1]) == {
        "lease_id": "acme-machine-tools:lease-0042",
        "created": True,
    }
    assert json.loads(run(capsys, "billing", "register", "--lease", LEASE)[1])["created"] is False
    code, out = run(capsys, "billing", "record", "--usage", USAGE, "--received-at", "2026-11-01T00:00:00Z")
    # 316 lines, one of them a redelivered copy
    assert code == 0 and json.loads(out) == {"stored": 315, "duplicates": 1, "conflicts": []}
    code, out = run(capsys, "billing", "close", "--now", "2026-12-05T00:00:00Z")
    assert code == 0 and json.loads(out)["issued"] == [
        "acme-machine-tools:lease-0042@2026-10",
        "acme-machine-tools:lease-0042@2026-11",
    ]
    for period in ("2026-10", "2026-11"):
        code, out = run(capsys, "bill", "--lease", LEASE, "--usage", USAGE, "--period", period, "--json")
        stored = InvoiceStore().get(f"acme-machine-tools:lease-0042@{period}")
        assert stored is not None and stored.invoice.hash == json.loads(out)["hash"]


def test_bad_usage_is_refused_with_its_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "usage.jsonl"
    bad.write_text('{"id": "x"}\n')
    assert main(["billing", "record", "--usage", str(bad)]) == 1
    assert "line 1: missing fields" in capsys.readouterr().err
