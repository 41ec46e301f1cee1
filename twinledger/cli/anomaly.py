"""``twinledger anomaly``: train a model on a CSV of healthy sensor rows, score another CSV.

The handlers import pandas, scikit-learn and the model on use, so ``twinledger`` (and ``--help``) starts
without loading them.

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

__all__ = ["DETECTOR_NAMES", "register"]

#: The detectors ``twin_models.anomaly.DETECTORS`` offers (a unit test keeps the two in step).
DETECTOR_NAMES = ("iforest", "mahalanobis", "zscore")


def _columns(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _train(args: argparse.Namespace) -> int:
    from twin_models.anomaly import AnomalyError, train_table
    from twinledger.files.anomaly import pack_model_tar, read_sensor_csv

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


def _score(args: argparse.Namespace) -> int:
    from twin_models.anomaly import AnomalyError, score_table
    from twinledger.files.anomaly import load_model_tar, read_sensor_csv

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
    from twin_models.anomaly import AnomalyError

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


def _train_telemetry(args: argparse.Namespace) -> int:
    from twin_models.anomaly import AlarmPolicy, AnomalyError, AnomalyModel, telemetry_features
    from twin_models.anomaly.synthetic import synthetic_samples
    from twinledger.files.anomaly import pack_model_tar, save_model_dir

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


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``anomaly train`` and ``anomaly score``."""
    parser = subparsers.add_parser("anomaly", help="predictive maintenance: train and score anomaly models")
    sub = parser.add_subparsers(dest="anomaly_command", metavar="ACTION", required=True)

    train = sub.add_parser("train", help="fit a model on a CSV of healthy rows, write model.tar.gz")
    train.add_argument("--csv", required=True, help="CSV of healthy sensor rows (delimiter detected)")
    train.add_argument("--features", type=_columns, default=None, help="feature columns, comma-separated")
    train.add_argument("--exclude", type=_columns, default=None, help="numeric columns to leave out")
    train.add_argument("--detector", default="zscore", choices=DETECTOR_NAMES, help="default: zscore")
    train.add_argument("--p", type=float, default=None, help="zscore power mean exponent (default 2)")
    train.add_argument("--window", type=int, default=1, help="trailing rolling mean over N rows (default 1)")
    train.add_argument("--trend", type=int, default=None, help="add drift features: window mean - N-row mean")
    train.add_argument("--group-by", default=None, help="column naming separate machines (rolling per machine)")
    train.add_argument("--no-physics", action="store_true", help="do not derive power, temperature rise, ...")
    train.add_argument("--quantile", type=float, default=0.995, help="threshold quantile of training scores")
    train.add_argument("--persistence", default="3/5", help="alarm after K of N rows over threshold (K/N)")
    train.add_argument("--out", required=True, help="where to write model.tar.gz")
    train.set_defaults(handler=_train)

    tel = sub.add_parser(
        "train-telemetry", help="fit a model on healthy 1 Hz telemetry windows (the model the ingest path calls)"
    )
    source = tel.add_mutually_exclusive_group(required=True)
    source.add_argument("--samples", help="JSON lines of samples or envelopes ('-' for stdin)")
    source.add_argument("--synthetic-hours", type=float, help="a synthetic healthy machine (local stack, demo)")
    tel.add_argument("--seed", type=int, default=0, help="seed of the synthetic machine")
    tel.add_argument("--window", type=int, default=60, help="samples per window (default 60)")
    tel.add_argument("--detector", default="zscore", choices=DETECTOR_NAMES)
    tel.add_argument("--quantile", type=float, default=0.995)
    tel.add_argument("--persistence", default="3/5")
    tel.add_argument("--out", default=None, help="write model.tar.gz here")
    tel.add_argument("--model-dir", default=None, help="also write the unpacked model here")
    tel.set_defaults(handler=_train_telemetry)

    score = sub.add_parser("score", help="score a CSV: adds score, is_anomaly and severity, input order kept")
    score.add_argument("--model", required=True, help="model.tar.gz from 'anomaly train'")
    score.add_argument("--csv", required=True, help="CSV to score (same sensor columns as at training)")
    score.add_argument("--out", required=True, help="output CSV ('-' for stdout)")
    score.set_defaults(handler=_score)
