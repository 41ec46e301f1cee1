"""Hand-computed invoices for every tariff feature.

Every expected number is worked out in the comment above its assertion, not by the code.
Unless a test says otherwise the lease is monthly, Europe/Berlin, EUR, 19 % tax, grace 2 days.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from twin_models.billing import (
    BillingInterval,
    Invoice,
    Lease,
    LeaseError,
    PeriodError,
    UsageConflictError,
    UsageError,
    UsageEvent,
    compute_invoice,
    load_lease,
    merkle_proof,
    parse_period,
    period_of,
    read_usage_lines,
    round_money,
    verify_proof,
)

D = Decimal


def make_lease(components: list[dict[str, Any]], **overrides: Any) -> Lease:
    doc: dict[str, Any] = {
        "lease_id": "lease-1",
        "lessor": "maker",
        "lessee": "plant",
        "machine_ids": ["m1", "m2"],
        "start": "2026-01-01T00:00:00+01:00",
        "billing_interval": "monthly",
        "timezone": "Europe/Berlin",
        "currency": "EUR",
        "tax_rate": "0.19",
        "grace_period": "P2D",
        "tariff": {"components": components},
    }
    tariff_extra = {k: overrides.pop(k) for k in ("minimum_charge", "cap") if k in overrides}
    doc["tariff"].update(tariff_extra)
    doc.update(overrides)
    return load_lease(doc)


_seq = iter(range(1_000_000))


def ev(meter: str, ts: str, qty: str | int, machine: str = "m1", received: str | None = None) -> UsageEvent:
    return UsageEvent(
        id=f"e{next(_seq)}",
        machine_id=machine,
        meter=meter,
        ts=datetime.fromisoformat(ts),
        quantity=D(str(qty)),
        received_at=datetime.fromisoformat(received) if received else None,
    )


def amounts(invoice: Invoice) -> list[tuple[str, str, str, str]]:
    return [(ln.component, ln.kind, str(ln.quantity), str(ln.amount)) for ln in invoice.lines]


OCT = "2026-10"


# --- rounding -------------------------------------------------------------------------------


def test_round_money_is_half_even_to_the_minor_unit() -> None:
    assert round_money(D("2.345"), "EUR") == D("2.34")  # 4 is even: stays
    assert round_money(D("2.355"), "EUR") == D("2.36")  # 5 is odd: goes up to 6
    assert round_money(D("-0.125"), "EUR") == D("-0.12")
    assert round_money(D("1234.5"), "JPY") == D("1234")  # JPY has no minor unit
    assert round_money(D("1.0005"), "KWD") == D("1.000")  # KWD has three decimals


def test_flat_price_and_tax_rounded_once_half_even() -> None:
    lease = make_lease([{"id": "parts", "meter": "parts", "unit_price": "11.50"}])
    inv = compute_invoice(lease, lease.period(OCT), [ev("parts", "2026-10-05T08:00:00+00:00", 1)])
    # 1 x 11.50 = 11.50; tax 11.50 x 0.19 = 2.185 -> 2.18 (half-even, 8 is even); total 13.68
    assert amounts(inv) == [("parts", "usage", "1", "11.50")]
    assert (inv.subtotal, inv.tax, inv.total) == (D("11.50"), D("2.18"), D("13.68"))


def test_each_line_is_rounded_before_the_subtotal() -> None:
    lease = make_lease(
        [
            {"id": "a", "meter": "parts", "unit_price": "0.125"},
            {"id": "b", "meter": "rejected_parts", "unit_price": "0.125"},
        ],
        tax_rate="0",
    )
    usage = [ev("parts", "2026-10-05T08:00:00+00:00", 1), ev("rejected_parts", "2026-10-05T08:00:00+00:00", 3)]
    inv = compute_invoice(lease, lease.period(OCT), usage)
    # a: 1 x 0.125 = 0.125 -> 0.12 ; b: 3 x 0.125 = 0.375 -> 0.38 ; subtotal 0.50 (not 0.50 by luck:
    # rounding the sum 0.500 would give the same, so check the lines themselves)
    assert amounts(inv) == [("a", "usage", "1", "0.12"), ("b", "usage", "3", "0.38")]
    assert inv.subtotal == D("0.50")


# --- tiers ----------------------------------------------------------------------------------

GRADUATED = {
    "id": "spindle",
    "meter": "spindle_hours",
    "pricing": "graduated",
    "tiers": [
        {"up_to": "100", "unit_price": "10.00"},
        {"up_to": "250", "unit_price": "8.00"},
        {"unit_price": "6.00"},
    ],
}


def test_graduated_tiers_price_each_unit_in_its_own_tier() -> None:
    lease = make_lease([GRADUATED])
    usage = [
        ev("spindle_hours", "2026-10-02T10:00:00+00:00", "180", "m1"),
        ev("spindle_hours", "2026-10-20T10:00:00+00:00", "120", "m2"),
    ]
    inv = compute_invoice(lease, lease.period(OCT), usage)
    # 180 + 120 = 300 h: 100 x 10.00 = 1000.00, 150 x 8.00 = 1200.00, 50 x 6.00 = 300.00 -> 2500.00
    assert amounts(inv) == [
        ("spindle", "usage", "100", "1000.00"),
        ("spindle", "usage", "150", "1200.00"),
        ("spindle", "usage", "50", "300.00"),
    ]
    # tax 2500.00 x 0.19 = 475.00 ; total 2975.00
    assert (inv.subtotal, inv.tax, inv.total) == (D("2500.00"), D("475.00"), D("2975.00"))


def test_graduated_bound_belongs_to_its_tier_and_zero_usage_shows_one_line() -> None:
    lease = make_lease([GRADUATED])
    at_bound = compute_invoice(lease, lease.period(OCT), [ev("spindle_hours", "2026-10-02T10:00:00+00:00", 100)])
    # exactly 100 h: all in the first tier, 100 x 10.00 = 1000.00, no 0-hour second line
    assert amounts(at_bound) == [("spindle", "usage", "100", "1000.00")]
    idle = compute_invoice(lease, lease.period(OCT), [])
    assert amounts(idle) == [("spindle", "usage", "0", "0.00")]


VOLUME = {
    "id": "parts",
    "meter": "parts",
    "pricing": "volume",
    "tiers": [
        {"up_to": "5000", "unit_price": "0.12"},
        {"up_to": "20000", "unit_price": "0.10"},
        {"up_to": None, "unit_price": "0.08"},
    ],
}


@pytest.mark.parametrize(
    ("parts", "price", "amount"),
    [
        (5000, "0.12", "600.00"),  # 5000 x 0.12 = 600.00 (the bound is in the first tier)
        (5001, "0.10", "500.10"),  # 5001 x 0.10 = 500.10: every unit at the second tier
        (25000, "0.08", "2000.00"),  # 25000 x 0.08 = 2000.00
    ],
)
def test_volume_tiers_price_every_unit_at_the_reached_tier(parts: int, price: str, amount: str) -> None:
    lease = make_lease([VOLUME])
    inv = compute_invoice(lease, lease.period(OCT), [ev("parts", "2026-10-09T12:00:00+00:00", parts)])
    (line,) = inv.lines
    assert (line.quantity, line.unit_price, line.amount) == (D(parts), D(price), D(amount))


# --- minimum and cap ------------------------------------------------------------------------


def test_component_minimum_adds_a_top_up_line() -> None:
    lease = make_lease([{"id": "energy", "meter": "energy_kwh", "unit_price": "0.30", "minimum": "50.00"}])
    low = compute_invoice(lease, lease.period(OCT), [ev("energy_kwh", "2026-10-03T00:00:00+00:00", 100)])
    # 100 kWh x 0.30 = 30.00 < 50.00 -> top-up 20.00, component total 50.00
    assert amounts(low) == [("energy", "usage", "100", "30.00"), ("energy", "minimum", "1", "20.00")]
    high = compute_invoice(lease, lease.period(OCT), [ev("energy_kwh", "2026-10-03T00:00:00+00:00", 200)])
    # 200 x 0.30 = 60.00 >= 50.00: no top-up
    assert amounts(high) == [("energy", "usage", "200", "60.00")]


def test_component_cap_adds_a_credit_line() -> None:
    lease = make_lease(
        [{"id": "crash", "meter": "crash_events", "aggregation": "count", "unit_price": "250.00", "cap": "750.00"}]
    )
    usage = [ev("crash_events", f"2026-10-{d:02d}T09:00:00+00:00", 1) for d in (3, 9, 17, 28)]
    inv = compute_invoice(lease, lease.period(OCT), usage)
    # 4 events x 250.00 = 1000.00 > cap 750.00 -> credit -250.00
    assert amounts(inv) == [("crash", "usage", "4", "1000.00"), ("crash", "cap", "1", "-250.00")]
    assert inv.subtotal == D("750.00")


def test_tariff_minimum_charge_and_cap_cover_all_components() -> None:
    components = [
        {"id": "base", "kind": "base_fee", "amount": "450.00"},
        {"id": "spindle", "meter": "spindle_hours", "unit_price": "10.00"},
    ]
    lease = make_lease(components, minimum_charge="1200.00", cap="25000.00")
    quiet = compute_invoice(lease, lease.period(OCT), [ev("spindle_hours", "2026-10-03T00:00:00+00:00", 30)])
    # 450.00 + 30 x 10.00 = 750.00 < 1200.00 -> top-up 450.00
    assert amounts(quiet)[-1] == ("tariff", "minimum", "1", "450.00")
    assert quiet.subtotal == D("1200.00")
    busy = compute_invoice(lease, lease.period(OCT), [ev("spindle_hours", "2026-10-03T00:00:00+00:00", 3000)])
    # 450.00 + 3000 x 10.00 = 30450.00 > 25000.00 -> credit -5450.00
    assert amounts(busy)[-1] == ("tariff", "cap", "1", "-5450.00")
    assert busy.subtotal == D("25000.00")


# --- proration and daylight saving ---------------------------------------------------------


def test_lease_starting_mid_month_prorates_base_fee_and_minimum_by_time() -> None:
    components = [
        {"id": "base", "kind": "base_fee", "amount": "745.00"},
        {"id": "spindle", "meter": "spindle_hours", "unit_price": "20.00"},
    ]
    lease = make_lease(components, start="2026-10-16T00:00:00+02:00", minimum_charge="1490.00")
    inv = compute_invoice(lease, lease.period(OCT), [ev("spindle_hours", "2026-10-20T08:00:00+00:00", 10)])
    # October in Berlin: 2026-09-30T22:00Z .. 2026-10-31T23:00Z = 31 x 24 + 1 (clocks go back on 25 Oct) = 745 h.
    # Covered: 2026-10-15T22:00Z .. 2026-10-31T23:00Z = 16 x 24 + 1 = 385 h.
    # base 745.00 x 385/745 = 385.00 ; usage 10 x 20.00 = 200.00 ; minimum 1490.00 x 385/745 = 770.00
    # 385.00 + 200.00 = 585.00 < 770.00 -> top-up 185.00 ; tax 770.00 x 0.19 = 146.30 ; total 916.30
    assert amounts(inv) == [
        ("base", "base_fee", "0.516779", "385.00"),
        ("spindle", "usage", "10", "200.00"),
        ("tariff", "minimum", "1", "185.00"),
    ]
    assert (inv.subtotal, inv.tax, inv.total) == (D("770.00"), D("146.30"), D("916.30"))


def test_lease_ending_mid_month_prorates_and_excludes_later_usage() -> None:
    components = [
        {"id": "base", "kind": "base_fee", "amount": "745.00"},
        {"id": "p", "meter": "parts", "unit_price": "1"},
    ]
    lease = make_lease(components, start="2026-09-01T00:00:00+02:00", end="2026-10-11T00:00:00+02:00")
    usage = [ev("parts", "2026-10-10T21:59:59+00:00", 5), ev("parts", "2026-10-11T08:00:00+00:00", 7)]
    inv = compute_invoice(lease, lease.period(OCT), usage)
    # covered 2026-09-30T22:00Z .. 2026-10-10T22:00Z = 240 h of 745 h: 745.00 x 240/745 = 240.00
    # parts: only the 5 before the end (23:59:59 local on 10 Oct); the 7 after the end are excluded
    assert amounts(inv) == [("base", "base_fee", "0.322148", "240.00"), ("p", "usage", "5", "5.00")]
    assert inv.usage.excluded_events == 1


def test_prorated_component_cap() -> None:
    comp = {"id": "e", "meter": "energy_kwh", "unit_price": "1.00", "cap": "745.00"}
    lease = make_lease([comp], start="2026-10-16T00:00:00+02:00")
    inv = compute_invoice(lease, lease.period(OCT), [ev("energy_kwh", "2026-10-20T00:00:00+00:00", 1000)])
    # cap 745.00 x 385/745 = 385.00 ; usage 1000.00 -> credit -615.00
    assert amounts(inv) == [("e", "usage", "1000", "1000.00"), ("e", "cap", "1", "-615.00")]


def test_dst_month_bills_745_running_hours_in_october_and_743_in_march() -> None:
    lease = make_lease([{"id": "spindle", "meter": "spindle_hours", "unit_price": "2.00"}])
    start = datetime(2026, 9, 30, 22, tzinfo=UTC)  # 2026-10-01 00:00 CEST
    hourly = [
        UsageEvent(id=f"h{i}", machine_id="m1", meter="spindle_hours", ts=start + timedelta(hours=i), quantity=D(1))
        for i in range(24 * 33)
    ]
    oct_inv = compute_invoice(lease, lease.period(OCT), hourly)
    # one running hour per real hour: October has 31 x 24 + 1 = 745 h -> 745 x 2.00 = 1490.00
    assert amounts(oct_inv) == [("spindle", "usage", "745", "1490.00")]
    march = lease.period("2027-03")
    # March 2027 in Berlin: clocks go forward on 28 March -> 31 x 24 - 1 = 743 h
    assert march.hours == 743


def test_dst_day_of_a_daily_lease_is_25_hours_and_local_midnight_decides_the_period() -> None:
    lease = make_lease(
        [
            {"id": "base", "kind": "base_fee", "amount": "24.00"},
            {"id": "s", "meter": "spindle_hours", "unit_price": "1"},
        ],
        billing_interval="daily",
        start="2026-10-01T00:00:00+02:00",
    )
    day = lease.period("2026-10-25")
    # 2026-10-25 00:00 CEST = 24 Oct 22:00Z ; 2026-10-26 00:00 CET = 25 Oct 23:00Z -> 25 h
    assert (day.start, day.end, day.hours) == (
        datetime(2026, 10, 24, 22, tzinfo=UTC),
        datetime(2026, 10, 25, 23, tzinfo=UTC),
        25,
    )
    usage = [
        ev("spindle_hours", "2026-10-24T21:59:00+00:00", 1),  # 23:59 CEST on the 24th
        ev("spindle_hours", "2026-10-25T22:30:00+00:00", 2),  # 23:30 CET on the 25th
        ev("spindle_hours", "2026-10-25T23:00:00+00:00", 4),  # 00:00 CET on the 26th
    ]
    inv = compute_invoice(lease, day, usage)
    # the full 25-hour day is not prorated: base 24.00 ; spindle 2 x 1 = 2.00
    assert amounts(inv) == [("base", "base_fee", "1", "24.00"), ("s", "usage", "2", "2.00")]


def test_period_boundaries_follow_the_lessee_time_zone() -> None:
    monthly = BillingInterval.MONTHLY
    # 23:30Z on 31 Oct is 00:30 CET on 1 Nov
    assert period_of(datetime(2026, 10, 31, 23, 30, tzinfo=UTC), monthly, "Europe/Berlin").key == "2026-11"
    # ... and still 19:30 on 31 Oct in New York
    assert period_of(datetime(2026, 10, 31, 23, 30, tzinfo=UTC), monthly, "America/New_York").key == "2026-10"
    # ISO week 53 of 2026 starts Monday 28 Dec 2026
    week = parse_period("2026-W53", BillingInterval.WEEKLY, "Asia/Kolkata")
    assert week.start == datetime(2026, 12, 27, 18, 30, tzinfo=UTC)  # 00:00 IST = 18:30Z the day before
    assert week.next().key == "2027-W01"


# --- late usage --------------------------------------------------------------------------


def late_lease() -> Lease:
    return make_lease(
        [
            {
                "id": "spindle",
                "meter": "spindle_hours",
                "tiers": [{"up_to": "100", "unit_price": "10.00"}, {"unit_price": "8.00"}],
            }
        ]
    )


def test_late_usage_is_billed_as_an_adjustment_on_the_next_invoice() -> None:
    lease = late_lease()
    oct_close = lease.close_at(lease.period(OCT))
    # October ends 2026-10-31T23:00Z (midnight CET); +2 days grace -> closes 2026-11-02T23:00Z
    assert oct_close == datetime(2026, 11, 2, 23, tzinfo=UTC)
    usage = [
        ev("spindle_hours", "2026-10-10T08:00:00+00:00", 90, received="2026-10-10T09:00:00+00:00"),
        ev("spindle_hours", "2026-10-30T08:00:00+00:00", 20, received="2026-11-10T09:00:00+00:00"),  # late
        ev("spindle_hours", "2026-11-12T08:00:00+00:00", 50, received="2026-11-12T09:00:00+00:00"),
    ]
    october = compute_invoice(lease, lease.period(OCT), usage)
    # October knows 90 h only: 90 x 10.00 = 900.00
    assert amounts(october) == [("spindle", "usage", "90", "900.00")]
    november = compute_invoice(lease, lease.period("2026-11"), usage)
    # November: 50 x 10.00 = 500.00.
    # October re-rated with 110 h: 100 x 10.00 + 10 x 8.00 = 1080.00; billed 900.00 -> adjustment +180.00
    # (neither 20 x 10.00 = 200.00 nor 20 x 8.00 = 160.00: the tier is crossed by the late hours)
    assert amounts(november) == [("spindle", "usage", "50", "500.00"), ("spindle", "adjustment", "20", "180.00")]
    assert november.lines[-1].period == OCT
    # subtotal 680.00 ; tax 680.00 x 0.19 = 129.20 ; total 809.20
    assert (november.subtotal, november.tax, november.total) == (D("680.00"), D("129.20"), D("809.20"))
    assert (november.usage.late_events, november.usage.adjusted_periods) == (1, (OCT,))
    # computing October again now that the late event is stored changes nothing
    assert compute_invoice(lease, lease.period(OCT), usage).hash == october.hash


def test_usage_arriving_within_the_grace_period_is_on_time() -> None:
    lease = late_lease()
    usage = [
        ev("spindle_hours", "2026-10-10T08:00:00+00:00", 90, received="2026-10-10T09:00:00+00:00"),
        ev("spindle_hours", "2026-10-30T08:00:00+00:00", 20, received="2026-11-02T23:00:00+00:00"),  # at close
    ]
    inv = compute_invoice(lease, lease.period(OCT), usage)
    # 110 h: 100 x 10.00 + 10 x 8.00 = 1080.00
    assert inv.subtotal == D("1080.00")
    assert compute_invoice(lease, lease.period("2026-11"), usage).usage.late_events == 0


def test_usage_later_than_the_next_close_goes_on_the_invoice_after() -> None:
    lease = late_lease()
    late = ev("spindle_hours", "2026-10-30T08:00:00+00:00", 20, received="2026-12-05T00:00:00+00:00")
    # November closes 2026-12-02T23:00Z, so the event is December's adjustment: 20 x 10.00 = 200.00
    assert compute_invoice(lease, lease.period("2026-11"), [late]).lines[-1].kind == "usage"
    december = compute_invoice(lease, lease.period("2026-12"), [late])
    assert amounts(december)[-1] == ("spindle", "adjustment", "20", "200.00")


# --- usage events ---------------------------------------------------------------------------


def test_duplicates_are_counted_once_and_conflicts_refused() -> None:
    lease = make_lease([{"id": "p", "meter": "parts", "unit_price": "1.00"}])
    one = ev("parts", "2026-10-05T08:00:00+00:00", 7)
    inv = compute_invoice(lease, lease.period(OCT), [one, one, one])
    assert inv.subtotal == D("7.00")  # 7 parts once
    twin = UsageEvent(id=one.id, machine_id="m1", meter="parts", ts=one.ts, quantity=D(8))
    with pytest.raises(UsageConflictError, match=one.id):
        compute_invoice(lease, lease.period(OCT), [one, twin])


def test_a_redelivered_event_keeps_its_earliest_arrival() -> None:
    lease = late_lease()
    ts = datetime(2026, 10, 30, 8, tzinfo=UTC)
    late_copy = UsageEvent("x", "m1", "spindle_hours", ts, D(20), received_at=datetime(2026, 11, 20, tzinfo=UTC))
    first = UsageEvent("x", "m1", "spindle_hours", ts, D(20), received_at=datetime(2026, 10, 30, 9, tzinfo=UTC))
    inv = compute_invoice(lease, lease.period(OCT), [late_copy, first])
    # the first arrival was on time: 20 x 10.00 = 200.00 in October, no adjustment later
    assert inv.subtotal == D("200.00")
    assert compute_invoice(lease, lease.period("2026-11"), [late_copy, first]).usage.late_events == 0


def test_max_and_latest_aggregate_per_machine_then_sum() -> None:
    lease = make_lease(
        [
            {"id": "peak", "meter": "peak_kw", "aggregation": "max", "unit_price": "10.00"},
            {"id": "hours", "meter": "hour_meter", "aggregation": "latest", "unit_price": "1.00"},
        ]
    )
    usage = [
        ev("peak_kw", "2026-10-02T00:00:00+00:00", 5, "m1"),
        ev("peak_kw", "2026-10-03T00:00:00+00:00", 9, "m1"),
        ev("peak_kw", "2026-10-04T00:00:00+00:00", 7, "m1"),
        ev("peak_kw", "2026-10-04T00:00:00+00:00", 4, "m2"),
        ev("hour_meter", "2026-10-02T00:00:00+00:00", 100, "m1"),
        ev("hour_meter", "2026-10-09T00:00:00+00:00", 130, "m1"),
        ev("hour_meter", "2026-10-05T00:00:00+00:00", 50, "m2"),
    ]
    inv = compute_invoice(lease, lease.period(OCT), usage)
    # peak: m1 max 9 + m2 max 4 = 13 x 10.00 = 130.00 ; hours: m1 latest 130 + m2 latest 50 = 180 x 1.00
    assert amounts(inv) == [("peak", "usage", "13", "130.00"), ("hours", "usage", "180", "180.00")]


def test_other_machines_and_leases_are_excluded() -> None:
    lease = make_lease([{"id": "p", "meter": "parts", "unit_price": "1.00"}])
    usage = [
        ev("parts", "2026-10-05T08:00:00+00:00", 7, "m1"),
        ev("parts", "2026-10-05T08:00:00+00:00", 9, "m9"),
        UsageEvent("o", "m1", "parts", datetime(2026, 10, 5, tzinfo=UTC), D(3), lease_id="lease-2"),
    ]
    inv = compute_invoice(lease, lease.period(OCT), usage)
    assert (inv.subtotal, inv.usage.events, inv.usage.excluded_events) == (D("7.00"), 1, 2)


def test_usage_lines_report_the_bad_line() -> None:
    good = '{"id": "a", "machine_id": "m1", "meter": "parts", "ts": "2026-10-01T00:00:00Z", "quantity": 1}'
    with pytest.raises(UsageError, match=r"line 2: quantity 1\.5 must be a decimal string"):
        read_usage_lines([good, good.replace('"quantity": 1', '"quantity": 1.5')])
    with pytest.raises(UsageError, match="line 1: ts '2026-10-01T00:00:00' has no time zone"):
        read_usage_lines([good.replace("00:00:00Z", "00:00:00")])
    with pytest.raises(UsageError, match="line 3: not JSON"):
        read_usage_lines([good, "", "{"])
    with pytest.raises(UsageError, match="quantity '-1' must be a finite number >= 0"):
        read_usage_lines([good.replace('"quantity": 1', '"quantity": "-1"')])


# --- leases -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tax_rate": 0.19}, "not binary floats"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"currency": "XYZ"}, "unsupported currency"),
        ({"end": "2025-01-01T00:00:00Z"}, "end must be after start"),
        ({"start": "2026-01-01T00:00:00"}, "time zone"),
    ],
)
def test_bad_leases_are_refused_with_a_clear_message(change: dict[str, Any], message: str) -> None:
    with pytest.raises(LeaseError, match=message):
        make_lease([{"id": "p", "meter": "parts", "unit_price": "1"}], **change)


@pytest.mark.parametrize(
    ("component", "message"),
    [
        ({"id": "s", "meter": "parts", "tiers": [{"up_to": "10", "unit_price": "1"}]}, "last tier is unbounded"),
        (
            {
                "id": "s",
                "meter": "parts",
                "tiers": [{"up_to": "10", "unit_price": "1"}, {"up_to": "5", "unit_price": "1"}],
            },
            "last tier is unbounded",
        ),
        (
            {
                "id": "s",
                "meter": "parts",
                "tiers": [{"up_to": "10", "unit_price": "1"}, {"up_to": "5", "unit_price": "1"}, {"unit_price": "1"}],
            },
            "positive and increasing",
        ),
        ({"id": "b", "kind": "base_fee"}, "needs an amount"),
        ({"id": "s", "unit_price": "1"}, "needs a meter"),
        ({"id": "s", "meter": "parts", "unit_price": "1", "minimum": "5", "cap": "2"}, "below minimum"),
    ],
)
def test_bad_tariffs_are_refused(component: dict[str, Any], message: str) -> None:
    with pytest.raises(LeaseError, match=message):
        make_lease([component])


def test_a_period_key_must_match_the_interval() -> None:
    lease = make_lease([{"id": "p", "meter": "parts", "unit_price": "1"}])
    with pytest.raises(PeriodError, match=r"expected e\.g\. 2026-10"):
        lease.period("2026-W41")
    with pytest.raises(PeriodError, match=r"month must be in 1\.\.12"):
        lease.period("2026-13")


# --- evidence -----------------------------------------------------------------------------


def test_invoice_hash_detects_tampering_and_survives_a_json_round_trip() -> None:
    lease = make_lease([GRADUATED])
    usage = [ev("spindle_hours", "2026-10-02T10:00:00+00:00", "123.5")]
    inv = compute_invoice(lease, lease.period(OCT), usage)
    assert inv.verify()
    again = Invoice.from_json(inv.to_json())
    assert again == inv and again.verify()
    doc = inv.to_json()
    doc["lines"][0]["amount"] = "999.00"
    assert not Invoice.from_json(doc).verify()


def test_every_billed_event_has_a_proof_against_the_usage_root() -> None:
    lease = make_lease([{"id": "p", "meter": "parts", "unit_price": "1"}])
    usage = [ev("parts", f"2026-10-{d:02d}T08:00:00+00:00", d) for d in range(1, 8)]
    inv = compute_invoice(lease, lease.period(OCT), usage)
    hashes = [e.hash for e in usage]
    assert inv.usage.events == 7
    for h in hashes:
        assert verify_proof(h, merkle_proof(hashes, h), inv.usage.root)
    assert not verify_proof(hashes[0], merkle_proof(hashes, hashes[1]), inv.usage.root)


def test_weekly_lease_starting_midweek_prorates_by_elapsed_time() -> None:
    components = [
        {"id": "base", "kind": "base_fee", "amount": "70.00"},
        {"id": "p", "meter": "parts", "unit_price": "0.50"},
    ]
    lease = make_lease(components, billing_interval="weekly", start="2026-10-07T00:00:00+02:00")
    week = lease.period("2026-W41")
    # ISO week 41 of 2026: Monday 5 Oct 00:00 CEST to Monday 12 Oct 00:00 CEST = 168 h;
    # the lease starts Wednesday 7 Oct: 5 days = 120 h covered -> 70.00 x 120/168 = 50.00
    assert (week.start, week.hours) == (datetime(2026, 10, 4, 22, tzinfo=UTC), 168)
    usage = [ev("parts", "2026-10-06T09:00:00+00:00", 40), ev("parts", "2026-10-09T09:00:00+00:00", 30)]
    inv = compute_invoice(lease, week, usage)
    # the 40 parts on Tuesday are before the lease: 30 x 0.50 = 15.00 ; subtotal 65.00 ; tax 12.35
    assert amounts(inv) == [("base", "base_fee", "0.714286", "50.00"), ("p", "usage", "30", "15.00")]
    assert (inv.subtotal, inv.tax, inv.total) == (D("65.00"), D("12.35"), D("77.35"))
    assert inv.usage.excluded_events == 1


def test_a_credit_from_volume_pricing_can_make_an_adjustment_negative() -> None:
    lease = make_lease([VOLUME])
    usage = [
        ev("parts", "2026-10-05T08:00:00+00:00", 5000, received="2026-10-05T09:00:00+00:00"),
        ev("parts", "2026-10-30T08:00:00+00:00", 1, received="2026-11-20T09:00:00+00:00"),
    ]
    november = compute_invoice(lease, lease.period("2026-11"), usage)
    # October billed 5000 x 0.12 = 600.00; with the late part 5001 x 0.10 = 500.10 -> adjustment -99.90
    assert amounts(november) == [("parts", "usage", "0", "0.00"), ("parts", "adjustment", "1", "-99.90")]
    # subtotal -99.90 ; tax -99.90 x 0.19 = -18.981 -> -18.98 ; total -118.88
    assert (november.subtotal, november.tax, november.total) == (D("-99.90"), D("-18.98"), D("-118.88"))


def test_a_changed_copy_of_an_event_hashes_its_own_content() -> None:
    one = ev("parts", "2026-10-05T08:00:00+00:00", 7)
    before = one.hash
    changed = dataclasses.replace(one, quantity=D(8))
    assert changed.hash != before and one.hash == before
    assert dataclasses.replace(one, received_at=datetime(2026, 10, 6, tzinfo=UTC)).hash == before
