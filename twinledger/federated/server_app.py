"""The lessor's ``ServerApp``: federated statistics, robust FedProx rounds, federated threshold, provenance.

:func:`federate` is the whole federation over a Flower ``Grid``:

1. **statistics** — every lessee's healthy moments (normalised, bucketed weight) merged into the fleet's
   healthy detector, whose mean and spread also standardise the features for training;
2. **rounds** — ``rounds`` rounds of local FedProx training, aggregated by the chosen strategy
   (:func:`twinledger.federated.strategy.make_strategy`: updates screened, then Flower's FedAvg, trimmed
   mean, median or Krum); every round's global model and update hashes recorded;
3. **threshold** — every lessee's healthy score histograms merged; the threshold is their
   ``1 - false_alarm_rate`` quantile, for the classifier and the detector;
4. **validation** (with ``validate`` in the run config) — every lessee's histograms of the final model's
   log-odds on its ``x_test`` rows, failures and healthy rows apart, merged into the ROC-AUC on all of
   them (``validation_roc_auc``): how a configuration is scored on validation partitions without a row
   leaving its lessee (:mod:`twinledger.federated.selection`).

The ``@app.main()`` entry writes the result as JSON to the run config's ``result-path``; the in-process
runner (:mod:`twinledger.federated.inprocess`) calls :func:`federate` on its own grid.

Example:
    >>> from twinledger.federated.server_app import app
    >>> type(app).__name__
    'ServerApp'
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MessageType, RecordDict
from flwr.serverapp import Grid, ServerApp

from twin_models.federated import (
    ScoreSketch,
    arrays_hash,
    merge_sketches,
    model_manifest,
    sketch_roc_auc,
    weight_count,
)
from twinledger.federated.strategy import make_strategy
from twinledger.federated.task import GRID, VALIDATION_GRID, standardiser

__all__ = ["app", "federate"]

app = ServerApp()


def _wait_for_nodes(grid: Grid, clients: int, timeout: float = 120.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= clients or time.monotonic() > deadline:
            return nodes[:clients] if len(nodes) >= clients else nodes
        time.sleep(0.5)


def _ask(grid: Grid, nodes: list[int], content: RecordDict) -> list[Message]:
    messages = [grid.create_message(content, MessageType.QUERY, node, "") for node in nodes]
    replies = [r for r in grid.send_and_receive(messages) if not r.has_error()]
    if len(replies) < len(nodes):
        raise RuntimeError(f"{len(nodes) - len(replies)} lessee(s) did not answer the query")
    return replies


def _shared(record: ArrayRecord) -> dict[str, Any]:
    values: dict[str, Any] = {k: record[k].numpy() for k in record}
    values["weight"] = float(values["weight"][0])
    return values


def _sketch(record: ArrayRecord, edges: np.ndarray = GRID) -> ScoreSketch:
    return ScoreSketch(edges, record["fractions"].numpy(), float(record["weight"].numpy()[0]))


def _validation_roc_auc(grid: Grid, nodes: list[int], query: RecordDict) -> float:
    query = RecordDict(
        {
            "config": ConfigRecord({**query.config_records["config"], "kind": "validation"}),
            "arrays": query.array_records["arrays"],
        }
    )
    replies = [r.content.array_records for r in _ask(grid, nodes, query)]
    failures = merge_sketches(_sketch(r["failures"], VALIDATION_GRID) for r in replies if "failures" in r)
    healthy = merge_sketches(_sketch(r["healthy"], VALIDATION_GRID) for r in replies if "healthy" in r)
    return sketch_roc_auc(failures, healthy)


def _secure_rounds(
    grid: Grid, clients: int, rounds: int, dimensions: int, train_config: dict[str, Any], run_config: dict[str, Any]
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """``rounds`` rounds of FedAvg under Flower's SecAgg+ (``SecAggPlusWorkflow``): the lessor sees only
    the weighted sum of the lessees' weights of each round, never one lessee's, so no update is hashed or
    screened; each round records the global model's hash."""
    from flwr.common import FitRes, Parameters, Scalar, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server import LegacyContext, ServerConfig
    from flwr.server.client_proxy import ClientProxy
    from flwr.server.strategy import FedAvg as LegacyFedAvg
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow

    history: list[dict[str, Any]] = []

    class RecordedFedAvg(LegacyFedAvg):
        def aggregate_fit(
            self,
            server_round: int,
            results: list[tuple[ClientProxy, FitRes]],
            failures: list[tuple[ClientProxy, FitRes] | BaseException],
        ) -> tuple[Parameters | None, dict[str, Scalar]]:
            parameters, metrics = super().aggregate_fit(server_round, results, failures)
            if parameters is not None:
                arrays = parameters_to_ndarrays(parameters)
                history.append(
                    {
                        "round": server_round,
                        "updates": {},
                        "verdicts": [],
                        "excluded": [],
                        "secure_aggregation": True,
                        "model_hash": arrays_hash(arrays),
                        "weights": arrays[0].tolist(),
                    }
                )
            return parameters, metrics

    fit_config = {k: json.dumps(v) if isinstance(v, list) else v for k, v in train_config.items()}
    strategy = RecordedFedAvg(
        fraction_fit=1.0,
        fraction_evaluate=0.0,
        min_fit_clients=clients,
        min_available_clients=clients,
        initial_parameters=ndarrays_to_parameters([np.zeros(dimensions)]),
        on_fit_config_fn=lambda _round: fit_config,
    )
    context = LegacyContext(
        Context(run_id=0, node_id=0, node_config={}, state=RecordDict(), run_config={}),
        config=ServerConfig(num_rounds=rounds),
        strategy=strategy,
    )
    workflow = SecAggPlusWorkflow(
        num_shares=clients,
        reconstruction_threshold=max(2, clients - 1),
        clipping_range=float(run_config.get("secagg-clip", 64.0)),
        max_weight=float(run_config.get("secagg-max-weight", 16384.0)),
    )
    DefaultWorkflow(fit_workflow=workflow)(grid, context)
    if not history:
        raise RuntimeError("no secure aggregation round completed")
    return np.asarray(history[-1]["weights"]), history


def federate(grid: Grid, run_config: dict[str, Any]) -> dict[str, Any]:
    """Run the federation described by ``run_config`` and return its JSON-ready result."""
    clients = int(run_config.get("clients", 4))
    rounds = int(run_config.get("rounds", 3))
    federation = str(run_config.get("federation", "fleet"))
    false_alarm_rate = float(run_config.get("false-alarm-rate", 0.01))
    nodes = _wait_for_nodes(grid, clients)
    if len(nodes) < clients:
        raise RuntimeError(f"only {len(nodes)} of {clients} lessees connected")

    # 1. statistics
    bucket = bool(run_config.get("bucket", True))
    replies = _ask(grid, nodes, RecordDict({"config": ConfigRecord({"kind": "statistics", "bucket": bucket})}))
    lessees = {r.metadata.src_node_id: str(r.content["lessee"]["lessee"]) for r in replies}
    scale = standardiser([_shared(r.content.array_records["statistics"]) for r in replies])
    scale_config = {"mean": scale.mean.tolist(), "std": scale.std.tolist()}

    # 2. rounds
    features = str(run_config.get("features", "linear"))
    strategy = make_strategy(str(run_config.get("aggregation", "trimmed")), clients, lambda n: lessees.get(n, str(n)))
    train_config = ConfigRecord(
        {
            **scale_config,
            "epochs": int(run_config.get("epochs", 30)),
            "learning-rate": float(run_config.get("learning-rate", 0.5)),
            "mu": float(run_config.get("mu", 0.01)),
            "attack-factor": float(run_config.get("attack-factor", 10.0)),
            "features": features,
        }
    )
    dimensions = weight_count(len(scale.mean), features)
    history: list[dict[str, Any]]
    if bool(run_config.get("secure-aggregation", False)):
        weights, history = _secure_rounds(grid, clients, rounds, dimensions, dict(train_config), run_config)
    else:
        initial = ArrayRecord([np.zeros(dimensions)])
        result = strategy.start(grid=grid, initial_arrays=initial, num_rounds=rounds, train_config=train_config)
        weights = result.arrays.to_numpy_ndarrays()[0]
        history = strategy.rounds  # type: ignore[attr-defined]

    # 3. threshold
    query = RecordDict(
        {
            "config": ConfigRecord({"kind": "sketch", "features": features, **scale_config}),
            "arrays": ArrayRecord({"weights": Array(weights)}),
        }
    )
    sketches = _ask(grid, nodes, query)
    classifier = merge_sketches(_sketch(r.content.array_records["classifier"]) for r in sketches)
    detector = merge_sketches(_sketch(r.content.array_records["detector"]) for r in sketches)
    last: dict[str, Any] = history[-1] if history else {"round": 0, "updates": {}}
    manifest = model_manifest(
        federation,
        int(last["round"]),
        [weights],
        {k: v for k, v in last["updates"].items() if k not in last.get("excluded", [])},
        aggregation="secagg+fedavg"
        if bool(run_config.get("secure-aggregation", False))
        else str(run_config.get("aggregation", "trimmed")),
        features=features,
        false_alarm_rate=false_alarm_rate,
        threshold=classifier.quantile(1.0 - false_alarm_rate) / 100.0,
        detector_threshold=detector.quantile(1.0 - false_alarm_rate),
    )
    outcome: dict[str, Any] = {
        "federation": federation,
        "lessees": sorted(lessees.values()),
        "rounds": history,
        "weights": weights.tolist(),
        "scale": scale_config,
        "manifest": manifest,
    }
    # 4. validation
    if bool(run_config.get("validate", False)):
        outcome["validation_roc_auc"] = _validation_roc_auc(grid, nodes, query)
    return outcome


@app.main()
def main(grid: Grid, context: Context) -> None:
    """The deployed entry: federate and write the result to ``result-path``."""
    outcome = federate(grid, dict(context.run_config))
    path = str(context.run_config.get("result-path", ""))
    if path:
        Path(path).write_text(json.dumps(outcome), encoding="utf-8")
