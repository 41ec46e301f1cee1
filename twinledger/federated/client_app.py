"""The lessee's ``ClientApp``: answers the lessor's statistics and sketch queries and trains locally.

The lessee is configured by its SuperNode's node config: ``partition-id`` (which lessee of the dataset it
is), optionally ``attack`` (``scale``, ``signflip``, ``labelflip`` or ``backdoor``: a manipulating lessee,
for the robustness runs). The run config names the ``dataset``, ``clients``, ``data-dir`` and optionally
the ``split`` and the mill's window (``mill-window``, rows; see
:func:`~twinledger.federated.data.load_partitions`). What it returns carries no rows, no machine ids
and no row counts: normalised statistics, weights, histogram fractions, each with a bucketed weight.
With ``dp-epsilon`` in the run config, Flower's ``LocalDpMod`` clips and noises every training update
before it leaves (:func:`local_privacy`).

Example:
    >>> from twinledger.federated.client_app import app
    >>> type(app).__name__
    'ClientApp'
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MessageType, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.clientapp.mod import LocalDpMod
from flwr.clientapp.typing import ClientAppCallable
from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.compat.common import recorddict_compat as compat

from twin_models.federated import ATTACKS, Attack, MomentDetector
from twinledger.federated.data import MILL_WINDOW, Partition, load_partitions
from twinledger.federated.task import (
    TrainConfig,
    healthy_statistics,
    local_train,
    score_sketches,
    validation_sketches,
)

__all__ = ["app"]


def local_privacy(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Flower's ``LocalDpMod`` on training replies when the run config sets ``dp-epsilon`` > 0.

    The mod clips the lessee's update to ``dp-clip`` and adds Gaussian noise for (``dp-epsilon``,
    ``dp-delta``)-DP per round with sensitivity ``2 x dp-clip`` (any two datasets of a lessee give updates
    inside the same ball): the lessor learns the same about a lessee's data whatever its rows were, up to
    that budget, composed over the rounds.
    """
    epsilon = float(context.run_config.get("dp-epsilon", 0.0))
    if msg.metadata.message_type != MessageType.TRAIN or epsilon <= 0:
        return call_next(msg, context)
    clip = float(context.run_config.get("dp-clip", 1.0))
    delta = float(context.run_config.get("dp-delta", 1e-5))
    return LocalDpMod(clip, 2.0 * clip, epsilon, delta)(msg, context, call_next)


def secure_aggregation(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Flower's ``secaggplus_mod`` when the run config sets ``secure-aggregation``: the lessee's weights
    leave it only masked (pairwise masks and Shamir shares of its secret keys), so the lessor learns
    their weighted sum over the round's lessees, not any single lessee's weights."""
    if not bool(context.run_config.get("secure-aggregation", False)):
        return call_next(msg, context)
    from flwr.client.mod import secaggplus_mod

    return secaggplus_mod(msg, context, call_next)


app = ClientApp(mods=[secure_aggregation, local_privacy])


def _partition(context: Context) -> Partition:
    run = context.run_config
    parts = load_partitions(
        str(run.get("dataset", "synthetic")),
        clients=int(run.get("clients", 4)),
        # a lessee's own data location (its SuperNode's node config) wins over the run's
        data_dir=str(context.node_config.get("data-dir", "") or run.get("data-dir", "")) or None,
        seed=int(run.get("seed", 0)),
        split=str(run.get("split", "test")),
        mill_window=int(run.get("mill-window", MILL_WINDOW)),
    )
    return parts[int(context.node_config["partition-id"])]


def _attack(context: Context) -> Attack | None:
    value = str(context.node_config.get("attack", ""))
    for attack in ATTACKS:
        if value == attack:
            return attack
    return None


def _scale(config: ConfigRecord) -> MomentDetector:
    return MomentDetector(np.asarray(config["mean"], dtype=float), np.asarray(config["std"], dtype=float))


def _arrays(values: dict[str, Any]) -> ArrayRecord:
    return ArrayRecord({k: Array(np.atleast_1d(np.asarray(v, dtype=float))) for k, v in values.items()})


@app.query()
def query(msg: Message, context: Context) -> Message:
    """``statistics``: the healthy moments as shared; ``sketch``: healthy score histograms of a model;
    ``validation``: histograms of a model's log-odds on the lessee's ``x_test`` rows, by class."""
    config = msg.content.config_records["config"]
    part = _partition(context)
    lessee = ConfigRecord({"lessee": part.name})
    if config["kind"] == "statistics":
        shared = healthy_statistics(part, bucket=bool(config.get("bucket", True)))
        return Message(RecordDict({"statistics": _arrays(shared), "lessee": lessee}), reply_to=msg)
    weights = msg.content.array_records["arrays"].to_numpy_ndarrays()[0]
    features = str(config.get("features", "linear"))
    if config["kind"] == "validation":
        sketches = validation_sketches(weights, part, _scale(config), features)
    else:
        sketches = score_sketches(weights, part, _scale(config), features)
    content: dict[str, Any] = {"lessee": lessee}
    for name, sketch in sketches.items():
        content[name] = _arrays({"fractions": sketch.fractions, "weight": sketch.weight})
    return Message(RecordDict(content), reply_to=msg)


def _legacy_train(msg: Message, context: Context) -> Message:
    """The same training in the legacy ``FitIns`` / ``FitRes`` form the SecAgg+ workflow speaks."""
    fitins = compat.recorddict_to_fitins(msg.content, keep_input=True)
    weights = parameters_to_ndarrays(fitins.parameters)[0]
    config = fitins.config
    settings = TrainConfig(
        epochs=int(config.get("epochs", 30)),
        learning_rate=float(config.get("learning-rate", 0.5)),
        mu=float(config.get("mu", 0.01)),
        attack_factor=float(config.get("attack-factor", 10.0)),
        features=str(config.get("features", "linear")),
    )
    # the legacy configuration holds scalars only: the standardiser comes as JSON text
    scale = MomentDetector(
        np.asarray(json.loads(str(config["mean"])), dtype=float),
        np.asarray(json.loads(str(config["std"])), dtype=float),
    )
    new, weight = local_train(weights, _partition(context), scale, settings, _attack(context))
    fitres = FitRes(Status(Code.OK, ""), ndarrays_to_parameters([new]), int(weight), {})
    return Message(compat.fitres_to_recorddict(fitres, keep_input=False), reply_to=msg)


@app.train()
def train(msg: Message, context: Context) -> Message:
    """Train from the global weights on the lessee's rows; reply with the new weights and a bucketed weight."""
    if "fitins.parameters" in msg.content.array_records:
        return _legacy_train(msg, context)
    config = msg.content.config_records["config"]
    weights = msg.content.array_records["arrays"].to_numpy_ndarrays()[0]
    settings = TrainConfig(
        epochs=int(config.get("epochs", 30)),  # type: ignore[arg-type]
        learning_rate=float(config.get("learning-rate", 0.5)),  # type: ignore[arg-type]
        mu=float(config.get("mu", 0.01)),  # type: ignore[arg-type]
        attack_factor=float(config.get("attack-factor", 10.0)),  # type: ignore[arg-type]
        features=str(config.get("features", "linear")),
    )
    new, weight = local_train(weights, _partition(context), _scale(config), settings, _attack(context))
    return Message(
        RecordDict({"arrays": ArrayRecord([new]), "metrics": MetricRecord({"num-examples": weight})}), reply_to=msg
    )
