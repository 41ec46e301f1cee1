"""The incremental OEE schedule on the DynamoDB adapters (moto): a spooled stretch of history published hours
late, out of order, is taken into its shifts, and every run stores what the full recompute stores."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.adapters.memory import MemoryOeeResults, MemoryShadows
from chalicelib.adapters.oee import CalendarStore, OeeResultStore
from chalicelib.adapters.twins import DeviceRegistry, HistoryStore, ShadowStore
from chalicelib.oee.service import OeeService
from tests.functional.conftest import T0, ingest_service, register, services, sqs_event, wire
from twin_models.oee import PlantCalendar, ShiftSpec
from twin_models.telemetry import Sample

pytestmark = pytest.mark.usefixtures("moto_aws")

# Europe/Berlin is UTC+1 in January: shift a is 06:00-07:00Z, b 07:00-08:00Z, c 08:30-10:00Z.
CALENDAR = PlantCalendar(
    timezone="Europe/Berlin",
    shifts=[
        ShiftSpec(name="a", start="07:00", end="08:00"),
        ShiftSpec(name="b", start="08:00", end="09:00"),
        ShiftSpec(name="c", start="09:30", end="11:00"),
    ],
)
ENVELOPE_S = 300


def _samples(hours: int) -> list[Sample]:
    out, parts = [], 0
    for i in range(hours * 3600):
        state = 600 if 1500 <= i % 3600 < 1800 else 100  # a breakdown of five minutes in every hour
        if state == 100 and i % 7 == 0:
            parts += 1
        out.append(Sample(ts=T0 + timedelta(seconds=i), state=state, part_count=parts, spindle_speed_rpm=8000))
    return out


def _stored(results: Any) -> dict[int, tuple[Any, ...]]:
    return {p.start_us: (p.end_us, p.label, p.shift, p.row) for p in results.between("cnc-01", 0, 2**62)}


def test_a_spooled_stretch_published_late_is_taken_in_and_every_run_equals_the_full_recompute() -> None:
    # Given cnc-01 at a site with three shifts, producing for five hours, with envelopes of five minutes
    gw = register("cnc-01")
    DeviceRegistry().put(gw.device.model_copy(update={"ideal_cycle_times_s": {"*": 6.0}, "timezone": "Europe/Berlin"}))
    CalendarStore().put("plant-a", CALENDAR)
    data = _samples(5)
    envelopes = [gw.envelope(seq, data[i : i + ENVELOPE_S]) for seq, i in enumerate(range(0, len(data), ENVELOPE_S))]
    # And its gateway lost the uplink from 06:40 to 07:35Z (the breakdown of 07:25Z among it): those
    # envelopes are published at 09:40Z, in any order, while live ones arrive at the end of their five minutes
    spooled = {e.seq for e in envelopes if T0 + timedelta(minutes=40) <= e.samples[0].ts < T0 + timedelta(minutes=95)}
    arrives = {
        e.seq: (T0 + timedelta(hours=3, minutes=40) if e.seq in spooled else e.samples[-1].ts + timedelta(seconds=20))
        for e in envelopes
    }
    built = services()
    full = OeeService(
        results=MemoryOeeResults(),
        calendars=CalendarStore(),
        history=HistoryStore(),
        devices=DeviceRegistry(),
        shadows=MemoryShadows(),
        incremental=False,
    )
    shuffle = random.Random(14)
    delivered: set[int] = set()
    runs = [T0 + timedelta(minutes=m) for m in range(30, 5 * 60 + 31, 30)]
    for at in runs:
        due = sorted((s for s in arrives if arrives[s] <= at and s not in delivered), reverse=True)
        shuffle.shuffle(due)
        if due:
            bodies = [wire(envelopes[s]) for s in due]
            assert ingest_service().handle_batch(sqs_event(bodies)).accepted == len(bodies)
            delivered.update(due)
        # When the schedule runs incrementally (the wiring's service) and as a full recompute
        summary = built.oee.run_schedule(at)
        full.run_schedule(at)
        # Then both store the same periods with the same figures, and report the same shifts in the shadow
        assert summary["failed"] == []
        assert _stored(OeeResultStore()) == _stored(full.results), at
        ours, theirs = ShadowStore().get("cnc-01", "oee"), full.shadows.get("cnc-01", "oee")
        assert ours is not None and theirs is not None
        assert {k: ours[0][k] for k in ("latest", "current") if k in ours[0]} == {
            k: theirs[0][k] for k in ("latest", "current") if k in theirs[0]
        }, at
    # And the late stretch is in shifts a and b, where it belongs: no time is left unknown
    stored = {p.label: p.row for p in OeeResultStore().between("cnc-01", 0, 2**62)}
    for label in ("2026-01-05 a", "2026-01-05 b"):
        assert (stored[label]["breakdown"], stored[label]["unknown"]) == (300, 0), label
    # And the watermark has folded every envelope in
    progress = OeeResultStore().progress("cnc-01")
    assert progress is not None
    assert progress.folded.through == max(arrives) and progress.folded.above == ()
