"""Every route, fed arbitrary path, query and body values by an authenticated caller, answers below 500.

The routes are read from the Chalice app itself, so a new route is fuzzed without touching this test. The
services are the wiring's, over the in-memory adapters, with one leased machine, a lease, a calendar and
a part it made in place so that requests get past "not found" into the code that reads their values.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import app
from chalicelib import wiring
from chalicelib.auth import issue_token
from chalicelib.settings import Settings
from tests.functional.conftest import JWT_SECRET
from tests.functional.openapi_conformance import assert_conforms
from twin_models.billing import load_lease, qualified_lease_id
from twin_models.device_config import ShadowDocumentError, check_shadow_state
from twin_models.parts import PartRecord, piece_of, records_of, scan
from twin_models.telemetry import Sample, TelemetryEnvelope
from twin_models.tenancy import Device

LEASE = json.loads((Path(__file__).parents[2] / "docs" / "examples" / "lease-daily.json").read_text())
LESSOR, LESSEE = LEASE["lessor"], LEASE["lessee"]
LEASE_ID = qualified_lease_id(LESSOR, LEASE["lease_id"])  # the id the lease is stored and routed under


def _made_part() -> PartRecord:
    """A part cnc-01 made for the lessee (from one envelope of its telemetry)."""
    t0 = datetime(2026, 1, 5, 6, tzinfo=UTC)
    samples = [
        Sample(ts=t0 + timedelta(seconds=i), state=100, part_count=i // 4, program="P1", material_lot="L-1")
        for i in range(6)
    ]
    envelope = TelemetryEnvelope(machine_id="cnc-01", site="plant-a", seq=0, sent_at=t0, samples=samples)
    (cycle,) = scan([piece_of(envelope, "0x" + "ab" * 32)])
    return records_of(cycle, producer=LESSEE)[0]


PART = _made_part()

ROUTES = sorted((path, method) for path, methods in app.routes.items() for method in methods)
_PARAM = re.compile(r"\{(\w+)\}")

_EDGE_TIMES = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "2026-01-05T06:00:00Z",
    "2026-01-05T06:00:00",
    "1969-12-31T23:59:59Z",
    "8999-12-31T00:00:00Z",
    "",
    "now",
]
_TEXT = st.text(max_size=30) | st.sampled_from(
    ["cnc-01", LEASE["lease_id"], LEASE_ID, f"{LEASE_ID}@2026-10", PART.part_id, "x" * 600]
)
_QUERY_NAMES = ["at", "from", "to", "by", "record_id", "event", "limit", "next", "order", "lot"]
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(), _TEXT,
    st.sampled_from(_EDGE_TIMES),
)  # fmt: skip
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=10,
)
_BODY_FIELDS = [
    "reason", "lease_id", "start", "end", "contract_address", "machine_ids", "sampling_interval_s",
    "machine_id", "site", "keys", "key_id", "public_key_pem", "at", "timezone", "shifts",
    "tenant", "inspected_at", "inspector", "result", "measurements", "kind", "machine_code", "programs",
]  # fmt: skip


@pytest.fixture(scope="module")
def api() -> Iterator[Client]:
    """The app over in-memory services with one leased machine, its lease, a site calendar and a part."""
    saved = dict(os.environ)
    os.environ.update({"TWINLEDGER_JWT_SECRET": JWT_SECRET, "TWINLEDGER_AUTH_MODE": "jwt"})
    built = wiring.build(Settings(adapters="memory", jwt_secret=JWT_SECRET), lease_contracts=None)
    for machine in LEASE["machine_ids"]:
        built.adapters.devices.put(
            Device(machine_id=machine, site="plant-a", line="line-a", lessor=LESSOR, lessee=LESSEE,
                   ideal_cycle_times_s={"*": 4.0})
        )  # fmt: skip
    built.adapters.leases.create(load_lease(LEASE))
    built.adapters.parts.put_part(PART)
    wiring.use(built)
    try:
        with Client(app) as client:
            yield client
    finally:
        wiring.reset()
        os.environ.clear()
        os.environ.update(saved)


def _headers(role: str) -> dict[str, str]:
    tenant = LESSOR if role == "lessor" else LESSEE
    token = issue_token(JWT_SECRET, tenant=tenant, role=role, subject=f"{role}-fuzz")
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], str | None]:
    path, method = draw(st.sampled_from(ROUTES))
    url = _PARAM.sub(lambda _: quote(draw(_TEXT), safe="") or "x", path)
    names = draw(st.lists(st.sampled_from(_QUERY_NAMES), max_size=4, unique=True))
    query = {n: draw(st.sampled_from(_EDGE_TIMES) | _TEXT | st.sampled_from(["shift", "day", "week"])) for n in names}
    if query:
        url += "?" + urlencode(query)
    body: str | None = None
    if method in {"POST", "PUT"}:
        kind = draw(st.sampled_from(["json", "object", "lease", "text"]))
        if kind == "json":
            body = json.dumps(draw(_JSON))
        elif kind == "object":
            body = json.dumps({f: draw(_JSON) for f in draw(st.lists(st.sampled_from(_BODY_FIELDS), max_size=3))})
        elif kind == "lease":
            changed = dict(LEASE, **{draw(st.sampled_from(list(LEASE))): draw(_JSON)})
            body = json.dumps(changed)
        else:
            body = draw(st.text(max_size=40))
    return method, url, _headers(draw(st.sampled_from(["lessor", "lessee"]))), body


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests())
def test_no_client_input_makes_a_route_answer_500(api: Client, request: tuple[str, str, dict[str, str], Any]) -> None:
    method, url, headers, body = request
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["body"] = body
    response = getattr(api.http, method.lower())(url, **kwargs)
    assert response.status_code < 500, (method, url, body, response.body[:300])
    assert_conforms(method, url, response.status_code, response.headers, response.body)
    if response.status_code == 400:  # bad input names where it is
        assert json.loads(response.body)["errors"], (method, url, body, response.body[:300])


def test_every_route_is_fuzzed() -> None:
    assert {
        ("/machines/{machine_id}/twin", "GET"), ("/leases", "POST"), ("/invoices/{invoice_id}/dispute", "POST"),
        ("/fleet/oee", "GET"), ("/machines/{machine_id}/parts", "GET"), ("/parts/{part_id}", "GET"),
        ("/parts/{part_id}/epcis", "GET"), ("/parts/{part_id}/inspections", "POST"),
        ("/parts/{part_id}/share", "POST"), ("/machines/{machine_id}/part-scheme", "PUT"),
    } <= set(ROUTES)  # fmt: skip


# -- the measured cases, one by one ----------------------------------------------------------------------------

_YEAR_1 = quote("0001-01-01T00:00:00+14:00")
_YEAR_9999 = quote("9999-12-31T23:59:59-14:00")


@pytest.mark.parametrize(
    "url",
    [
        f"/machines/cnc-01/twin?at={_YEAR_1}",
        f"/fleet?at={_YEAR_9999}",
        f"/machines/cnc-01/timeline?from={_YEAR_1}&to=2026-01-05T06:00:00Z",
        f"/leases/{LEASE_ID}/usage?from=2026-10-01T00:00:00Z&to={_YEAR_9999}",
        f"/machines/cnc-01/oee?from={_YEAR_1}&to=2026-01-05T06:00:00Z",
        f"/machines/cnc-01/oee?to={_YEAR_1}",
        f"/lines/line-a/oee?from=2026-01-05T06:00:00Z&to={_YEAR_9999}",
    ],
)
def test_time_parameters_at_the_calendars_edge_are_a_400_naming_the_parameter(api: Client, url: str) -> None:
    response = api.http.get(url, headers=_headers("lessee"))
    assert response.status_code == 400, response.body
    problem = json.loads(response.body)
    named = {q.split("=")[0] for q in url.split("?")[1].split("&")}
    assert problem["errors"] and {e["path"] for e in problem["errors"]} <= {f"query.{n}" for n in named}, problem


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("[1, 2]", "JSON object"),
        ('"x"', "JSON object"),
        ('{"reason": 5}', "reason"),
        (json.dumps({"reason": "r" * 1_000_000}), "reason"),
        ("{}", "reason"),
    ],
)
def test_a_dispute_body_that_is_not_a_reason_is_a_400(api: Client, body: str, field: str) -> None:
    response = api.http.post(f"/invoices/{LEASE_ID}@2026-10/dispute", headers=_headers("lessee"), body=body)
    assert response.status_code == 400 and field in json.loads(response.body)["detail"]


def test_the_caller_is_authenticated_before_the_body_is_read(api: Client) -> None:
    for path in (f"/invoices/{LEASE_ID}@2026-10/dispute", "/leases"):
        response = api.http.post(path, headers={"Content-Type": "application/json"}, body="[1]")
        assert response.status_code == 401, (path, response.body)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start": "0001-01-01T00:00:00+00:00"}, "start"),
        ({"contract_address": "0x" + "a" * 1_000_000}, "contract_address"),
    ],
)
def test_a_lease_at_the_calendars_edge_or_with_a_huge_address_is_a_400(
    api: Client, change: dict[str, str], field: str
) -> None:
    body = json.dumps(dict(LEASE, lease_id="lease-edge", **change))
    response = api.http.post("/leases", headers=_headers("lessor"), body=body)
    assert response.status_code == 400 and field in json.loads(response.body)["detail"]


# -- the config shadow as AWS IoT defines it -------------------------------------------------------------------


def _desired(api: Client) -> dict[str, Any]:
    twin = json.loads(api.http.get("/machines/cnc-01/twin", headers=_headers("lessee")).body)
    return dict(twin["shadows"]["config"].get("desired", {}))


def test_null_in_desired_deletes_the_key(api: Client) -> None:
    put = api.http.put
    body = json.dumps({"maintenance_mode": True, "ideal_cycle_times_s": {"P1": 4.0, "P2": 6.0}})
    assert put("/machines/cnc-01/desired", headers=_headers("lessee"), body=body).status_code == 200
    assert _desired(api)["maintenance_mode"] is True
    deleted = put("/machines/cnc-01/desired", headers=_headers("lessee"), body='{"maintenance_mode": null}')
    assert deleted.status_code == 200 and json.loads(deleted.body)["desired"] == {"maintenance_mode": None}
    assert "maintenance_mode" not in _desired(api)
    assert _desired(api)["ideal_cycle_times_s"] == {"P1": 4.0, "P2": 6.0}  # the rest stays


def test_desired_is_bounded_by_the_model_within_the_shadow_size_rule(api: Client) -> None:
    # 50 programs with the longest names a sample can carry (64 characters) fit in the 8 KB shadow state
    programs = {f"P{i:02d}{'x' * 61}": 4.0 for i in range(50)}
    response = api.http.put(
        "/machines/cnc-01/desired", headers=_headers("lessee"), body=json.dumps({"ideal_cycle_times_s": programs})
    )
    assert response.status_code == 200
    check_shadow_state({"desired": {"ideal_cycle_times_s": programs}})  # raises when over the limit
    # a longer name (about 13 KB in all, as a hostile client sent) is refused by the model, naming the field
    longer = {f"P{'x' * 250}{i}": 4.0 for i in range(50)}
    response = api.http.put(
        "/machines/cnc-01/desired", headers=_headers("lessee"), body=json.dumps({"ideal_cycle_times_s": longer})
    )
    assert response.status_code == 400 and "ideal_cycle_times_s" in json.loads(response.body)["detail"]
    # and the size rule itself still answers for any state beyond 8 KB
    with pytest.raises(ShadowDocumentError, match="8192"):
        check_shadow_state({"desired": {"ideal_cycle_times_s": longer}})
