"""Ingest with an anomaly model configured: the health shadow follows, a fault opens one ticket in the
machine's maintenance log, whose head is anchored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib import wiring
from chalicelib.adapters.twins import ShadowStore
from chalicelib.ports.anomaly import EndpointError
from tests.functional.conftest import Gateway, register, reset_services, sqs_event, wire
from twin_models.anomaly import AnomalyModel, telemetry_features
from twin_models.anomaly.synthetic import synthetic_samples
from twin_models.telemetry import Sample
from twinledger.files.anomaly import save_model_dir
from twinledger.local.inprocess_endpoint import InProcessEndpoint

pytestmark = pytest.mark.usefixtures("moto_aws")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained on four hours of healthy telemetry."""
    model = AnomalyModel.fit(telemetry_features(synthetic_samples(60 * 240, seed=21), window=60))
    return save_model_dir(model, tmp_path_factory.mktemp("model"))


@pytest.fixture
def scoring(model_dir: Path, moto_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The in-process endpoint and an in-memory anchoring queue."""
    monkeypatch.setenv("TWINLEDGER_ANCHOR_STORE", "memory")
    reset_services()
    with wiring.override(endpoint=InProcessEndpoint(model_dir)):
        yield
    reset_services()


def envelopes(gw: Gateway, fault: str | None, minutes: int, seed: int) -> list[str]:
    rows = [Sample(**row) for row in synthetic_samples(60 * minutes, seed=seed, fault=fault, onset=0.0, severity=2.5)]
    return [wire(gw.envelope(i, rows[60 * i : 60 * (i + 1)])) for i in range(minutes)]


@pytest.mark.usefixtures("scoring")
def test_healthy_machine_stays_ok_and_opens_nothing() -> None:
    gw = register("cnc-01")
    outcome = wiring.services().ingest.handle_batch(sqs_event(envelopes(gw, None, 10, seed=5)))
    assert outcome.health_updates == 1 and outcome.tickets == []
    health = ShadowStore().get("cnc-01", "health")
    assert health is not None and health[0]["severity"] == "ok"


@pytest.mark.usefixtures("scoring")
def test_bearing_fault_raises_severity_and_opens_one_anchored_ticket() -> None:
    gw = register("cnc-03")
    service = wiring.services().ingest
    bodies = envelopes(gw, "bearing", 10, seed=9)
    first = service.handle_batch(sqs_event(bodies[:5]))
    second = service.handle_batch(sqs_event(bodies[5:], ids=[f"b{i}" for i in range(5)]))
    health = ShadowStore().get("cnc-03", "health")
    assert health is not None and health[0]["severity"] in ("warning", "critical")
    assert health[0]["action"] == "spindle_bearings"
    alarms = first.tickets + second.tickets
    assert 1 <= len(alarms) <= 2  # the alarm's onset, and its escalation if it rose to critical
    # one ticket for the episode, its alarms in the machine's maintenance log, whose head is anchored
    maintenance = wiring.services().maintenance
    (ticket,) = maintenance.store.tickets("cnc-03")
    assert ticket.component == "spindle_bearings" and ticket.alarms == len(alarms)
    logged = [e for e in maintenance.store.entries("cnc-03") if e.kind == "alarm"]
    assert [e.alarm.ref for e in logged if e.alarm] == [a["ticket_id"] for a in alarms]
    assert maintenance.anchor_heads().as_dict()["submitted"] == 1
    run = wiring.services().anchoring.run_once()
    assert run.anchored == 1


@pytest.mark.usefixtures("scoring")
def test_a_failing_endpoint_does_not_fail_the_batch() -> None:
    gw = register("cnc-04")
    with wiring.override(endpoint=DownEndpoint()):
        outcome = wiring.services().ingest.handle_batch(sqs_event(envelopes(gw, None, 2, seed=3)))
    assert outcome.accepted == 2 and outcome.failed_message_ids == [] and outcome.health_updates == 0
    assert ShadowStore().get("cnc-04", "state") is not None


class DownEndpoint:
    """An anomaly endpoint that cannot be reached."""

    def invoke(self, body: bytes, content_type: str = "application/json") -> bytes:
        raise EndpointError("endpoint twinledger-anomaly is down")
