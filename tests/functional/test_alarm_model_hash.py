"""Every alarm names the model version that raised it (moto: DynamoDB).

The ingest pipeline's own steps (``ScoreStep`` -> ``QueueStep``, as the wiring builds them) score feature
windows on the in-process endpoint; the alarm they raise, the ``health`` shadow, the ticket and the
maintenance-log entry the alarm opens all carry the ``model_hash`` of the model that scored: the artifact's
hash for a trained model, and for the fleet model a federation produced the global-model hash anchored for
its last round.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chalicelib import wiring
from chalicelib.anomaly import AnomalyService
from chalicelib.ingest.steps import QueueStep, ScoreStep
from chalicelib.wiring import Services
from tests.functional.conftest import T0
from tests.functional.maintenance_support import MACHINE, Clock, register_machine
from twin_models.anomaly import AnomalyModel, fleet_model, model_hash, telemetry_features
from twin_models.anomaly.synthetic import synthetic_samples
from twinledger.federated.anchor import anchor_federation
from twinledger.federated.inprocess import run_inprocess
from twinledger.files.anomaly import MANIFEST_NAME, load_model_dir, save_model_dir
from twinledger.local.inprocess_endpoint import InProcessEndpoint

pytestmark = pytest.mark.usefixtures("moto_aws")

Windows = Callable[[str], list[dict[str, float]]]

#: The fleet model's features: the synthetic federation's five columns, named as telemetry features.
FLEET_FEATURES = ("vibration_rms", "temperature", "spindle_load", "current_per_speed", "power_kw")


class Scripted:
    """The anomaly service as ScoreStep calls it, scoring the next scripted feature windows."""

    def __init__(self, service: AnomalyService, batch: list[dict[str, float]]) -> None:
        self.service, self.batch = service, batch

    def handle_samples(
        self, machine_id: str, samples: Sequence[Any], previous_reported: Mapping[str, Any] | None = None
    ) -> Any:
        return self.service.handle(machine_id, self.batch, previous_reported)


def run_levels(built: Services, clock: Clock, make: Windows, *levels: str) -> list[dict[str, Any] | None]:
    """Score -> queue for one machine, batch by batch, ten minutes apart."""
    assert built.anomaly is not None
    out = []
    for level in levels:
        scorer = Scripted(built.anomaly, make(level))
        score = ScoreStep(scorer, built.adapters.shadows, built.maintenance.observe_health)
        alarm = score.run(MACHINE, [])
        if alarm is not None:
            QueueStep(built.maintenance).run(MACHINE, ("toolmaker", "factory-1"), alarm)
        out.append(alarm)
        clock.advance(minutes=10)
    return out


@pytest.fixture
def machine() -> Clock:
    register_machine()
    return Clock(T0)


def trained_windows(model: AnomalyModel) -> Windows:
    """Healthy windows, or windows with the vibration in the warning band or far above the critical level."""

    def make(level: str) -> list[dict[str, float]]:
        healthy = dict(zip(model.feature_names, model.center.tolist(), strict=True))
        if level == "ok":
            return [healthy, healthy]
        i = model.feature_names.index("vibration_rms")
        cal = model.calibration
        target = (cal.threshold + cal.critical) / 2 if level == "warning" else 1.5 * cal.critical
        z = target * np.sqrt(len(model.feature_names))
        return [dict(healthy, vibration_rms=float(model.center[i] + z * model.scale[i]))] * 2

    return make


def fleet_windows(model: AnomalyModel) -> Windows:
    """Windows on the line through the fleet mean along the weights, at a failure probability below the
    threshold (``ok``) or above the critical level (``critical``)."""
    w = np.asarray(model.detector.weights)  # type: ignore[attr-defined]
    coefficients, intercept = w[:-1], float(w[-1])
    cal = model.calibration

    def make(level: str) -> list[dict[str, float]]:
        p = cal.threshold / 4 if level == "ok" else (1.0 + cal.critical) / 2
        logit = float(np.log(p / (1 - p)))
        z = coefficients * (logit - intercept) / float(coefficients @ coefficients)
        row = model.center + z * model.scale
        return [dict(zip(model.feature_names, row.tolist(), strict=True))] * 3

    return make


def test_alarms_tickets_and_log_entries_name_the_model_that_scored(machine: Clock, tmp_path: Path) -> None:
    model = AnomalyModel.fit(telemetry_features(synthetic_samples(60 * 240, seed=21), window=60))
    directory = save_model_dir(model, tmp_path / "model")
    expected = json.loads((directory / MANIFEST_NAME).read_text())["model_hash"]
    assert expected == model_hash(load_model_dir(directory))
    with wiring.override(endpoint=InProcessEndpoint(directory), clock=machine) as built:
        alarms = run_levels(built, machine, trained_windows(model), "ok", "critical", "critical", "ok")
        raised = [a for a in alarms if a is not None]
        assert raised and {a["model_hash"] for a in raised} == {expected}
        store = built.maintenance.store
        (ticket,) = store.tickets(MACHINE)
        assert ticket.model_hash == expected
        logged = [e.alarm for e in store.entries(MACHINE) if e.alarm is not None]
        assert logged and {a.model_hash for a in logged} == {expected}
        health = built.adapters.shadows.get(MACHINE, "health")
        assert health is not None
        assert health[0]["model"]["model_hash"] == expected


def test_an_escalation_under_a_new_model_version_names_that_version(machine: Clock, tmp_path: Path) -> None:
    first = AnomalyModel.fit(telemetry_features(synthetic_samples(60 * 240, seed=21), window=60))
    second = AnomalyModel.fit(telemetry_features(synthetic_samples(60 * 240, seed=22), window=60))
    raised: list[dict[str, Any]] = []
    for i, (model, levels) in enumerate(((first, ("warning", "warning")), (second, ("critical",)))):
        directory = save_model_dir(model, tmp_path / f"model-{i}")
        with wiring.override(endpoint=InProcessEndpoint(directory), clock=machine) as built:
            raised += [a for a in run_levels(built, machine, trained_windows(model), *levels) if a]
            health = built.adapters.shadows.get(MACHINE, "health")
    versions = [model_hash(load_model_dir(tmp_path / f"model-{i}")) for i in range(2)]
    assert versions[0] != versions[1]
    assert [(a["kind"], a["model_hash"]) for a in raised] == [
        ("maintenance_ticket", versions[0]),
        ("alarm_escalation", versions[1]),
    ]
    # the episode was raised by the first version; the last scoring was the second's
    assert health is not None
    assert health[0]["episode_model_hash"] == versions[0] and health[0]["model"]["model_hash"] == versions[1]


@pytest.fixture(scope="module")
def federation() -> dict[str, Any]:
    logging.getLogger("flwr").setLevel(logging.ERROR)
    result = run_inprocess({"dataset": "synthetic", "clients": 3, "rounds": 3, "aggregation": "trimmed"})
    return {"result": result, "anchored": anchor_federation(result)}


def test_the_fleet_models_alarms_carry_the_anchored_global_model_hash(
    federation: dict[str, Any], machine: Clock, tmp_path: Path
) -> None:
    result, anchored = federation["result"], federation["anchored"]
    assert anchored["verified"]
    model = fleet_model(
        result["manifest"],
        result["weights"],
        mean=result["scale"]["mean"],
        std=result["scale"]["std"],
        feature_names=FLEET_FEATURES,
    )
    directory = save_model_dir(model, tmp_path / "fleet")
    with wiring.override(endpoint=InProcessEndpoint(directory), clock=machine) as built:
        alarms = run_levels(built, machine, fleet_windows(model), "ok", "critical", "critical")
        assert alarms[0] is None
        raised = [a for a in alarms if a is not None]
        assert raised and {a["model_hash"] for a in raised} == {anchored["model_hash"]}
        (ticket,) = built.maintenance.store.tickets(MACHINE)
        assert ticket.model_hash == anchored["model_hash"]
        health = built.adapters.shadows.get(MACHINE, "health")
        assert health is not None
        reported = health[0]
        assert reported["episode_model_hash"] == anchored["model_hash"]
        assert reported["model"]["federation_round"] == result["manifest"]["round"]
    # the anchored record of that round names this hash
    bundle = anchored["model_bundle"]
    assert bundle["record"]["model_hash"] == model_hash(load_model_dir(directory)) == anchored["model_hash"]


def test_a_fleet_model_with_other_weights_is_refused(federation: dict[str, Any], tmp_path: Path) -> None:
    from twin_models.anomaly import ModelArtifactError

    result = federation["result"]
    weights = np.asarray(result["weights"]) + np.r_[np.zeros(len(result["weights"]) - 1), 1e-9]
    with pytest.raises(ModelArtifactError):
        fleet_model(
            result["manifest"],
            weights,
            mean=result["scale"]["mean"],
            std=result["scale"]["std"],
            feature_names=FLEET_FEATURES,
        )


@pytest.fixture(autouse=True)
def _clean(moto_aws: None) -> Iterator[None]:
    from tests.functional.conftest import reset_services

    reset_services()
    yield
    reset_services()
