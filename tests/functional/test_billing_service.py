"""Billing in the cloud on moto: exactly one invoice per lease and period whatever happens, late usage,
evidence, the lessee's answers and the tenant scoping of every route."""

from __future__ import annotations

import dataclasses
import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import wiring
from chalicelib.adapters import aws
from chalicelib.adapters.billing import InvoiceArchive, InvoiceStore, LeaseStore, UsageStore
from chalicelib.adapters.tables import bucket_name
from chalicelib.auth import issue_token
from chalicelib.billing.service import BillingService
from chalicelib.settings import Settings
from tests.functional.conftest import JWT_SECRET, billing_service, register
from twin_models.billing import Invoice, UsageEvent, derive_usage_events, load_lease, verify_proof
from twin_models.telemetry import Sample

pytestmark = pytest.mark.usefixtures("moto_aws")

LEASE_DOC: dict[str, Any] = {
    "lease_id": "lease-7",
    "lessor": "toolmaker",
    "lessee": "factory-1",
    "machine_ids": ["cnc-01", "cnc-02"],
    "start": "2026-10-01T00:00:00+02:00",
    "billing_interval": "monthly",
    "timezone": "Europe/Berlin",
    "currency": "EUR",
    "tax_rate": "0.19",
    "grace_period": "P2D",
    "tariff": {
        "components": [
            {"id": "base", "kind": "base_fee", "amount": "100.00"},
            {
                "id": "spindle",
                "meter": "spindle_hours",
                "tiers": [{"up_to": "100", "unit_price": "10.00"}, {"unit_price": "8.00"}],
            },
        ]
    },
}
#: the id the lease is stored and billed under: the lessor's reference qualified by its tenant
LEASE_ID = "toolmaker:lease-7"
OCT_CLOSE = datetime(2026, 11, 2, 23, tzinfo=UTC)  # 1 Nov 00:00 CET + 2 days
NOV_CLOSE = datetime(2026, 12, 2, 23, tzinfo=UTC)
AFTER_OCT = OCT_CLOSE + timedelta(minutes=30)
AFTER_NOV = NOV_CLOSE + timedelta(minutes=30)


def ev(ident: str, machine: str, ts: datetime, hours: str) -> UsageEvent:
    return UsageEvent(id=ident, machine_id=machine, meter="spindle_hours", ts=ts, quantity=Decimal(hours))


def service(**kwargs: Any) -> BillingService:
    return billing_service(**kwargs)


@pytest.fixture
def lease_7(moto_aws: None) -> None:
    """lease-7 with 90 h of October usage on time (60 h on cnc-01, 30 h on cnc-02)."""
    for thing in ("cnc-01", "cnc-02"):
        aws.client("iot").create_thing(thingName=thing)
    assert LeaseStore().create(load_lease(LEASE_DOC))
    october = datetime(2026, 10, 10, 8, tzinfo=UTC)
    report = service().record_usage(
        [ev("a1", "cnc-01", october, "60"), ev("b1", "cnc-02", october, "30")], received_at=october
    )
    assert report.stored == 2


def invoices_of(lease_id: str = LEASE_ID) -> list[str]:
    return [r.invoice.invoice_id for r in InvoiceStore().for_lease(lease_id)]


@pytest.mark.usefixtures("lease_7")
def test_a_run_issues_stores_archives_and_reports_each_due_invoice_once() -> None:
    before = service().run(OCT_CLOSE)  # the grace time has passed, the settle margin not yet
    assert before.issued == []
    report = service().run(AFTER_OCT)
    assert report.issued == [f"{LEASE_ID}@2026-10"] and report.errors == []
    record = InvoiceStore().get(f"{LEASE_ID}@2026-10")
    assert record is not None and record.archived and record.status == "issued"
    # 100.00 base + 90 h x 10.00 = 1000.00 ; tax 190.00 ; total 1190.00
    assert record.invoice.total == Decimal("1190.00")
    stored = aws.client("s3").get_object(Bucket=bucket_name("invoices"), Key=f"invoices/{LEASE_ID}/2026-10.json")
    assert Invoice.from_json(json.loads(stored["Body"].read())).hash == record.invoice.hash
    shadow = aws.client("iot-data").get_thing_shadow(thingName="cnc-02", shadowName="usage")
    reported = json.loads(shadow["payload"].read())["state"]["reported"]["billing"]
    assert (reported["last_invoice"], reported["total"]) == (f"{LEASE_ID}@2026-10", "1190.00")
    again = service().run(AFTER_OCT + timedelta(hours=1))
    assert again.issued == [] and again.errors == []
    assert invoices_of() == [f"{LEASE_ID}@2026-10"]
    assert LeaseStore().get(LEASE_ID).billed_through == "2026-10"  # type: ignore[union-attr]


def test_concurrent_runs_issue_one_invoice() -> None:
    # Four containers at once over the same stores. In-process moto is not thread-safe (it mixes up
    # concurrent S3 bodies), so the stores are the in-memory ones, which keep the same conditional-write
    # semantics (tests/functional/test_port_contracts.py); processes on moto's server are in
    # tests/integration/test_billing_servers.py.
    base = wiring.build(Settings(adapters="memory"), lease_contracts=None).adapters
    assert base.leases.create(load_lease(LEASE_DOC), None)
    october = datetime(2026, 10, 10, 8, tzinfo=UTC)
    usage = [ev("a1", "cnc-01", october, "60"), ev("b1", "cnc-02", october, "30")]
    assert base.usage.put(usage, october).stored == 2
    shared = {f.name: getattr(base, f.name) for f in dataclasses.fields(base) if f.name != "clock"}
    reports = []

    def run() -> None:
        reports.append(wiring.build(Settings(adapters="memory"), **shared).billing.run(AFTER_OCT))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r.issued) for r in reports) == 1
    assert all(r.errors == [] for r in reports)
    assert [r.invoice.invoice_id for r in base.invoices.for_lease(LEASE_ID)] == [f"{LEASE_ID}@2026-10"]


@pytest.mark.usefixtures("lease_7")
def test_a_run_out_of_time_defers_leases_to_the_next_run() -> None:
    spent = service().run(AFTER_OCT, time_budget_s=0)
    assert (spent.leases, spent.deferred, spent.issued) == (0, 1, [])
    assert service().run(AFTER_OCT, time_budget_s=600).issued == [f"{LEASE_ID}@2026-10"]


class CrashingLeaseStore(LeaseStore):
    """Dies once right after the invoice was written, before the cursor moves."""

    crashed = False

    def advance(self, lease_id: str, cursor: str, old: str | None, new: str) -> bool:
        if not CrashingLeaseStore.crashed:
            CrashingLeaseStore.crashed = True
            raise RuntimeError("Lambda timed out")
        return super().advance(lease_id, cursor, old, new)


class CrashingArchive(InvoiceArchive):
    def put(self, invoice: Invoice) -> str:
        raise RuntimeError("S3 unavailable")


@pytest.mark.usefixtures("lease_7")
def test_a_run_that_crashed_half_way_is_completed_by_the_next() -> None:
    first = service(archive=CrashingArchive()).run(AFTER_OCT)  # dies after the invoice was written
    assert first.issued == [] and "S3 unavailable" in first.errors[0]
    issued = InvoiceStore().get(f"{LEASE_ID}@2026-10")
    assert issued is not None and not issued.archived
    second = service(leases=CrashingLeaseStore()).run(AFTER_OCT)  # dies before the cursor moves
    assert "Lambda timed out" in second.errors[0]
    # usage that arrives after the close must not change the issued invoice when the run is repeated
    service().record_usage([ev("late", "cnc-01", datetime(2026, 10, 20, tzinfo=UTC), "50")], AFTER_OCT)
    final = service().run(AFTER_OCT + timedelta(hours=2))
    assert final.errors == [] and final.existing == [f"{LEASE_ID}@2026-10"]
    record = InvoiceStore().get(f"{LEASE_ID}@2026-10")
    assert record is not None and record.archived and record.invoice.hash == issued.invoice.hash
    assert invoices_of() == [f"{LEASE_ID}@2026-10"]
    assert LeaseStore().get(LEASE_ID).billed_through == "2026-10"  # type: ignore[union-attr]


@pytest.mark.usefixtures("lease_7")
def test_late_usage_lands_on_the_next_invoice_as_an_adjustment() -> None:
    service().run(AFTER_OCT)
    late_at = datetime(2026, 11, 10, 9, tzinfo=UTC)
    service().record_usage([ev("late", "cnc-01", datetime(2026, 10, 30, tzinfo=UTC), "20")], received_at=late_at)
    service().record_usage([ev("n1", "cnc-02", datetime(2026, 11, 12, tzinfo=UTC), "5")], received_at=late_at)
    report = service().run(AFTER_NOV)
    assert report.issued == [f"{LEASE_ID}@2026-11"]
    november = InvoiceStore().get(f"{LEASE_ID}@2026-11")
    assert november is not None
    lines = [(ln.kind, ln.period, str(ln.amount)) for ln in november.invoice.lines]
    # November: 100.00 base + 5 h x 10.00 ; October re-rated 110 h = 1000.00 + 80.00 vs 900.00 -> +180.00
    assert lines == [
        ("base_fee", "2026-11", "100.00"),
        ("usage", "2026-11", "50.00"),
        ("adjustment", "2026-10", "180.00"),
    ]


def test_after_the_lease_ended_only_late_usage_makes_an_invoice(moto_aws: None) -> None:
    doc = {**LEASE_DOC, "lease_id": "lease-8", "end": "2026-11-01T00:00:00+01:00"}
    LeaseStore().create(load_lease(doc))
    october = datetime(2026, 10, 10, 8, tzinfo=UTC)
    service().record_usage([ev("x1", "cnc-01", october, "10")], received_at=october)
    service().run(AFTER_NOV)
    assert invoices_of("toolmaker:lease-8") == ["toolmaker:lease-8@2026-10"]  # November: outside the term, nothing late
    service().record_usage([ev("x2", "cnc-01", october, "5")], received_at=datetime(2026, 12, 20, tzinfo=UTC))
    service().run(datetime(2027, 2, 3, tzinfo=UTC))
    assert invoices_of("toolmaker:lease-8") == ["toolmaker:lease-8@2026-10", "toolmaker:lease-8@2026-12"]
    december = InvoiceStore().get("toolmaker:lease-8@2026-12")
    assert december is not None
    # only the adjustment: October re-rated 15 h x 10.00 = 150.00 vs 100.00 -> +50.00
    assert [(ln.kind, str(ln.amount)) for ln in december.invoice.lines] == [("adjustment", "50.00")]


def test_telemetry_becomes_stored_usage_once(moto_aws: None) -> None:
    t0 = datetime(2026, 10, 5, 6, tzinfo=UTC)
    batch = [Sample(ts=t0 + timedelta(seconds=i), state=100, part_count=i // 10, power_kw=6.0) for i in range(60)]
    first = service().record_usage(derive_usage_events(batch, "cnc-01", source="seq-3"))
    again = service().record_usage(derive_usage_events(batch, "cnc-01", source="seq-3"))  # redelivered batch
    assert (first.stored, again.stored, again.duplicates) == (3, 0, 3)
    stored = UsageStore().between("cnc-01", t0, t0 + timedelta(hours=1))
    assert sorted((e.meter, str(e.quantity)) for e in stored) == [
        ("energy_kwh", "0.100000"),  # 60 s x 6 kW
        ("parts", "5"),  # counter 0 -> 5
        ("spindle_hours", "0.016667"),
    ]


# -- the HTTP API -------------------------------------------------------------------------------------------


def auth(tenant: str, role: str) -> dict[str, str]:
    token = issue_token(JWT_SECRET, tenant=tenant, role=role, subject=f"{tenant}-user")
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


LESSOR = auth("toolmaker", "lessor")
LESSEE = auth("factory-1", "lessee")
STRANGER = auth("factory-2", "lessee")


def call(client: Client, method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    response = getattr(client.http, method)(path, **kwargs)
    return response.status_code, json.loads(response.body or b"null")


@pytest.fixture
def api(moto_aws: None) -> Any:
    with wiring.override(lease_contracts=None, clock=lambda: AFTER_OCT), Client(app) as client:
        yield client


def test_leases_are_registered_by_their_lessor_and_seen_by_both_parties_only(api: Client) -> None:
    register("cnc-01")
    status, body = call(api, "post", "/leases", LESSOR, LEASE_DOC)
    # cnc-02 is not registered to the lessor: no lease may expose its data
    assert status == 403 and "cnc-02" in body["detail"]
    register("cnc-02", lessor="othermaker")
    assert call(api, "post", "/leases", LESSOR, LEASE_DOC)[0] == 403
    aws.client("iot").delete_thing(thingName="cnc-02")
    register("cnc-02")
    assert call(api, "post", "/leases", LESSEE, LEASE_DOC)[0] == 403
    status, body = call(api, "post", "/leases", LESSOR, {**LEASE_DOC, "contract_address": None})
    assert status == 201 and body["lease"]["lease_id"] == LEASE_ID
    assert call(api, "post", "/leases", LESSOR, LEASE_DOC)[0] == 201  # the same lease again: unchanged
    assert call(api, "post", "/leases", LESSOR, {**LEASE_DOC, "tax_rate": "0.07"})[0] == 409
    assert call(api, "post", "/leases", LESSOR, {**LEASE_DOC, "tax_rate": 0.07})[0] == 400
    assert [x["lease"]["lease_id"] for x in call(api, "get", "/leases", LESSEE)[1]["items"]] == [LEASE_ID]
    assert call(api, "get", "/leases", STRANGER)[1]["items"] == []
    for path in (f"/leases/{LEASE_ID}", f"/leases/{LEASE_ID}/invoices", f"/invoices/{LEASE_ID}@2026-10"):
        assert call(api, "get", path, STRANGER)[0] == 404, path


@pytest.mark.usefixtures("lease_7")
def test_usage_invoices_evidence_and_the_lessees_answers(api: Client) -> None:
    status, usage = call(
        api, "get", f"/leases/{LEASE_ID}/usage?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z", LESSEE
    )
    assert status == 200 and usage["totals"] == {"spindle_hours": "90"} and len(usage["items"]) == 2
    assert call(api, "get", f"/leases/{LEASE_ID}/usage?from=2026-10-01T00:00:00Z", LESSEE)[0] == 400
    window = "from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z"
    for machine, totals in (("cnc-01", {"spindle_hours": "60"}), ("cnc-02", {"spindle_hours": "30"}), ("cnc-09", {})):
        status, one = call(api, "get", f"/leases/{LEASE_ID}/usage?{window}&machine_id={machine}", LESSEE)
        assert status == 200 and one["machine_id"] == machine and one["totals"] == totals
        assert {e["machine_id"] for e in one["items"]} <= {machine}
    status, problem = call(api, "get", f"/leases/{LEASE_ID}/usage?{window}&machine_id=", LESSEE)
    assert status == 400 and problem["errors"][0]["path"] == "query.machine_id"
    schedule = api.events.generate_cw_event("aws.events", "Scheduled Event", {}, [], region="eu-central-1")
    result = api.lambda_.invoke("billing_close_periods", schedule)
    assert result.payload["issued"] == [f"{LEASE_ID}@2026-10"]
    status, listed = call(api, "get", f"/leases/{LEASE_ID}/invoices", LESSOR)
    assert [i["invoice_id"] for i in listed["items"]] == [f"{LEASE_ID}@2026-10"]
    status, doc = call(api, "get", f"/invoices/{LEASE_ID}@2026-10?event=a1", LESSEE)
    evidence = doc["evidence"]
    assert evidence["root_matches"] and evidence["invoice_hash_valid"]
    assert {e["id"] for e in evidence["events"]} == {"a1", "b1"}
    proof = evidence["proof"]
    assert verify_proof(proof["hash"], proof["proof"], doc["invoice"]["usage"]["root"])
    assert call(api, "post", f"/invoices/{LEASE_ID}@2026-10/acknowledge", LESSOR)[0] == 403
    assert call(api, "post", f"/invoices/{LEASE_ID}@2026-10/acknowledge", STRANGER)[0] == 404
    assert call(api, "post", f"/invoices/{LEASE_ID}@2026-10/dispute", LESSEE, {})[0] == 400
    status, acked = call(api, "post", f"/invoices/{LEASE_ID}@2026-10/acknowledge", LESSEE)
    assert status == 200 and acked["status"] == "acknowledged"
    assert acked["answer"]["answered_by"] == "factory-1-user"
    assert call(api, "post", f"/invoices/{LEASE_ID}@2026-10/acknowledge", LESSEE)[0] == 200  # repeated: harmless
    status, body = call(api, "post", f"/invoices/{LEASE_ID}@2026-10/dispute", LESSEE, {"reason": "too late"})
    assert status == 409 and body["type"] == "urn:twinledger:problem:conflicting-state"
    assert call(api, "get", f"/invoices/{LEASE_ID}@2099-01", LESSEE)[0] == 404


# -- lease ids are scoped by the lessor's tenant ------------------------------------------------------------

OTHER_LESSOR = auth("othermaker", "lessor")
OTHER_DOC: dict[str, Any] = {**LEASE_DOC, "lessor": "othermaker", "lessee": "factory-2", "machine_ids": ["cnc-03"]}


def test_another_lessor_posting_the_same_reference_gets_its_own_lease_and_blocks_nobody(api: Client) -> None:
    for machine in ("cnc-01", "cnc-02"):
        register(machine)
    register("cnc-03", lessor="othermaker", lessee="factory-2")
    # the other tenant registers the reference first: no 409, its own lease under its own prefix
    status, body = call(api, "post", "/leases", OTHER_LESSOR, OTHER_DOC)
    assert status == 201 and body["lease_id"] == body["lease"]["lease_id"] == "othermaker:lease-7"
    # the rightful lessor is not blocked, and gets its lease under its prefix
    status, body = call(api, "post", "/leases", LESSOR, LEASE_DOC)
    assert status == 201 and body["lease_id"] == LEASE_ID and body["lease"]["lessee"] == "factory-1"
    # re-registering: the reference or the qualified id, same terms, is idempotent; other terms are a conflict
    assert call(api, "post", "/leases", LESSOR, LEASE_DOC)[0] == 201
    assert call(api, "post", "/leases", LESSOR, {**LEASE_DOC, "lease_id": LEASE_ID})[0] == 201
    status, body = call(api, "post", "/leases", LESSOR, {**LEASE_DOC, "tax_rate": "0.07"})
    assert status == 409 and LEASE_ID in body["detail"]
    # after the lessor's lease exists, the other tenant's same reference still answers with its own lease
    status, body = call(api, "post", "/leases", OTHER_LESSOR, OTHER_DOC)
    assert status == 201 and body["lease_id"] == "othermaker:lease-7" and body["lease"]["lessee"] == "factory-2"
    # the other tenant's lease is unchanged by all this, and each side lists only its own
    assert call(api, "get", "/leases/othermaker:lease-7", OTHER_LESSOR)[1]["lease"]["machine_ids"] == ["cnc-03"]
    assert [x["lease_id"] for x in call(api, "get", "/leases", OTHER_LESSOR)[1]["items"]] == ["othermaker:lease-7"]
    assert [x["lease_id"] for x in call(api, "get", "/leases", LESSEE)[1]["items"]] == [LEASE_ID]
    # the same reference with the lessor's machines stays refused to the other tenant (the device check)
    stolen = {**OTHER_DOC, "lease_id": "lease-1", "machine_ids": ["cnc-01"]}
    status, body = call(api, "post", "/leases", OTHER_LESSOR, stolen)
    assert status == 403 and "cnc-01" in body["detail"]


def test_a_lease_id_qualified_by_another_tenant_is_refused_whether_or_not_it_exists(api: Client) -> None:
    register("cnc-03", lessor="othermaker", lessee="factory-2")
    taken = {**OTHER_DOC, "lease_id": LEASE_ID}
    before = call(api, "post", "/leases", OTHER_LESSOR, taken)
    for machine in ("cnc-01", "cnc-02"):
        register(machine)
    assert call(api, "post", "/leases", LESSOR, LEASE_DOC)[0] == 201
    after = call(api, "post", "/leases", OTHER_LESSOR, taken)
    assert before == after  # the answer says nothing about whether the lessor's lease exists
    status, body = after
    assert status == 400 and body["detail"].startswith("lease: lease_id: ") and "another tenant" in body["detail"]
    # a reference with ':' is only ever read as <prefix>:<reference>
    status, body = call(api, "post", "/leases", OTHER_LESSOR, {**OTHER_DOC, "lease_id": "toolmaker:x:y"})
    assert status == 400 and "lease_id" in body["detail"]
    status, body = call(api, "post", "/leases", OTHER_LESSOR, {**OTHER_DOC, "lease_id": "othermaker:x:y"})
    assert status == 201 and body["lease_id"] == "othermaker:x:y"


@pytest.mark.usefixtures("lease_7")
def test_a_tenant_not_party_to_a_lease_gets_the_answer_of_a_missing_one(api: Client) -> None:
    assert service().run(AFTER_OCT).issued == [f"{LEASE_ID}@2026-10"]
    missing = "toolmaker:lease-404"
    routes = [
        ("get", "/leases/{}"),
        ("get", "/leases/{}/usage?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z"),
        ("get", "/leases/{}/invoices"),
        ("get", "/invoices/{}@2026-10"),
        ("get", "/invoices/{}@2026-10?event=a1"),
        ("post", "/invoices/{}@2026-10/acknowledge"),
    ]
    for caller in (STRANGER, OTHER_LESSOR, auth("othermaker", "lessee")):
        for method, path in routes:
            status, body = call(api, method, path.format(LEASE_ID), caller)
            absent = call(api, method, path.format(missing), caller)
            assert status == 404 and set(body) == {"type", "title", "status", "detail", "errors"}, path
            assert (status, {**body, "detail": body["detail"].replace(LEASE_ID, missing)}) == absent, path
            assert not any(term in body["detail"] for term in ("factory-1", "cnc-0", "100.00", "2026-10-01")), path
        dispute = f"/invoices/{LEASE_ID}@2026-10/dispute"
        status, body = call(api, "post", dispute, caller, {"reason": "not ours"})
        absent = call(api, "post", dispute.replace(LEASE_ID, missing), caller, {"reason": "not ours"})
        assert status == 404 and (status, {**body, "detail": body["detail"].replace(LEASE_ID, missing)}) == absent
    # the unqualified reference names nothing, even for the lease's own parties
    assert call(api, "get", "/leases/lease-7", LESSEE)[0] == 404
    assert call(api, "get", "/invoices/lease-7@2026-10", LESSOR)[0] == 404
    assert call(api, "get", f"/leases/{LEASE_ID}", LESSEE)[0] == 200
    encoded = LEASE_ID.replace(":", "%3A")  # a client may percent-encode the ':'
    assert call(api, "get", f"/leases/{encoded}", LESSEE)[1]["lease_id"] == LEASE_ID
    assert call(api, "get", f"/invoices/{encoded}@2026-10", LESSEE)[1]["invoice"]["lease_id"] == LEASE_ID
    assert call(api, "get", f"/leases/{encoded}", STRANGER)[0] == 404


@pytest.mark.usefixtures("lease_7")
def test_usage_tagged_with_the_reference_or_the_qualified_id_is_billed_and_another_tenants_is_not(
    api: Client,
) -> None:
    october = datetime(2026, 10, 12, 8, tzinfo=UTC)
    tagged = [
        UsageEvent(
            id=ident, machine_id="cnc-01", meter="spindle_hours", ts=october, quantity=Decimal(hours), lease_id=tag
        )
        for ident, hours, tag in (("t1", "1", "lease-7"), ("t2", "2", LEASE_ID), ("t3", "4", "othermaker:lease-7"))
    ]
    assert service().record_usage(tagged, received_at=october).stored == 3
    status, usage = call(
        api, "get", f"/leases/{LEASE_ID}/usage?from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z", LESSEE
    )
    assert status == 200 and usage["lease_id"] == LEASE_ID
    assert sorted(e["id"] for e in usage["items"]) == ["a1", "b1", "t1", "t2"]
    assert usage["totals"] == {"spindle_hours": "93"}
    invoice = service().run(AFTER_OCT)
    assert invoice.issued == [f"{LEASE_ID}@2026-10"]
    record = InvoiceStore().get(f"{LEASE_ID}@2026-10")
    assert record is not None and record.invoice.lease_id == LEASE_ID
    assert (record.invoice.usage.events, record.invoice.usage.excluded_events) == (4, 1)
