"""Properties of billing: linear tariffs add up across periods, issued invoices never change,
late usage is billed exactly once."""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin_models.billing import Lease, UsageEvent, compute_invoice, load_lease

OCT_START = datetime(2026, 9, 30, 22, tzinfo=UTC)  # 2026-10-01 00:00 Europe/Berlin
OCT_HOURS = 745
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def lease(interval: str, tariff: dict[str, Any]) -> Lease:
    return load_lease(
        {
            "lease_id": "lease-p",
            "lessor": "maker",
            "lessee": "plant",
            "machine_ids": ["m1", "m2"],
            "start": "2026-09-01T00:00:00+02:00",
            "billing_interval": interval,
            "timezone": "Europe/Berlin",
            "currency": "EUR",
            "tax_rate": "0.19",
            "tariff": tariff,
        }
    )


def linear_tariff(parts_cents: int, hour_cents: int, decimals: int = 2) -> dict[str, Any]:
    scale = Decimal(1).scaleb(-decimals)
    return {
        "components": [
            {"id": "parts", "meter": "parts", "unit_price": str(Decimal(parts_cents) * scale)},
            {"id": "spindle", "meter": "spindle_hours", "unit_price": str(Decimal(hour_cents) * scale)},
        ]
    }


@st.composite
def october_usage(draw: st.DrawFn, fractional: bool = False) -> list[UsageEvent]:
    n = draw(st.integers(min_value=0, max_value=60))
    events = []
    for i in range(n):
        seconds = draw(st.integers(min_value=0, max_value=OCT_HOURS * 3600 - 1))
        meter = draw(st.sampled_from(["parts", "spindle_hours"]))
        if fractional:
            qty = Decimal(draw(st.integers(min_value=0, max_value=10**9))).scaleb(-6)
        else:
            qty = Decimal(draw(st.integers(min_value=0, max_value=500)))
        events.append(
            UsageEvent(
                id=f"e{i}",
                machine_id=draw(st.sampled_from(["m1", "m2"])),
                meter=meter,
                ts=OCT_START + timedelta(seconds=seconds),
                quantity=qty,
            )
        )
    return events


def daily_invoices(tariff: dict[str, Any], usage: list[UsageEvent]) -> list[Decimal]:
    daily = lease("daily", tariff)
    day = daily.period("2026-10-01")
    subtotals = []
    while day.key.startswith("2026-10"):
        subtotals.append(compute_invoice(daily, day, usage).subtotal)
        day = day.next()
    assert len(subtotals) == 31
    return subtotals


@SETTINGS
@given(
    usage=october_usage(),
    parts_cents=st.integers(min_value=0, max_value=10_000),
    hour_cents=st.integers(min_value=0, max_value=100_000),
)
def test_sum_of_daily_invoices_equals_the_monthly_invoice_for_a_linear_tariff(
    usage: list[UsageEvent], parts_cents: int, hour_cents: int
) -> None:
    tariff = linear_tariff(parts_cents, hour_cents)
    monthly = lease("monthly", tariff)
    assert monthly.tariff.is_linear
    month = compute_invoice(monthly, monthly.period("2026-10"), usage)
    # whole quantities times cent prices: every line is exact, so the sums agree to the cent
    assert sum(daily_invoices(tariff, usage), Decimal(0)) == month.subtotal


@SETTINGS
@given(
    usage=october_usage(fractional=True),
    parts_price=st.integers(min_value=0, max_value=10**6),
    hour_price=st.integers(min_value=0, max_value=10**7),
)
def test_daily_and_monthly_differ_by_per_line_rounding_only(
    usage: list[UsageEvent], parts_price: int, hour_price: int
) -> None:
    tariff = linear_tariff(parts_price, hour_price, decimals=4)
    monthly = lease("monthly", tariff)
    month = compute_invoice(monthly, monthly.period("2026-10"), usage)
    # each of 2 lines is rounded once a month or 31 times a day, by at most half a cent each
    bound = Decimal("0.005") * 2 * (31 + 1)
    assert abs(sum(daily_invoices(tariff, usage), Decimal(0)) - month.subtotal) <= bound


TIERED = {
    "components": [
        {"id": "base", "kind": "base_fee", "amount": "300.00"},
        {
            "id": "spindle",
            "meter": "spindle_hours",
            "pricing": "graduated",
            "tiers": [{"up_to": "400", "unit_price": "9.75"}, {"unit_price": "7.125"}],
            "cap": "9000.00",
        },
        {
            "id": "parts",
            "meter": "parts",
            "pricing": "volume",
            "tiers": [{"up_to": "5000", "unit_price": "0.13"}, {"unit_price": "0.095"}],
            "minimum": "150.00",
        },
    ],
    "minimum_charge": "1000.00",
    "cap": "12000.00",
}
CLOSES = {  # grace 2 days after local midnight (CET from November)
    "2026-10": datetime(2026, 11, 2, 23, tzinfo=UTC),
    "2026-11": datetime(2026, 12, 2, 23, tzinfo=UTC),
    "2026-12": datetime(2027, 1, 2, 23, tzinfo=UTC),
}


@st.composite
def arrivals(draw: st.DrawFn) -> list[UsageEvent]:
    """October usage that arrives on time, in November's window or in December's window."""
    windows = [
        (OCT_START, CLOSES["2026-10"]),
        (CLOSES["2026-10"] + timedelta(seconds=1), CLOSES["2026-11"]),
        (CLOSES["2026-11"] + timedelta(seconds=1), CLOSES["2026-12"]),
    ]
    out = []
    for ev in draw(october_usage()):
        lo, hi = windows[draw(st.integers(min_value=0, max_value=2))]
        lo = max(lo, ev.ts)
        offset = draw(st.integers(min_value=0, max_value=int((hi - lo).total_seconds())))
        out.append(replace(ev, quantity=ev.quantity * 10, received_at=lo + timedelta(seconds=offset)))
    return out


@SETTINGS
@given(usage=arrivals(), seed=st.integers(min_value=0, max_value=2**32))
def test_recomputing_an_invoice_with_more_late_usage_never_changes_it(usage: list[UsageEvent], seed: int) -> None:
    tiered = lease("monthly", TIERED)
    october = tiered.period("2026-10")
    issued = compute_invoice(tiered, october, [e for e in usage if e.received_by(CLOSES["2026-10"])])
    # later: everything stored since, redelivered duplicates, any order
    shuffled = usage + usage[: len(usage) // 2]
    random.Random(seed).shuffle(shuffled)
    again = compute_invoice(tiered, october, shuffled)
    assert again.hash == issued.hash
    assert again.to_json() == issued.to_json()


@SETTINGS
@given(usage=arrivals())
def test_late_usage_is_billed_exactly_once(usage: list[UsageEvent]) -> None:
    tiered = lease("monthly", TIERED)
    invoices = [compute_invoice(tiered, tiered.period(k), usage) for k in ("2026-10", "2026-11", "2026-12")]
    billed_for_october = sum((ln.amount for inv in invoices for ln in inv.lines if ln.period == "2026-10"), Decimal(0))
    all_on_time = [replace(e, received_at=None) for e in usage]
    truth = compute_invoice(tiered, tiered.period("2026-10"), all_on_time)
    # October's lines plus the adjustments on November and December add up to October rated with all usage
    assert billed_for_october == truth.subtotal
    # and each usage event is evidence on exactly one invoice
    assert sum(inv.usage.events for inv in invoices) == len(usage)


@SETTINGS
@given(
    ident=st.from_regex(r"[A-Za-z0-9_:.\-]{1,40}", fullmatch=True),
    machine=st.text(min_size=1, max_size=20),
    quantity=st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False, places=6),
    seconds=st.integers(min_value=0, max_value=10**9),
)
def test_event_hash_is_sha256_of_the_rfc8785_form(ident: str, machine: str, quantity: Decimal, seconds: int) -> None:
    event = UsageEvent(ident, machine, "parts", datetime.fromtimestamp(seconds, tz=UTC), quantity)
    expected = "0x" + hashlib.sha256(rfc8785.dumps(event.content())).hexdigest()
    assert event.hash == expected
