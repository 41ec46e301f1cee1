"""Feature extraction: windowed telemetry features and tabular (CSV) features, causal by construction.

Two entry points build the feature rows a detector scores:

* :func:`window_features` / :func:`telemetry_features` turn 1 Hz telemetry samples (the
  :class:`twin_models.telemetry.Sample` fields, as models or dicts) into one row per sliding window:
  vibration level and trend, temperature and its rise over the machine's own baseline, spindle load and
  current per unit of speed, speed variation, tool wear and power (reported, or torque x speed where an
  extra ``spindle_torque_nm`` field is present).
* :func:`tabular_features` takes any frame of numeric sensor columns (a CSV), adds physics features it can
  derive from recognisable column names (power = torque x speed, process-minus-ambient temperature rise,
  wear x torque) and optionally smooths each column with a trailing rolling mean.

Every row depends only on its own and earlier rows (no look-ahead): a window ends at its last sample,
rolling means are trailing, baselines use earlier windows only.

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"Torque [Nm]": [40.0, 42.0], "Rotational speed [rpm]": [1500, 1400]})
    >>> sorted(tabular_features(frame).columns)
    ['Rotational speed [rpm]', 'Torque [Nm]', 'power_w']
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from twin_models.anomaly.errors import FeatureError
from twin_models.sample_fields import FEATURE_INPUT_FIELDS

__all__ = [
    "FEATURE_INPUT_FIELDS",
    "TELEMETRY_FEATURES",
    "TabularFeatureConfig",
    "samples_frame",
    "tabular_features",
    "telemetry_features",
    "window_features",
]

#: The feature columns one telemetry window yields (``nan`` where a signal is absent).
TELEMETRY_FEATURES: tuple[str, ...] = (
    "vibration_rms",
    "vibration_trend",
    "temperature",
    "temperature_rise",
    "spindle_load",
    "load_per_speed",
    "current_per_speed",
    "speed_cv",
    "tool_wear",
    "power_kw",
    "duty",
)


_TWO_PI_OVER_60 = 2.0 * math.pi / 60.0


def _as_mapping(sample: Any) -> Mapping[str, Any]:
    if isinstance(sample, Mapping):
        return sample
    dump = getattr(sample, "model_dump", None)
    if callable(dump):
        result = dump()
        if isinstance(result, Mapping):
            return result
    raise FeatureError(f"a sample must be a mapping or a pydantic model, not {type(sample).__name__}")


def samples_frame(samples: Iterable[Any]) -> pd.DataFrame:
    """Telemetry samples (``Sample`` models or dicts) as a frame of the numeric fields, in time order.

    Example:
        >>> f = samples_frame([{"ts": "2026-01-01T00:00:00Z", "vibration_rms_mm_s": 1.5, "temperature_c": 30}])
        >>> float(f["vibration_rms_mm_s"].iloc[0]), str(f.index.tz)
        (1.5, 'UTC')
    """
    rows = [_as_mapping(s) for s in samples]
    if not rows:
        raise FeatureError("no samples")
    data: dict[str, list[float]] = {name: [] for name in FEATURE_INPUT_FIELDS}
    stamps: list[Any] = []
    for row in rows:
        stamps.append(row.get("ts"))
        for name in FEATURE_INPUT_FIELDS:
            value = row.get(name)
            data[name].append(float("nan") if value is None else float(value))
    frame = pd.DataFrame(data)
    if all(s is not None for s in stamps):
        frame.index = pd.DatetimeIndex(pd.to_datetime(stamps, utc=True), name="ts")
        frame = frame.sort_index(kind="stable")
    return frame


def _epoch_seconds(stamp: Any) -> float:
    # Deliberately not twin_models.timestamps: a window's stamps may be naive (read as UTC, as pandas'
    # utc=True reads them), and the SageMaker bundle carries twin_models.anomaly alone.
    if isinstance(stamp, str):
        stamp = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if not isinstance(stamp, datetime):
        raise ValueError(f"not a timestamp: {stamp!r}")
    if stamp.tzinfo is None:  # as pandas' utc=True reads it
        stamp = stamp.replace(tzinfo=UTC)
    return float(stamp.timestamp())


def _window_arrays(samples: Iterable[Any]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The numeric fields of one window as arrays in time order, and seconds since its first sample.

    The same values :func:`samples_frame` gives, without building a frame: a window is small and
    scored on the hot path, where pandas' fixed costs dominate.
    """
    rows = [_as_mapping(s) for s in samples]
    if not rows:
        raise FeatureError("an empty window has no features")
    columns = {
        name: np.array([float("nan") if r.get(name) is None else float(r[name]) for r in rows], dtype=float)
        for name in FEATURE_INPUT_FIELDS
    }
    stamps = [r.get("ts") for r in rows]
    if any(s is None for s in stamps):
        return columns, np.arange(len(rows), dtype=float)
    epochs = np.array([_epoch_seconds(s) for s in stamps], dtype=float)
    order = np.argsort(epochs, kind="stable")
    return {k: v[order] for k, v in columns.items()}, epochs[order] - epochs[order][0]


def _slope_per_minute(values: np.ndarray, seconds: np.ndarray) -> float:
    mask = np.isfinite(values)
    if mask.sum() < 2:
        return 0.0
    t = seconds[mask] / 60.0
    v = values[mask]
    t = t - t.mean()
    denom = float((t * t).sum())
    return 0.0 if denom == 0.0 else float((t * (v - v.mean())).sum() / denom)


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def window_features(
    samples: Iterable[Any] | pd.DataFrame, baseline_temperature: float | None = None
) -> dict[str, float]:
    """The features of one window of telemetry samples.

    ``temperature_rise`` is the window's mean temperature minus ``baseline_temperature`` (the machine's
    own healthy baseline); without a baseline it is ``nan`` (a model treats a missing value as healthy).

    Example:
        >>> import datetime as dt
        >>> t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        >>> s = [{"ts": t0 + dt.timedelta(seconds=i), "spindle_speed_rpm": 1000, "spindle_load_pct": 50,
        ...       "vibration_rms_mm_s": 1.0 + i / 60, "temperature_c": 30.0} for i in range(60)]
        >>> f = window_features(s, baseline_temperature=25.0)
        >>> round(f["temperature_rise"], 1), round(f["load_per_speed"], 1), round(f["vibration_trend"], 2)
        (5.0, 50.0, 1.0)
    """
    if isinstance(samples, pd.DataFrame):
        frame = samples
        if frame.empty:
            raise FeatureError("an empty window has no features")
        cols = {name: frame[name].to_numpy(dtype=float) for name in FEATURE_INPUT_FIELDS if name in frame.columns}
        if isinstance(frame.index, pd.DatetimeIndex):
            seconds = (frame.index - frame.index[0]).total_seconds().to_numpy(dtype=float)
        else:
            seconds = np.arange(len(frame), dtype=float)
    else:
        try:
            cols, seconds = _window_arrays(samples)
        except ValueError:  # a timestamp only pandas can read
            return window_features(samples_frame(samples), baseline_temperature)
    speed = cols["spindle_speed_rpm"]
    load = cols["spindle_load_pct"]
    current = cols["spindle_current_a"]
    vib = cols["vibration_rms_mm_s"]
    temp = cols["temperature_c"]
    power = cols["power_kw"]
    if "spindle_torque_nm" in cols:
        # power = torque x angular speed, where the controller reports torque and no power meter does
        derived = cols["spindle_torque_nm"] * speed * _TWO_PI_OVER_60 / 1000.0
        power = np.where(np.isfinite(power) & (power > 0), power, derived)
    wear = cols["tool_wear_pct"]

    running = np.isfinite(speed) & (speed > 0)
    # the level features describe the machine at work: a window's stopped seconds (a break, a
    # micro-stop) would otherwise move them as much as a fault does; a window where the spindle never
    # turns has no level (nan: not measured). Without a speed signal every sample counts.
    working = running if np.isfinite(speed).any() else np.ones(len(speed), dtype=bool)
    krpm = speed[running] / 1000.0
    mean_krpm = float(krpm.mean()) if krpm.size else 0.0
    temp_mean = _nanmean(temp[working])
    baseline = float("nan") if baseline_temperature is None else float(baseline_temperature)
    finite_vib = vib[working & np.isfinite(vib)]
    finite_wear = wear[np.isfinite(wear)]
    power_mean = _nanmean(power[working])
    current_run = current[running]
    return {
        "vibration_rms": float(np.sqrt((finite_vib**2).mean())) if finite_vib.size else float("nan"),
        "vibration_trend": _slope_per_minute(vib[working], seconds[working]) if working.any() else float("nan"),
        "temperature": temp_mean,
        "temperature_rise": temp_mean - baseline,
        "spindle_load": _nanmean(load[working]),
        "load_per_speed": _nanmean(load[running]) / mean_krpm if mean_krpm > 0 else float("nan"),
        "current_per_speed": (
            _nanmean(current_run) / mean_krpm if mean_krpm > 0 and np.isfinite(current_run).any() else float("nan")
        ),
        "speed_cv": float(krpm.std() / mean_krpm) if mean_krpm > 0 else float("nan"),
        "tool_wear": float(finite_wear[-1]) if finite_wear.size else float("nan"),
        "power_kw": power_mean if np.isfinite(power_mean) and power_mean > 0 else float("nan"),
        "duty": float(running.mean()) if np.isfinite(speed).any() else float("nan"),
    }


def telemetry_features(
    samples: Iterable[Any] | pd.DataFrame,
    window: int = 60,
    step: int | None = None,
    baseline_windows: int = 60,
) -> pd.DataFrame:
    """Sliding-window features over a telemetry series: one row per window, indexed by the window's end.

    A window covers ``window`` consecutive samples and windows start every ``step`` samples (default:
    ``window``, i.e. non-overlapping). The temperature baseline of a window is the median mean temperature
    of up to ``baseline_windows`` *earlier* windows, so a row never depends on later samples.

    Example:
        >>> import datetime as dt
        >>> t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        >>> s = [{"ts": t0 + dt.timedelta(seconds=i), "temperature_c": 30.0 + i / 100} for i in range(180)]
        >>> f = telemetry_features(s, window=60)
        >>> len(f), [round(x, 1) for x in f["temperature_rise"]]
        (3, [nan, 0.6, 0.9])
    """
    frame = samples if isinstance(samples, pd.DataFrame) else samples_frame(samples)
    if window < 1:
        raise FeatureError("window must be at least 1 sample")
    step = window if step is None else step
    if step < 1:
        raise FeatureError("step must be at least 1 sample")
    if len(frame) < window:
        raise FeatureError(f"{len(frame)} samples are fewer than one window of {window}")
    rows: list[dict[str, float]] = []
    ends: list[Any] = []
    past_temps: list[float] = []
    for start in range(0, len(frame) - window + 1, step):
        chunk = frame.iloc[start : start + window]
        history = [t for t in past_temps[-baseline_windows:] if math.isfinite(t)]
        baseline = float(np.median(history)) if history else None
        feats = window_features(chunk, baseline_temperature=baseline)
        rows.append(feats)
        ends.append(chunk.index[-1])
        past_temps.append(feats["temperature"])
    out = pd.DataFrame(rows, columns=list(TELEMETRY_FEATURES))
    out.index = pd.Index(ends, name=frame.index.name or "end")
    return out


_TORQUE = re.compile(r"torque", re.I)
_SPEED = re.compile(r"(rpm|rotational[ _]?speed|spindle[ _]?speed)", re.I)
_WEAR = re.compile(r"wear", re.I)
_PROCESS_TEMP = re.compile(r"process.*temp|temp.*process", re.I)
_AMBIENT_TEMP = re.compile(r"(air|ambient).*temp|temp.*(air|ambient)", re.I)


def _find(columns: Sequence[str], pattern: re.Pattern[str]) -> str | None:
    hits = [c for c in columns if pattern.search(c)]
    return hits[0] if len(hits) == 1 else None


@dataclass(frozen=True)
class TabularFeatureConfig:
    """How :func:`tabular_features` builds rows from a numeric frame.

    ``columns``: the sensor columns to use (default: every numeric column). ``physics``: add derived
    columns (``power_w``, ``temperature_rise``, ``heat_dissipation``, ``wear_torque``) where the inputs
    are recognisable by name.
    ``window``: trailing rolling mean over this many rows (1 = rows as they are). ``trend``: also add
    ``<column>_trend``, the trailing ``window`` mean minus the trailing ``trend`` mean (a drift of the
    recent level against the longer past). ``group_by``: a column naming separate machines/units;
    rolling never crosses units.
    """

    columns: tuple[str, ...] | None = None
    physics: bool = True
    window: int = 1
    group_by: str | None = None
    exclude: tuple[str, ...] = field(default_factory=tuple)
    trend: int | None = None


def _physics(frame: pd.DataFrame) -> pd.DataFrame:
    cols = [str(c) for c in frame.columns]
    derived: dict[str, pd.Series] = {}
    torque, speed, wear = _find(cols, _TORQUE), _find(cols, _SPEED), _find(cols, _WEAR)
    proc, amb = _find(cols, _PROCESS_TEMP), _find(cols, _AMBIENT_TEMP)
    if torque and speed and "power_w" not in cols:
        derived["power_w"] = frame[torque] * frame[speed] * _TWO_PI_OVER_60
    if proc and amb and proc != amb and "temperature_rise" not in cols:
        derived["temperature_rise"] = frame[proc] - frame[amb]
        if speed and "heat_dissipation" not in cols:
            # convective heat removal grows with air flow (spindle speed) times the temperature difference
            derived["heat_dissipation"] = derived["temperature_rise"] * frame[speed]
    if torque and wear and "wear_torque" not in cols:
        derived["wear_torque"] = frame[torque] * frame[wear]
    return frame.assign(**derived) if derived else frame


def tabular_features(frame: pd.DataFrame, config: TabularFeatureConfig | None = None) -> pd.DataFrame:
    """Feature rows from a frame of numeric sensor columns, in the input's row order.

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"unit": [1, 1, 2], "s1": [1.0, 3.0, 10.0]})
        >>> tabular_features(f, TabularFeatureConfig(window=2, group_by="unit"))["s1"].tolist()
        [1.0, 2.0, 10.0]
    """
    config = config or TabularFeatureConfig()
    if config.window < 1:
        raise FeatureError("window must be at least 1 row")
    if config.columns is not None:
        missing = [c for c in config.columns if c not in frame.columns]
        if missing:
            raise FeatureError(f"columns not in the data: {', '.join(missing)}")
        base = frame[list(config.columns)]
    else:
        skip = {config.group_by, *config.exclude}
        base = frame[[c for c in frame.select_dtypes(include="number").columns if c not in skip]]
    if base.shape[1] == 0:
        raise FeatureError("no numeric feature columns")
    try:
        numeric = base.apply(pd.to_numeric, errors="raise").astype(float)
    except (TypeError, ValueError) as exc:
        raise FeatureError(f"feature columns must be numeric: {exc}") from exc
    if config.physics:
        numeric = _physics(numeric)
    if config.trend is not None and config.trend <= config.window:
        raise FeatureError("trend must be longer than window")
    if config.group_by is not None and config.group_by not in frame.columns:
        raise FeatureError(f"group column {config.group_by!r} not in the data")
    keys = None if config.group_by is None else frame[config.group_by].to_numpy()

    def trailing(data: pd.DataFrame, n: int) -> pd.DataFrame:
        if n <= 1:
            return data
        if keys is None:
            return data.rolling(n, min_periods=1).mean()
        return data.groupby(keys, sort=False).transform(lambda s: s.rolling(n, min_periods=1).mean())

    level = trailing(numeric, config.window)
    if config.trend is None:
        return level
    drift = (level - trailing(numeric, config.trend)).add_suffix("_trend")
    return pd.concat([level, drift], axis=1)
