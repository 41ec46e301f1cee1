"""Rating: from one period's quantities to priced invoice lines.

Each line amount is rounded once, in the lease's rounding mode (half-even unless the lease
says ``half_up``), to the currency's minor unit (:mod:`twin_models.billing.money`). Graduated
tiers give one line per tier the quantity reaches (the upper bound ``up_to`` belongs to its
tier); volume pricing gives one line at the price of the tier the whole quantity falls in.
Limits come after the usage lines: a component's ``minimum`` adds a top-up line, its ``cap``
a negative line; the tariff's ``minimum_charge`` and ``cap`` do the same over all components (component id ``tariff``).
Base fees, minimums and caps are multiplied by the covered share of the period
(``covered seconds / period seconds``) when prorated; the share is exact, only the
resulting amount is rounded.

Example:
    >>> from decimal import Decimal
    >>> from twin_models.billing.lease import Component
    >>> c = Component(id="spindle", meter="spindle_hours", pricing="graduated",
    ...               tiers=[{"up_to": "100", "unit_price": "10"}, {"unit_price": "8"}])
    >>> [(str(l.quantity), str(l.amount)) for l in price_component(c, Decimal("150"), "EUR")]
    [('100', '1000.00'), ('50', '400.00')]
    >>> half = Component(id="energy", meter="energy_kwh", unit_price="0.25")
    >>> [str(price_component(half, Decimal("0.1"), "EUR", rounding=r)[0].amount) for r in ("half_even", "half_up")]
    ['0.02', '0.03']
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer

from twin_models.billing.lease import Component, Lease, Pricing, Tariff
from twin_models.billing.money import Rounding, div, money_str, mul, round_money, round_quantity
from twin_models.billing.periods import Period

__all__ = [
    "TARIFF_COMPONENT",
    "Dec",
    "InvoiceLine",
    "LineKind",
    "price_component",
    "rate_period",
]

#: The component id of the tariff-wide minimum and cap lines.
TARIFF_COMPONENT = "tariff"

#: A Decimal that serialises as a plain decimal string (never ``1E+3``).
Dec = Annotated[Decimal, PlainSerializer(money_str, return_type=str, when_used="json")]

LineKind = Literal["base_fee", "usage", "minimum", "cap", "adjustment"]


class InvoiceLine(BaseModel):
    """One line of an invoice; ``period`` is the period the line charges (an older one for adjustments)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    component: str
    kind: LineKind
    meter: str | None
    description: str
    period: str
    quantity: Dec
    unit: str
    unit_price: Dec | None
    amount: Dec


def _fmt_tier(lo: Decimal, hi: Decimal | None, unit: str) -> str:
    return f"{money_str(lo)}-{money_str(hi)} {unit}" if hi is not None else f"over {money_str(lo)} {unit}"


def price_component(
    component: Component,
    quantity: Decimal,
    currency: str,
    *,
    period: str = "",
    rounding: Rounding | str = Rounding.HALF_EVEN,
) -> list[InvoiceLine]:
    """Usage lines of one metered component for ``quantity`` (no limits applied), amounts rounded by ``rounding``."""
    unit = component.display_unit
    name = component.description or component.id

    def line(q: Decimal, price: Decimal, text: str) -> InvoiceLine:
        return InvoiceLine(
            component=component.id,
            kind="usage",
            meter=component.meter,
            description=text,
            period=period,
            quantity=q,
            unit=unit,
            unit_price=price,
            amount=round_money(mul(q, price), currency, rounding),
        )

    if component.pricing is Pricing.FLAT:
        assert component.unit_price is not None
        return [line(quantity, component.unit_price, name)]
    tiers = component.tiers
    if component.pricing is Pricing.VOLUME:
        lo = Decimal(0)
        for tier in tiers:
            if tier.up_to is None or quantity <= tier.up_to:
                return [line(quantity, tier.unit_price, f"{name} (volume tier {_fmt_tier(lo, tier.up_to, unit)})")]
            lo = tier.up_to
    lines: list[InvoiceLine] = []
    lo = Decimal(0)
    for tier in tiers:
        in_tier = (quantity if tier.up_to is None else min(quantity, tier.up_to)) - lo
        if in_tier > 0 or not lines:
            lines.append(line(max(in_tier, Decimal(0)), tier.unit_price, f"{name} ({_fmt_tier(lo, tier.up_to, unit)})"))
        if tier.up_to is None or quantity <= tier.up_to:
            break
        lo = tier.up_to
    return lines


def _limit_lines(
    *,
    component: str,
    meter: str | None,
    name: str,
    charged: Decimal,
    minimum: Decimal | None,
    cap: Decimal | None,
    share: tuple[int, int] | None,
    currency: str,
    rounding: Rounding,
    period: str,
) -> list[InvoiceLine]:
    def scaled(value: Decimal) -> Decimal:
        if share is None:
            return value
        return round_money(div(mul(value, Decimal(share[0])), Decimal(share[1])), currency, rounding)

    def adjustment(kind: str, description: str, target: Decimal) -> InvoiceLine:
        return InvoiceLine(
            component=component,
            kind=kind,
            meter=meter,
            description=description,
            period=period,
            quantity=Decimal(1),
            unit="period",
            unit_price=target - charged,
            amount=target - charged,
        )

    out: list[InvoiceLine] = []
    if minimum is not None and charged < (floor := scaled(minimum)):
        out.append(adjustment("minimum", f"{name}: minimum charge {money_str(floor)}", floor))
    if cap is not None and charged > (ceiling := scaled(cap)):
        out.append(adjustment("cap", f"{name}: capped at {money_str(ceiling)}", ceiling))
    return out


def rate_period(lease: Lease, period: Period, quantities: Mapping[str, Decimal]) -> list[InvoiceLine]:
    """Every line for one period: base fees, usage per component, component and tariff limits.

    ``quantities`` maps metered component ids to the period's aggregated quantity (absent = 0).
    A period the lease does not cover at all has no lines.
    """
    covered, total = lease.covered_seconds(period), period.seconds
    if covered == 0:
        return []
    share = None if covered == total else (covered, total)
    tariff: Tariff = lease.tariff
    currency, rounding = lease.currency, lease.rounding
    lines: list[InvoiceLine] = []
    for comp in tariff.components:
        name = comp.description or comp.id
        if comp.kind == "base_fee":
            assert comp.amount is not None
            prorated = share is not None and comp.prorate
            fraction = Decimal(1) if not prorated or share is None else div(Decimal(share[0]), Decimal(share[1]))
            amount = comp.amount if not prorated else round_money(mul(comp.amount, fraction), currency, rounding)
            lines.append(
                InvoiceLine(
                    component=comp.id,
                    kind="base_fee",
                    meter=None,
                    description=name if not prorated else f"{name} (prorated {covered}/{total} s)",
                    period=period.key,
                    quantity=round_quantity(fraction) if prorated else Decimal(1),
                    unit=comp.display_unit,
                    unit_price=comp.amount,
                    amount=round_money(amount, currency, rounding),
                )
            )
            continue
        usage = price_component(
            comp, quantities.get(comp.id, Decimal(0)), currency, period=period.key, rounding=rounding
        )
        lines.extend(usage)
        lines.extend(
            _limit_lines(
                component=comp.id,
                meter=comp.meter,
                name=name,
                charged=sum((ln.amount for ln in usage), Decimal(0)),
                minimum=comp.minimum,
                cap=comp.cap,
                share=share if comp.prorate else None,
                currency=currency,
                rounding=rounding,
                period=period.key,
            )
        )
    lines.extend(
        _limit_lines(
            component=TARIFF_COMPONENT,
            meter=None,
            name="all charges",
            charged=sum((ln.amount for ln in lines), Decimal(0)),
            minimum=tariff.minimum_charge,
            cap=tariff.cap,
            share=share if tariff.prorate_limits else None,
            currency=currency,
            rounding=rounding,
            period=period.key,
        )
    )
    return lines
