"""SageMaker script-mode training: healthy CSVs from ``SM_CHANNEL_TRAINING`` -> model in ``SM_MODEL_DIR``.

Hyperparameters arrive as command-line options (SageMaker passes ``--name value`` for each one).

Example (locally, the way SageMaker runs it):
    $ SM_CHANNEL_TRAINING=data/healthy SM_MODEL_DIR=/tmp/model \\
        python -m twinledger.sagemaker_entry.train --detector zscore --persistence 3/5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from twin_models.anomaly import AnomalyError, train_table
from twinledger.files.anomaly import read_sensor_csv, save_model_dir

__all__ = ["main", "parse_args", "read_channel"]


def _csv_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The hyperparameters (all optional) and the SageMaker paths (from the environment)."""
    parser = argparse.ArgumentParser(description="Train the twinledger anomaly model (SageMaker script mode).")
    parser.add_argument("--features", type=_csv_list, default=None, help="comma-separated feature columns")
    parser.add_argument("--exclude", type=_csv_list, default=[], help="numeric columns to leave out")
    parser.add_argument("--detector", default="zscore", help="zscore, mahalanobis, pca or iforest")
    parser.add_argument("--p", type=float, default=None, help="zscore power (default 2)")
    parser.add_argument("--window", type=int, default=1, help="trailing rolling mean over N rows")
    parser.add_argument("--trend", type=int, default=None, help="drift features: window mean - N-row mean")
    parser.add_argument("--group-by", default=None, help="column naming separate machines")
    parser.add_argument("--no-physics", action="store_true", help="do not derive power/temperature rise")
    parser.add_argument("--quantile", type=float, default=0.995, help="threshold quantile of training scores")
    parser.add_argument("--margin", type=float, default=1.0, help="threshold multiplier")
    parser.add_argument("--critical-ratio", type=float, default=2.0, help="critical level / threshold")
    parser.add_argument("--persistence", default="3/5", help="alarm after K of N windows, as K/N")
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAINING", "/opt/ml/input/data/training"))
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    return parser.parse_args(argv)


def read_channel(path: str | Path) -> pd.DataFrame:
    """Every ``*.csv`` in a channel directory (or one file), concatenated in name order."""
    source = Path(path)
    files = sorted(source.glob("*.csv")) if source.is_dir() else [source]
    if not files:
        raise AnomalyError(f"no CSV files in the training channel {source}")
    return pd.concat([read_sensor_csv(f).raw for f in files], ignore_index=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Train, write ``model.pkl`` + ``manifest.json`` to the model directory, print the manifest."""
    args = parse_args(argv)
    frame = read_channel(args.train)
    params = {"p": args.p} if args.p is not None and args.detector == "zscore" else {}
    model = train_table(
        frame,
        features=args.features,
        detector=args.detector,
        detector_params=params,
        window=args.window,
        trend=args.trend,
        group_by=args.group_by,
        physics=not args.no_physics,
        exclude=args.exclude,
        quantile=args.quantile,
        margin=args.margin,
        critical_ratio=args.critical_ratio,
        persistence=args.persistence,
    )
    save_model_dir(model, args.model_dir)
    print(json.dumps(model.manifest(), default=str))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
