"""``twinledger bill`` on the documented example files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twinledger.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
LEASE = EXAMPLES / "lease-monthly.json"
USAGE = EXAMPLES / "usage-lease-0042.jsonl"


def bill(period: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    code = main(["bill", "--lease", str(LEASE), "--usage", str(USAGE), "--period", period, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_bill_prints_the_invoice_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = bill("2026-11", capsys, "--json")
    assert code == 0
    invoice = json.loads(out)
    assert (invoice["invoice_id"], invoice["currency"]) == ("acme-machine-tools:lease-0042@2026-11", "EUR")
    lines = {(ln["component"], ln["kind"]): ln for ln in invoice["lines"]}
    # the late 3.75 h of October re-rated in the 11.50 tier: 448.03 x 11.50 = 5152.3450 -> 5152.34,
    # October billed 444.28 x 11.50 = 5109.22 -> adjustment 43.12
    assert lines[("spindle", "adjustment")]["amount"] == "43.12"
    assert lines[("spindle", "adjustment")]["period"] == "2026-10"
    assert {"meter", "quantity", "unit_price", "amount"} <= set(invoice["lines"][0])
    total = sum(float(ln["amount"]) for ln in invoice["lines"])
    assert round(total, 2) == float(invoice["subtotal"])
    assert invoice["hash"].startswith("0x") and invoice["usage"]["late_events"] == 1


def test_bill_prints_a_readable_invoice(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = bill("2026-10", capsys)
    assert code == 0
    assert "Invoice acme-machine-tools:lease-0042@2026-10" in out and "total EUR" in out


def test_bad_input_gets_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = bill("2026-W41", capsys)
    assert code == 1 and "does not name a monthly period" in err
    broken = tmp_path / "usage.jsonl"
    broken.write_text(USAGE.read_text().splitlines()[0] + "\n{oops\n")
    code = main(["bill", "--lease", str(LEASE), "--usage", str(broken), "--period", "2026-10"])
    err = capsys.readouterr().err
    assert code == 1 and f"{broken}: line 2: not JSON" in err
    code = main(["bill", "--lease", str(tmp_path / "missing.json"), "--usage", str(USAGE), "--period", "2026-10"])
    assert code == 1 and "No such file" in capsys.readouterr().err


def test_a_daily_lease_in_kolkata_bills_the_local_day(capsys: pytest.CaptureFixture[str]) -> None:
    daily = str(EXAMPLES / "lease-daily.json")
    code = main(["bill", "--lease", daily, "--usage", str(USAGE), "--period", "2026-10-14", "--json"])
    invoice = json.loads(capsys.readouterr().out)
    assert code == 0
    # 14 Oct in Kolkata is 13 Oct 18:30Z .. 14 Oct 18:30Z: the six 04:00Z events and the 10:15Z crash
    assert invoice["usage"]["events"] == 7
    amounts = [(ln["component"], ln["quantity"], ln["amount"]) for ln in invoice["lines"]]
    assert amounts == [
        ("base", "1", "2500.00"),
        ("spindle", "21.14", "20083.00"),  # 11.33 + 9.81 h x 950.00
        ("parts", "300", "1350.00"),  # 248 + 259 = 507 parts: 300 x 4.50
        ("parts", "207", "621.00"),  # ... and 207 x 3.00
        ("energy", "165.044", "1361.61"),  # 89.507 + 75.537 kWh x 8.25 = 1361.613
        ("crash", "1", "5000.00"),
    ]
    # subtotal 30915.61 ; tax 30915.61 x 0.18 = 5564.8098 -> 5564.81 ; total 36480.42
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == ("30915.61", "5564.81", "36480.42")
