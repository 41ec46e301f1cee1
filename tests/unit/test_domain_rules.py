"""The rules that live once in the domain: counter deltas, time forms, the time budget."""

from __future__ import annotations

import doctest
import importlib
import itertools
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin_models.budget import time_budget_s
from twin_models.counters import counter_delta, counter_reset
from twin_models.timestamps import (
    TimestampError,
    format_utc,
    from_micros,
    from_seconds,
    parse_utc,
    seconds_to_micros,
    to_micros,
    to_seconds,
)

MODULES = [
    "twin_models.budget",
    "twin_models.device_config",
    "twin_models.sample_fields",
    "twin_models.tenancy",
    "twin_models.telemetry",
    "twin_models.counters",
    "twin_models.timestamps",
    "twin_models.anomaly.artifact",
    "twin_models.anomaly.sensor_csv",
    "twin_models.jws",
    "twin_models.columnar",
    "twin_models.history",
    "twin_models.shadow",
]

readings = st.lists(st.integers(min_value=0, max_value=2**40), min_size=2, max_size=50)
instants = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
) | st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2200, 1, 1),
    timezones=st.builds(timezone, st.integers(-14 * 60, 14 * 60).map(lambda m: timedelta(minutes=m))),
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@given(readings)
def test_counter_delta_is_the_same_rule_on_ints_and_arrays(values: list[int]) -> None:
    arr = np.asarray(values, dtype=np.int64)
    scalar = [counter_delta(a, b) for a, b in itertools.pairwise(values)]
    assert counter_delta(arr[:-1], arr[1:]).tolist() == scalar
    assert counter_reset(arr[:-1], arr[1:]).tolist() == [b < a for a, b in itertools.pairwise(values)]
    # an increase counts the difference, a reset counts the new reading: never negative
    assert all(d == (b - a if b >= a else b) and d >= 0 for d, a, b in zip(scalar, values, values[1:], strict=False))


def test_a_counter_that_never_resets_adds_up_to_last_minus_first() -> None:
    values = [19000, 19271, 19300, 19300, 20000]
    assert sum(counter_delta(a, b) for a, b in itertools.pairwise(values)) == values[-1] - values[0]


@given(instants)
def test_text_and_micros_round_trip(moment: datetime) -> None:
    text = format_utc(moment)
    assert text.endswith("Z") and "+" not in text
    assert parse_utc(text) == moment and parse_utc(text).tzinfo is UTC
    assert from_micros(to_micros(moment)) == moment
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)  # exact, unlike total_seconds() * 1e6
    assert to_micros(moment) == (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    assert abs(from_seconds(to_seconds(moment)) - moment) <= timedelta(microseconds=1)  # floats: to the microsecond
    assert from_seconds(to_seconds(moment)).tzinfo is UTC


def test_text_drops_only_a_needless_fraction() -> None:
    t = datetime(2026, 1, 5, 6, tzinfo=UTC)
    assert format_utc(t) == "2026-01-05T06:00:00Z"
    assert format_utc(t.replace(microsecond=250000)) == "2026-01-05T06:00:00.25Z"
    assert format_utc(t.replace(microsecond=1)) == "2026-01-05T06:00:00.000001Z"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: format_utc(datetime(2026, 1, 5)), "naive datetime"),
        (lambda: to_micros(datetime(2026, 1, 5)), "naive datetime"),
        (lambda: to_seconds(datetime(2026, 1, 5)), "naive datetime"),
        (lambda: parse_utc("2026-01-05T06:00:00"), "has no time zone"),
        (lambda: parse_utc("06:00 on Monday"), "is not an ISO 8601 timestamp"),
        (lambda: parse_utc(1767592800), "is ISO 8601 text"),  # type: ignore[arg-type]
    ],
)
def test_naive_or_unparsable_time_is_refused_clearly(call: object, message: str) -> None:
    with pytest.raises(TimestampError, match=message) as caught:
        call()  # type: ignore[operator]
    assert isinstance(caught.value, ValueError)


def test_seconds_to_micros_rounds_floats_and_scales_ints() -> None:
    assert seconds_to_micros(np.array([1.0000004, 1.0000006, 2.5])).tolist() == [1000000, 1000001, 2500000]
    assert seconds_to_micros(np.array([3], dtype=np.int32)).dtype == np.int64


@given(st.integers(min_value=0, max_value=15 * 60 * 1000))
def test_time_budget_reproduces_both_schedules(remaining_ms: int) -> None:
    left = remaining_ms / 1000
    # billing: a fifth of the remaining time, at most a minute, kept back; never below zero
    assert time_budget_s(remaining_ms) == pytest.approx(max(0.0, left - min(60.0, left / 5)))
    # anchoring: 30 s kept back, at least one second to start a batch
    anchoring = time_budget_s(remaining_ms, margin_fraction=1.0, max_margin_s=30.0, floor_s=1.0, default=600.0)
    assert anchoring == max(1.0, left - 30.0)


def test_time_budget_without_a_deadline_is_the_default() -> None:
    assert time_budget_s(None) is None
    assert time_budget_s(None, default=600.0) == 600.0
