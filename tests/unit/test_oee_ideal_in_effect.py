"""OEE rates every part with the ideal cycle time that was in effect when it was made, read from history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin_models.history import Segment, oee_input, segment_from_envelope, timeline
from twin_models.oee import compute_oee
from twin_models.oee.errors import OeeInputError
from twin_models.states import StateCode
from twin_models.telemetry import Sample, TelemetryEnvelope

T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)


def _segments(stretches: list[tuple[int, float | None, int]]) -> list[Segment]:
    """One envelope per stretch ``(seconds, ideal stated or None, state)``; a part every 2 s while running."""
    segments, t, parts = [], T0, 0
    for seq, (seconds, ideal, state) in enumerate(stretches):
        samples = []
        for i in range(seconds):
            if state == StateCode.RUNNING and i % 2 == 1:
                parts += 1
            samples.append(
                Sample(
                    ts=t + timedelta(seconds=i), state=state, part_count=parts, program="P1", ideal_cycle_time_s=ideal
                )
            )
        env = TelemetryEnvelope(machine_id="m", site="s", seq=seq, sent_at=t, samples=samples)
        segments.append(Segment.from_item(segment_from_envelope(env).to_item()))  # through storage
        t += timedelta(seconds=seconds)
    return segments


def _expected_ideal_total(stretches: list[tuple[int, float | None, int]], registered: float) -> float:
    """Independently: each part's ideal is the value stated in its own sample, else the registered one.
    The first sample of the first stretch is the counter baseline, so it makes no part."""
    total = 0.0
    for seconds, ideal, state in stretches:
        if state == StateCode.RUNNING:
            total += (seconds // 2) * (registered if ideal is None else ideal)
    return total


def test_a_change_of_ideal_cycle_time_applies_from_the_moment_it_took_effect() -> None:
    # 10 min at 1.0 s/part stated, then 10 min at 1.5 s/part stated, then 10 min not stated (registry: 1.2)
    stretches: list[tuple[int, float | None, int]] = [(600, 1.0, 100), (600, 1.5, 100), (600, None, 100)]
    segments = _segments(stretches)
    end = T0 + timedelta(seconds=1800)
    result = compute_oee([oee_input("m", segments, T0, end, {"P1": 1.2})], T0, end)
    assert result.total.performance == pytest.approx((300 * 1.0 + 300 * 1.5 + 300 * 1.2) / 1800)
    # the registry alone would say otherwise: the history's values were used
    assert result.total.performance != pytest.approx(900 * 1.2 / 1800)


def test_stated_values_need_no_registered_ideal_but_unstated_counts_do() -> None:
    stated = _segments([(600, 2.0, 100)])
    end = T0 + timedelta(seconds=600)
    assert compute_oee([oee_input("m", stated, T0, end, {})], T0, end).total.performance == pytest.approx(1.0)
    unstated = _segments([(600, None, 100)])
    with pytest.raises(OeeInputError, match="none stated in its history and none registered"):
        compute_oee([oee_input("m", unstated, T0, end, {})], T0, end)


def test_the_timeline_keeps_a_change_of_ideal_as_its_own_interval() -> None:
    segments = _segments([(60, 1.0, 100), (60, 1.5, 100)])
    pieces = timeline(segments, T0, T0 + timedelta(seconds=120))
    assert [(p.seconds, p.ideal_cycle_time_s) for p in pieces] == [(60.0, 1.0), (60.0, 1.5)]


def test_lease_locked_time_is_not_planned_production_time() -> None:
    segments = _segments([(600, 1.0, 100), (600, 1.0, int(StateCode.LEASE_LOCKED))])
    end = T0 + timedelta(seconds=1200)
    result = compute_oee([oee_input("m", segments, T0, end, {"P1": 1.0})], T0, end)
    assert result.total.availability == pytest.approx(1.0)  # the locked 10 min are not held against the lessee
    assert result.total.planned_production_time_s == pytest.approx(600)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=2, max_value=40).map(lambda n: 2 * n),
            st.one_of(st.none(), st.sampled_from([0.5, 1.0, 1.25, 2.0, 3.0])),
            st.sampled_from([int(StateCode.RUNNING), int(StateCode.RUNNING), int(StateCode.IDLE)]),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from([0.8, 1.2, 2.5]),
)
def test_every_part_is_rated_with_the_value_in_effect(
    stretches: list[tuple[int, float | None, int]], registered: float
) -> None:
    segments = _segments(stretches)
    end = T0 + timedelta(seconds=sum(s for s, _, _ in stretches))
    data = oee_input("m", segments, T0, end, {"P1": registered})
    result = compute_oee([data], T0, end)
    ideal_total = (result.total.performance or 0.0) * result.total.run_time_s
    assert ideal_total == pytest.approx(_expected_ideal_total(stretches, registered), abs=1e-6)
