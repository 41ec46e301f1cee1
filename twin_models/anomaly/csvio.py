"""Reading any CSV of numeric sensor columns: delimiter sniffed, an optional timestamp column kept aside.

Example:
    >>> import io
    >>> data = read_sensor_csv(io.StringIO("time;a;b\\n2026-01-01T00:00:00Z;1;2.5\\n2026-01-01T00:00:01Z;2;3\\n"))
    >>> list(data.frame.columns), data.timestamp_column
    (['a', 'b'], 'time')
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pandas as pd

from twin_models.anomaly.errors import FeatureError

__all__ = ["SensorTable", "read_sensor_csv"]

_TIME_NAMES = ("timestamp", "time", "ts", "datetime", "date")


@dataclass(frozen=True)
class SensorTable:
    """The whole table (``raw``, every column, input order), the numeric part (``frame``) and the name of
    the timestamp column if one was found."""

    raw: pd.DataFrame
    frame: pd.DataFrame
    timestamp_column: str | None


def read_sensor_csv(source: str | Path | IO[str]) -> SensorTable:
    """Read a CSV (``,`` ``;`` tab or ``|`` separated, optional UTF-8 BOM) of sensor columns."""
    if isinstance(source, (str, Path)):
        try:
            text = Path(source).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise FeatureError(f"cannot read {source}: {exc}") from exc
    else:
        text = source.read().lstrip("\ufeff")
    if not text.strip():
        raise FeatureError("the CSV is empty")
    sample = "\n".join(text.splitlines()[:20])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    try:
        raw = pd.read_csv(io.StringIO(text), sep=delimiter)
    except (ValueError, pd.errors.ParserError) as exc:
        raise FeatureError(f"not a readable CSV: {exc}") from exc
    raw.columns = [str(c).strip() for c in raw.columns]
    ts_col = next((c for c in raw.columns if c.lower() in _TIME_NAMES), None)
    numeric = raw.drop(columns=[ts_col]) if ts_col else raw
    numeric = numeric.select_dtypes(include="number")
    if numeric.shape[1] == 0:
        raise FeatureError("the CSV has no numeric columns")
    return SensorTable(raw=raw, frame=numeric, timestamp_column=ts_col)
