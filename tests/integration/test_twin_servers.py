"""The ingest path and the twin API against moto in server mode, served over HTTP by ``chalice local``."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.adapters import aws
from chalicelib.adapters.tables import create_resources
from chalicelib.adapters.twins import AWS_CALLS
from chalicelib.auth import issue_token
from tests.functional.conftest import T0, ingest_service, register, samples, sqs_event, wire
from tests.integration.aws_servers import chalice_local, moto_server

pytestmark = pytest.mark.integration
SECRET = "integration-secret-that-is-long-enough-for-hs256"


@pytest.fixture
def servers(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Given moto in server mode and the API served by chalice local, both on loopback."""
    with moto_server() as endpoint:
        env = {
            "TWINLEDGER_AWS_ENDPOINT_URL": endpoint,
            "TWINLEDGER_JWT_SECRET": SECRET,
            "TWINLEDGER_AUTH_MODE": "jwt",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "eu-central-1",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        aws.reset_clients()
        wiring.reset()
        create_resources(aws.client("dynamodb"), aws.client("s3"))
        with chalice_local(env) as api:
            yield api
    aws.reset_clients()
    wiring.reset()


def http_get(url: str, tenant: str) -> tuple[int, Any]:
    token = issue_token(SECRET, tenant=tenant, role="lessee", subject="it")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_ingest_over_http_then_read_the_twin_through_the_api(servers: str) -> None:
    # Given a registered machine whose gateway sent two minutes, one of them twice, and a tampered one
    gw = register("cnc-01")
    first = wire(gw.envelope(0, samples(T0, 60, state=100)))
    second = wire(gw.envelope(1, samples(T0 + timedelta(minutes=1), 60, state=600, parts_from=12)))
    tampered = json.loads(wire(gw.envelope(2, samples(T0 + timedelta(minutes=2), 60))))
    tampered["samples"][0]["state"] = 100 if tampered["samples"][0]["state"] != 100 else 600
    # When the ingest handler processes them against the moto server
    AWS_CALLS.clear()
    outcome = ingest_service().handle_batch(sqs_event([first, second, first, json.dumps(tampered)]))
    # Then history, quarantine and shadow were written over real HTTP
    assert (outcome.accepted, outcome.duplicates, outcome.quarantined) == (2, 1, 1)
    assert AWS_CALLS["iot-data.UpdateThingShadow"] == 2  # create once + one coalesced update
    status, twin = http_get(f"{servers}/machines/cnc-01/twin", "factory-1")
    assert status == 200
    assert twin["shadows"]["state"]["reported"]["category"] == "breakdown"
    assert twin["shadows"]["state"]["reported"]["counters"]["parts_total"] == 12 + 59 // 5
    status, line = http_get(
        f"{servers}/machines/cnc-01/timeline?from=2026-01-05T06:00:00Z&to=2026-01-05T06:03:00Z", "factory-1"
    )
    assert status == 200 and [i["category"] for i in line["intervals"]] == ["running", "breakdown"]
    assert line["unknown_s"] == 60.0
    # And another tenant is told the machine does not exist
    assert http_get(f"{servers}/machines/cnc-01/twin", "factory-2")[0] == 404
