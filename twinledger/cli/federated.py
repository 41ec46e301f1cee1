"""``twinledger federated run``: a local Flower deployment of the lessees' federation, graded and anchored.

Starts a SuperLink and one SuperNode per lessee on 127.0.0.1 (``--in-process`` runs the same ServerApp
and ClientApp over the in-process grid instead), runs the rounds, grades the federated model against
local-only (the mean over lessees) and pooled training on every lessee's held-out rows, anchors every
round's model and update hashes in one Merkle batch on an in-process chain and prints one JSON object.

Example:
    $ twinledger federated run --clients 3 --rounds 2 --json
    $ twinledger federated run --dataset cmapss --clients 4 --rounds 5 --attack signflip --attackers 1 \\
        --aggregation trimmed --json
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

from twin_models.bounds import whole
from twin_models.federated import ATTACKS
from twinledger.federated.data import DATASETS
from twinledger.wording import counted

__all__ = ["register"]


def _json_ready(value: Any) -> Any:
    """NaN (a figure without both classes) as ``null``: the output stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def _run(args: argparse.Namespace) -> int:
    logging.getLogger("flwr").setLevel(logging.ERROR)
    from twinledger.federated.anchor import anchor_federation
    from twinledger.federated.data import load_partitions
    from twinledger.federated.evaluation import baselines, grade
    from twinledger.federated.inprocess import run_inprocess
    from twinledger.federated.launcher import FederationRunError, run_deployment

    try:
        parts = load_partitions(args.dataset, clients=args.clients, data_dir=args.data_dir)
    except FileNotFoundError as exc:
        print(f"error: dataset {args.dataset} not found: {exc}", file=sys.stderr)
        return 1
    if len(parts) != args.clients:
        print(
            f"error: {args.dataset} is split into {counted(len(parts), 'lessee')}; pass --clients {len(parts)}",
            file=sys.stderr,
        )
        return 2
    if args.attackers >= args.clients:
        print("error: at least one lessee must be honest", file=sys.stderr)
        return 2
    if args.secure_aggregation and args.aggregation != "fedavg":
        print(
            "error: secure aggregation hides the single updates that screening and robust aggregation need;"
            " use --aggregation fedavg",
            file=sys.stderr,
        )
        return 2
    config: dict[str, Any] = {
        "dataset": args.dataset,
        "clients": args.clients,
        "rounds": args.rounds,
        "aggregation": args.aggregation,
        "data-dir": args.data_dir or "",
        "secure-aggregation": bool(args.secure_aggregation),
    }
    attack = args.attack or ""
    attackers = args.attackers if attack else 0
    try:
        if args.in_process:
            result = run_inprocess(config, attack, attackers)
        else:
            result = run_deployment(config, attack, attackers)
    except FederationRunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    figures = grade(result, parts)
    base = baselines(parts, args.rounds)
    anchored = anchor_federation(result)
    out = {
        "dataset": args.dataset,
        "clients": args.clients,
        "aggregation": args.aggregation,
        "attack": attack or None,
        "attackers": attackers,
        "deployment": result.get("deployment", "in-process"),
        "rounds": [
            {**pr, "model_hash": r.get("model_hash"), "updates": r["updates"], "verdicts": r["verdicts"]}
            for pr, r in zip(figures.pop("per_round"), result["rounds"], strict=True)
        ],
        "federated": figures,
        "local_only": {k: v for k, v in base["local_only"].items() if k != "per_lessee"},
        "pooled": base["pooled"],
        "model": result["manifest"],
        "anchoring": {k: v for k, v in anchored.items() if k != "model_bundle"},
        "model_proof": anchored["model_bundle"],
    }
    if args.out:
        artifact = {"manifest": result["manifest"], "weights": result["weights"], "scale": result["scale"]}
        Path(args.out).write_text(json.dumps(_json_ready(artifact), indent=2, allow_nan=False), encoding="utf-8")
    if args.json:
        print(json.dumps(_json_ready(out), default=str, allow_nan=False))
    else:
        print(
            f"federated ROC-AUC {figures['roc_auc']:.4f} (local-only {base['local_only']['roc_auc']:.4f}, "
            f"pooled {base['pooled']['roc_auc']:.4f}); excluded per round "
            f"{[r['excluded'] for r in result['rounds']]}; model {anchored['model_hash']} anchored "
            f"(verified: {anchored['verified']})"
        )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``federated`` sub-commands."""
    parser = subparsers.add_parser(
        "federated",
        help="federated learning across lessees on Flower (local deployment)",
        description="Federate the failure model across lessees with Flower (see docs/federated.md).",
    )
    sub = parser.add_subparsers(dest="federated_command", metavar="COMMAND")
    run = sub.add_parser("run", help="start a SuperLink and SuperNodes on 127.0.0.1 and run the federation")
    run.add_argument("--clients", type=whole(2, 64), default=3, help="lessees (SuperNodes); a public dataset fixes it")
    run.add_argument("--rounds", type=whole(1, 100), default=3, help="rounds, 1 to 100 (default 3)")
    run.add_argument("--dataset", choices=DATASETS, default="synthetic")
    run.add_argument("--data-dir", default=None, help="folder of the public datasets (default ../shared/data)")
    run.add_argument("--attack", choices=ATTACKS, default=None, help="make --attackers lessees manipulate")
    run.add_argument("--attackers", type=whole(0, 63), default=1, help="lessees that manipulate (fewer than --clients)")
    run.add_argument("--aggregation", choices=("fedavg", "trimmed", "median", "krum"), default="trimmed")
    run.add_argument(
        "--secure-aggregation",
        action="store_true",
        help="Flower's SecAgg+: the lessor sees only the sum of the lessees' weights (needs --aggregation fedavg)",
    )
    run.add_argument("--in-process", action="store_true", help="the same apps over the in-process grid")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--out", default=None, metavar="MODEL.json", help="write the model artifact (manifest, weights)")
    run.set_defaults(handler=_run)

    def _usage(_args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(handler=_usage)
