"""The third-party run-to-failure datasets, read as published (never copied into the repository).

``data_dir`` is the folder holding them (``../shared/data`` next to this checkout, or ``$TWINLEDGER_DATA``):
``ai4i2020/ai4i2020.csv``, ``ims_bearing/ims_bearing_test2_features.csv`` and ``cmapss/train_FD001.txt``.
The experiments on them are ``twin_models.anomaly.evaluation``'s.

Example:
    >>> from twin_models.anomaly import evaluation as ev
    >>> ev.ai4i_experiment(load_ai4i("../shared/data"))["roc_auc"] >= 0.9  # doctest: +SKIP
    True
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from twin_models.anomaly.evaluation import CMAPSS_COLUMNS, cmapss_frame, ims_frame

__all__ = ["load_ai4i", "load_cmapss", "load_ims"]


def load_ai4i(data_dir: str | Path) -> pd.DataFrame:
    """AI4I 2020 (10,000 rows, BOM-prefixed CSV).

    Example:
        >>> len(load_ai4i("../shared/data"))  # doctest: +SKIP
        10000
    """
    return pd.read_csv(Path(data_dir) / "ai4i2020" / "ai4i2020.csv", encoding="utf-8-sig")


def load_ims(data_dir: str | Path) -> pd.DataFrame:
    """IMS bearing test 2 features, one row per 10-minute snapshot, ``timestamp`` parsed.

    Example:
        >>> load_ims("../shared/data")["timestamp"].dtype.kind  # doctest: +SKIP
        'M'
    """
    return ims_frame(pd.read_csv(Path(data_dir) / "ims_bearing" / "ims_bearing_test2_features.csv"))


def load_cmapss(data_dir: str | Path) -> pd.DataFrame:
    """C-MAPSS FD001 training set with ``rul`` (cycles to failure) per row.

    Example:
        >>> int(load_cmapss("../shared/data")["unit"].nunique())  # doctest: +SKIP
        100
    """
    raw = pd.read_csv(
        Path(data_dir) / "cmapss" / "train_FD001.txt", sep=r"\s+", header=None, names=list(CMAPSS_COLUMNS)
    )
    return cmapss_frame(raw)
