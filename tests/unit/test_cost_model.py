"""The cost model of ``benchmarks/cost.py``: IoT metering in 5 KB units, fixed costs spread over the fleet, the
OEE schedule's metered reads."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import cost

BASE = cost.Measured(
    name="probe",
    samples_per_envelope=60,
    envelope_bytes=4000,
    cpu_s_per_envelope=0.004,
    calls_per_envelope={"dynamodb.PutItem": 2.0, "dynamodb.GetItem": 1.0, "iot-data.UpdateThingShadow": 1.0},
    history_item_bytes=700,
    history_items_per_envelope=1.0,
)
OEE = cost.OeeMetered(rru_per_month=30_000, wru_per_month=1_000, items_read_per_run=500, queries_per_run=3)


def test_iot_messages_are_metered_in_5_kb_units() -> None:
    small = cost.machine_month(BASE, 1000, OEE)["iot_messages"]
    large = cost.machine_month(replace(BASE, envelope_bytes=12_000), 1000, OEE)["iot_messages"]
    assert large == 3 * small  # 4 KB -> one message, 12 KB -> three
    assert small == (cost.SECONDS_PER_MONTH / 60) * cost.PRICES["iot.message_5kb"]


def test_fixed_costs_fall_per_machine_as_the_fleet_grows() -> None:
    per_machine = [sum(cost.machine_month(BASE, n, OEE).values()) for n in cost.FLEETS]
    assert per_machine == sorted(per_machine, reverse=True) and per_machine[0] > per_machine[-1]
    assert cost.endpoint_share(10) == 100 * cost.endpoint_share(1000)


def test_the_incremental_oee_schedule_reads_a_fraction_of_what_the_full_recompute_reads() -> None:
    # three days of five-minute envelopes, the schedule every hour, metered over the third day
    ours = cost.measure_oee(300, 3, 48, incremental=True)
    full = cost.measure_oee(300, 3, 48, incremental=False)
    assert full.items_read_per_run >= 48 * 12  # the whole look-back, every hour
    assert ours.items_read_per_run < full.items_read_per_run / 3
    assert ours.rru_per_month < full.rru_per_month / 3 and ours.wru_per_month < full.wru_per_month
    reads = [cost.machine_month(BASE, 100, o)["dynamodb_reads"] for o in (ours, full)]
    assert reads[0] < reads[1]


def test_a_query_is_metered_by_the_size_it_reads_not_by_item() -> None:
    assert cost.query_rru(0) == 0.5  # a query that finds nothing still costs a unit
    assert cost.query_rru(40 * 700) == cost.query_rru(28_672) == 3.5  # forty 700 B items: seven 4 KB units, halved
