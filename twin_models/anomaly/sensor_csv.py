"""CSV text of numeric sensor columns as a table: delimiter sniffed, an optional timestamp column kept aside.

Text in, frames out: reading the file is :func:`twinledger.files.anomaly.read_sensor_csv`'s job.

Example:
    >>> data = parse_sensor_csv("time;a;b\\n2026-01-01T00:00:00Z;1;2.5\\n2026-01-01T00:00:01Z;2;3\\n")
    >>> list(data.frame.columns), data.timestamp_column
    (['a', 'b'], 'time')
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pandas as pd

from twin_models.anomaly.errors import FeatureError

__all__ = ["SensorTable", "parse_sensor_csv"]

_TIME_NAMES = ("timestamp", "time", "ts", "datetime", "date")


@dataclass(frozen=True)
class SensorTable:
    """The whole table (``raw``, every column, input order), the numeric part (``frame``) and the name of
    the timestamp column if one was found."""

    raw: pd.DataFrame
    frame: pd.DataFrame
    timestamp_column: str | None


def parse_sensor_csv(text: str) -> SensorTable:
    """Parse CSV text (``,`` ``;`` tab or ``|`` separated, optional UTF-8 BOM) of sensor columns.

    The first column named ``timestamp``, ``time``, ``ts``, ``datetime`` or ``date`` (any case) is the
    timestamp column; the numeric columns other than it make up ``frame``.

    Example:
        >>> table = parse_sensor_csv("\\ufefftemp,vib,label\\n30,1.5,a\\n31,1.6,b\\n")
        >>> list(table.frame.columns), table.timestamp_column, list(table.raw.columns)
        (['temp', 'vib'], None, ['temp', 'vib', 'label'])
        >>> parse_sensor_csv("")
        Traceback (most recent call last):
        ...
        twin_models.anomaly.errors.FeatureError: the CSV is empty
    """
    text = text.lstrip("\ufeff")
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
