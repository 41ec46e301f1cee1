"""The cost model of ``benchmarks/cost.py``: IoT metering in 5 KB units, fixed costs spread over the fleet."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import cost

from chalicelib.settings import Settings

BASE = cost.Measured(
    name="probe",
    samples_per_envelope=60,
    envelope_bytes=4000,
    cpu_s_per_envelope=0.004,
    calls_per_envelope={"dynamodb.PutItem": 2.0, "dynamodb.GetItem": 1.0, "iot-data.UpdateThingShadow": 1.0},
    history_item_bytes=700,
    history_items_per_envelope=1.0,
)


def test_iot_messages_are_metered_in_5_kb_units() -> None:
    small = cost.machine_month(BASE, 1000, Settings())["iot_messages"]
    large = cost.machine_month(replace(BASE, envelope_bytes=12_000), 1000, Settings())["iot_messages"]
    assert large == 3 * small  # 4 KB -> one message, 12 KB -> three
    assert small == (cost.SECONDS_PER_MONTH / 60) * cost.PRICES["iot.message_5kb"]


def test_fixed_costs_fall_per_machine_as_the_fleet_grows() -> None:
    per_machine = [sum(cost.machine_month(BASE, n, Settings()).values()) for n in cost.FLEETS]
    assert per_machine == sorted(per_machine, reverse=True) and per_machine[0] > per_machine[-1]
    assert cost.endpoint_share(10) == 100 * cost.endpoint_share(1000)


def test_a_longer_oee_lookback_reads_more() -> None:
    short = cost.machine_month(BASE, 100, Settings(oee_lookback_h=6))["dynamodb_reads"]
    long = cost.machine_month(BASE, 100, Settings(oee_lookback_h=48))["dynamodb_reads"]
    assert long > 4 * short
