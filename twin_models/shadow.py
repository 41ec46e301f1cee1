"""Device-shadow documents of a twin, built purely and kept inside AWS IoT's limits.

Each machine has named shadows: ``state`` (live machine state), ``config`` (desired
configuration the edge applies and reports back; a shadow of its own, so that telemetry updates
never race a configuration change), ``health`` (anomaly
score, severity, open alerts), ``usage`` (metered quantities of the current lease period)
and ``oee`` (latest shift result). AWS rejects a document over 8 KB, deeper than 6 levels
under ``desired``/``reported``, or with nulls in arrays; :func:`fit_to_limits` trims a
document by a fixed rule instead of letting AWS reject it at run time:

1. nulls are dropped from arrays;
2. while too large, the last element of the longest array is dropped (lists such as
   open alerts are kept newest-first, so the oldest go first), and a ``truncated`` marker
   is set;
3. a key nested deeper than allowed is replaced by its JSON text.

Example:
    >>> from datetime import datetime, timezone
    >>> from twin_models.telemetry import Sample
    >>> s = Sample(ts=datetime(2026, 1, 5, tzinfo=timezone.utc), state=601, part_count=7)
    >>> doc = state_reported(s, parts_total=7, rejects_total=0)
    >>> doc["state"], doc["category"], doc["counters"]["parts_total"]
    (601, 'breakdown', 7)
"""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json

from twin_models.construct import constructed
from twin_models.history import CounterPoint, Segment, count_increments
from twin_models.states import DEFAULT_TAXONOMY, StateTaxonomy
from twin_models.telemetry import Sample
from twin_models.timestamps import format_utc, parse_utc

__all__ = [
    "MAX_DEPTH",
    "MAX_SHADOW_BYTES",
    "SHADOW_NAMES",
    "document_size",
    "fit_to_limits",
    "merge_state",
    "state_reported",
    "update_payload",
]

MAX_SHADOW_BYTES = 8 * 1024
MAX_DEPTH = 6
SHADOW_NAMES = ("state", "config", "health", "usage", "oee")


def state_reported(
    sample: Sample,
    *,
    parts_total: int,
    rejects_total: int,
    taxonomy: StateTaxonomy = DEFAULT_TAXONOMY,
) -> dict[str, Any]:
    """The ``reported`` section of the ``state`` shadow from the newest sample.

    ``parts_total``/``rejects_total`` are reset-aware lifetime counts that never go
    backwards; ``controller`` keeps the raw cumulative counters as the machine reports them.
    """
    return {
        "state": sample.state,
        "category": taxonomy.category(sample.state).value,
        "program": sample.program,
        "spindle_speed_rpm": sample.spindle_speed_rpm,
        "feed_rate_mm_min": sample.feed_rate_mm_min,
        "spindle_load_pct": sample.spindle_load_pct,
        "vibration_rms_mm_s": sample.vibration_rms_mm_s,
        "temperature_c": sample.temperature_c,
        "power_kw": sample.power_kw,
        "tool": {"id": sample.tool_id, "wear_pct": sample.tool_wear_pct},
        "alarm_code": sample.alarm_code,
        "counters": {
            "parts_total": parts_total,
            "rejects_total": rejects_total,
            "controller": {"parts": sample.part_count, "rejects": sample.reject_count},
        },
        "last_sample_ts": format_utc(sample.ts),
    }


def _compact(doc: Any) -> bytes:
    """The compact JSON form a shadow document is sent in (UTF-8, no spaces), serialised by pydantic-core."""
    return to_json(doc)


def document_size(doc: dict[str, Any]) -> int:
    """Bytes of the compact JSON form AWS measures (the form :func:`update_payload` sends).

    Example:
        >>> document_size({"state": {"reported": {"program": "P100"}}})
        41
    """
    return len(_compact(doc))


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return max((_depth(v) for v in value), default=0)
    return 0


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _clean(value: Any, level: int) -> Any:
    if isinstance(value, dict):
        if level >= MAX_DEPTH:
            return _compact(value).decode()
        return {k: v if type(v) in _SCALARS else _clean(v, level + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, level) for v in value if v is not None]
    return value


def _longest_list(value: Any) -> list[Any] | None:
    best: list[Any] | None = None
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            if node and (best is None or len(node) > len(best)):
                best = node
            stack.extend(node)
    return best


def fit_to_limits(reported: dict[str, Any], max_bytes: int = MAX_SHADOW_BYTES) -> dict[str, Any]:
    """Trim a ``reported`` section so the update document is accepted by AWS IoT (see module doc).

    Example:
        >>> big = {"open_alerts": [{"id": i, "text": "x" * 200} for i in range(100)], "note": [1, None]}
        >>> fitted = fit_to_limits(big)
        >>> document_size({"state": {"reported": fitted}}) <= MAX_SHADOW_BYTES, fitted["note"], fitted["truncated"]
        (True, [1], True)
    """
    doc = _clean(reported, 1)
    if not isinstance(doc, dict):
        raise TypeError("a reported section is a JSON object")
    while document_size({"state": {"reported": doc}}) > max_bytes:
        victim = _longest_list(doc)
        if victim is None:
            raise ValueError(f"reported section cannot be trimmed under {max_bytes} bytes")
        victim.pop()
        doc["truncated"] = True
    return doc


def update_payload(reported: dict[str, Any], version: int | None = None) -> bytes:
    """The ``UpdateThingShadow`` payload; with ``version`` AWS rejects it (409) if the shadow moved on."""
    doc = _clean(reported, 1)
    if not isinstance(doc, dict):
        raise TypeError("a reported section is a JSON object")
    body: dict[str, Any] = {"state": {"reported": doc}}
    if version is not None:
        body["version"] = version
    payload = _compact(body)
    if len(payload) - (0 if version is None else len(f',"version":{version}')) <= MAX_SHADOW_BYTES:
        return payload  # the document as it is fits: no second serialisation to measure it
    body["state"]["reported"] = fit_to_limits(doc)
    return _compact(body)


def merge_state(
    current: dict[str, Any] | None, segments: list[Segment], taxonomy: StateTaxonomy = DEFAULT_TAXONOMY
) -> dict[str, Any] | None:
    """The new ``state`` reported section after a batch of a thing's segments, or None if nothing is newer
    (``taxonomy``: the site's state codes, which name the newest state's category).

    Coalesces any number of envelopes (in any order, duplicates included) into one update:
    the newest sample wins, and the lifetime counters grow by the reset-aware increments of
    every counter point newer than the shadow's last sample. Applying the same segments
    again changes nothing, which makes redelivery after a crash harmless.

    Example:
        >>> from datetime import datetime, timedelta, timezone
        >>> from twin_models.history import segment_from_envelope
        >>> from twin_models.telemetry import TelemetryEnvelope
        >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
        >>> def env(seq, counts):
        ...     samples = [Sample(ts=t + timedelta(seconds=seq * 10 + i), state=100, part_count=c)
        ...                for i, c in enumerate(counts)]
        ...     return segment_from_envelope(TelemetryEnvelope(machine_id="m", site="s", seq=seq,
        ...                                                    sent_at=t, samples=samples))
        >>> first = merge_state(None, [env(0, [10, 11])])
        >>> first["counters"]["parts_total"]
        11
        >>> second = merge_state(first, [env(1, [1, 2]), env(0, [10, 11])])  # reset to 0, redelivery
        >>> second["counters"]["parts_total"], merge_state(second, [env(1, [1, 2])])
        (13, None)
    """
    if not segments:
        return None
    newest = max((seg.last for seg in segments), key=lambda s: s.ts)
    previous: CounterPoint | None = None
    parts_total = rejects_total = 0
    if current and current.get("last_sample_ts"):
        last_ts = parse_utc(str(current["last_sample_ts"]))
        if newest.ts <= last_ts:
            return None
        counters = current.get("counters", {})
        controller = counters.get("controller", {})
        previous = CounterPoint(
            ts=last_ts, part_count=int(controller.get("parts", 0)), reject_count=int(controller.get("rejects", 0))
        )  # read from a stored document: validated
        parts_total = int(counters.get("parts_total", 0))
        rejects_total = int(counters.get("rejects_total", 0))
        points = [p for seg in segments for p in seg.counters if p.ts > last_ts]
    else:
        points = [p for seg in segments for p in seg.counters]
    points.append(
        constructed(
            CounterPoint, {"ts": newest.ts, "part_count": newest.part_count, "reject_count": newest.reject_count}
        )
    )
    unique = sorted({p.ts: p for p in points}.values(), key=lambda p: p.ts)
    if previous is None:
        previous = unique[0]
        parts_total, rejects_total = previous.part_count, previous.reject_count
    parts, rejects = count_increments(unique, previous)
    merged = state_reported(
        newest, parts_total=parts_total + parts, rejects_total=rejects_total + rejects, taxonomy=taxonomy
    )
    return {"schema": 1, **merged}
