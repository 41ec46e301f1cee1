"""The anomaly health path into the maintenance log (moto: DynamoDB, SNS with a queue subscribed): one ticket
per fault episode, an escalation warning -> critical updates it, a critical ticket pages once, and the
scorings are kept for the health trend.

The steps are the ingest pipeline's own (``ScoreStep`` -> ``QueueStep``, as the wiring builds them), fed
feature windows whose score sits in the warning band or above the critical level.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chalicelib import wiring
from chalicelib.adapters import aws
from chalicelib.anomaly import AnomalyService
from chalicelib.ingest.steps import QueueStep, ScoreStep
from chalicelib.wiring import Services
from tests.functional.conftest import T0, reset_services
from tests.functional.maintenance_support import MACHINE, PLAN, Clock, register_machine
from twin_models.anomaly import AnomalyModel, telemetry_features
from twin_models.anomaly.synthetic import synthetic_samples
from twin_models.maintenance import Author, EntryContent, TicketEvent
from twinledger.files.anomaly import load_model_dir, save_model_dir
from twinledger.local.inprocess_endpoint import InProcessEndpoint

pytestmark = pytest.mark.usefixtures("moto_aws")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = AnomalyModel.fit(telemetry_features(synthetic_samples(60 * 240, seed=21), window=60))
    return save_model_dir(model, tmp_path_factory.mktemp("model"))


@pytest.fixture
def pager(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An SNS topic for critical alerts with a queue subscribed; yields the queue URL."""
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name="twinledger-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="pager")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    monkeypatch.setenv("TWINLEDGER_ALERT_TOPIC_ARN", topic)
    reset_services()
    yield queue
    reset_services()


def pages(queue: str) -> list[dict[str, Any]]:
    got = aws.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in got]


class Scripted:
    """The anomaly service as ScoreStep calls it, scoring the next scripted feature windows."""

    def __init__(self, service: AnomalyService, batches: list[list[dict[str, float]]]) -> None:
        self.service = service
        self.batches = batches

    def handle_samples(
        self, machine_id: str, samples: Sequence[Any], previous_reported: Mapping[str, Any] | None = None
    ) -> Any:
        return self.service.handle(machine_id, self.batches.pop(0), previous_reported)


def windows(model_dir: Path, level: str, n: int = 2, feature: str = "vibration_rms") -> list[dict[str, float]]:
    """Feature windows whose score sits half-way into the warning band, at 1.5 x critical, or healthy."""
    model = load_model_dir(model_dir)
    cal = model.calibration
    healthy = dict(zip(model.feature_names, model.center.tolist(), strict=True))
    if level == "ok":
        return [healthy for _ in range(n)]
    target = (cal.threshold + cal.critical) / 2 if level == "warning" else cal.critical * 1.5
    i = model.feature_names.index(feature)
    z = target * np.sqrt(len(model.feature_names))
    return [dict(healthy, **{feature: float(model.center[i] + z * model.scale[i])}) for _ in range(n)]


class Path_:
    """Score -> queue for one machine, batch by batch, ten minutes apart."""

    def __init__(self, built: Services, clock: Clock, model_dir: Path) -> None:
        self.built, self.clock, self.model_dir = built, clock, model_dir
        anomaly = built.anomaly
        assert anomaly is not None
        self.anomaly = anomaly

    def run(self, *levels: str) -> list[dict[str, Any] | None]:
        out = []
        for level in levels:
            scorer = Scripted(self.anomaly, [windows(self.model_dir, level)])
            score = ScoreStep(scorer, self.built.adapters.shadows, self.built.maintenance.observe_health)
            alarm = score.run(MACHINE, [])
            if alarm is not None:
                QueueStep(self.built.maintenance).run(MACHINE, ("toolmaker", "factory-1"), alarm)
            out.append(alarm)
            self.clock.advance(minutes=10)
        return out


@pytest.fixture
def path(model_dir: Path, pager: str) -> Iterator[Path_]:
    register_machine()
    clock = Clock(T0)
    with wiring.override(endpoint=InProcessEndpoint(model_dir), clock=clock) as built:
        built.maintenance.store.put_plan(_plan())
        yield Path_(built, clock, model_dir)


def _plan() -> Any:
    from chalicelib.ports.maintenance import PublishedPlan
    from twin_models.maintenance import load_plan

    return PublishedPlan(load_plan(PLAN), "toolmaker", T0, "lars")


def test_an_escalating_fault_is_one_ticket_that_pages_once(path: Path_, pager: str) -> None:
    alarms = path.run("ok", "warning", "warning", "critical", "critical", "warning", "critical")
    store = path.built.maintenance.store

    (ticket,) = store.tickets(MACHINE)
    assert [a["kind"] for a in alarms if a] == ["maintenance_ticket", "alarm_escalation"]
    assert (ticket.state, ticket.severity, ticket.alarms) == ("open", "critical", 2)
    assert ticket.escalated_at is not None and ticket.paged_at is not None
    events = [e.ticket_event.event for e in store.entries(MACHINE) if e.ticket_event]
    assert events == ["opened", "escalated"]
    sent = pages(pager)
    assert len(sent) == 1 and sent[0]["ticket_id"] == ticket.ticket_id and sent[0]["component"] == "spindle_bearings"
    # the instruction follows the plan's trigger for a critical bearing alarm
    assert ticket.instruction.startswith("spindle bearing vibration rising;")
    assert ticket.instruction.endswith("inspect within 12 h")


def test_a_fault_that_clears_and_comes_back_stays_one_ticket_until_it_is_closed(path: Path_, pager: str) -> None:
    maintenance = path.built.maintenance
    path.run("ok", "critical", "critical")
    assert len(pages(pager)) == 1
    (ticket,) = maintenance.store.tickets(MACHINE)
    # the anomaly service sees a second episode (the alarm cleared); the ticket is still open: it recurs
    alarm = {**_onset("critical"), "ticket_id": "cnc-01-second", "opened_at": "2026-01-05T09:00:00Z"}
    assert maintenance.record_alarm(MACHINE, (), alarm) is True
    assert maintenance.record_alarm(MACHINE, (), alarm) is False  # the same alarm delivered again
    (same,) = maintenance.store.tickets(MACHINE)
    assert (same.ticket_id, same.alarms) == (ticket.ticket_id, 2)
    assert pages(pager) == []  # paged once for the episode
    # once the ticket is dismissed, the next alarm opens a new ticket (and pages after the cooldown)
    tech = Author(subject="tom", tenant="toolmaker", role="service_technician")
    maintenance._append(
        MACHINE,
        lambda head: _dismissal(maintenance, ticket.ticket_id, tech, path.clock.now),
    )
    path.clock.advance(hours=2)
    maintenance.record_alarm(MACHINE, (), {**alarm, "ticket_id": "cnc-01-third", "opened_at": "2026-01-05T11:00:00Z"})
    tickets = maintenance.store.tickets(MACHINE)
    assert [t.state for t in tickets] == ["dismissed", "open"]
    assert len(pages(pager)) == 1


def _onset(severity: str) -> dict[str, Any]:
    return {
        "kind": "maintenance_ticket",
        "machine_id": MACHINE,
        "severity": severity,
        "action": "spindle_bearings",
        "action_text": "Inspect the spindle bearings.",
        "score": 9.0,
        "threshold": 1.5,
    }


def _dismissal(maintenance: Any, ticket_id: str, tech: Author, at: Any) -> Any:
    from chalicelib.maintenance.service import _Write

    current = maintenance.store.ticket(MACHINE, ticket_id)
    content = EntryContent(
        kind="note",
        occurred_at=at,
        text="bearing noise is the chip conveyor",
        ticket_event=TicketEvent(ticket_id=ticket_id, event="dismissed", reason="chip conveyor"),
    )
    return _Write(content, tech, current, fold=True)


def test_a_warning_never_pages(path: Path_, pager: str) -> None:
    path.run("warning", "warning", "warning")
    (ticket,) = path.built.maintenance.store.tickets(MACHINE)
    assert ticket.severity == "warning" and ticket.paged_at is None
    assert pages(pager) == []


def test_every_scoring_is_kept_for_the_trend(path: Path_) -> None:
    path.run("ok", "ok", "warning", "critical")
    points = path.built.maintenance.store.health(MACHINE, T0 - timedelta(hours=1), T0 + timedelta(hours=2))
    assert len(points) == 4 and points[0].severity == "ok" and points[-1].severity == "critical"
    assert points[0].score < points[2].score < points[3].score
    assert points[-1].shares.get("spindle_bearings", 0) > 0.5 and points[-1].score > points[-1].critical


def test_an_alarm_for_an_unregistered_machine_is_dropped(path: Path_) -> None:
    assert path.built.maintenance.record_alarm("cnc-77", (), _onset("warning")) is False
