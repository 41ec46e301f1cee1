"""``twinledger anomaly``: train a model on a CSV of healthy sensor rows, score another CSV.

Example:
    $ twinledger anomaly train --csv healthy.csv --detector zscore --out model.tar.gz
    $ twinledger anomaly score --model model.tar.gz --csv week.csv --out scores.csv
    $ twinledger anomaly train-telemetry --synthetic-hours 4 --model-dir .twinledger/anomaly-model
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from twin_models.anomaly import (
    AlarmPolicy,
    AnomalyError,
    AnomalyModel,
    load_model_tar,
    pack_model_tar,
    read_sensor_csv,
    save_model_dir,
    score_table,
    telemetry_features,
    train_table,
)
from twin_models.anomaly.synthetic import synthetic_samples

__all__ = ["score", "train", "train_telemetry"]


def train(args: argparse.Namespace) -> int:
    try:
        table = read_sensor_csv(args.csv)
        model = train_table(
            table.raw,
            features=args.features,
            detector=args.detector,
            detector_params={"p": args.p} if args.p is not None and args.detector == "zscore" else None,
            window=args.window,
            trend=args.trend,
            group_by=args.group_by,
            physics=not args.no_physics,
            exclude=[c for c in [table.timestamp_column, *(args.exclude or [])] if c],
            quantile=args.quantile,
            persistence=args.persistence,
        )
        pack_model_tar(model, args.out)
    except AnomalyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    summary = {
        "out": str(args.out),
        "detector": model.meta["detector"],
        "features": list(model.feature_names),
        "threshold": round(model.calibration.threshold, 6),
        "critical": round(model.calibration.critical, 6),
        "n_train": model.calibration.n_train,
    }
    print(json.dumps(summary))
    return 0


def score(args: argparse.Namespace) -> int:
    try:
        model = load_model_tar(args.model)
        table = read_sensor_csv(args.csv)
        scored = score_table(model, table.raw)
    except AnomalyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    scored = scored.drop(columns=["action"])
    if args.out == "-":
        scored.to_csv(sys.stdout, index=False)
    else:
        scored.to_csv(args.out, index=False)
        counts = scored["severity"].value_counts().to_dict()
        print(
            json.dumps(
                {"out": args.out, "rows": len(scored), "anomalies": int(scored["is_anomaly"].sum()), "severity": counts}
            )
        )
    return 0


def _read_samples(path: str) -> list[dict[str, Any]]:
    """JSON lines: one sample per line, or one telemetry envelope (with ``samples``) per line."""
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise AnomalyError(f"line {number} is not JSON: {exc}") from exc
        if not isinstance(item, dict):
            raise AnomalyError(f"line {number} is not a JSON object")
        rows.extend(item["samples"] if isinstance(item.get("samples"), list) else [item])
    return rows


def train_telemetry(args: argparse.Namespace) -> int:
    try:
        if args.samples:
            samples = _read_samples(args.samples)
        else:
            samples = synthetic_samples(int(args.synthetic_hours * 3600), seed=args.seed)
        features = telemetry_features(samples, window=args.window)
        model = AnomalyModel.fit(
            features,
            args.detector,
            quantile=args.quantile,
            policy=AlarmPolicy.parse(args.persistence),
        )
        if args.out:
            pack_model_tar(model, args.out)
        if args.model_dir:
            save_model_dir(model, args.model_dir)
    except (AnomalyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "out": args.out,
                "model_dir": args.model_dir,
                "windows": len(features),
                "features": list(model.feature_names),
                "threshold": round(model.calibration.threshold, 6),
            }
        )
    )
    return 0
