"""The maintenance log through the HTTP API (moto DynamoDB): recording entries, corrections, attachments,
listing with filters and pages, the export and its verification, and who may record what."""

from __future__ import annotations

import base64
import hashlib

import pytest

from chalicelib.adapters import aws
from chalicelib.adapters.tables import bucket_name
from tests.functional.conftest import T0
from tests.functional.maintenance_support import MACHINE, Api, api, fields
from twin_models.anchoring import bytes32_hex, record_hash
from twin_models.maintenance import GENESIS_HASH, check_export

__all__ = ["api"]

BASE = f"/machines/{MACHINE}/maintenance"


def record(api: Api, who: str = "technician", **fields: object) -> dict[str, object]:
    body = {"kind": "inspection", "text": "spindle bearings inspected, no play", **fields}
    answer: dict[str, object] = api.ok("POST", BASE, who, body)
    return answer


def test_entries_form_a_hash_chain_with_author_time_and_usage(api: Api) -> None:
    first = record(api, occurred_at="2026-01-05T05:30:00Z")
    api.clock.advance(hours=2)
    second = record(api, "operator", kind="tool_change", text="T12 replaced", component="tool_change")

    entry, after = first["entry"], second["entry"]
    assert isinstance(entry, dict) and isinstance(after, dict)
    assert (entry["entry_id"], entry["seq"], entry["prev_hash"]) == (f"{MACHINE}.0", 0, GENESIS_HASH)
    assert first["hash"] == bytes32_hex(record_hash(entry))
    assert after["prev_hash"] == first["hash"] and after["seq"] == 1
    assert entry["author"] == {"subject": "technician-1", "tenant": "toolmaker", "role": "service_technician"}
    assert after["author"]["role"] == "operator"
    assert entry["occurred_at"] == "2026-01-05T05:30:00Z" and entry["recorded_at"] == "2026-01-05T06:00:00Z"
    assert set(entry["usage"]) == {"spindle_hours", "parts", "energy_kwh", "since_same_kind", "health"}


def test_hours_since_the_last_entry_of_the_same_kind(api: Api) -> None:
    record(api, kind="calibration", text="X axis")
    api.clock.advance(hours=30)
    record(api, kind="note", text="coolant topped up")
    api.clock.advance(hours=6)
    third = record(api, kind="calibration", text="Y axis")["entry"]
    assert isinstance(third, dict)
    since = third["usage"]["since_same_kind"]
    assert since["entry_id"] == f"{MACHINE}.0" and since["hours"] == 36.0


def test_a_correction_is_a_new_entry_that_links_to_the_one_it_corrects(api: Api) -> None:
    record(api, text="bearing preload measured 1.2 kN")
    corrected = record(api, kind="note", text="the preload was 2.1 kN, not 1.2", corrects=[f"{MACHINE}.0"])
    entries = api.ok("GET", BASE, "operator")["items"]
    assert entries[0]["entry"]["text"] == "bearing preload measured 1.2 kN"  # never edited
    assert isinstance(corrected["entry"], dict) and corrected["entry"]["corrects"] == [f"{MACHINE}.0"]
    status, answer = api.call("POST", BASE, "technician", {"kind": "note", "text": "x", "corrects": ["cnc-01.9"]})
    assert status == 400 and fields(answer) == ["body.corrects.0"]


def test_an_attachment_goes_to_the_archive_and_its_sha256_into_the_entry(api: Api) -> None:
    photo = b"\x89PNG fake image of a worn bearing"
    attachment = {
        "name": "bearing.png",
        "content_type": "image/png",
        "content_base64": base64.b64encode(photo).decode(),
    }
    entry = record(api, kind="repair", text="bearing race pitted", attachments=[attachment])["entry"]
    assert isinstance(entry, dict)
    digest = hashlib.sha256(photo).hexdigest()
    assert entry["attachments"] == [
        {"name": "bearing.png", "content_type": "image/png", "sha256": digest, "size": len(photo)}
    ]
    kept = aws.client("s3").get_object(Bucket=bucket_name("archive"), Key=f"maintenance/{MACHINE}/attachments/{digest}")
    assert kept["Body"].read() == photo


def test_a_part_replacement_lists_its_part_numbers(api: Api) -> None:
    parts = [{"part_number": "SKF-7014-CD", "quantity": 2, "serial_removed": "A1", "serial_installed": "B7"}]
    entry = record(api, kind="part_replacement", text="front bearings replaced", parts=parts)["entry"]
    assert isinstance(entry, dict) and entry["parts"][0]["part_number"] == "SKF-7014-CD"
    status, answer = api.call("POST", BASE, "technician", {"kind": "part_replacement", "text": "no parts"})
    assert status == 400 and "parts" in answer["detail"]


def test_listing_filters_by_kind_and_time_and_pages_with_a_cursor(api: Api) -> None:
    for i, kind in enumerate(["inspection", "note", "inspection", "calibration", "inspection"]):
        api.clock.now = T0.replace(hour=6 + i)
        record(api, kind=kind, text=f"entry {i}")
    inspections = api.ok("GET", BASE, "operator", query={"kind": "inspection"})["items"]
    assert [e["entry"]["seq"] for e in inspections] == [0, 2, 4]
    window = api.ok("GET", BASE, "lessor", query={"from": "2026-01-05T07:00:00Z", "to": "2026-01-05T09:00:00Z"})
    assert [e["entry"]["seq"] for e in window["items"]] == [1, 2]
    first = api.ok("GET", BASE, "operator", query={"limit": 2})
    second = api.ok("GET", BASE, "operator", query={"limit": 2, "next": first["next"]})
    third = api.ok("GET", BASE, "operator", query={"limit": 2, "next": second["next"]})
    assert [e["entry"]["seq"] for page in (first, second, third) for e in page["items"]] == [0, 1, 2, 3, 4]
    assert third["next"] is None
    status, answer = api.call("GET", BASE, "operator", query={"kind": "overhaul"})
    assert status == 400 and fields(answer) == ["query.kind"]


def test_the_export_verifies_after_the_heads_are_anchored(api: Api) -> None:
    for i in range(3):
        record(api, text=f"inspection {i}")
    pending = api.ok("GET", f"{BASE}/export", "operator")
    assert check_export(pending).pending == 3
    api.services.maintenance.anchor_heads()
    api.services.anchoring.run_once()
    export = api.ok("GET", f"{BASE}/export", "lessor")
    check = check_export(export)
    assert check.ok, check.reasons
    assert export["anchored_head"]["seq"] == 2 and export["links"][1]["prev_hash"] == export["hashes"][0]


@pytest.mark.parametrize(
    ("who", "kind", "status"),
    [
        ("operator", "repair", 403),
        ("operator", "inspection", 403),
        ("operator", "part_replacement", 403),
        ("operator", "calibration", 403),
        ("operator", "software_update", 403),
        ("lessee_technician", "repair", 403),
        ("integration", "note", 403),
        ("integration", "inspection", 403),
        ("lessor", "note", 403),
        ("lessor", "inspection", 403),
        ("technician", "alarm", 403),
        ("stranger", "note", 404),
        ("stranger_technician", "inspection", 404),
        ("stranger_lessor", "note", 404),
    ],
)
def test_who_may_not_record_what(api: Api, who: str, kind: str, status: int) -> None:
    body: dict[str, object] = {"kind": kind, "text": "x"}
    if kind == "part_replacement":
        body["parts"] = [{"part_number": "P-1"}]
    if kind == "alarm":
        body["alarm"] = {"code": "E1040", "severity": "warning"}
    got, _ = api.call("POST", BASE, who, body)
    assert got == status


@pytest.mark.parametrize("who", ["operator", "lessee_technician", "integration"])
def test_operators_and_integrations_record_machine_alarm_codes(api: Api, who: str) -> None:
    entry = record(api, who, kind="alarm", text="spindle drive fault", alarm={"code": "E1040", "severity": "critical"})
    assert isinstance(entry["entry"], dict)
    assert entry["entry"]["alarm"]["source"] == ("machine" if who == "integration" else "operator")


@pytest.mark.parametrize("who", ["stranger", "stranger_technician", "stranger_lessor"])
def test_another_tenant_cannot_read_the_log(api: Api, who: str) -> None:
    record(api)
    for path in (BASE, f"{BASE}/export", f"{BASE}/due", f"/maintenance/{MACHINE}.0", f"/machines/{MACHINE}/statistics"):
        status, _ = api.call("GET", path, who)
        assert status == 404, path


@pytest.mark.parametrize("who", ["operator", "lessee_technician", "technician", "lessor", "integration"])
def test_both_sides_read(api: Api, who: str) -> None:
    record(api)
    assert api.ok("GET", BASE, who)["items"][0]["entry"]["seq"] == 0
    assert api.ok("GET", f"/maintenance/{MACHINE}.0", who)["entry"]["seq"] == 0


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"kind": "overhaul", "text": "x"}, "kind"),
        ({"kind": "note", "text": "x", "occurred_at": "2026-01-05T06:00:00"}, "occurred_at"),
        ({"kind": "note", "text": "x" * 4001}, "text"),
        ({"kind": "note", "parts": [{"part_number": ""}]}, "parts.0.part_number"),
        ({"kind": "note", "colour": "red"}, "colour"),
        ({"kind": "note", "attachments": [{"name": "a", "content_base64": "%%%"}]}, "attachments.0.content_base64"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(api: Api, body: dict[str, object], where: str) -> None:
    status, answer = api.call("POST", BASE, "technician", body)
    assert status == 400 and fields(answer)[0] == f"body.{where}", answer


def test_an_entry_in_the_future_is_refused(api: Api) -> None:
    status, answer = api.call("POST", BASE, "technician", {"kind": "note", "occurred_at": "2026-01-06T06:00:00Z"})
    assert status == 400 and "future" in answer["detail"] and fields(answer) == ["body.occurred_at"]


def test_an_unknown_entry_or_machine_is_a_404(api: Api) -> None:
    assert api.call("GET", f"/maintenance/{MACHINE}.7", "operator")[0] == 404
    assert api.call("GET", "/maintenance/not-an-entry", "operator")[0] == 404
    assert api.call("GET", "/machines/cnc-99/maintenance", "operator")[0] == 404
