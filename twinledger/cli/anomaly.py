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
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from twin_models.bounds import number, seed, whole

__all__ = ["DETECTOR_NAMES", "register"]

#: The detectors ``twin_models.anomaly.DETECTORS`` offers (a unit test keeps the two in step).
DETECTOR_NAMES = ("iforest", "mahalanobis", "pca", "zscore")


#: The longest window of the K-of-N alarm rule an option takes (rows).
MAX_PERSISTENCE_ROWS = 3600

_RATE = number(0, 1, low_open=True, high_open=True)  # a share of rows: above 0 and below 1
_POSITIVE = number(0, low_open=True)
_SECONDS = number(0, 30 * 86_400)  # up to a month


def _columns(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _persistence(text: str) -> str:
    """``K/N`` as the alarm rule reads it (:meth:`twin_models.anomaly.AlarmPolicy.parse`), N at most 3600."""
    from twin_models.anomaly import AlarmPolicy, AnomalyError

    try:
        policy = AlarmPolicy.parse(text)
    except AnomalyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if policy.n > MAX_PERSISTENCE_ROWS:
        raise argparse.ArgumentTypeError(f"persistence K/N takes N up to {MAX_PERSISTENCE_ROWS}, got {text!r}")
    return text


def _row_seconds(table: Any, given: float | None) -> float | None:
    """The time step of the rows: given, or the median step of the timestamp column (if any)."""
    import pandas as pd

    if given is not None or table.timestamp_column is None:
        return given
    stamps = pd.to_datetime(table.raw[table.timestamp_column], utc=True, errors="coerce").dropna()
    steps = stamps.diff().dt.total_seconds().dropna()
    steps = steps[steps > 0]
    return float(steps.median()) if len(steps) else None


def _target(args: argparse.Namespace) -> Any:
    from twin_models.anomaly import FalseAlarmTarget

    row_rate = args.target_row_rate if args.target_row_rate is not None else round(1.0 - args.quantile, 12)
    return FalseAlarmTarget(row_rate=row_rate, events_per_day=args.target_events_per_day)


def _train(args: argparse.Namespace) -> int:
    from twin_models.anomaly import AnomalyError, train_table
    from twinledger.files.anomaly import pack_model_tar, read_sensor_csv

    try:
        table = read_sensor_csv(args.csv)
        row_seconds = _row_seconds(table, args.row_seconds)
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
            persistence=args.persistence,
            target=_target(args),
            row_seconds=row_seconds,
            clear_after_s=args.clear_after_s,
            escalate_after_s=args.escalate_after_s,
            calibration_fraction=args.calibration_fraction,
            drift=args.drift,
            strict=args.strict,
        )
        pack_model_tar(model, args.out)
    except AnomalyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    cal = model.calibration
    for warning in cal.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for column, reason in model.dropped.items():
        print(f"warning: column {column!r} not used ({reason})", file=sys.stderr)
    summary = {
        "out": str(args.out),
        "detector": model.meta["detector"],
        "features": list(model.feature_names),
        "threshold": round(cal.threshold, 6),
        "critical": round(cal.critical, 6),
        "n_train": cal.n_train,
        "n_calibration": cal.n_calibration,
        "target": None if cal.target is None else cal.target.to_dict(),
        "expected_row_rate": cal.expected_row_rate,
        "expected_events_per_day": cal.expected_events_per_day,
        "resolvable_rate": cal.resolvable_rate,
        "row_seconds": model.row_seconds,
        "channels": {c.name: c.handling for c in model.channels},
        "dropped": model.dropped,
        "warnings": list(cal.warnings),
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
    missing, unknown = list(scored.attrs.get("missing", ())), list(scored.attrs.get("unknown", ()))
    if missing:
        print(f"warning: the CSV lacks the model's features {', '.join(missing)} (scored as 0)", file=sys.stderr)
    if unknown:
        print(f"warning: columns the model does not know, not scored: {', '.join(unknown)}", file=sys.stderr)
    scored = scored.drop(columns=["action"])
    if args.out == "-":
        scored.to_csv(sys.stdout, index=False)
    else:
        scored.to_csv(args.out, index=False)
        counts = scored["severity"].value_counts().to_dict()
        print(
            json.dumps(
                {
                    "out": args.out,
                    "rows": len(scored),
                    "anomalies": int(scored["is_anomaly"].sum()),
                    "alarm_events": int(scored["alarm_onset"].sum()),
                    "severity": counts,
                    "missing": missing,
                    "unknown": unknown,
                }
            )
        )
    return 0


def _read_samples(path: str) -> list[dict[str, Any]]:
    """JSON lines: one sample per line, or one telemetry envelope (with ``samples``) per line."""
    from twin_models.anomaly import AnomalyError

    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    rows: list[dict[str, Any]] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise AnomalyError(f"line {line_number} is not JSON: {exc}") from exc
        if not isinstance(item, dict):
            raise AnomalyError(f"line {line_number} is not a JSON object")
        if isinstance(item.get("samples"), list):  # an envelope: its samples, with its machine
            machine = item.get("machine_id")
            rows.extend(dict(s, machine_id=machine) if machine and isinstance(s, dict) else s for s in item["samples"])
        else:
            rows.append(item)
    return rows


def _train_telemetry(args: argparse.Namespace) -> int:
    from twin_models.anomaly import AlarmPolicy, AnomalyError, FalseAlarmTarget, train_telemetry
    from twinledger.files.anomaly import pack_model_tar, save_model_dir
    from twinledger.local.demo import commissioning_samples

    try:
        if args.samples:
            machines: dict[str, list[dict[str, Any]]] = {}
            for sample in _read_samples(args.samples):
                machines.setdefault(str(sample.get("machine_id", "machine")), []).append(sample)
        else:
            # the simulator the demo and the local stack run, healthy
            machines = commissioning_samples(args.seed, hours=args.synthetic_hours)
        policy = dataclasses.replace(AlarmPolicy.parse(args.persistence), rebaseline=False).in_time(
            float(args.window), clear_after_s=args.clear_after_s, escalate_after_s=args.escalate_after_s
        )
        model = train_telemetry(
            machines,
            window=args.window,
            detector=args.detector,
            target=FalseAlarmTarget(row_rate=round(1.0 - args.quantile, 12), events_per_day=args.target_events_per_day),
            policy=policy,
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
                "windows": model.calibration.n_train + model.calibration.n_calibration,
                "machines": len(machines),
                "features": list(model.feature_names),
                "threshold": round(model.calibration.threshold, 6),
                "expected_events_per_day": model.calibration.expected_events_per_day,
                "channels": {c.name: c.handling for c in model.channels},
                "warnings": list(model.calibration.warnings),
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
    train.add_argument("--p", type=number(1, 64), default=None, help="zscore power mean exponent (default 2)")
    train.add_argument(
        "--window", type=whole(1, 100_000), default=1, help="trailing rolling mean over N rows (default 1)"
    )
    train.add_argument(
        "--trend", type=whole(1, 100_000), default=None, help="add drift features: window mean - N-row mean"
    )
    train.add_argument("--group-by", default=None, help="column naming separate machines (rolling per machine)")
    train.add_argument("--no-physics", action="store_true", help="do not derive power, temperature rise, ...")
    train.add_argument("--quantile", type=_RATE, default=0.995, help="1 - the target rate of rows flagged")
    train.add_argument("--target-row-rate", type=_RATE, default=None, help="rows flagged on healthy data")
    train.add_argument(
        "--target-events-per-day", type=_POSITIVE, default=1.0, help="alarm events per machine per day (default 1)"
    )
    train.add_argument(
        "--row-seconds", type=_POSITIVE, default=None, help="time step of a row (default: from timestamps)"
    )
    train.add_argument("--clear-after-s", type=_SECONDS, default=None, help="an alarm clears after this long below")
    train.add_argument(
        "--escalate-after-s", type=_SECONDS, default=None, help="an alarm escalates once after this long"
    )
    train.add_argument("--calibration-fraction", type=_RATE, default=0.25, help="last rows held out to calibrate")
    train.add_argument("--drift", default="auto", choices=("off", "auto", "all"), help="drifting channels")
    train.add_argument("--strict", action="store_true", help="refuse when the data cannot support the target")
    train.add_argument(
        "--persistence", type=_persistence, default="3/5", help="alarm after K of N rows over threshold (K/N)"
    )
    train.add_argument("--out", required=True, help="where to write model.tar.gz")
    train.set_defaults(handler=_train)

    tel = sub.add_parser(
        "train-telemetry", help="fit a model on healthy 1 Hz telemetry windows (the model the ingest path calls)"
    )
    source = tel.add_mutually_exclusive_group(required=True)
    source.add_argument("--samples", help="JSON lines of samples or envelopes ('-' for stdin)")
    source.add_argument(
        "--synthetic-hours",
        type=number(0, 24 * 7, low_open=True),
        help="hours of the demo's simulated fleet, healthy (local stack, demo)",
    )
    tel.add_argument("--seed", type=seed(), default=7, help="seed of the simulated fleet (the demo's: 7)")
    tel.add_argument("--window", type=whole(1, 3600), default=60, help="samples per window (default 60)")
    tel.add_argument("--detector", default="zscore", choices=DETECTOR_NAMES)
    tel.add_argument("--quantile", type=_RATE, default=0.995)
    tel.add_argument("--persistence", type=_persistence, default="3/5")
    tel.add_argument("--clear-after-s", type=_SECONDS, default=1800.0, help="an alarm clears after this long below")
    tel.add_argument("--escalate-after-s", type=_SECONDS, default=4 * 3600.0, help="an alarm escalates once after")
    tel.add_argument("--target-events-per-day", type=_POSITIVE, default=0.5, help="alarm events per machine per day")
    tel.add_argument("--out", default=None, help="write model.tar.gz here")
    tel.add_argument("--model-dir", default=None, help="also write the unpacked model here")
    tel.set_defaults(handler=_train_telemetry)

    score = sub.add_parser(
        "score", help="score a CSV: adds score, is_anomaly, alarm_onset and severity, input order kept"
    )
    score.add_argument("--model", required=True, help="model.tar.gz from 'anomaly train'")
    score.add_argument("--csv", required=True, help="CSV to score (same sensor columns as at training)")
    score.add_argument("--out", required=True, help="output CSV ('-' for stdout)")
    score.set_defaults(handler=_score)
