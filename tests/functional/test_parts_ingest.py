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
    # Given twenty minutes of telemetry ingested in order, once
    made = shift(1200, seed=seed)
    dropped = frozenset(data.draw(st.sets(st.integers(1, 200), max_size=5)))
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
