"""Ingest with an anomaly model configured: the health shadow follows, a fault opens an anchored ticket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib import aws
from chalicelib.chain.wiring import get_anchoring_service, reset_anchoring
from chalicelib.health.dal import reset_adapters
from chalicelib.tables import bucket_name
from chalicelib.twins.dal import ShadowStore
from chalicelib.twins.ingest import IngestService
from tests.functional.conftest import Gateway, register, sqs_event, wire
from twin_models.anomaly import AnomalyModel, save_model_dir, telemetry_features
from twin_models.anomaly.synthetic import synthetic_samples
from twin_models.telemetry import Sample

pytestmark = pytest.mark.usefixtures("moto_aws")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained on four hours of healthy telemetry."""
    model = AnomalyModel.fit(telemetry_features(synthetic_samples(60 * 240, seed=21), window=60))
    return save_model_dir(model, tmp_path_factory.mktemp("model"))


@pytest.fixture
def scoring(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The in-process endpoint and an in-memory anchoring queue."""
    monkeypatch.setenv("TWINLEDGER_ANOMALY_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("TWINLEDGER_ANCHOR_STORE", "memory")
    reset_adapters()
    reset_anchoring()
    yield
    reset_adapters()
    reset_anchoring()


def envelopes(gw: Gateway, fault: str | None, minutes: int, seed: int) -> list[str]:
    rows = [Sample(**row) for row in synthetic_samples(60 * minutes, seed=seed, fault=fault, onset=0.0, severity=2.5)]
    return [wire(gw.envelope(i, rows[60 * i : 60 * (i + 1)])) for i in range(minutes)]


@pytest.mark.usefixtures("scoring")
def test_healthy_machine_stays_ok_and_opens_nothing() -> None:
    gw = register("cnc-01")
    outcome = IngestService().handle_batch(sqs_event(envelopes(gw, None, 10, seed=5)))
    assert outcome.health_updates == 1 and outcome.tickets == []
    health = ShadowStore().get("cnc-01", "health")
    assert health is not None and health[0]["severity"] == "ok"


@pytest.mark.usefixtures("scoring")
def test_bearing_fault_raises_severity_and_opens_one_anchored_ticket() -> None:
    gw = register("cnc-03")
    service = IngestService()
    bodies = envelopes(gw, "bearing", 10, seed=9)
    first = service.handle_batch(sqs_event(bodies[:5]))
    second = service.handle_batch(sqs_event(bodies[5:], ids=[f"b{i}" for i in range(5)]))
    health = ShadowStore().get("cnc-03", "health")
    assert health is not None and health[0]["severity"] in ("warning", "critical")
    assert health[0]["action"] == "spindle_bearings"
    tickets = first.tickets + second.tickets
    assert 1 <= len(tickets) <= 2  # one per alarm, a second only on escalation
    stored = aws.client("s3").get_object(
        Bucket=bucket_name("archive"), Key=f"maintenance/cnc-03/{tickets[0]['ticket_id']}.json"
    )
    assert json.loads(stored["Body"].read())["content_hash"] == tickets[0]["content_hash"]
    run = get_anchoring_service().run_once()
    assert run.anchored == len(tickets)


@pytest.mark.usefixtures("scoring")
def test_a_failing_endpoint_does_not_fail_the_batch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    gw = register("cnc-04")
    monkeypatch.setenv("TWINLEDGER_ANOMALY_MODEL_DIR", str(tmp_path / "missing-model"))
    reset_adapters()
    outcome = IngestService().handle_batch(sqs_event(envelopes(gw, None, 2, seed=3)))
    assert outcome.accepted == 2 and outcome.failed_message_ids == [] and outcome.health_updates == 0
    assert ShadowStore().get("cnc-04", "state") is not None
