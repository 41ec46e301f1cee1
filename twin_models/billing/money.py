"""Money: ``Decimal`` amounts rounded to the currency's minor unit in the lease's rounding mode.

Rounding rule (the one place it is defined): every invoice line amount is rounded
once, in the lease's :class:`Rounding` mode, to the currency's minor unit; the subtotal is
the sum of the rounded lines; tax is the subtotal times the tax rate, rounded the
same way once; the total is subtotal plus tax. The mode is ``half_even`` (banker's
rounding, the default) or ``half_up`` (commercial rounding, customary on German B2B
invoices: an exact half goes away from zero). The two differ only on an exact half
whose lower neighbour is even. Quantities are never rounded by rating (derived meters
carry at most :data:`QUANTITY_PLACES` decimals) and always half-even.

Example:
    >>> from decimal import Decimal
    >>> round_money(Decimal("2.345"), "EUR"), round_money(Decimal("2.355"), "EUR")
    (Decimal('2.34'), Decimal('2.36'))
    >>> round_money(Decimal("2.345"), "EUR", Rounding.HALF_UP), round_money(Decimal("-2.345"), "EUR", "half_up")
    (Decimal('2.35'), Decimal('-2.35'))
    >>> round_money(Decimal("1234.5"), "JPY")
    Decimal('1234')
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, localcontext
from enum import StrEnum

from twin_models.billing.errors import LeaseError

__all__ = [
    "MINOR_UNITS",
    "QUANTITY_PLACES",
    "Rounding",
    "add",
    "minor_unit",
    "money_str",
    "round_money",
    "round_quantity",
]


class Rounding(StrEnum):
    """How money is rounded to the minor unit (a lease setting, ``half_even`` by default).

    Example:
        >>> Rounding("half_up").decimal_mode, Rounding.HALF_EVEN.decimal_mode
        ('ROUND_HALF_UP', 'ROUND_HALF_EVEN')
    """

    HALF_EVEN = "half_even"
    HALF_UP = "half_up"

    @property
    def decimal_mode(self) -> str:
        """The :mod:`decimal` rounding constant of this mode."""
        return _DECIMAL_MODES[self]


_DECIMAL_MODES: dict[str, str] = {Rounding.HALF_EVEN: ROUND_HALF_EVEN, Rounding.HALF_UP: ROUND_HALF_UP}

#: ISO 4217 minor units of the currencies a lease may use.
MINOR_UNITS: dict[str, int] = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "HUF": 2,
    "CNY": 2,
    "INR": 2,
    "CAD": 2,
    "AUD": 2,
    "MXN": 2,
    "BRL": 2,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "BHD": 3,
}

#: Decimal places of derived meter quantities (spindle hours, kWh): one microunit.
QUANTITY_PLACES = 6

#: Precision for intermediate products: ample for 18-digit amounts times 6-decimal quantities.
_CONTEXT = Context(prec=50, rounding=ROUND_HALF_EVEN)


def minor_unit(currency: str) -> int:
    """The number of decimals of a currency's minor unit (``EUR`` -> 2, ``JPY`` -> 0)."""
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise LeaseError(f"unsupported currency {currency!r} (known: {', '.join(sorted(MINOR_UNITS))})") from None


def round_money(amount: Decimal, currency: str, rounding: Rounding | str = Rounding.HALF_EVEN) -> Decimal:
    """``amount`` rounded to the minor unit of ``currency`` in the ``rounding`` mode (default half-even)."""
    exponent = Decimal(1).scaleb(-minor_unit(currency))
    mode = _DECIMAL_MODES.get(rounding)
    if mode is None:
        raise LeaseError(f"unknown rounding {rounding!r} (known: {', '.join(Rounding)})")
    with localcontext(_CONTEXT):
        return amount.quantize(exponent, rounding=mode)


_QUANTUM = Decimal(1).scaleb(-QUANTITY_PLACES)


def round_quantity(quantity: Decimal) -> Decimal:
    """A derived quantity rounded half-even to :data:`QUANTITY_PLACES` decimals.

    Example:
        >>> round_quantity(Decimal("0.0166665")), round_quantity(Decimal("0.0166675"))
        (Decimal('0.016666'), Decimal('0.016668'))
    """
    return quantity.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN, context=_CONTEXT)


def money_str(amount: Decimal) -> str:
    """A plain (non-scientific) string of an amount, as invoices serialise it."""
    return format(amount, "f")


def mul(a: Decimal, b: Decimal) -> Decimal:
    """``a * b`` in the wide billing context (no premature rounding)."""
    with localcontext(_CONTEXT):
        return a * b


def add(values: Iterable[Decimal]) -> Decimal:
    """The exact sum of ``values`` in the wide billing context (``0`` when empty).

    Example:
        >>> add([Decimal("18446744073709551615.000001"), Decimal("0.000001")])
        Decimal('18446744073709551615.000002')
    """
    with localcontext(_CONTEXT):
        return sum(values, Decimal(0))


def div(a: Decimal, b: Decimal) -> Decimal:
    """``a / b`` in the wide billing context (50 significant digits)."""
    with localcontext(_CONTEXT):
        return a / b
