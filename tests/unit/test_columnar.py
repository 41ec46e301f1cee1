"""Envelope v3 (columns): whatever samples a gateway seals, the cloud reads back exactly what v2 would give.

The oracle is the v2 reading of the same samples (one object per sample, parsed by the model): the columns,
the history segment and the usage events of a v3 envelope must equal those of the v2 envelope.
"""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, fields
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin_models.billing import MeteringConfig, derive_usage_events
from twin_models.columnar import encode_columns, parse_columns
from twin_models.columns import sample_columns
from twin_models.history import segment_from_envelope
from twin_models.signing import build_envelope
from twin_models.telemetry import EnvelopeError, Sample

T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)
NOW = T0 + timedelta(days=3)
FLOAT = st.floats(min_value=0, max_value=900, allow_nan=False, allow_infinity=False)
ROUNDED = st.integers(0, 90_000).map(lambda v: v / 100)  # what a controller reports: a few decimals
NAME = st.sampled_from(["", "P100", "P200", 'T":x'])


@st.composite
def sample_lists(draw: st.DrawFn) -> list[Sample]:
    n = draw(st.integers(1, 80))
    steps = draw(st.lists(st.sampled_from([1_000_000, 1_000_000, 1_000_000, 2_000_000, 1, 0]), min_size=n, max_size=n))
    times, at = [], T0 + timedelta(microseconds=draw(st.integers(0, 10**6)))
    for step in steps:
        at += timedelta(microseconds=step)
        times.append(at)
    if draw(st.booleans()):  # a sample sent out of order
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        times[i], times[j] = times[j], times[i]
    state = draw(st.sampled_from([100, 100, 500, 600, 702]))
    rows = []
    for t in times:
        if draw(st.integers(0, 9)) == 0:
            state = draw(st.sampled_from([100, 500, 600, 601, 702, 710]))
        rows.append(
            Sample(
                ts=t,
                state=state,
                spindle_speed_rpm=draw(st.one_of(ROUNDED, FLOAT)),
                spindle_load_pct=draw(ROUNDED),
                spindle_current_a=draw(st.one_of(st.none(), ROUNDED)),
                vibration_rms_mm_s=draw(ROUNDED),
                temperature_c=draw(st.floats(min_value=-50, max_value=400, allow_nan=False)),
                power_kw=draw(st.one_of(ROUNDED, st.just(0.0))),
                part_count=draw(st.integers(0, 2**64 - 1)) if draw(st.integers(0, 20)) == 0 else 7,
                reject_count=draw(st.integers(0, 3)),
                tool_id=draw(NAME),
                tool_wear_pct=draw(st.floats(min_value=0, max_value=200)),
                program=draw(NAME),
                alarm_code=draw(st.sampled_from([0, 0, 0, 2001, 4100])),
                ideal_cycle_time_s=draw(st.one_of(st.none(), st.just(30.0))),
                order_id=draw(st.one_of(st.none(), st.just("PO-1"))),
            )
        )
    return rows


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample_lists(), st.booleans())
def test_a_v3_envelope_reads_back_what_the_v2_envelope_of_the_same_samples_reads(
    rows: list[Sample], with_previous: bool
) -> None:
    previous = Sample(ts=T0 - timedelta(seconds=5), state=100, part_count=3) if with_previous else None
    v2 = build_envelope("cnc-01", "plant-a", 4, rows, None, previous, version=2)
    v3 = parse_columns(encode_columns("cnc-01", "plant-a", 4, rows, v2.sent_at, previous), now=NOW)
    want, got = v2.columns, v3.columns
    for name in ("ts_us", "state", "part_count", "reject_count", "alarm_code", "program"):
        assert getattr(got, name).tolist() == getattr(want, name).tolist(), name
    for name in ("power_kw", "vibration", "temperature", "ideal", "spindle_load", "spindle_speed"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    assert v3.samples == want.samples  # every field of every sample, in the same (stable) time order
    assert (v3.first_ts, v3.last_ts, v3.sent_at, v3.previous) == (v2.first_ts, v2.last_ts, v2.sent_at, v2.previous)
    assert segment_from_envelope(v3).model_dump() == segment_from_envelope(v2).model_dump()
    assert derive_usage_events(got, "cnc-01", previous=previous, source="s") == derive_usage_events(
        want, "cnc-01", previous=previous, source="s"
    )


def _runs(draw: st.DrawFn, n: int, values: st.SearchStrategy[Any]) -> list[Any]:
    """``n`` values in a few runs (one run: the column is sent as one value)."""
    cuts = sorted(draw(st.lists(st.integers(1, max(1, n - 1)), max_size=3))) if n > 1 else []
    out: list[Any] = []
    for a, b in zip([0, *cuts], [*cuts, n], strict=True):
        out += [draw(values)] * (b - a)
    return out


@st.composite
def steady_lists(draw: st.DrawFn) -> tuple[list[Sample], Sample | None]:
    """What a gateway mostly sends: evenly spaced samples (one ``dt_us`` run) whose columns hold one value or a
    few runs, near a 15-minute bucket boundary or across it; and a carried previous sample, maybe after some
    of them."""
    n = draw(st.integers(1, 90))
    step = draw(st.sampled_from([1_000_000, 1_000_000, 0, 1, 500_000, 2_000_000, 600_000_000]))
    start = datetime(2026, 1, 5, 6, 14, tzinfo=UTC) + timedelta(microseconds=draw(st.integers(0, 61_000_000)))
    columns = {
        "state": _runs(draw, n, st.sampled_from([100, 100, 500, 600, 604, 702])),
        "program": _runs(draw, n, NAME),
        "ideal_cycle_time_s": _runs(draw, n, st.one_of(st.none(), st.just(30.0), st.just(12.5))),
        "part_count": _runs(draw, n, st.one_of(st.integers(0, 12), st.just(2**64 - 1))),
        "reject_count": _runs(draw, n, st.integers(0, 2)),
        "alarm_code": _runs(draw, n, st.sampled_from([0, 0, 2001, 4100])),
        "power_kw": _runs(draw, n, st.one_of(ROUNDED, st.just(0.0), st.just(-0.0))),
        "spindle_load_pct": _runs(draw, n, ROUNDED),
        "spindle_speed_rpm": _runs(draw, n, st.sampled_from([0.0, 2999.5, 3000.0, 8000.0])),
        "vibration_rms_mm_s": _runs(draw, n, ROUNDED),
        "temperature_c": _runs(draw, n, st.sampled_from([20.0, 31.5, 400.0])),
    }
    rows = [
        Sample(ts=start + timedelta(microseconds=i * step), **{k: v[i] for k, v in columns.items()}) for i in range(n)
    ]
    previous = None
    if draw(st.booleans()):
        at = draw(st.integers(-2, n - 1))  # before the first sample, or at one of them (those are metered before)
        previous = Sample(
            ts=start + timedelta(microseconds=at * step) - timedelta(microseconds=0 if at >= 0 else 1),
            state=draw(st.sampled_from([100, 604])),
            part_count=draw(st.integers(0, 12)),
            alarm_code=draw(st.sampled_from([0, 4100])),
        )
    return rows, previous


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steady_lists())
def test_a_steady_v3_envelope_reads_back_what_the_v2_envelope_reads(case: tuple[list[Sample], Sample | None]) -> None:
    """The columns sent as one value and the one time step are shortcuts for segments and metering: they give
    exactly what the same samples give read one by one."""
    rows, previous = case
    v2 = build_envelope("cnc-01", "plant-a", 4, rows, None, previous, version=2)
    v3 = parse_columns(encode_columns("cnc-01", "plant-a", 4, rows, v2.sent_at, previous), now=NOW)
    assert v3.samples == v2.columns.samples
    assert segment_from_envelope(v3).model_dump() == segment_from_envelope(v2).model_dump()
    config = MeteringConfig(overload_alarm_codes=frozenset({4100}), crash_alarm_codes=frozenset({2001}))
    for cfg in (None, config):
        assert derive_usage_events(v3.columns, "cnc-01", previous=previous, source="s", config=cfg) == (
            derive_usage_events(v2.columns, "cnc-01", previous=previous, source="s", config=cfg)
        )


def test_a_steady_minute_is_read_with_its_shortcuts() -> None:
    """The shortcuts are taken where they apply (so the property above tests them, not only the general path)."""
    rows = [Sample(ts=T0 + timedelta(seconds=i), state=100, part_count=i // 20, program="P100") for i in range(60)]
    columns = parse_columns(encode_columns("cnc-01", "plant-a", 0, rows), now=NOW).columns
    assert columns.step_us == 1_000_000
    assert {"state", "program", "ideal", "reject_count", "alarm_code", "power_kw"} <= columns.uniform
    assert "part_count" not in columns.uniform
    assert not columns.state.flags.writeable  # shared between envelopes: nobody may change it


def test_a_parsed_envelope_holds_every_field_of_its_dataclasses() -> None:
    """The parse fills the envelope and its columns without their ``__init__``: every field must be set."""
    rows = [Sample(ts=T0 + timedelta(seconds=i), state=100, temperature_c=30 + i) for i in range(5)]
    envelope = parse_columns(encode_columns("cnc-01", "plant-a", 4, rows), now=NOW)
    assert set(vars(envelope)) == {f.name for f in fields(envelope)}
    assert {f.name for f in fields(envelope.columns)} <= set(vars(envelope.columns))
    assert (envelope.v, envelope.signature, envelope.seq, envelope.columns.given) == (3, None, 4, None)
    with pytest.raises(FrozenInstanceError):
        envelope.seq = 5  # type: ignore[misc]


def _payload(**changes: Any) -> dict[str, Any]:
    rows = [Sample(ts=T0 + timedelta(seconds=i), state=100, temperature_c=30 + i / 10) for i in range(4)]
    doc: dict[str, Any] = json.loads(encode_columns("cnc-01", "plant-a", 0, rows))
    doc.update(changes)
    return doc


def _reason(raw: bytes) -> tuple[str, str]:
    with pytest.raises(EnvelopeError) as caught:
        parse_columns(raw, now=NOW)
    return caught.value.reason, caught.value.detail


@pytest.mark.parametrize(
    ("raw", "reason", "named"),
    [
        (json.dumps(_payload()).replace('"seq": 0', '"seq": 0, "seq": 7').encode(), "malformed_json", "duplicate key"),
        (
            json.dumps(_payload()).replace('"state": ', '"state": [1, 2, 3, 4], "state": ', 1).encode(),
            "malformed_json",
            "dup",
        ),
        (json.dumps(_payload(columns={"state": {"rle": [[100, 3]]}})).encode(), "schema_violation", "state: 3 values"),
        (
            json.dumps(_payload(columns={"state": [100] * 4, "temperature_c": [1e3] * 4})).encode(),
            "schema_violation",
            "columns.temperature_c",
        ),
        (json.dumps(_payload(columns={"state": [100] * 4, "colour": [1] * 4})).encode(), "schema_violation", "colour"),
        (json.dumps(_payload(columns={"state": [1234] * 4})).encode(), "schema_violation", "not a state code"),
        (json.dumps({k: v for k, v in _payload().items() if k != "dt_us"}).encode(), "schema_violation", "dt_us"),
        (json.dumps(_payload(dt_us=[86_400 * 10**6 + 1] * 3)).encode(), "schema_violation", "dt_us"),
        (json.dumps(_payload(t0="2036-01-05T06:00:00Z")).encode(), "future_timestamp", "after"),
        (json.dumps(_payload(v=2)).encode(), "schema_violation", "v"),
        (json.dumps(_payload(columns={"power_kw": [1, 2, 3, 4]})).encode(), "schema_violation", "columns.state"),
        (b"[" * 40 + b"]" * 40, "malformed_json", "nested"),
    ],
)
def test_a_bad_v3_payload_is_refused_with_its_reason_and_field(raw: bytes, reason: str, named: str) -> None:
    found, detail = _reason(raw)
    assert found == reason and named in detail


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_no_mutation_of_a_v3_payload_raises_anything_but_an_envelope_error(data: st.DataObject) -> None:
    raw = json.dumps(_payload()).encode()
    at = data.draw(st.integers(0, len(raw) - 1))
    mutated = raw[:at] + data.draw(st.binary(max_size=6)) + raw[at + data.draw(st.integers(0, 4)) :]
    try:
        envelope = parse_columns(mutated, now=NOW)
    except EnvelopeError as exc:
        assert exc.reason in {"malformed_json", "schema_violation", "future_timestamp"} and exc.detail
    else:  # what was read is what the bytes say
        assert len(envelope.samples) == len(envelope.columns) == json.loads(mutated)["n"]


def test_runs_make_a_steady_minute_small() -> None:
    rows = [Sample(ts=T0 + timedelta(seconds=i), state=100, part_count=i // 20, program="P100") for i in range(60)]
    doc = json.loads(encode_columns("cnc-01", "plant-a", 0, rows))
    assert doc["dt_us"] == {"rle": [[1_000_000, 59]]}
    assert doc["columns"]["part_count"] == {"rle": [[0, 20], [1, 20], [2, 20]]}
    assert set(doc["columns"]) == {"state", "part_count", "program"}  # fields at their defaults are left out
    assert (
        sample_columns(rows).part_count.tolist()
        == parse_columns(json.dumps(doc).encode(), now=NOW).columns.part_count.tolist()
    )


@pytest.mark.parametrize("n", [1, 3, 5, 61])
def test_energy_on_a_rounding_tie_from_one_power_is_exact(n: int) -> None:
    """0.0018 kW for a second is 0.5e-6 kWh exactly: an odd count of such seconds lands on a tie of the 6th
    decimal, which only the exact sum rounds right (half-even); one power sent as one run takes the shortcut."""
    rows = [Sample(ts=T0 + timedelta(seconds=i), state=100, power_kw=0.0018) for i in range(n)]
    v2 = build_envelope("cnc-01", "plant-a", 0, rows, None, None, version=2)
    v3 = parse_columns(encode_columns("cnc-01", "plant-a", 0, rows), now=NOW)
    assert "power_kw" in v3.columns.uniform
    got = derive_usage_events(v3.columns, "cnc-01", source="s")
    assert got == derive_usage_events(v2.columns, "cnc-01", source="s")
    energy = [e.quantity for e in got if e.meter == "energy_kwh"]
    want = (Decimal("0.0000005") * n).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    assert energy == ([want] if want else [])
