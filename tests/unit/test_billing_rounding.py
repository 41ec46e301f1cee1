"""The lease's rounding mode: ``half_even`` (default, invoices unchanged) or ``half_up`` (commercial rounding).

Hand-computed worked example (docs/billing.md, "Rounding rule"), properties over amounts and invoices.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from twin_models.billing import (
    Invoice,
    Lease,
    LeaseError,
    Rounding,
    UsageEvent,
    compute_invoice,
    load_lease,
    minor_unit,
    read_usage_lines,
    round_money,
)
from twin_models.billing.money import mul
from twinledger.cli import main

D = Decimal
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
HALF_UP_LEASE = EXAMPLES / "lease-half-up.json"
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: The worked example of docs/billing.md: November 2026 of lease-0107.
WORKED_USAGE = [
    '{"id": "cnc-07:spindle_hours:20261103", "machine_id": "cnc-07", "meter": "spindle_hours", '
    '"ts": "2026-11-03T06:00:00Z", "quantity": "8.5"}',
    '{"id": "cnc-07:spindle_hours:20261104", "machine_id": "cnc-07", "meter": "spindle_hours", '
    '"ts": "2026-11-04T06:00:00Z", "quantity": "3.75"}',
    '{"id": "cnc-07:energy_kwh:202611", "machine_id": "cnc-07", "meter": "energy_kwh", '
    '"ts": "2026-11-04T06:00:00Z", "quantity": "1234.8"}',
    '{"id": "cnc-07:parts:202611", "machine_id": "cnc-07", "meter": "parts", '
    '"ts": "2026-11-04T06:00:00Z", "quantity": 1222}',
]


def with_rounding(lease: Lease, rounding: str | None) -> Lease:
    doc = lease.model_dump(mode="json")
    doc.pop("rounding")
    if rounding is not None:
        doc["rounding"] = rounding
    return load_lease(doc)


def is_exact_half(amount: Decimal, currency: str) -> bool:
    """True when ``amount`` lies exactly halfway between two multiples of the minor unit."""
    return abs(amount.scaleb(minor_unit(currency))) % 1 == D("0.5")


# --- the lease setting ----------------------------------------------------------------------------------------


def test_rounding_is_an_optional_lease_setting_validated_by_the_model() -> None:
    lease = load_lease(HALF_UP_LEASE.read_text())
    assert lease.rounding is Rounding.HALF_UP
    assert with_rounding(lease, None).rounding is Rounding.HALF_EVEN
    with pytest.raises(LeaseError, match="lease: rounding: Input should be 'half_even' or 'half_up'"):
        with_rounding(lease, "ceiling")
    with pytest.raises(LeaseError, match="unknown rounding 'ceiling'"):
        round_money(D("1.005"), "EUR", "ceiling")


def test_invoices_of_existing_leases_keep_their_bytes_and_hashes() -> None:
    # hashes computed with the code before the setting existed (commit e304f8b), for the example files as
    # stored then: under the id the file names (the leases table gives a stored lease back as it was stored)
    usage = read_usage_lines((EXAMPLES / "usage-lease-0042.jsonl").read_text().splitlines())
    pinned = {
        ("lease-monthly.json", "2026-10"): "0xfda54bd2d3fc6519eb827a29997ed2722829d463b3d55cbd3c956bf225b33847",
        ("lease-monthly.json", "2026-11"): "0xcd64e149944735a5bb4af136f29376fcd16b7db4696d91cfb3131121f7fe15fa",
        ("lease-daily.json", "2026-10-14"): "0x50c5c07adffb3058610d020fe0dd4adde3ef455af0eac7977a366f856d79b00a",
    }
    for (name, period), expected in pinned.items():
        lease = Lease.model_validate_json((EXAMPLES / name).read_text())
        assert ":" not in lease.lease_id  # the id as the file names it, not qualified
        default = compute_invoice(lease, lease.period(period), usage)
        stated = Lease.model_validate({**lease.model_dump(mode="json"), "rounding": "half_even"})
        explicit = compute_invoice(stated, lease.period(period), usage)
        assert default.hash == explicit.hash == expected
        assert "rounding" not in default.to_json() and default.to_json() == explicit.to_json()
        assert Invoice.from_json(default.to_json()).verify()


def test_the_hash_covers_a_non_default_rounding() -> None:
    lease = load_lease(HALF_UP_LEASE.read_text())
    invoice = compute_invoice(lease, lease.period("2026-11"), read_usage_lines(WORKED_USAGE))
    doc = invoice.to_json()
    assert doc["rounding"] == "half_up" and Invoice.from_json(doc).verify()
    assert not Invoice.from_json({**doc, "rounding": None}).verify()  # dropping the mode breaks the hash


# --- the worked example ----------------------------------------------------------------------------------------


def test_worked_example_german_b2b_lease_rounds_half_up() -> None:
    lease = load_lease(HALF_UP_LEASE.read_text())
    usage = read_usage_lines(WORKED_USAGE)
    up = compute_invoice(lease, lease.period("2026-11"), usage)
    even = compute_invoice(with_rounding(lease, None), lease.period("2026-11"), usage)
    # base 450.00 ; spindle 12.25 h x 14.50 = 177.625 ; energy 1234.8 kWh x 0.2875 = 355.005 ;
    # parts 1222 x 0.13 = 158.86 (exact)
    assert [str(ln.amount) for ln in up.lines] == ["450.00", "177.63", "355.01", "158.86"]
    assert [str(ln.amount) for ln in even.lines] == ["450.00", "177.62", "355.00", "158.86"]
    # half_up: 1141.50 x 0.19 = 216.885 -> 216.89 ; half_even: 1141.48 x 0.19 = 216.8812 -> 216.88
    assert (str(up.subtotal), str(up.tax), str(up.total)) == ("1141.50", "216.89", "1358.39")
    assert (str(even.subtotal), str(even.tax), str(even.total)) == ("1141.48", "216.88", "1358.36")


def test_the_cli_bills_the_worked_example(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    usage = tmp_path / "usage.jsonl"
    usage.write_text("\n".join(WORKED_USAGE) + "\n")
    args = ["bill", "--lease", str(HALF_UP_LEASE), "--usage", str(usage), "--period", "2026-11"]
    assert main([*args, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["rounding"], doc["tax"], doc["total"]) == ("half_up", "216.89", "1358.39")
    assert main(args) == 0
    assert "tax 0.19 (rounded half_up)" in capsys.readouterr().out


# --- properties -------------------------------------------------------------------------------------------------

CURRENCIES = st.sampled_from(["EUR", "JPY", "KWD"])


@st.composite
def amounts(draw: st.DrawFn) -> Decimal:
    """Any decimal, and often an exact half of a minor unit of EUR (2.345), JPY (12.5) or KWD (1.0005)."""
    places = draw(st.integers(min_value=0, max_value=8))
    value = D(draw(st.integers(min_value=-(10**12), max_value=10**12))).scaleb(-places)
    if draw(st.booleans()):
        value = value.quantize(D(1).scaleb(-draw(st.sampled_from([0, 2, 3])))) + D(5).scaleb(-draw(st.integers(1, 4)))
    return value


@SETTINGS
@given(amount=amounts(), currency=CURRENCIES)
def test_half_up_and_half_even_differ_only_on_exact_halves(amount: Decimal, currency: str) -> None:
    unit = D(1).scaleb(-minor_unit(currency))
    up, even = round_money(amount, currency, Rounding.HALF_UP), round_money(amount, currency, Rounding.HALF_EVEN)
    assert abs(up - amount) <= unit / 2 and abs(even - amount) <= unit / 2  # both round to nearest
    half = is_exact_half(amount, currency)
    event(f"exact half: {half}, differ: {up != even}")
    if not half:
        assert up == even
    else:
        # an exact half: half_up goes away from zero, half_even to the even neighbour; they differ when
        # the neighbour towards zero is the even one
        assert abs(up) == abs(amount) + unit / 2
        toward_zero_is_even = int(abs(amount.scaleb(minor_unit(currency)))) % 2 == 0
        assert (up != even) == toward_zero_is_even
    assert up == even or (half and abs(up - even) == unit)


def _lease(currency: str, tax_rate: Decimal, rounding: str, tariff: dict[str, Any]) -> Lease:
    return load_lease(
        {
            "lease_id": "lease-r",
            "lessor": "maker",
            "lessee": "plant",
            "machine_ids": ["m1"],
            "start": "2026-09-01T00:00:00+02:00",
            "billing_interval": "monthly",
            "timezone": "Europe/Berlin",
            "currency": currency,
            "tax_rate": str(tax_rate),
            "rounding": rounding,
            "tariff": tariff,
        }
    )


def _price(draw: st.DrawFn) -> str:
    return str(D(draw(st.integers(min_value=0, max_value=100_000))).scaleb(-draw(st.integers(0, 4))))


@st.composite
def priced_usage(draw: st.DrawFn) -> tuple[str, Decimal, dict[str, Any], list[UsageEvent]]:
    currency = draw(CURRENCIES)
    tax_rate = D(draw(st.integers(min_value=0, max_value=2500))).scaleb(-4)
    tariff = {
        "components": [
            {"id": "base", "kind": "base_fee", "amount": _price(draw)},
            {"id": "energy", "meter": "energy_kwh", "unit_price": _price(draw)},
            {
                "id": "spindle",
                "meter": "spindle_hours",
                "tiers": [{"up_to": "40", "unit_price": _price(draw)}, {"up_to": None, "unit_price": _price(draw)}],
            },
        ]
    }
    start = datetime(2026, 9, 30, 22, tzinfo=UTC)  # October 2026 in Berlin
    events = [
        UsageEvent(
            id=f"e{i}",
            machine_id="m1",
            meter=draw(st.sampled_from(["energy_kwh", "spindle_hours"])),
            ts=start + timedelta(hours=draw(st.integers(min_value=0, max_value=744))),
            # decimals, and halves and quarters, whose products with a price often end in half a minor unit
            quantity=D(draw(st.integers(min_value=0, max_value=10**7))).scaleb(-draw(st.integers(0, 3)))
            / draw(st.sampled_from([1, 2, 4])),
        )
        for i in range(draw(st.integers(min_value=0, max_value=12)))
    ]
    return currency, tax_rate, tariff, events


@SETTINGS
@given(case=priced_usage())
def test_invoices_in_either_mode_differ_only_on_exact_halves_and_add_up(
    case: tuple[str, Decimal, dict[str, Any], list[UsageEvent]],
) -> None:
    currency, tax_rate, tariff, events = case
    invoices = {}
    for mode in Rounding:
        lease = _lease(currency, tax_rate, mode.value, tariff)
        inv = compute_invoice(lease, lease.period("2026-10"), events)
        # totals are the sum of the rounded lines plus the tax, the tax the subtotal's rounded in the mode
        assert inv.subtotal == sum((ln.amount for ln in inv.lines), D(0))
        assert inv.tax == round_money(mul(inv.subtotal, tax_rate), currency, mode)
        assert inv.total == inv.subtotal + inv.tax
        assert all(ln.amount == round_money(ln.amount, currency) for ln in inv.lines)  # whole minor units
        assert inv.verify()
        invoices[mode] = inv
    up, even = invoices[Rounding.HALF_UP], invoices[Rounding.HALF_EVEN]
    assert len(up.lines) == len(even.lines)
    for a, b in zip(up.lines, even.lines, strict=True):
        assert (a.component, a.quantity, a.unit_price) == (b.component, b.quantity, b.unit_price)
        assert b.unit_price is not None
        exact = mul(a.quantity, b.unit_price)
        assert (a.amount != b.amount) == (is_exact_half(exact, currency) and a.amount != round_money(exact, currency))
        event(f"line differs: {a.amount != b.amount}")
    exact_tax = mul(up.subtotal, tax_rate)
    if round_money(exact_tax, currency, Rounding.HALF_EVEN) != up.tax:
        assert is_exact_half(exact_tax, currency)
