"""The OEE schedule's incremental run gives what the full recompute gives, whatever order and delay history
arrives in.

Each example draws one machine's true history (envelopes of state and counter samples, some never arriving),
when each envelope arrives (most within minutes, some spooled hours late, in any order), and runs the
schedule every hour and at random instants. Two services share the history store: one recomputes its whole
look-back every run (the reference), the other reads only what changed. After every run their stored periods,
oee shadows and anchored records must be equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chalicelib.adapters.memory import MemoryCalendars, MemoryDevices, MemoryHistory, MemoryOeeResults, MemoryShadows
from chalicelib.oee.service import OeeService
from chalicelib.ports.anchoring import RecordConflictError
from twin_models.history import Segment, segment_from_envelope
from twin_models.oee import FoldedSeqs, PlantCalendar, ShiftSpec
from twin_models.telemetry import Sample, TelemetryEnvelope
from twin_models.tenancy import Device

T0 = datetime(2026, 1, 5, 4, tzinfo=UTC)
ENVELOPE = timedelta(minutes=10)
STEP_S = 30  # one sample every 30 s: 20 per envelope
HOURS = 30
CALENDAR = PlantCalendar(
    timezone="Europe/Berlin",
    shifts=[
        ShiftSpec(name="a", start="06:00", end="09:00"),
        ShiftSpec(name="b", start="09:00", end="13:30"),
        ShiftSpec(name="c", start="14:00", end="20:00"),
    ],
)
DEVICE = Device(
    machine_id="cnc-01",
    site="plant-a",
    lessor="toolmaker",
    lessee="factory-1",
    timezone="Europe/Berlin",
    ideal_cycle_times_s={"*": 20.0},
)
STATES = [100, 100, 100, 110, 300, 500, 600, 800]


@dataclass
class Anchors:
    """An anchoring queue with the port's contract: one digest per record id, a second one conflicts."""

    records: dict[str, bytes] = field(default_factory=dict)

    def submit(self, record_id: str, record_hash: bytes, kind: str, tenants: tuple[str, ...] = ()) -> bool:
        known = self.records.get(record_id)
        if known is not None:
            if known != record_hash:
                raise RecordConflictError(record_id)
            return False
        self.records[record_id] = record_hash
        return True

    def submit_log_entry(
        self, machine_id: str, entry_id: str, entry_hash: bytes, tenants: tuple[str, ...] = ()
    ) -> bool:
        raise AssertionError("the OEE schedule queues no maintenance-log entries")


@dataclass(frozen=True)
class Plan:
    segments: list[Segment]
    arrivals: list[datetime]
    runs: list[datetime]
    calendar: PlantCalendar | None


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    count = HOURS * 60 // 10
    segments: list[Segment] = []
    arrivals: list[datetime] = []
    parts = 0
    seq = 0
    outages = draw(st.lists(st.tuples(st.integers(0, count - 1), st.integers(1, 60)), max_size=3))
    for k in range(count):
        start = T0 + k * ENVELOPE
        if draw(st.integers(0, 19)) == 0:
            continue  # the gateway was off: no envelope, no seq used
        state = draw(st.sampled_from(STATES))
        every = draw(st.sampled_from([0, 1, 2, 3])) if state < 200 else 0
        if draw(st.integers(0, 29)) == 0:
            parts = draw(st.integers(0, 5))  # the controller's counter was reset
        samples = []
        for i in range(int(ENVELOPE.total_seconds()) // STEP_S):
            if every and i % every == 0:
                parts += 1
            samples.append(Sample(ts=start + timedelta(seconds=i * STEP_S), state=state, part_count=parts))
        envelope = TelemetryEnvelope(
            machine_id=DEVICE.machine_id, site=DEVICE.site, seq=seq, sent_at=start + ENVELOPE, samples=samples
        )
        seq += 1
        if draw(st.integers(0, 24)) == 0:
            continue  # published but never stored (quarantined): a gap in seq that never fills
        delay = timedelta(seconds=draw(st.integers(0, 600)))
        if draw(st.integers(0, 11)) == 0:  # held back alone (a retry), hours late
            delay = timedelta(seconds=draw(st.integers(600, 10 * 3600)))
        for first, length in outages:  # spooled through an outage, published when it ends, in any order
            if first <= k < first + length:
                delay = (first + length - k) * ENVELOPE + timedelta(seconds=draw(st.integers(0, 7200)))
        segments.append(segment_from_envelope(envelope))
        arrivals.append(start + ENVELOPE + delay)
    hourly = [T0 + timedelta(hours=h) for h in range(1, HOURS + 14)]
    extra = draw(st.lists(st.integers(60, (HOURS + 12) * 3600), max_size=6))
    runs = sorted(set(hourly) | {T0 + timedelta(seconds=s) for s in extra})
    calendar = draw(st.sampled_from([CALENDAR, None]))
    return Plan(segments, arrivals, runs, calendar)


def _held_back_plan(late_start: datetime, delay: timedelta) -> Plan:
    """Steady production, one envelope (the one starting at ``late_start``) held back by ``delay``."""
    segments, arrivals, parts = [], [], 0
    for k in range(HOURS * 6):
        start = T0 + k * ENVELOPE
        samples = []
        for i in range(int(ENVELOPE.total_seconds()) // STEP_S):
            parts += 1
            samples.append(Sample(ts=start + timedelta(seconds=i * STEP_S), state=100, part_count=parts))
        envelope = TelemetryEnvelope(
            machine_id=DEVICE.machine_id, site=DEVICE.site, seq=k, sent_at=start + ENVELOPE, samples=samples
        )
        segments.append(segment_from_envelope(envelope))
        arrivals.append(start + ENVELOPE + (delay if start == late_start else timedelta(seconds=5)))
    return Plan(segments, arrivals, [T0 + timedelta(hours=h) for h in range(1, HOURS + 12)], CALENDAR)


def _service(history: MemoryHistory, calendar: PlantCalendar | None, *, incremental: bool) -> OeeService:
    devices = MemoryDevices()
    devices.put(DEVICE)
    calendars = MemoryCalendars()
    if calendar is not None:
        calendars.put(DEVICE.site, calendar)
    return OeeService(
        results=MemoryOeeResults(),
        calendars=calendars,
        history=history,
        devices=devices,
        shadows=MemoryShadows(),
        anchors=Anchors(),
        lookback=timedelta(hours=72),
        incremental=incremental,
    )


def _stored(service: OeeService) -> dict[int, tuple[Any, ...]]:
    found = service.results.between(DEVICE.machine_id, 0, 2**62)
    return {p.start_us: (p.end_us, p.label, p.shift, p.row) for p in found}


def _shadow(service: OeeService) -> Any:
    found = service.shadows.get(DEVICE.machine_id, "oee")
    return None if found is None else found[0]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(plans())
# the last envelope of shift a (05:00-08:00Z) arrives after shift b has closed: b's first part count changes
@example(_held_back_plan(datetime(2026, 1, 5, 7, 50, tzinfo=UTC), timedelta(hours=6)))
# the same, arriving after shift b's result was anchored
@example(_held_back_plan(datetime(2026, 1, 5, 7, 50, tzinfo=UTC), timedelta(hours=9)))
def test_incremental_runs_equal_the_full_recompute_under_any_arrival_order(plan: Plan) -> None:
    history = MemoryHistory()
    full = _service(history, plan.calendar, incremental=False)
    incremental = _service(history, plan.calendar, incremental=True)
    order = sorted(range(len(plan.segments)), key=lambda i: plan.arrivals[i])
    delivered = 0
    for at in plan.runs:
        while delivered < len(order) and plan.arrivals[order[delivered]] <= at:
            i = order[delivered]
            assert history.put_segment(plan.segments[i], plan.arrivals[i])
            delivered += 1
        a, b = full.run_schedule(at), incremental.run_schedule(at)
        assert a["failed"] == b["failed"] == []
        assert _stored(incremental) == _stored(full), at
        assert _shadow(incremental) == _shadow(full), at
        assert isinstance(incremental.anchors, Anchors) and isinstance(full.anchors, Anchors)
        assert incremental.anchors.records == full.anchors.records, at
        assert a["periods_anchored"] == b["periods_anchored"], at
    assert delivered == len(order)


@given(
    st.lists(st.integers(0, 200), max_size=60),
    st.lists(st.integers(0, 200), max_size=60),
)
def test_folding_seqs_in_any_order_and_batches_matches_the_set_of_seqs(first: list[int], second: list[int]) -> None:
    folded = FoldedSeqs.empty().fold(first).fold(second)
    seen = set(first) | set(second)
    assert [s for s in range(-1, 202) if not folded.is_new(s)] == sorted(seen | set(range(-1, folded.through + 1)))
    assert folded.through + 1 not in seen
    assert FoldedSeqs.from_dict(folded.to_dict()) == folded
    assert FoldedSeqs.empty().fold(second).fold(first) == folded


@given(st.lists(st.integers(0, 200), max_size=60), st.integers(-1, 220))
def test_giving_up_a_gap_folds_everything_below_and_keeps_what_is_above(seqs: list[int], limit: int) -> None:
    folded = FoldedSeqs.empty().fold(seqs).give_up_through(limit)
    assert all(not folded.is_new(s) for s in range(-1, limit + 1))
    assert all(folded.is_new(s) == (s not in seqs) for s in range(limit + 1, 230))


class LaggingIndex(MemoryHistory):
    """A history whose time index (``segments``, ``latest_before``) does not show the seqs in ``hidden`` yet,
    while the key query (``since``) does: DynamoDB's global secondary indexes are eventually consistent."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden: set[int] = set()

    def segments(self, machine_id: str, start: datetime, end: datetime, lookback_s: float = 3600.0) -> list[Segment]:
        return [s for s in super().segments(machine_id, start, end, lookback_s) if s.seq not in self.hidden]

    def latest_before(self, machine_id: str, at: datetime, limit: int = 4) -> list[Segment]:
        return [s for s in super().latest_before(machine_id, at, 0) if s.seq not in self.hidden][:limit]


def test_a_segment_the_time_index_does_not_show_yet_is_taken_in_at_the_next_run() -> None:
    # Given steady history where the envelope of 07:50Z arrives six hours late, and the time index shows it
    # only after the run that finds it by key
    plan = _held_back_plan(datetime(2026, 1, 5, 7, 50, tzinfo=UTC), timedelta(hours=6))
    late = next(i for i, s in enumerate(plan.segments) if s.start == datetime(2026, 1, 5, 7, 50, tzinfo=UTC))
    history = LaggingIndex()
    full = _service(history, plan.calendar, incremental=False)
    incremental = _service(history, plan.calendar, incremental=True)
    delivered: set[int] = set()
    lagging_run = None
    for at in plan.runs:
        history.hidden.clear()
        for i, arrival in enumerate(plan.arrivals):
            if arrival <= at and i not in delivered:
                history.put_segment(plan.segments[i], arrival)
                delivered.add(i)
                if i == late:
                    history.hidden.add(plan.segments[i].seq)
                    lagging_run = at
        incremental.run_schedule(at)
        full.run_schedule(at)
        if at != lagging_run:  # at that run both computed without it; after it, both must have it
            assert _stored(incremental) == _stored(full), at
    assert lagging_run is not None and lagging_run < plan.runs[-1]
