"""Every refused usage line names its file, its line (both lines for a conflicting duplicate) and the field.

The format is one rule (``twin_models.billing.errors.usage_location``): ``<file>: line <n>: <detail>``,
``<file>: lines <a> and <b>: <detail>``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from twin_models.billing import (
    UsageConflictError,
    UsageError,
    compute_invoice,
    load_lease,
    read_usage_lines,
    read_usage_text,
)
from twinledger.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
LEASE = EXAMPLES / "lease-monthly.json"


def line(**change: Any) -> str:
    doc: dict[str, Any] = {
        "id": "e-1",
        "machine_id": "cnc-01",
        "meter": "parts",
        "ts": "2026-10-01T06:00:00Z",
        "quantity": "3",
    }
    doc.update(change)
    return json.dumps({k: v for k, v in doc.items() if v is not ...})


def refused(lines: list[str]) -> UsageError:
    with pytest.raises(UsageError) as caught:
        read_usage_text("\n".join(lines) + "\n", source="usage.jsonl")
    return caught.value


GOOD = [line(id=f"e-{i}") for i in range(1, 5)]  # lines 1..4


@pytest.mark.parametrize(
    ("bad", "field", "detail"),
    [
        ('{"id": "e-9", "machine_id": ', None, "not JSON: Expecting value at column 29"),
        ("[1, 2]", None, "a usage event is a JSON object, got list"),
        ("{oops", None, "not JSON: Expecting property name enclosed in double quotes at column 2"),
        ('{"id": "e-9", "id": "e-8"}', "id", "field 'id' appears twice in the line"),
        (line(id="e-9", ts=...), "ts", "missing fields ['ts']"),
        (line(id="e-9", quantity=...), "quantity", "missing fields ['quantity']"),
        (line(id="e-9", colour="red"), "colour", "unknown fields ['colour']"),
        (line(id="e 9"), "id", "id 'e 9' must match"),
        (line(id="e-9", machine_id=7), "machine_id", "machine_id 7 must match"),
        (line(id="e-9", meter="Parts"), "meter", "meter 'Parts' must match"),
        (line(id="e-9", quantity=1.5), "quantity", "quantity 1.5 must be a decimal string or an integer"),
        (line(id="e-9", quantity=True), "quantity", "quantity True must be a decimal string or an integer"),
        (line(id="e-9", quantity="ten"), "quantity", "quantity 'ten' is not a decimal number"),
        (line(id="e-9", quantity="-1"), "quantity", "quantity '-1' must be a finite number >= 0"),
        (line(id="e-9", quantity="NaN"), "quantity", "quantity 'NaN' must be a finite number >= 0"),
        (line(id="e-9", quantity="Infinity"), "quantity", "quantity 'Infinity' must be a finite number >= 0"),
        (line(id="e-9").replace('"3"', "NaN"), "quantity", "quantity nan must be a finite number >= 0"),
        (line(id="e-9").replace('"3"', "-Infinity"), "quantity", "quantity -inf must be a finite number >= 0"),
        (line(id="e-9").replace('"3"', "1e999"), "quantity", "quantity inf must be a finite number >= 0"),
        (line(id="e-9", quantity=2**64), "quantity", f"quantity {2**64} is out of range (at most {2**64 - 1})"),
        (line(id="e-9", quantity="1e30"), "quantity", "quantity '1e30' is out of range"),
        (line(id="e-9", quantity="1e-13"), "quantity", "quantity '1e-13' is out of range (at most 12 decimals)"),
        (line(id="e-9", ts="2026-10-01T06:00:00"), "ts", "ts '2026-10-01T06:00:00' has no time zone"),
        (line(id="e-9", ts="yesterday"), "ts", "ts 'yesterday' is not an ISO 8601 timestamp"),
        (line(id="e-9", ts=1700000000), "ts", "ts must be an ISO 8601 string, got 1700000000"),
        (line(id="e-9", received_at="2026-11-01T00:00:00"), "received_at", "received_at '2026-11-01T00:00:00' has no"),
        (line(id="e-9", lease_id=42), "lease_id", "lease_id 42 must be a string"),
    ],
)
def test_a_refused_line_names_the_file_the_line_and_the_field(bad: str, field: str | None, detail: str) -> None:
    # two good lines, a blank line (counted, skipped), a good one, the bad one on line 5, a good one after
    err = refused([GOOD[0], GOOD[1], "", GOOD[2], bad, GOOD[3]])
    assert str(err).startswith(f"usage.jsonl: line 5: {detail}"), str(err)
    assert (err.source, err.lines, err.field) == ("usage.jsonl", (5,), field)
    if field is not None:
        assert field in err.detail


def test_a_conflicting_duplicate_names_both_lines() -> None:
    lines = [*GOOD[:2], line(id="e-42"), *[line(id=f"f-{i}") for i in range(12)], "", line(id="e-42", quantity="4")]
    err = refused(lines)
    assert isinstance(err, UsageConflictError)
    assert str(err) == "usage.jsonl: lines 3 and 17: event 'e-42' appears twice with different content"
    assert err.lines == (3, 17)


@pytest.mark.parametrize(
    "change", [{"machine_id": "cnc-02"}, {"meter": "energy_kwh"}, {"ts": "2026-10-01T07:00:00Z"}, {"quantity": 4}]
)
def test_every_part_of_the_hashed_content_makes_a_conflict(change: dict[str, Any]) -> None:
    err = refused([line(id="e-42"), line(id="e-42", **change)])
    assert str(err).startswith("usage.jsonl: lines 1 and 2: event 'e-42' appears twice")


def test_an_identical_duplicate_is_kept_for_dedupe_and_arrival_is_not_content() -> None:
    # same content, a later arrival and the same quantity written differently: a redelivery, not a conflict
    events = read_usage_text(
        "\n".join([line(id="e-42"), line(id="e-42", quantity=3, received_at="2026-11-01T00:00:00Z")]),
        source="usage.jsonl",
    )
    assert len(events) == 2 and events[0].hash == events[1].hash


def test_lines_end_in_lf_crlf_or_cr_and_bytes_must_be_utf8() -> None:
    data = (GOOD[0] + "\r\n" + GOOD[1] + "\r" + GOOD[2] + "\n" + line(id="e-9", quantity="-1") + "\n").encode()
    with pytest.raises(UsageError, match=r"^usage\.jsonl: line 4: quantity '-1'"):
        read_usage_text(data, source="usage.jsonl")
    with pytest.raises(UsageError, match=r"^usage\.jsonl: line 2: not UTF-8 text \(byte 8\)"):
        read_usage_text(GOOD[0].encode() + b"\n" + b'{"id": \xff}', source="usage.jsonl")


def test_without_a_source_the_line_alone_is_named() -> None:
    with pytest.raises(UsageError, match=r"^line 2: quantity 'x' is not a decimal number$"):
        read_usage_lines([GOOD[0], line(id="e-9", quantity="x")])
    with pytest.raises(UsageConflictError, match=r"^lines 1 and 2: event 'e-1' appears twice"):
        read_usage_lines([GOOD[0], line(quantity="9")])


def test_compute_invoice_still_refuses_a_conflict_it_is_handed() -> None:
    lease = load_lease(LEASE.read_text())
    one, two = read_usage_lines([line()]), read_usage_lines([line(quantity="9")])
    with pytest.raises(UsageConflictError, match=r"^event 'e-1' appears twice with different content$"):
        compute_invoice(lease, lease.period("2026-10"), one + two)


# --- the command line ---------------------------------------------------------------------------------------


def bill(capsys: pytest.CaptureFixture[str], usage: Path) -> tuple[int, str]:
    code = main(["bill", "--lease", str(LEASE), "--usage", str(usage), "--period", "2026-10"])
    return code, capsys.readouterr().err


def test_bill_names_the_usage_file_and_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    usage = tmp_path / "usage.jsonl"
    usage.write_text("\n".join([*GOOD, line(id="e-9", ts="2026-10-01T06:00:00")]) + "\n")
    code, err = bill(capsys, usage)
    assert code == 1
    assert err == f"error: {usage}: line 5: ts '2026-10-01T06:00:00' has no time zone (use Z for UTC)\n"


def test_bill_names_both_lines_of_a_conflicting_duplicate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    usage = tmp_path / "usage.jsonl"
    usage.write_text("\n".join([*GOOD, line(id="e-2", quantity="30")]) + "\n")
    code, err = bill(capsys, usage)
    assert (code, err) == (1, f"error: {usage}: lines 2 and 5: event 'e-2' appears twice with different content\n")


def test_bill_refuses_a_binary_usage_file_by_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    usage = tmp_path / "usage.jsonl"
    usage.write_bytes(GOOD[0].encode() + b"\n\x89PNG\r\n")
    code, err = bill(capsys, usage)
    assert code == 1 and err.startswith(f"error: {usage}: line 2: not UTF-8 text")


def test_billing_record_names_the_file_and_line_once(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    usage = tmp_path / "usage.jsonl"
    usage.write_text(GOOD[0] + "\n" + line(id="e-9", quantity=1.5) + "\n")
    assert main(["billing", "record", "--usage", str(usage)]) == 1  # refused before any store is touched
    err = capsys.readouterr().err
    assert err.startswith(f"error: {usage}: line 2: quantity 1.5 must be") and err.count(str(usage)) == 1
