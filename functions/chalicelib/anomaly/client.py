"""Score a machine's feature windows on the anomaly endpoint: ``score_windows(machine_id, windows) -> AnomalyResult``.

One call per machine per ingest batch; windows are oldest first. The alarm state returned in the result
goes back in with the next call (the health shadow keeps it), so persistence and hysteresis span batches.

Example (in-process model, as in the embedded demo):
    >>> result = score_windows("mill-01", [{"samples": samples}], state=alarm_state, endpoint=ep)  # doctest: +SKIP
    >>> result.severity, result.action, result.contributions                                    # doctest: +SKIP
    ('warning', 'spindle_bearings', {'vibration_rms': 0.81, 'vibration_trend': 0.12, ...})
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.anomaly.errors import AnomalyServiceError, ScoringFailedError
from chalicelib.ports.anomaly import AnomalyEndpoint, EndpointError
from twin_models.sample_fields import FEATURE_INPUT_FIELDS
from twin_models.telemetry import Sample
from twin_models.timestamps import format_utc

__all__ = ["AnomalyResult", "score_windows", "windows_from_samples"]


@dataclass(frozen=True)
class AnomalyResult:
    """The endpoint's verdict on one machine's batch of windows.

    ``severity``/``score``/``action``/``contributions`` describe the worst window; ``alarm`` is whether
    the persistent alarm is active after the last window; ``state`` is the alarm state to store;
    ``windows`` has the per-window results in request order; ``onsets`` counts the alarm episodes that
    started in the batch, ``escalated`` says an episode outlived the escalation time in it, ``missing``
    names the model's features the samples did not carry; ``model_hash`` names the model version that
    scored (every alarm raised from this result records it).
    """

    machine_id: str
    severity: str
    score: float
    alarm: bool
    action: str
    contributions: dict[str, float]
    threshold: float
    critical: float
    state: dict[str, Any]
    action_text: str = ""
    windows: list[dict[str, Any]] = field(default_factory=list)
    model: dict[str, Any] = field(default_factory=dict)
    onsets: int = 0
    escalated: bool = False
    missing: tuple[str, ...] = ()

    @property
    def model_hash(self) -> str | None:
        """The hash of the model that scored (the endpoint's ``model.model_hash``), if it named one."""
        value = self.model.get("model_hash")
        return value if isinstance(value, str) and value else None


#: What a sample sends to the endpoint: its state and the fields the window features read.
_WIRE_FIELDS = ("state", *FEATURE_INPUT_FIELDS)


def _sample_dict(sample: Any) -> dict[str, Any]:
    if isinstance(sample, Mapping):
        return dict(sample)
    if isinstance(sample, Sample):  # the hot path: only what the features read, JSON-ready
        row: dict[str, Any] = {"ts": format_utc(sample.ts)}
        for name in _WIRE_FIELDS:
            value = getattr(sample, name, None)
            if value is not None:
                row[name] = value
        return row
    dump = getattr(sample, "model_dump", None)
    if callable(dump):
        return dict(dump(mode="json"))
    raise AnomalyServiceError(f"a sample must be a mapping or a pydantic model, not {type(sample).__name__}")


def windows_from_samples(samples: Sequence[Any], window: int = 60, min_samples: int = 30) -> list[dict[str, Any]]:
    """Cut one machine's samples (oldest first; ``Sample`` models or dicts) into ``{"samples": [...]}``
    windows of ``window`` samples; a shorter tail is kept when it has at least ``min_samples``.

    Example:
        >>> [len(w["samples"]) for w in windows_from_samples([{"temperature_c": 30.0}] * 150)]
        [60, 60, 30]
    """
    if window < 1 or min_samples < 1:
        raise AnomalyServiceError("window and min_samples must be positive")
    rows = [_sample_dict(s) for s in samples]
    out = []
    for start in range(0, len(rows), window):
        chunk = rows[start : start + window]
        if len(chunk) == window or len(chunk) >= min_samples:
            out.append({"samples": chunk})
    return out


def score_windows(
    machine_id: str,
    windows: Sequence[Mapping[str, Any]],
    *,
    state: Mapping[str, Any] | None = None,
    baseline_temperature: float | None = None,
    endpoint: AnomalyEndpoint,
) -> AnomalyResult:
    """Send one machine's windows (``{"samples": [...]}`` or feature dicts) to the endpoint."""
    if not windows:
        raise AnomalyServiceError("no windows to score")
    request: dict[str, Any] = {"thing": machine_id, "windows": [dict(w) for w in windows]}
    if state:
        request["state"] = dict(state)
    if baseline_temperature is not None:
        request["baseline"] = {"temperature_c": baseline_temperature}
    body = json.dumps(request, default=str, separators=(",", ":")).encode()
    try:
        raw = endpoint.invoke(body, "application/json")
    except EndpointError as exc:
        raise ScoringFailedError(str(exc)) from exc
    try:
        data = json.loads(raw)
        summary = data["summary"]
        model = data.get("model", {})
        return AnomalyResult(
            machine_id=machine_id,
            severity=str(summary["severity"]),
            score=float(summary["score"]),
            alarm=bool(summary["alarm"]),
            action=str(summary["action"]),
            contributions={str(k): float(v) for k, v in summary.get("contributions", {}).items()},
            threshold=float(model.get("threshold", float("nan"))),
            critical=float(model.get("critical", float("nan"))),
            state=dict(data["state"]),
            action_text=str(summary.get("action_text", "")),
            windows=list(data["results"]),
            model=dict(model),
            onsets=int(summary.get("onsets", 0)),
            escalated=bool(summary.get("escalated", False)),
            missing=tuple(str(m) for m in summary.get("missing", [])),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ScoringFailedError(f"unreadable endpoint response: {exc}") from exc
