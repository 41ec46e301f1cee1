"""The bridge's queue: SQS event shape, partial batch failures, retries and redrive to dead letters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twinledger.local.bridge import LocalLambdaContext, SqsInbox, deliver_once


def _inbox(tmp_path: Path, n: int) -> SqsInbox:
    inbox = SqsInbox(tmp_path / "inbox.db", region="eu-central-1", queue_name="ingest")
    for i in range(n):
        inbox.put(f"dt/twinledger/a/m{i}/telemetry", b'{"seq": %d}' % i)
    return inbox


def test_records_have_the_sqs_lambda_event_shape(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, 2)
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        assert isinstance(context, LocalLambdaContext) and context.get_remaining_time_in_millis() > 0
        seen.extend(event["Records"])
        return {"batchItemFailures": []}

    assert deliver_once(inbox, handler) == 2
    record = seen[0]
    assert set(record) >= {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["body"] == '{"seq": 0}' and record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:aws:sqs:eu-central-1:000000000000:ingest"
    assert record["attributes"]["ApproximateReceiveCount"] == "1" and record["messageAttributes"] == {}
    assert inbox.depth() == 0


def test_partial_failures_stay_queued_and_are_retried(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, 3)
    calls: list[list[str]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        bodies = [r["body"] for r in event["Records"]]
        calls.append(bodies)
        failed = [r["messageId"] for r in event["Records"] if r["body"] == '{"seq": 1}' and len(calls) == 1]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    assert deliver_once(inbox, handler) == 2
    assert inbox.depth() == 1
    assert deliver_once(inbox, handler) == 1
    assert calls[1] == ['{"seq": 1}'] and inbox.depth() == 0


def test_a_raising_handler_keeps_the_batch_and_redrives_poison_messages(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, 2)

    def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("table missing")

    for _ in range(2):
        assert deliver_once(inbox, broken, max_receive_count=3) == 0
        assert inbox.depth() == 2
    assert deliver_once(inbox, broken, max_receive_count=3) == 0
    assert inbox.depth() == 0 and inbox.dead_letters() == 2


def test_non_utf8_payloads_are_passed_base64(tmp_path: Path) -> None:
    inbox = SqsInbox(tmp_path / "inbox.db")
    inbox.put("dt/twinledger/a/m/telemetry", b"\xff\xfe")
    bodies: list[str] = []
    deliver_once(inbox, lambda e, c: bodies.extend(r["body"] for r in e["Records"]))
    assert bodies == ["//4="]


def test_md5_of_body_is_that_of_the_body(tmp_path: Path) -> None:
    import hashlib

    inbox = _inbox(tmp_path, 1)
    record = inbox.receive(1)["Records"][0]
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
