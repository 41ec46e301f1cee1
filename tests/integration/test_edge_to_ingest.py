"""Machine to history with every hop real: gateway process -> mosquitto (mTLS) -> bridge -> ingest Lambda
handler -> moto server (DynamoDB, S3, IoT data).

Given two registered machines whose gateway signs with ``gateway-1``, when ``LocalEdgeStack`` runs with
the real ``app.ingest`` as its handler, then each machine's history fills with consecutive envelopes and
nothing is quarantined.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from twinledger.local.broker import find_mosquitto, free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed (apt-get install mosquitto)"),
]

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


@pytest.fixture
def moto_endpoint(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from tests.integration.aws_servers import moto_server

    if str(FUNCTIONS) not in sys.path:
        sys.path.append(str(FUNCTIONS))
    from chalicelib.adapters import aws
    from chalicelib.adapters.tables import create_resources

    with moto_server() as endpoint:
        monkeypatch.setenv("TWINLEDGER_AWS_ENDPOINT_URL", endpoint)
        aws.reset_clients()
        create_resources(aws.client("dynamodb"), aws.client("s3"))
        yield endpoint
    aws.reset_clients()


def _history(thing: str) -> list[int]:
    from chalicelib.adapters import aws
    from chalicelib.adapters.tables import table_name

    items: list[dict[str, Any]] = aws.client("dynamodb").query(
        TableName=table_name("history"),
        KeyConditionExpression="machine_id = :t",
        ExpressionAttributeValues={":t": {"S": thing}},
    )["Items"]
    return sorted(int(item["seq"]["N"]) for item in items)


def test_gateway_to_history_through_broker_bridge_and_ingest(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import ingest
    from chalicelib import wiring
    from chalicelib.adapters import aws
    from chalicelib.adapters.tables import table_name
    from chalicelib.adapters.twins import DeviceRegistry
    from twin_models.tenancy import Device
    from twinledger.local.edge_stack import LocalEdgeStack

    wiring.reset()  # a fresh container
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=6)
    stack = LocalEdgeStack(tmp_path / "edge", ingest=ingest, port=free_port(), machines=2, speed=240, start=start)
    registry = DeviceRegistry()
    for thing in stack.things:
        registry.put(
            Device(
                machine_id=thing,
                site=stack.site,
                lessor="toolmaker",
                lessee="factory-1",
                keys={stack.key_id: stack.signing_public_key_pem()},
            )
        )
    stack.start()
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not all(len(_history(t)) >= 4 for t in stack.things):
            time.sleep(0.5)
    finally:
        stack.stop()
    for thing in stack.things:
        seqs = _history(thing)
        assert len(seqs) >= 4 and seqs == list(range(len(seqs))), (thing, seqs)
    assert aws.client("dynamodb").scan(TableName=table_name("quarantine"))["Items"] == []
