"""SageMaker inference handlers: ``model_fn``, ``input_fn``, ``predict_fn``, ``output_fn``.

Imports only ``twin_models`` and numpy/pandas/scikit-learn, so it runs in the stock scikit-learn
serving container and in the local endpoint server alike.

Request (``application/json``), one machine per call, windows oldest first::

    {"thing": "mill-01",
     "state": {...alarm state returned by the previous call, optional...},
     "baseline": {"temperature_c": 31.5},            # optional, the machine's healthy baseline
     "windows": [{"samples": [{"ts": "...", "vibration_rms_mm_s": 1.2, ...}, ...]},  # raw 1 Hz samples
                 {"vibration_rms": 1.3, "temperature": 35.1, ...}]}                # or computed features

``text/csv``: a header row and one row per record (raw sensor columns, as at training time).

Response (``application/json``)::

    {"thing": "mill-01", "results": [{"score": 0.8, "over_threshold": 0, "is_anomaly": 0,
      "severity": "ok", "action": "general_inspection", "contributions": {"vibration_rms": 0.6, ...}}],
     "summary": {"score": ..., "severity": ..., "action": ..., "action_text": ..., "alarm": false},
     "state": {...}, "model": {"model_hash": "0x...", "detector": "zscore", "threshold": ..., "critical": ...}}

``model_hash`` names the model version that scored (the blob's SHA-256, or for a federated fleet model
the anchored global-model hash of its round, ``federation_round``); every alarm records it.

With ``Accept: text/csv`` the response is ``score,is_anomaly,alarm_onset,severity,action`` per row.

Example:
    >>> import numpy as np, pandas as pd
    >>> from twin_models.anomaly import AnomalyModel
    >>> model = AnomalyModel.fit(pd.DataFrame(np.random.default_rng(0).normal(size=(200, 2)), columns=["a", "b"]))
    >>> req = input_fn('{"thing": "m1", "windows": [{"a": 0.1, "b": 0.2}]}', "application/json")
    >>> body, ctype = output_fn(predict_fn(req, model), "application/json")
    >>> ctype, json.loads(body)["results"][0]["severity"]
    ('application/json', 'ok')
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from twin_models.anomaly import ACTIONS, AlarmState, AnomalyModel, FeatureError, model_hash, window_rows
from twinledger.files.anomaly import load_model_dir

__all__ = ["InferenceRequest", "input_fn", "model_fn", "output_fn", "predict_fn"]

JSON = "application/json"
CSV = "text/csv"
_SEVERITY_RANK = {"ok": 0, "warning": 1, "critical": 2}
_TOP_CONTRIBUTIONS = 5


@dataclass(frozen=True)
class InferenceRequest:
    """A parsed request: feature rows (or a raw table for the CSV path), the machine and its alarm state."""

    thing: str | None
    rows: pd.DataFrame
    raw_table: bool
    state: AlarmState | None


def model_fn(model_dir: str) -> AnomalyModel:
    """Load the model SageMaker unpacked from ``model.tar.gz``."""
    return load_model_dir(model_dir)


def _content_type(value: str | None) -> str:
    return (value or JSON).split(";")[0].strip().lower()


def input_fn(request_body: str | bytes, request_content_type: str | None = JSON) -> InferenceRequest:
    """Parse a JSON or CSV request body (see the module docstring)."""
    ctype = _content_type(request_content_type)
    text = request_body.decode("utf-8-sig") if isinstance(request_body, bytes) else request_body
    if ctype == CSV:
        try:
            table = pd.read_csv(io.StringIO(text))
        except (ValueError, pd.errors.ParserError) as exc:
            raise FeatureError(f"unreadable CSV body: {exc}") from exc
        if table.empty:
            raise FeatureError("the CSV body has no rows")
        return InferenceRequest(thing=None, rows=table, raw_table=True, state=None)
    if ctype != JSON:
        raise FeatureError(f"unsupported content type {request_content_type!r}; use {JSON} or {CSV}")
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise FeatureError(f"request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise FeatureError("the JSON body must be an object")
    windows = body.get("windows", body.get("instances"))
    if not isinstance(windows, list):
        raise FeatureError('the JSON body needs a "windows" list')
    baseline = body.get("baseline") or {}
    if not isinstance(baseline, dict):
        raise FeatureError('"baseline" must be an object')
    base_temp = baseline.get("temperature_c")
    thing = body.get("thing")
    return InferenceRequest(
        thing=None if thing is None else str(thing),
        rows=window_rows(windows, None if base_temp is None else float(base_temp)),
        raw_table=False,
        state=AlarmState.from_dict(body.get("state")),
    )


def predict_fn(input_data: InferenceRequest, model: AnomalyModel) -> dict[str, Any]:
    """Score the rows in order, carry the alarm state, summarise the worst row."""
    rows = model.features_from_frame(input_data.rows) if input_data.raw_table else input_data.rows
    model.check_features(rows)
    evaluation = model.evaluate(rows, input_data.state)
    frame = evaluation.frame
    shares = evaluation.contributions.to_numpy()
    names = list(evaluation.contributions.columns)
    results: list[dict[str, Any]] = []
    for i, rec in enumerate(frame.itertuples(index=False)):
        order = np.argsort(-shares[i])[:_TOP_CONTRIBUTIONS]
        results.append(
            {
                "score": round(float(rec.score), 6),
                "over_threshold": int(rec.over_threshold),
                "is_anomaly": int(rec.is_anomaly),
                "alarm_onset": int(rec.alarm_onset),
                "escalated": int(rec.escalated),
                "severity": str(rec.severity),
                "action": str(rec.action),
                "contributions": {names[j]: round(float(shares[i, j]), 4) for j in order},
            }
        )
    worst = max(range(len(results)), key=lambda i: (_SEVERITY_RANK[results[i]["severity"]], results[i]["score"]))
    last = results[-1]
    return {
        "thing": input_data.thing,
        "results": results,
        "summary": {
            "score": results[worst]["score"],
            "severity": results[worst]["severity"],
            "action": results[worst]["action"],
            "action_text": ACTIONS.get(results[worst]["action"], ""),
            "contributions": results[worst]["contributions"],
            "alarm": bool(last["is_anomaly"]),
            "onsets": sum(r["alarm_onset"] for r in results),
            "escalated": any(r["escalated"] for r in results),
            "missing": list(evaluation.missing),
        },
        "state": evaluation.state.to_dict(),
        "model": {
            "model_hash": model_hash(model),
            "federation_round": (model.meta.get("federation") or {}).get("round"),
            "detector": model.meta.get("detector"),
            "trained_at": model.meta.get("trained_at"),
            "threshold": model.calibration.threshold,
            "critical": model.calibration.critical,
            "expected_events_per_day": model.calibration.expected_events_per_day,
        },
    }


def output_fn(prediction: dict[str, Any], accept: str | None = JSON) -> tuple[str, str]:
    """Serialise as JSON (default) or CSV; returns ``(body, content_type)``."""
    ctype = _content_type(accept)
    if ctype in (CSV,):
        frame = pd.DataFrame(prediction["results"])[["score", "is_anomaly", "alarm_onset", "severity", "action"]]
        return frame.to_csv(index=False), CSV
    if ctype not in (JSON, "*/*"):
        raise FeatureError(f"unsupported accept type {accept!r}; use {JSON} or {CSV}")
    return json.dumps(prediction, separators=(",", ":")), JSON
