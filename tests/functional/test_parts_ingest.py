"""Part records from signed telemetry through the ingest pipeline: the parts of a simulated shift match the
controller's counters exactly (good and rejected), a counter reset reuses no id, and redelivered or
reordered envelopes change no part."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import wiring
from chalicelib.settings import Settings
from chalicelib.wiring import Services
from edge_greengrass.simulator import MachineProfile, MachineSimulator
from tests.functional.conftest import T0, sqs_event
from twin_models.jws import seal_jws
from twin_models.parts import PartRecord
from twin_models.signing import generate_private_key, public_key_pem
from twin_models.telemetry import Sample
from twin_models.tenancy import Device

KEY = generate_private_key()
KEY_ID = "gw/1"
NOW = T0 + timedelta(days=1)


def build() -> Services:
    built = wiring.build(Settings(adapters="memory"), clock=lambda: NOW)
    built.adapters.devices.put(
        Device(
            machine_id="cnc-01",
            site="plant-a",
            lessor="toolmaker",
            lessee="factory-1",
            keys={KEY_ID: public_key_pem(KEY)},
        )
    )
    return built


def shift(seconds: int, seed: int = 7) -> list[Sample]:
    """A simulated machine's samples, stamped with an order and lot (the gateway's job at the edge)."""
    profile = MachineProfile(
        machine_id="cnc-01",
        programs={"P100": 11.0, "P200": 17.0},
        reject_rate=0.08,
        setup_s=(20, 40),
        setup_every_parts=60,
        repair_s=(30, 90),
        idle_s=(20, 60),
    )
    sim = MachineSimulator(profile, seed=seed, start=T0)
    out = []
    for sample in sim.run(seconds):
        lot = f"L-{int((sample.ts - T0).total_seconds()) // 1800}"
        out.append(Sample.model_validate(sample.model_dump() | {"order_id": "O-7", "material_lot": lot}))
    return out


def bodies(all_samples: list[Sample], size: int, drop_previous: frozenset[int] = frozenset()) -> list[str]:
    """Compact JWS envelopes of ``size`` samples; those in ``drop_previous`` carry no ``previous`` sample."""
    chunks = [all_samples[i : i + size] for i in range(0, len(all_samples), size)]
    out = []
    for seq, chunk in enumerate(chunks):
        previous = chunks[seq - 1][-1] if seq and seq not in drop_previous else None
        out.append(seal_jws("cnc-01", "plant-a", seq, chunk, KEY, KEY_ID, sent_at=chunk[-1].ts, previous=previous))
    return [b.decode() for b in out]


def records(built: Services) -> list[PartRecord]:
    stored = built.adapters.parts.for_machine("cnc-01", T0 - timedelta(days=1), NOW + timedelta(days=1))
    return [p.record for p in stored]


def test_the_parts_of_a_shift_match_the_part_counter() -> None:
    # Given two hours of a simulated machine, in envelopes of 60 samples, a few without `previous`
    made = shift(7200)
    built = build()
    envelopes = bodies(made, 60, drop_previous=frozenset({5, 17, 40}))

    # When they are ingested in batches of ten
    for i in range(0, len(envelopes), 10):
        built.ingest.handle_batch(sqs_event(envelopes[i : i + 10], [f"m-{j}" for j in range(i, i + 10)]))

    # Then there is one record per part the counter counted, rejected exactly as the reject counter says
    found = records(built)
    assert len(found) == made[-1].part_count - made[0].part_count > 100
    assert sum(r.result == "rejected" for r in found) == made[-1].reject_count - made[0].reject_count > 0
    assert sorted(r.count for r in found) == list(range(made[0].part_count + 1, made[-1].part_count + 1))
    assert len({r.part_id for r in found}) == len(found)
    # each record holds its cycle: consecutive cycles meet, and the order, lot and tool are the step's
    by_count = sorted(found, key=lambda r: r.count)
    for before, after in itertools.pairwise(by_count):
        assert after.cycle_start == before.cycle_end
    step_samples = {s.part_count: s for a, s in itertools.pairwise(made) if s.part_count != a.part_count}
    for record in found:
        assert record.material_lot == step_samples[record.count].material_lot
        assert record.tool_id == step_samples[record.count].tool_id
        assert record.order_id == "O-7" and record.producer == "factory-1"
        assert record.verify_events() is None
    # and every record was queued for anchoring once
    assert built.adapters.anchor_store.count_pending() == len(found)


def test_a_counter_reset_reuses_no_id() -> None:
    # Given a controller that counts 1..5, is reset, and counts 1..5 again
    t = T0
    made = [Sample(ts=t + timedelta(seconds=i), state=100, part_count=(i // 3) % 6, program="P1") for i in range(36)]
    built = build()

    built.ingest.handle_batch(sqs_event(bodies(made, 10)))

    found = records(built)
    assert [r.count for r in found] == [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]
    assert len({r.part_id for r in found}) == 10 and len({r.epc for r in found}) == 10


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), size=st.sampled_from([7, 30, 45]), batch=st.integers(1, 8), data=st.data())
def test_redelivered_and_reordered_envelopes_change_no_part(
    seed: int, size: int, batch: int, data: st.DataObject
) -> None:
    made = shift(1200, seed=seed)
    count = -(-len(made) // size)
    seqs = st.integers(1, count - 1)
    dropped = frozenset(data.draw(st.sets(seqs, max_size=5) | st.sets(seqs, min_size=count // 2), label="dropped"))
    assert_arrival_changes_no_part(made, seed, size, batch, dropped)


def assert_arrival_changes_no_part(
    made: list[Sample], seed: int, size: int, batch: int, dropped: frozenset[int]
) -> None:
    """Envelopes of ``size`` samples (``dropped`` without ``previous``) shuffled by ``seed``, a third of them
    twice, in batches of ``batch``, give the records the same envelopes give ingested in order, once."""
    # Given the telemetry ingested in order, once
    envelopes = bodies(made, size, dropped)
    in_order = build()
    in_order.ingest.handle_batch(sqs_event(envelopes))
    expected = {r.part_id: r for r in records(in_order)}

    # When the same envelopes arrive shuffled, some twice, in batches of any size
    rng = random.Random(seed)
    shuffled = envelopes + rng.sample(envelopes, k=len(envelopes) // 3)
    rng.shuffle(shuffled)
    other = build()
    for i in range(0, len(shuffled), batch):
        chunk = shuffled[i : i + batch]
        other.ingest.handle_batch(sqs_event(chunk, [f"m-{i}-{j}" for j in range(len(chunk))]))

    # Then the same records come out, each queued for anchoring once
    assert {r.part_id: r for r in records(other)} == expected
    assert len(expected) == made[-1].part_count - made[0].part_count
    assert other.adapters.anchor_store.count_pending() == len(expected)


def test_shuffled_envelopes_record_a_part_started_against_a_late_envelope() -> None:
    # seed 115, envelopes of 7 samples one per batch, 1, 2 and 93 without `previous`: part 53 starts at the
    # first sample of envelope 93 and ends in 94, and envelope 92 arrives after both
    assert_arrival_changes_no_part(shift(1200, seed=115), 115, 7, 1, frozenset({1, 2, 93}))


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # the cycle started at the first sample of envelope 1 ends in envelope 2
        ([0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3], [1, 2, 3]),
        # ... or in envelope 1 itself
        ([0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3], [1, 2, 3]),
    ],
)
def test_a_cycle_started_against_a_late_envelope_is_recorded(counts: list[int], expected: list[int]) -> None:
    # Given envelopes 1 and 2 ingested first, envelope 1 without `previous` and a part step at its first sample
    made = [Sample(ts=T0 + timedelta(seconds=i), state=100, part_count=c, program="P1") for i, c in enumerate(counts)]
    envelopes = bodies(made, 5, drop_previous=frozenset({1}))
    built = build()
    built.ingest.handle_batch(sqs_event(envelopes[1:], ["m-1", "m-2"]))

    # When envelope 0, whose last sample that step is found against, arrives last
    built.ingest.handle_batch(sqs_event(envelopes[:1], ["m-0"]))

    # Then the cycle that step starts is recorded too, as when the envelopes arrive in order
    in_order = build()
    in_order.ingest.handle_batch(sqs_event(envelopes))
    assert [r.count for r in records(built)] == expected
    assert records(built) == records(in_order)
    assert built.adapters.anchor_store.count_pending() == len(expected)


@pytest.mark.parametrize("missing", [3, 0])
def test_a_missing_envelope_holds_back_only_the_cycles_it_would_complete(missing: int) -> None:
    made = shift(900, seed=3)
    envelopes = bodies(made, 30, drop_previous=frozenset(range(100)))
    built = build()
    built.ingest.handle_batch(sqs_event([b for i, b in enumerate(envelopes) if i != missing]))
    partial = {r.part_id for r in records(built)}

    built.ingest.handle_batch(sqs_event([envelopes[missing]], ["late"]))

    complete = {r.part_id for r in records(built)}
    assert partial < complete
    assert len(complete) == made[-1].part_count - made[0].part_count
