"""The edge's output is the ingest Lambda's input: publisher -> bridge queue -> ``app.ingest``, under moto.

Envelopes sealed by the gateway's publisher and delivered in the bridge's SQS event shape are accepted
by the real ingest handler; a re-delivered duplicate is absorbed; a tampered one is quarantined.
"""

from __future__ import annotations

import base64
import json
from concurrent.futures import Future
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters import aws
from chalicelib.adapters.tables import table_name
from edge_greengrass.publisher import EnvelopeSigner, TelemetryPublisher
from edge_greengrass.spool import Spool
from tests.envelopes import inflate_parts
from tests.functional.conftest import T0, register, samples
from twin_models.jws import envelope_document
from twinledger.local.bridge import LocalLambdaContext, SqsInbox, deliver_once

pytestmark = pytest.mark.usefixtures("moto_aws")


class RuleToQueue:
    """What IoT Core's topic rule does: every accepted publish lands in the queue."""

    def __init__(self, inbox: SqsInbox) -> None:
        self.inbox = inbox

    def publish(self, thing: str, topic: str, payload: bytes) -> Future[None]:
        self.inbox.put(topic, payload)
        done: Future[None] = Future()
        done.set_result(None)
        return done

    def is_connected(self, thing: str) -> bool:
        return True


def _ingest(monkeypatch: pytest.MonkeyPatch) -> Any:
    import sys

    functions = str(Path(__file__).resolve().parents[2] / "functions")
    if functions not in sys.path:
        sys.path.append(functions)
    import app
    from chalicelib import wiring

    wiring.reset()  # a fresh container: no device cache from earlier tests
    return app.ingest


def test_published_envelopes_are_accepted_by_the_ingest_handler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a registered machine whose gateway key signs the publisher's envelopes
    gw = register("cnc-01")
    inbox = SqsInbox(tmp_path / "inbox.db")
    signer = EnvelopeSigner(site="plant-a", key=gw.key, key_id=gw.key_id, clock=lambda: T0 + timedelta(hours=1))
    publisher = TelemetryPublisher(Spool(tmp_path / "spool.db"), RuleToQueue(inbox), signer, batch_size=60)
    publisher.add_many(("cnc-01", s) for s in samples(T0, 240))
    assert publisher.drain(5)
    bodies = [r["body"] for r in inbox.receive(10)["Records"]]
    inbox.put("dt/twinledger/plant-a/cnc-01/telemetry", bodies[1].encode())  # a re-delivery
    head, _, signature = bodies[2].split(".")  # a v3 envelope: a JWS over the payload bytes
    tampered = inflate_parts(envelope_document(bodies[2]), 100)
    tampered["seq"] = 99
    forged = base64.urlsafe_b64encode(json.dumps(tampered).encode()).rstrip(b"=").decode()
    inbox.put("dt/twinledger/plant-a/cnc-01/telemetry", f"{head}.{forged}.{signature}".encode())
    responses: list[dict[str, Any]] = []
    ingest = _ingest(monkeypatch)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        response: dict[str, Any] = ingest(event, context)
        responses.append(response)
        return response

    # When: the bridge hands the queue to the real handler
    delivered = deliver_once(inbox, handler, batch_size=10)
    # Then: all are consumed (duplicates absorbed, the tampered one quarantined, not retried forever)
    assert delivered == 6 and inbox.depth() == 0
    assert responses == [{"batchItemFailures": []}]
    history = aws.client("dynamodb").query(
        TableName=table_name("history"),
        KeyConditionExpression="machine_id = :t",
        ExpressionAttributeValues={":t": {"S": "cnc-01"}},
    )["Items"]
    assert sorted(int(item["seq"]["N"]) for item in history) == [0, 1, 2, 3]
    quarantined = aws.client("dynamodb").scan(TableName=table_name("quarantine"))["Items"]
    assert [q["reason"]["S"] for q in quarantined] == ["bad_signature"]
    assert isinstance(LocalLambdaContext().aws_request_id, str)
