"""The local stand-in for "IoT topic rule -> SQS queue -> ingest Lambda".

The bridge subscribes to the telemetry topics on the local broker (as the ``twinledger-bridge``
identity, persistent session, QoS 1). Each message is written to a durable SQLite inbox *before* the
PUBACK goes back to the broker, so an acknowledged message is never lost; a worker thread hands the
inbox to the ingest handler in batches shaped exactly like the SQS event a Lambda receives, and
deletes a message only when the handler accepted it. ``batchItemFailures`` in the handler's answer
(partial batch responses) keep those messages for a retry; after ``max_receive_count`` attempts a
message moves to the dead-letter table, as an SQS redrive policy would move it.

The same handler runs here and in AWS: it is passed in, never imported.

Example:
    >>> seen = []
    >>> def handler(event, context):
    ...     seen.extend(r["body"] for r in event["Records"])
    ...     return {"batchItemFailures": []}
    >>> import tempfile, pathlib
    >>> inbox = SqsInbox(pathlib.Path(tempfile.mkdtemp()) / "inbox.db")
    >>> inbox.put("dt/twinledger/a/m1/telemetry", b'{"seq": 0}')
    >>> deliver_once(inbox, handler, batch_size=10)
    1
    >>> seen
    ['{"seq": 0}']
"""

from __future__ import annotations

import base64
import hashlib
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_greengrass.transport import MqttEndpoint, MqttIdentity, MqttLink

__all__ = [
    "BridgeError",
    "IngestHandler",
    "LocalLambdaContext",
    "MqttIngestBridge",
    "SqsInbox",
    "deliver_once",
]

_log = logging.getLogger(__name__)

IngestHandler = Callable[[dict[str, Any], Any], Any]
"""A Lambda handler ``(event, context) -> response`` taking SQS events."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    sent_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER
);
CREATE TABLE IF NOT EXISTS dead_letters (
    message_id TEXT PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL, receive_count INTEGER NOT NULL
);
"""


class BridgeError(RuntimeError):
    """The bridge could not store or deliver messages."""


@dataclass
class LocalLambdaContext:
    """The attributes of a Lambda context object that handlers and Powertools read."""

    function_name: str = "twinledger-ingest"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:eu-central-1:000000000000:function:twinledger-ingest"
    memory_limit_in_mb: int = 512
    aws_request_id: str = ""
    log_group_name: str = "/aws/lambda/twinledger-ingest"
    log_stream_name: str = "local"
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (local) timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class SqsInbox:
    """A durable queue with SQS receive semantics (receive count, redrive to dead letters)."""

    def __init__(self, path: Path, *, region: str = "eu-central-1", queue_name: str = "twinledger-ingest") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.region = region
        self.queue_arn = f"arn:aws:sqs:{region}:000000000000:{queue_name}"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def put(self, topic: str, payload: bytes) -> None:
        """Store one message durably (called before the PUBACK is sent)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO inbox(message_id, topic, payload, sent_ms) VALUES(?, ?, ?, ?)",
                (str(uuid.uuid4()), topic, payload, int(time.time() * 1000)),
            )

    def receive(self, max_messages: int) -> dict[str, Any]:
        """The next batch as an SQS Lambda event (``Records``), bumping each receive count."""
        now_ms = int(time.time() * 1000)
        with self._lock:
            rows = self._db.execute(
                "SELECT id, message_id, topic, payload, sent_ms, receive_count, first_receive_ms "
                "FROM inbox ORDER BY id LIMIT ?",
                (max_messages,),
            ).fetchall()
            self._db.executemany(
                "UPDATE inbox SET receive_count = receive_count + 1, "
                "first_receive_ms = COALESCE(first_receive_ms, ?) WHERE id = ?",
                ((now_ms, r[0]) for r in rows),
            )
        records = []
        for _, message_id, _topic, payload, sent_ms, count, first_ms in rows:
            raw = bytes(payload)
            try:
                body = raw.decode("utf-8")
            except UnicodeDecodeError:
                body = base64.b64encode(raw).decode()  # what a rule with useBase64 would send
            records.append(
                {
                    "messageId": message_id,
                    "receiptHandle": base64.b64encode(f"{message_id}:{count + 1}".encode()).decode(),
                    "body": body,
                    "attributes": {
                        "ApproximateReceiveCount": str(count + 1),
                        "SentTimestamp": str(sent_ms),
                        "SenderId": "AIDAIOTCORERULE",
                        "ApproximateFirstReceiveTimestamp": str(first_ms or now_ms),
                    },
                    "messageAttributes": {},
                    "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": self.region,
                }
            )
        return {"Records": records}

    def delete(self, message_ids: list[str]) -> None:
        """Remove handled messages."""
        with self._lock:
            self._db.executemany("DELETE FROM inbox WHERE message_id = ?", ((m,) for m in message_ids))

    def redrive(self, max_receive_count: int) -> int:
        """Move messages received ``max_receive_count`` times to the dead letters; returns how many."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            moved = self._db.execute(
                "INSERT OR REPLACE INTO dead_letters(message_id, topic, payload, receive_count) "
                "SELECT message_id, topic, payload, receive_count FROM inbox WHERE receive_count >= ?",
                (max_receive_count,),
            ).rowcount
            self._db.execute("DELETE FROM inbox WHERE receive_count >= ?", (max_receive_count,))
            self._db.execute("COMMIT")
            return int(moved)

    def depth(self) -> int:
        """Messages waiting."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM inbox").fetchone()[0])

    def dead_letters(self) -> int:
        """Messages given up on."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


def deliver_once(inbox: SqsInbox, handler: IngestHandler, *, batch_size: int = 10, max_receive_count: int = 5) -> int:
    """Hand one batch to ``handler``; returns how many messages it accepted.

    A handler that raises fails the whole batch (every message stays for a retry), as in Lambda.
    """
    event = inbox.receive(batch_size)
    records = event["Records"]
    if not records:
        return 0
    ids = [r["messageId"] for r in records]
    try:
        response = handler(event, LocalLambdaContext())
    except Exception:  # the Lambda runtime's behaviour: the batch returns to the queue
        _log.exception("ingest handler failed; %d messages stay queued", len(ids))
        inbox.redrive(max_receive_count)
        return 0
    failed: set[str] = set()
    if isinstance(response, dict):
        failed = {str(f.get("itemIdentifier")) for f in response.get("batchItemFailures") or []}
    accepted = [m for m in ids if m not in failed]
    inbox.delete(accepted)
    if failed:
        inbox.redrive(max_receive_count)
    return len(accepted)


class MqttIngestBridge:
    """Subscribe on the broker, store durably, feed the ingest handler in SQS-shaped batches.

    Example:
        >>> bridge = MqttIngestBridge(endpoint, identity, handler, inbox_path=tmp / "inbox.db")  # doctest: +SKIP
        >>> bridge.start(); ...; bridge.stop()                                                     # doctest: +SKIP
    """

    def __init__(
        self,
        endpoint: MqttEndpoint,
        identity: MqttIdentity,
        handler: IngestHandler,
        *,
        inbox_path: Path,
        topic_filter: str = "dt/twinledger/+/+/telemetry",
        batch_size: int = 10,
        max_wait_s: float = 0.2,
        max_receive_count: int = 5,
        region: str = "eu-central-1",
    ) -> None:
        self.inbox = SqsInbox(inbox_path, region=region)
        self._handler = handler
        self._topic_filter = topic_filter
        self._batch_size = batch_size
        self._max_wait_s = max_wait_s
        self._max_receive_count = max_receive_count
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.delivered = 0
        self.received = 0
        self._link = MqttLink(endpoint, identity, persistent_session=True, receive_maximum=1000)

    def _on_message(self, topic: str, payload: bytes) -> None:
        self.inbox.put(topic, payload)  # durable before this returns, i.e. before the PUBACK
        self.received += 1
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._max_wait_s)
            self._wake.clear()
            while True:
                accepted = deliver_once(
                    self.inbox, self._handler, batch_size=self._batch_size, max_receive_count=self._max_receive_count
                )
                self.delivered += accepted
                if accepted == 0:
                    break

    def start(self, connect_timeout: float = 10.0) -> MqttIngestBridge:
        """Connect, subscribe and start delivering."""
        self._link.subscribe(self._topic_filter, self._on_message)
        self._link.start()
        if not self._link.wait_connected(connect_timeout):
            raise BridgeError(f"bridge could not connect within {connect_timeout} s")
        self._worker = threading.Thread(target=self._run, name="ingest-bridge", daemon=True)
        self._worker.start()
        return self

    def wait_idle(self, timeout: float) -> bool:
        """Block until the inbox is empty (True) or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.inbox.depth() == 0:
                return True
            self._wake.set()
            time.sleep(0.05)
        return self.inbox.depth() == 0

    def stop(self) -> None:
        """Disconnect and stop the worker (undelivered messages stay in the inbox)."""
        self._link.stop()
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(10)
        self.inbox.close()
