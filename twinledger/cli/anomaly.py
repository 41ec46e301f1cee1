"""``twinledger anomaly``: train and score anomaly models (the work is in ``twinledger.anomaly_commands``).

Only argument parsing lives here, so ``twinledger`` starts without loading scikit-learn.

Example:
    $ twinledger anomaly train --csv healthy.csv --out model.tar.gz
    $ twinledger anomaly score --model model.tar.gz --csv test.csv --out scores.csv
    $ twinledger anomaly train-telemetry --synthetic-hours 4 --model-dir .twinledger/anomaly-model
"""

from __future__ import annotations

import argparse

__all__ = ["DETECTOR_NAMES", "register"]

#: The detectors ``twin_models.anomaly.DETECTORS`` offers (a unit test keeps the two in step).
DETECTOR_NAMES = ("iforest", "mahalanobis", "zscore")


def _columns(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _train(args: argparse.Namespace) -> int:
    from twinledger.anomaly_commands import train

    return train(args)


def _score(args: argparse.Namespace) -> int:
    from twinledger.anomaly_commands import score

    return score(args)


def _train_telemetry(args: argparse.Namespace) -> int:
    from twinledger.anomaly_commands import train_telemetry

    return train_telemetry(args)


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
