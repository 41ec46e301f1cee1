"""The local IoT Core stand-in enforces identity: mTLS, per-thing ACL, and signatures checked downstream.

Given mosquitto with the local CA, one certificate per thing and the ACL, then a thing cannot publish
on another thing's topic, a client without a certificate (or with one from another CA) is refused at
the TLS handshake, and an envelope altered after signing reaches ingest but fails verification.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from edge_greengrass.errors import PublishError
from edge_greengrass.pki import LocalCertificateAuthority, load_private_key, provision_device
from edge_greengrass.publisher import EnvelopeSigner
from edge_greengrass.transport import MqttEndpoint, MqttIdentity, MqttLink
from tests.envelopes import inflate_parts
from twin_models.jws import envelope_document, open_envelope
from twin_models.telemetry import EnvelopeError, Sample, topic_for
from twinledger.local.bridge import MqttIngestBridge
from twinledger.local.broker import BRIDGE_IDENTITY, MosquittoBroker, find_mosquitto, free_port
from twinledger.local.broker import SHADOW_SERVICE_IDENTITY as SHADOW_SERVICE

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed (apt-get install mosquitto)"),
]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    with MosquittoBroker(tmp_path / "broker", port=free_port()) as running:
        yield running


def _link(broker: MosquittoBroker, name: str) -> MqttLink:
    creds = broker.client_credentials(name)
    endpoint = MqttEndpoint("127.0.0.1", broker.port, broker.ca_certificate)
    link = MqttLink(endpoint, MqttIdentity(name, creds.certificate, creds.private_key)).start()
    assert link.wait_connected(10), f"{name} could not connect"
    return link


class Collector:
    """An ingest handler that records each body and whether its signature verified."""

    def __init__(self, public_key: Any) -> None:
        self.public_key = public_key
        self.results: list[tuple[str, int, str]] = []
        self.event = threading.Event()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        for record in event["Records"]:
            doc = envelope_document(record["body"])
            try:
                open_envelope(record["body"], self.public_key, now=datetime.now(UTC))
                outcome = "verified"
            except EnvelopeError as exc:
                outcome = exc.reason
            self.results.append((doc["machine_id"], doc["seq"], outcome))
        self.event.set()
        return {"batchItemFailures": []}

    def wait_for(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.results) < count and time.monotonic() < deadline:
            time.sleep(0.05)


def _bridge(broker: MosquittoBroker, handler: Any, tmp_path: Path) -> MqttIngestBridge:
    creds = broker.client_credentials(BRIDGE_IDENTITY)
    endpoint = MqttEndpoint("127.0.0.1", broker.port, broker.ca_certificate)
    return MqttIngestBridge(
        endpoint,
        MqttIdentity("bridge", creds.certificate, creds.private_key),
        handler,
        inbox_path=tmp_path / "inbox.db",
    ).start()


def _envelope(signer: EnvelopeSigner, thing: str, seq: int) -> bytes:
    sample = Sample(ts=datetime(2026, 1, 5, 6, tzinfo=UTC), state=100, spindle_speed_rpm=8000, part_count=3)
    return signer.build(thing, seq, [sample])


def test_thing_cannot_publish_on_another_things_topic(broker: MosquittoBroker, tmp_path: Path) -> None:
    # Given: cnc-01 connected with its own certificate, and the bridge listening to all telemetry
    key = provision_device(tmp_path / "gw", "gw").private_key
    signer = EnvelopeSigner(site="plant-a", key=load_private_key(key), key_id="gw")
    collector = Collector(load_private_key(key).public_key())
    bridge = _bridge(broker, collector, tmp_path)
    cnc01 = _link(broker, "cnc-01")
    try:
        # When: it publishes on cnc-02's topic, then on its own
        with pytest.raises(PublishError, match="reason code 135"):
            cnc01.publish(topic_for("plant-a", "cnc-02"), _envelope(signer, "cnc-02", 0)).result(10)
        cnc01.publish(topic_for("plant-a", "cnc-01"), _envelope(signer, "cnc-01", 0)).result(10)
        collector.wait_for(1)
        time.sleep(0.5)
    finally:
        cnc01.stop()
        bridge.stop()
    # Then: the broker refused the first (NOT_AUTHORIZED) and only cnc-01's own envelope arrived
    assert collector.results == [("cnc-01", 0, "verified")]


def test_thing_cannot_read_another_things_shadow(broker: MosquittoBroker) -> None:
    # Given: cnc-01 subscribed to cnc-02's shadow delta (mosquitto grants it, then filters on delivery)
    cnc01, cnc02, shadow_service = _link(broker, "cnc-01"), _link(broker, "cnc-02"), _link(broker, SHADOW_SERVICE)
    topic = "$aws/things/cnc-02/shadow/name/config/update/delta"
    spied: list[str] = []
    delivered = threading.Event()
    try:
        cnc01.subscribe(topic, lambda t, p: spied.append(t))
        cnc02.subscribe(topic, lambda t, p: delivered.set())
        # When: the shadow service publishes a delta for cnc-02
        shadow_service.publish(topic, b'{"state": {"maintenance_mode": true}, "version": 2}').result(10)
        assert delivered.wait(10), "cnc-02 did not receive its own delta"
        time.sleep(0.5)
    finally:
        for link in (cnc01, cnc02, shadow_service):
            link.stop()
    # Then: only cnc-02 got it
    assert spied == []


def _tls_handshake(broker: MosquittoBroker, cert: Path | None = None, key: Path | None = None) -> None:
    context = ssl.create_default_context(cafile=str(broker.ca_certificate))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # the server asks for the client cert in the handshake
    if cert and key:
        context.load_cert_chain(str(cert), str(key))
    with (
        socket.create_connection(("127.0.0.1", broker.port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        # MQTT CONNECT (3.1.1, clean session, client id "x"): a refused peer cannot get a CONNACK back
        tls.sendall(bytes([0x10, 13, 0, 4, *b"MQTT", 4, 2, 0, 60, 0, 1, ord("x")]))
        if not tls.recv(4):
            raise ConnectionError("closed by the broker")


def test_client_without_certificate_is_refused(broker: MosquittoBroker) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        _tls_handshake(broker)


def test_client_with_certificate_of_another_ca_is_refused(broker: MosquittoBroker, tmp_path: Path) -> None:
    rogue_ca = LocalCertificateAuthority.create(tmp_path / "rogue-ca")
    rogue = provision_device(tmp_path / "rogue", "cnc-01", ca=rogue_ca)
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        _tls_handshake(broker, rogue.certificate, rogue.private_key)


def test_valid_certificate_handshake_succeeds(broker: MosquittoBroker) -> None:
    creds = broker.client_credentials("cnc-01")
    _tls_handshake(broker, creds.certificate, creds.private_key)  # the control case: no exception


def test_tampered_envelope_is_detected_downstream(broker: MosquittoBroker, tmp_path: Path) -> None:
    # Given: a signed envelope, and a copy with one sample value changed after signing
    key = provision_device(tmp_path / "gw", "gw").private_key
    signer = EnvelopeSigner(site="plant-a", key=load_private_key(key), key_id="gw")
    collector = Collector(load_private_key(key).public_key())
    bridge = _bridge(broker, collector, tmp_path)
    cnc01 = _link(broker, "cnc-01")
    genuine = _envelope(signer, "cnc-01", 0)
    head, _, signature = _envelope(signer, "cnc-01", 1).split(b".")  # a v3 envelope: a JWS over the bytes
    doc = inflate_parts(envelope_document(_envelope(signer, "cnc-01", 1)), 300)  # bill for many more parts
    forged = base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=")
    tampered = b".".join((head, forged, signature))
    try:
        # When: both travel the whole way through broker and bridge
        cnc01.publish(topic_for("plant-a", "cnc-01"), genuine).result(10)
        cnc01.publish(topic_for("plant-a", "cnc-01"), tampered).result(10)
        collector.wait_for(2)
    finally:
        cnc01.stop()
        bridge.stop()
    # Then: the genuine one verifies and the tampered one fails with bad_signature
    assert collector.results == [("cnc-01", 0, "verified"), ("cnc-01", 1, "bad_signature")]
