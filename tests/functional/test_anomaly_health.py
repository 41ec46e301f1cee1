"""The health service under moto: health shadow body, one ticket per alarm, one page per fault."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chalicelib.adapters import aws
from chalicelib.adapters.anomaly import CooldownStore
from chalicelib.anomaly import AnomalyService, maintenance_ticket, score_windows
from chalicelib.anomaly.errors import ScoringFailedError as EndpointError
from tests.functional.conftest import services
from twin_models.anomaly import AnomalyModel, telemetry_features
from twin_models.anomaly.synthetic import synthetic_samples
from twin_models.merkle import keccak256
from twin_models.signing import canonical_bytes
from twin_models.telemetry import Sample
from twinledger.files.anomaly import save_model_dir
from twinledger.local.inprocess_endpoint import InProcessEndpoint

pytestmark = pytest.mark.usefixtures("moto_aws")

START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = AnomalyModel.fit(telemetry_features(synthetic_samples(60 * 240, seed=21), window=60))
    return save_model_dir(model, tmp_path_factory.mktemp("model"))


@pytest.fixture
def alerts(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The in-process model, an SNS topic with a queue subscribed; yields the queue URL."""
    _ENDPOINT[:] = [InProcessEndpoint(model_dir)]
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name="twinledger-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="pager")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    monkeypatch.setenv("TWINLEDGER_ALERT_TOPIC_ARN", topic)
    yield queue
    _ENDPOINT.clear()


_ENDPOINT: list[InProcessEndpoint] = []


def anomaly_service(clock: Any) -> AnomalyService:
    """The anomaly service with its page guard and publisher: the in-process model, cooldowns and SNS on moto.

    (In the ingest path the wiring gives it neither: a critical alarm pages through its maintenance ticket,
    once per ticket — tests/functional/test_maintenance_alarms.py.)"""
    adapters = services(endpoint=_ENDPOINT[0], clock=clock).adapters
    assert adapters.endpoint is not None and adapters.alerts is not None
    return AnomalyService(adapters.endpoint, adapters.cooldowns, adapters.alerts, clock=clock)


def pages(queue: str) -> list[dict[str, Any]]:
    got = aws.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in got]


def windows(fault: str | None, n: int, seed: int, severity: float = 2.0) -> list[dict[str, Any]]:
    rows = synthetic_samples(60 * n, seed=seed, fault=fault, onset=0.0, severity=severity)
    return [{"samples": [dict(s, ts=s["ts"].isoformat()) for s in rows[i : i + 60]]} for i in range(0, 60 * n, 60)]


def feature_windows(model_dir: Path, feature: str, level: str, n: int) -> list[dict[str, float]]:
    """Feature windows whose score sits half-way into the warning band (or at 1.5 x critical)."""
    from twinledger.files.anomaly import load_model_dir

    model = load_model_dir(model_dir)
    cal = model.calibration
    target = (cal.threshold + cal.critical) / 2 if level == "warning" else cal.critical * 1.5
    i = model.feature_names.index(feature)
    healthy = dict(zip(model.feature_names, model.center.tolist(), strict=True))
    z = target * np.sqrt(len(model.feature_names))  # zscore, p=2: score = |z| / sqrt(n)
    return [dict(healthy, **{feature: float(model.center[i] + z * model.scale[i])}) for _ in range(n)]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def test_healthy_batches_update_the_shadow_and_nothing_else(alerts: str) -> None:
    service = anomaly_service(clock=Clock())
    outcome = service.handle("mill-01", windows(None, 5, seed=1))
    reported = outcome.shadow["state"]["reported"]
    assert reported["severity"] == "ok"
    assert reported["alarm"] is False
    assert reported["updated_at"] == "2026-01-05T06:00:00Z"
    assert reported["action_text"]
    shares = [c["share"] for c in reported["contributions"]]  # a list, so a shadow update replaces it
    assert shares == sorted(shares, reverse=True)
    assert {"over", "over_clear", "active", "below", "age", "escalated"} <= set(reported["alarm_state"])
    assert outcome.ticket is None
    assert outcome.alert is None
    assert pages(alerts) == []


def test_a_fault_is_one_ticket_and_one_page_per_cooldown(alerts: str) -> None:
    clock = Clock()
    service = anomaly_service(clock=clock)
    reported: dict[str, Any] | None = None
    tickets, results = [], []
    # Given a bearing fault that stays critical over four batches, ten minutes apart
    for batch in range(4):
        outcome = service.handle("mill-01", windows("bearing", 5, seed=10 + batch, severity=4.0), reported)
        reported = outcome.shadow["state"]["reported"]
        results.append(outcome)
        if outcome.ticket:
            tickets.append(outcome.ticket)
        clock.now += timedelta(minutes=10)
    # Then one ticket (when the alarm was raised) and one page
    assert [o.result.severity for o in results] == ["critical"] * 4
    assert len(tickets) == 1
    assert tickets[0]["action"] == "spindle_bearings"
    sent = pages(alerts)
    assert len(sent) == 1
    assert sent[0]["machine_id"] == "mill-01"
    assert sent[0]["ticket_id"] == tickets[0]["ticket_id"]
    # When the cooldown has passed and the same episode goes on, it neither pages nor opens a ticket again
    clock.now += timedelta(hours=1)
    again = service.handle("mill-01", windows("bearing", 5, seed=30, severity=4.0), reported)
    assert again.result.alarm is True
    assert again.alert is None and again.ticket is None
    assert pages(alerts) == []


def test_another_machine_or_fault_is_paged_separately(alerts: str) -> None:
    service = anomaly_service(clock=Clock())
    a = service.handle("mill-01", windows("bearing", 5, seed=1, severity=4.0))
    b = service.handle("mill-02", windows("bearing", 5, seed=2, severity=4.0))
    c = service.handle("mill-01", windows("cooling", 5, seed=3, severity=4.0))
    assert {a.result.action, c.result.action} == {"spindle_bearings", "cooling_system"}
    assert all(o.alert is not None for o in (a, b, c))
    assert len(pages(alerts)) == 3


def test_warning_opens_a_ticket_with_a_verifiable_content_hash(alerts: str, model_dir: Path) -> None:
    service = anomaly_service(clock=Clock())
    outcome = service.handle("mill-03", feature_windows(model_dir, "temperature_rise", "warning", 5))
    assert outcome.result.severity == "warning"
    ticket = outcome.ticket
    assert ticket is not None
    body = {k: v for k, v in ticket.items() if k not in ("content_hash", "ticket_id")}
    assert ticket["content_hash"] == "0x" + keccak256(canonical_bytes(body)).hex()
    assert ticket["severity"] == "warning" and ticket["action"] == "cooling_system"
    assert outcome.alert is None  # warnings are tickets, not pages
    assert pages(alerts) == []
    # the same ticket body always hashes the same
    assert maintenance_ticket(outcome.result, START)["content_hash"] == ticket["content_hash"]


def test_escalation_from_warning_to_critical_pages_once_and_opens_no_second_ticket(
    alerts: str, model_dir: Path
) -> None:
    service = anomaly_service(clock=Clock())
    first = service.handle("mill-04", feature_windows(model_dir, "temperature_rise", "warning", 5))
    again = service.handle(
        "mill-04", feature_windows(model_dir, "temperature_rise", "warning", 2), first.shadow["state"]["reported"]
    )
    second = service.handle(
        "mill-04", feature_windows(model_dir, "temperature_rise", "critical", 2), again.shadow["state"]["reported"]
    )
    assert again.ticket is None  # still the same warning
    assert (first.result.severity, second.result.severity) == ("warning", "critical")
    # one episode, one ticket (at its onset); its first critical pages
    assert first.ticket is not None and second.ticket is None
    assert first.alert is None and second.alert is not None
    assert second.shadow["state"]["reported"]["episode_ticket"] == first.ticket["ticket_id"]
    # flapping between warning and critical within the same alarm opens no further ticket
    reported = second.shadow["state"]["reported"]
    for level in ("warning", "critical", "warning", "critical"):
        step = service.handle("mill-04", feature_windows(model_dir, "temperature_rise", level, 1), reported)
        assert step.result.alarm is True
        assert step.ticket is None and step.alert is None
        reported = step.shadow["state"]["reported"]
    assert reported["episode_severity"] == "critical"


def test_cooldown_store_is_conditional(alerts: str) -> None:
    store = CooldownStore()
    assert store.try_acquire("m#a", 1000, 60) is True
    assert store.try_acquire("m#a", 1059, 60) is False
    assert store.try_acquire("m#a", 1060, 60) is True
    assert services().adapters.alerts is not None


def test_client_errors_are_endpoint_errors(alerts: str) -> None:
    with pytest.raises(EndpointError, match="non-numeric"):
        score_windows("mill-01", [{"vibration_rms": "loud"}], endpoint=_ENDPOINT[0])


def test_temperature_baseline_is_learnt_from_healthy_batches_only(alerts: str) -> None:
    service = anomaly_service(clock=Clock())
    first = service.handle("mill-05", windows(None, 4, seed=7))
    baseline = first.shadow["state"]["reported"]["baseline_temperature_c"]
    assert 30.5 < baseline < 31.5  # the synthetic machine runs at 31 degC
    hot = service.handle("mill-05", windows("cooling", 4, seed=8, severity=4.0), first.shadow["state"]["reported"])
    assert hot.result.action == "cooling_system"
    assert hot.shadow["state"]["reported"]["baseline_temperature_c"] == baseline


def test_the_lambda_side_loads_no_numeric_stack() -> None:
    # the ingest Lambda calls the endpoint; numpy, pandas and scikit-learn stay in the model container
    code = (
        "import sys, chalicelib.anomaly\n"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'pandas', 'sklearn', 'scipy'})))"
    )
    functions_dir = Path(__file__).resolve().parents[2] / "functions"
    done = subprocess.run([sys.executable, "-c", code], cwd=functions_dir, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_ingest_samples_are_cut_into_windows(alerts: str) -> None:
    service = anomaly_service(clock=Clock())
    batch = [Sample(**s) for s in synthetic_samples(150, seed=12)]
    outcome = service.handle_samples("mill-06", batch)
    assert outcome is not None
    assert outcome.shadow["state"]["reported"]["windows"] == 3  # 60 + 60 + a 30-sample tail
    assert outcome.result.severity == "ok"
    assert service.handle_samples("mill-06", batch[:20]) is None


def test_shadow_body_round_trips_through_the_named_shadow(alerts: str) -> None:
    # Given a thing with a `health` named shadow written by two consecutive batches
    aws.client("iot").create_thing(thingName="mill-07")
    data = aws.client("iot-data")
    service = anomaly_service(clock=Clock())
    reported: dict[str, Any] | None = None
    for fault in ("bearing", "cooling"):
        outcome = service.handle("mill-07", windows(fault, 5, seed=40, severity=4.0), reported)
        data.update_thing_shadow(thingName="mill-07", shadowName="health", payload=json.dumps(outcome.shadow).encode())
        found = json.loads(data.get_thing_shadow(thingName="mill-07", shadowName="health")["payload"].read())
        reported = found["state"]["reported"]
    # Then the stored document is the latest verdict, with no contributions left over from the first
    assert reported is not None
    assert reported["action"] == "cooling_system"
    assert reported["contributions"] == outcome.shadow["state"]["reported"]["contributions"]
