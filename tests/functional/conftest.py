"""Functional fixtures: moto in-process with every table and bucket, registered devices."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from moto import mock_aws

from chalicelib import wiring
from chalicelib.adapters import aws
from chalicelib.adapters.chain.config import reset_chain
from chalicelib.adapters.tables import create_resources
from chalicelib.adapters.twins import DeviceRegistry
from chalicelib.billing.service import BillingService
from chalicelib.ingest.pipeline import IngestPipeline
from chalicelib.ports.chain import LeaseContracts
from chalicelib.wiring import Services
from twin_models.signing import generate_private_key, public_key_pem, seal
from twin_models.telemetry import Sample, TelemetryEnvelope
from twin_models.tenancy import Device

T0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
JWT_SECRET = "functional-test-secret-of-32-bytes-or-more"


@pytest.fixture
def moto_aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto for every AWS service, with the project's tables and buckets created."""
    monkeypatch.setenv("TWINLEDGER_JWT_SECRET", JWT_SECRET)
    monkeypatch.setenv("TWINLEDGER_AUTH_MODE", "jwt")
    with mock_aws():
        aws.reset_clients()
        wiring.reset()
        create_resources(aws.client("dynamodb"), aws.client("s3"))
        yield
    aws.reset_clients()
    wiring.reset()


@dataclass
class Gateway:
    """A registered machine and its gateway's device key."""

    device: Device
    key: ec.EllipticCurvePrivateKey
    key_id: str

    def envelope(self, seq: int, samples: list[Sample]) -> TelemetryEnvelope:
        return seal(self.device.machine_id, self.device.site, seq, samples, self.key, self.key_id)


def register(machine_id: str, lessor: str = "toolmaker", lessee: str | None = "factory-1") -> Gateway:
    """Provision a thing: IoT thing, device-registry entry with its public key."""
    key = generate_private_key()
    key_id = f"{machine_id}/1"
    device = Device(
        machine_id=machine_id,
        site="plant-a",
        line="line-a",
        lessor=lessor,
        lessee=lessee,
        keys={key_id: public_key_pem(key)},
    )
    aws.client("iot").create_thing(thingName=machine_id)
    DeviceRegistry().put(device)
    return Gateway(device, key, key_id)


def samples(start: datetime, n: int, state: int = 100, parts_from: int = 0, every: int = 5) -> list[Sample]:
    """``n`` 1 Hz samples from ``start``; one part every ``every`` seconds."""
    return [
        Sample(ts=start + timedelta(seconds=i), state=state, part_count=parts_from + i // every, spindle_speed_rpm=8000)
        for i in range(n)
    ]


def sqs_event(bodies: list[str], ids: list[str] | None = None) -> dict[str, object]:
    """An SQS event as Lambda receives it from the queue the IoT rule feeds."""
    ids = ids or [f"msg-{i}" for i in range(len(bodies))]
    return {
        "Records": [
            {
                "messageId": mid,
                "receiptHandle": f"rh-{mid}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-central-1:123456789012:twinledger-telemetry",
                "awsRegion": "eu-central-1",
            }
            for mid, body in zip(ids, bodies, strict=True)
        ]
    }


def wire(envelope: TelemetryEnvelope) -> str:
    """The JSON text the gateway publishes."""
    return json.dumps(envelope.to_wire())


def services(**adapters: Any) -> Services:
    """The functions' services as the wiring builds them (AWS adapters on moto), some adapters replaced."""
    return wiring.build(**adapters)


def ingest_service(**adapters: Any) -> IngestPipeline:
    """The ingest pipeline over the configured adapters, some replaced (``history=``, ``shadows=``, ...)."""
    return services(**adapters).ingest


def billing_service(*, anchor: LeaseContracts | None = None, archive: Any = None, **adapters: Any) -> BillingService:
    """The billing service; ``anchor`` posts invoices on chain (None: posting off), ``archive`` keeps documents."""
    if archive is not None:
        adapters["invoice_archive"] = archive
    return services(lease_contracts=(lambda: anchor) if anchor is not None else None, **adapters).billing


def reset_services() -> None:
    """Forget the built services and the in-process chain (after changing the environment)."""
    wiring.reset()
    reset_chain()
