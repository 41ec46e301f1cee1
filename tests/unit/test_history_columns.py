"""A history segment built from columns equals the one the plain sample-by-sample rule builds.

The oracle is run-length encoding written as one loop over the time-ordered samples; the vectorised
segment must give the same intervals, counter points, alarm onsets and statistics for any envelope:
unordered and duplicate timestamps, gaps, programs and ideal cycle times that change or are absent.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin_models.history import (
    LOAD_BAND_EDGES_PCT,
    SPEED_BAND_EDGES_RPM,
    CounterPoint,
    Segment,
    StateInterval,
    segment_from_envelope,
)
from twin_models.telemetry import U64_MAX, Sample, TelemetryEnvelope

T0 = datetime(2026, 1, 5, 5, 59, 58, tzinfo=UTC)


def oracle(envelope: TelemetryEnvelope, interval_s: float = 1.0) -> Segment:
    step = timedelta(seconds=interval_s)
    samples = sorted(envelope.samples, key=lambda s: s.ts)
    intervals: list[StateInterval] = []
    counters: list[CounterPoint] = []
    alarms: list[tuple[datetime, int]] = []

    def key(s: Sample) -> tuple[int, str, float | None]:
        return s.state, s.program, s.ideal_cycle_time_s

    run_start, run_end, run_key = samples[0].ts, samples[0].ts + step, key(samples[0])
    last_alarm, energy = 0, 0.0
    spectrum: dict[str, float] = {}
    for index, sample in enumerate(samples):
        energy += sample.power_kw * interval_s / 3600.0
        load = sum(1 for edge in LOAD_BAND_EDGES_PCT if sample.spindle_load_pct >= edge)
        speed = sum(1 for edge in SPEED_BAND_EDGES_RPM if sample.spindle_speed_rpm >= edge)
        spectrum[f"{load}{speed}"] = spectrum.get(f"{load}{speed}", 0.0) + interval_s
        if sample.alarm_code and sample.alarm_code != last_alarm:
            alarms.append((sample.ts, sample.alarm_code))
        last_alarm = sample.alarm_code
        if index == 0 or (sample.part_count, sample.reject_count) != (
            counters[-1].part_count,
            counters[-1].reject_count,
        ):
            counters.append(CounterPoint(ts=sample.ts, part_count=sample.part_count, reject_count=sample.reject_count))
        if index == 0:
            continue
        if key(sample) == run_key and sample.ts <= run_end:
            run_end = sample.ts + step
            continue
        intervals.append(
            StateInterval(
                start=run_start, end=run_end, code=run_key[0], program=run_key[1], ideal_cycle_time_s=run_key[2]
            )
        )
        run_start, run_end, run_key = sample.ts, sample.ts + step, key(sample)
    intervals.append(
        StateInterval(start=run_start, end=run_end, code=run_key[0], program=run_key[1], ideal_cycle_time_s=run_key[2])
    )
    return Segment(
        machine_id=envelope.machine_id,
        site=envelope.site,
        seq=envelope.seq,
        start=samples[0].ts,
        end=samples[-1].ts + step,
        sample_count=len(samples),
        intervals=intervals,
        counters=counters,
        alarms=alarms,
        energy_kwh=energy,
        vibration_max=max(s.vibration_rms_mm_s for s in samples),
        temperature_max=max(s.temperature_c for s in samples),
        last=samples[-1],
        load_spectrum=dict(sorted(spectrum.items())),
    )


sample = st.builds(
    lambda ms, state, program, ideal, parts, rejects, alarm, power, vib, temp, load, speed: Sample(
        ts=T0 + timedelta(milliseconds=ms),
        state=state,
        program=program,
        ideal_cycle_time_s=ideal,
        part_count=parts,
        reject_count=rejects,
        alarm_code=alarm,
        power_kw=power,
        vibration_rms_mm_s=vib,
        temperature_c=temp,
        spindle_load_pct=load,
        spindle_speed_rpm=speed,
    ),
    st.integers(0, 20_000).map(lambda ms: ms - ms % 250),
    st.sampled_from([100, 200, 300, 604]),
    st.sampled_from(["", "P1", "P2"]),
    st.sampled_from([None, None, 30.0, 45.5]),
    st.one_of(st.integers(0, 5), st.just(U64_MAX)),
    st.integers(0, 2),
    st.sampled_from([0, 0, 7, U64_MAX]),
    st.floats(0, 40, allow_nan=False),
    st.floats(0, 20, allow_nan=False),
    st.floats(-50, 400, allow_nan=False),
    st.sampled_from([0.0, 19.99, 20.0, 45.0, 100.0, 250.0]),  # the load spectrum's band edges and inside them
    st.sampled_from([0.0, 0.5, 1.0, 2999.0, 8000.0, 12000.0, 20000.0]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(sample, min_size=1, max_size=30), st.sampled_from([1.0, 0.5, 2.0]))
def test_columns_segment_equals_the_sample_by_sample_rule(samples: list[Sample], interval_s: float) -> None:
    # Given an envelope of those samples, in the order the gateway happened to send them
    envelope = TelemetryEnvelope(machine_id="cnc-01", site="plant-a", seq=3, sent_at=T0, samples=samples)
    # When its segment is built from columns
    got, want = segment_from_envelope(envelope, interval_s), oracle(envelope, interval_s)
    # Then it is the segment of the plain rule (energy up to float summation order)
    assert got.model_dump(exclude={"energy_kwh"}) == want.model_dump(exclude={"energy_kwh", "content_hash"}) | {
        "content_hash": ""
    }
    assert math.isclose(got.energy_kwh, want.energy_kwh, rel_tol=1e-12, abs_tol=1e-15)
