"""The bounded numbers and days of the command lines' options, against Python's own reading of the text."""

from __future__ import annotations

import math
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin_models.bounds import BoundsError, day, number, whole

small = st.integers(min_value=-1000, max_value=1000)
words = st.sampled_from(["", " ", "abc", "1.5", "1e3", "0x10", "nan", "inf", "-inf", "--machines", "½", "1/2"])


@given(low=small, span=st.integers(min_value=0, max_value=100), value=st.one_of(small.map(str), words))
def test_a_whole_number_is_what_int_reads_within_the_bounds(low: int, span: int, value: str) -> None:
    check = whole(low, low + span)
    try:
        expected: int | None = int(value)
    except ValueError:
        expected = None
    if expected is not None and low <= expected <= low + span:
        assert check(value) == expected
    else:
        with pytest.raises(BoundsError, match=rf"^must be a whole number from {low} to {low + span}, not "):
            check(value)


@given(
    low=st.floats(-1e6, 1e6),
    span=st.floats(0, 1e6),
    low_open=st.booleans(),
    high_open=st.booleans(),
    value=st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), words),
)
def test_a_number_is_finite_and_within_the_bounds(
    low: float, span: float, low_open: bool, high_open: bool, value: str
) -> None:
    high = low + span
    check = number(low, high, low_open=low_open, high_open=high_open)
    try:
        parsed = float(value)
    except ValueError:
        parsed = math.nan
    above = parsed > low if low_open else parsed >= low
    below = parsed < high if high_open else parsed <= high
    if math.isfinite(parsed) and above and below:
        assert check(value) == parsed
    else:
        with pytest.raises(BoundsError, match=r"^must be a number "):
            check(value)


@given(value=st.integers(min_value=-(10**30), max_value=10**30))
def test_an_open_ended_whole_number_takes_any_size_above_its_floor(value: int) -> None:
    if value >= 0:
        assert whole(0)(str(value)) == value
    else:
        with pytest.raises(BoundsError, match="at least 0"):
            whole(0)(str(value))


@given(value=st.one_of(st.dates().map(date.isoformat), words))
def test_a_day_is_an_iso_date_within_the_range(value: str) -> None:
    first, last = date(2000, 1, 1), date(2099, 12, 31)
    try:
        parsed: date | None = date.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is not None and first <= parsed <= last:
        assert day(first, last)(value) == parsed
    else:
        with pytest.raises(BoundsError, match="from 2000-01-01 to 2099-12-31"):
            day(first, last)(value)


def test_the_messages_say_what_is_taken() -> None:
    with pytest.raises(BoundsError) as caught:
        number(0, 1, low_open=True, high_open=True)("1")
    assert str(caught.value) == "must be a number above 0 and below 1, not '1'"
    with pytest.raises(BoundsError) as caught:
        whole()("x")
    assert str(caught.value) == "must be a whole number, not 'x'"
