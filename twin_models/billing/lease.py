"""Leases and tariffs: who pays whom, for which machines, in which calendar, at which prices.

A :class:`Tariff` is a list of :class:`Component` s. A ``base_fee`` component charges a fixed
amount per period; a ``metered`` component prices the period's aggregate of one meter
(``spindle_hours``, ``parts``, ``energy_kwh``, ``crash_events``, ...) at a flat unit price or
through tiers: *graduated* tiers price each unit at the tier it falls in, *volume* tiers price
every unit at the tier the whole quantity reaches. A component may carry its own per-period
``minimum`` and ``cap``; the tariff may carry ``minimum_charge`` and ``cap`` over all components.
Base fees, minimums and caps are prorated by elapsed time when the lease starts or ends inside a
period (``prorate``); tier boundaries are not.

Amounts, prices and rates are decimal strings in JSON (``"12.50"``); binary floats are refused.
``rounding`` (``half_even``, the default, or ``half_up``) is how the lease's invoice lines and
tax are rounded to the currency's minor unit.

Example:
    >>> lease = Lease.model_validate({
    ...     "lease_id": "lease-1", "lessor": "maker", "lessee": "plant",
    ...     "machine_ids": ["cnc-01"], "start": "2026-10-01T00:00:00+02:00",
    ...     "billing_interval": "monthly", "timezone": "Europe/Berlin",
    ...     "currency": "EUR", "tax_rate": "0.19",
    ...     "tariff": {"components": [
    ...         {"id": "base", "kind": "base_fee", "amount": "500.00"},
    ...         {"id": "spindle", "meter": "spindle_hours", "unit_price": "12.00"}]}})
    >>> lease.period("2026-10").key, lease.close_at(lease.period("2026-10")).isoformat()
    ('2026-10', '2026-11-02T23:00:00+00:00')
    >>> lease.rounding.value, Lease.model_validate({**lease.model_dump(), "rounding": "half_up"}).rounding.value
    ('half_even', 'half_up')
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from twin_models.billing.errors import LeaseError
from twin_models.billing.money import MINOR_UNITS, Rounding
from twin_models.billing.periods import BillingInterval, Period, parse_period, period_of, periods_between, zone
from twin_models.telemetry import UtcDatetime

__all__ = [
    "KNOWN_METERS",
    "Aggregation",
    "Component",
    "Lease",
    "Pricing",
    "Tariff",
    "Tier",
    "load_lease",
    "qualified_lease_id",
]

#: Meters derived from telemetry (:mod:`twin_models.billing.metering`) and their units.
KNOWN_METERS: dict[str, str] = {
    "spindle_hours": "h",
    "parts": "part",
    "rejected_parts": "part",
    "energy_kwh": "kWh",
    "crash_events": "event",
    "overload_events": "event",
}

ID_PATTERN = r"^[A-Za-z0-9_:.\-]{1,128}$"
METER_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
#: A tenant id that can qualify a lease id: the id characters without ``:`` (the separator).
_TENANT = re.compile(r"[A-Za-z0-9_.\-]+")
_ID = re.compile(ID_PATTERN)


def qualified_lease_id(lessor: str, lease_id: str) -> str:
    """The id a lease is stored, billed, invoiced and anchored under: ``<lessor>:<reference>``.

    Lease ids are scoped by the lessor's tenant, so two lessors may use the same reference and
    neither can learn or take the other's. The rule, the one place it is applied:

    * an id without ``:`` is a reference and is qualified: ``lease-0042`` -> ``<lessor>:lease-0042``;
    * an id with ``:`` is already qualified: its prefix is everything before the **first** ``:``
      and must be ``lessor`` (the id is kept as it is); any later ``:`` belongs to the reference
      (``toolmaker:fleet:2026`` is the reference ``fleet:2026`` of ``toolmaker``);
    * the result has at most 128 characters of the id alphabet (``ID_PATTERN``).

    Tenant ids contain no ``:``, so the prefix names exactly one tenant: different lessors never map
    to the same id, and qualifying a qualified id again changes nothing.
    :class:`LeaseError` (whose message starts with the field, ``lease_id:`` or ``lessor:``) otherwise.

    Example:
        >>> qualified_lease_id("toolmaker", "lease-cnc-01")
        'toolmaker:lease-cnc-01'
        >>> qualified_lease_id("toolmaker", "toolmaker:lease-cnc-01")
        'toolmaker:lease-cnc-01'
        >>> qualified_lease_id("toolmaker", "toolmaker:fleet:2026")
        'toolmaker:fleet:2026'
        >>> qualified_lease_id("intruder", "toolmaker:lease-cnc-01")
        Traceback (most recent call last):
        ...
        twin_models.billing.errors.LeaseError: lease_id: 'toolmaker:lease-cnc-01' is qualified by another tenant ...
    """
    if not isinstance(lessor, str) or not _TENANT.fullmatch(lessor):
        raise LeaseError(f"lessor: {lessor!r} cannot qualify a lease id (letters, digits and _ . - only)")
    if not isinstance(lease_id, str) or not _ID.fullmatch(lease_id):
        raise LeaseError(f"lease_id: {lease_id!r} must match {ID_PATTERN}")
    prefix, sep, reference = lease_id.partition(":")
    if sep:
        if prefix != lessor:
            raise LeaseError(
                f"lease_id: {lease_id!r} is qualified by another tenant than the lessor {lessor!r}"
                f" (write the reference alone or '{lessor}:<reference>')"
            )
        if not reference:
            raise LeaseError(f"lease_id: {lease_id!r} names no reference after '{lessor}:'")
        return lease_id
    qualified = f"{lessor}:{lease_id}"
    if len(qualified) > 128:
        raise LeaseError(
            f"lease_id: {qualified!r} is longer than 128 characters (the lessor and the reference together)"
        )
    return qualified


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError('write decimal amounts as strings (for example "0.15"), not binary floats')
    return value


#: A non-negative decimal given as a string or an integer.
Amount = Annotated[Decimal, BeforeValidator(_no_float), Field(ge=0, allow_inf_nan=False)]


class Aggregation(StrEnum):
    """How a period's usage events of one meter become one quantity (per machine, then summed)."""

    SUM = "sum"
    MAX = "max"
    COUNT = "count"
    LATEST = "latest"


class Pricing(StrEnum):
    """How a metered quantity is priced."""

    FLAT = "flat"
    GRADUATED = "graduated"
    VOLUME = "volume"


class Tier(BaseModel):
    """Units up to ``up_to`` (inclusive; ``None`` = unbounded, last tier only) at ``unit_price``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    up_to: Amount | None = None
    unit_price: Amount


class Component(BaseModel):
    """One priced item of a tariff."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=ID_PATTERN)]
    kind: Literal["base_fee", "metered"] = "metered"
    description: str = ""
    meter: Annotated[str | None, Field(pattern=METER_PATTERN)] = None
    aggregation: Aggregation = Aggregation.SUM
    pricing: Pricing | None = None
    unit_price: Amount | None = None
    tiers: tuple[Tier, ...] = ()
    amount: Amount | None = None
    minimum: Amount | None = None
    cap: Amount | None = None
    prorate: bool = True
    unit: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Component:
        if self.kind == "base_fee":
            if self.amount is None:
                raise ValueError(f"base fee {self.id!r} needs an amount")
            if self.meter or self.unit_price is not None or self.tiers:
                raise ValueError(f"base fee {self.id!r} takes an amount only, no meter, unit_price or tiers")
            return self
        if not self.meter:
            raise ValueError(f"metered component {self.id!r} needs a meter")
        if self.amount is not None:
            raise ValueError(f"metered component {self.id!r} takes unit_price or tiers, not amount")
        pricing = self.pricing or (Pricing.GRADUATED if self.tiers else Pricing.FLAT)
        object.__setattr__(self, "pricing", pricing)
        if pricing is Pricing.FLAT:
            if self.unit_price is None or self.tiers:
                raise ValueError(f"flat component {self.id!r} needs unit_price and no tiers")
        else:
            if self.unit_price is not None or not self.tiers:
                raise ValueError(f"{pricing.value} component {self.id!r} needs tiers and no unit_price")
            bounds = [t.up_to for t in self.tiers]
            if bounds[-1] is not None or any(b is None for b in bounds[:-1]):
                raise ValueError(f"component {self.id!r}: only the last tier is unbounded (up_to: null)")
            finite = [b for b in bounds if b is not None]
            if any(b <= a for a, b in itertools.pairwise(finite)) or (finite and finite[0] <= 0):
                raise ValueError(f"component {self.id!r}: tier bounds must be positive and increasing")
        if self.minimum is not None and self.cap is not None and self.cap < self.minimum:
            raise ValueError(f"component {self.id!r}: cap {self.cap} is below minimum {self.minimum}")
        return self

    @property
    def display_unit(self) -> str:
        """The unit shown on invoice lines."""
        if self.unit:
            return self.unit
        if self.kind == "base_fee":
            return "period"
        return "event" if self.aggregation is Aggregation.COUNT else KNOWN_METERS.get(self.meter or "", "unit")


class Tariff(BaseModel):
    """The price list of a lease."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    components: Annotated[tuple[Component, ...], Field(min_length=1)]
    minimum_charge: Amount | None = None
    cap: Amount | None = None
    prorate_limits: bool = True

    @model_validator(mode="after")
    def _check(self) -> Tariff:
        ids = [c.id for c in self.components]
        if len(set(ids)) != len(ids):
            raise ValueError(f"component ids must be unique: {ids}")
        if self.minimum_charge is not None and self.cap is not None and self.cap < self.minimum_charge:
            raise ValueError(f"tariff cap {self.cap} is below minimum_charge {self.minimum_charge}")
        return self

    @property
    def is_linear(self) -> bool:
        """True when the charge is a sum of quantity times flat price (no base fee, tiers, limits)."""
        return (
            self.minimum_charge is None
            and self.cap is None
            and all(
                c.kind == "metered"
                and c.pricing is Pricing.FLAT
                and c.minimum is None
                and c.cap is None
                and c.aggregation in (Aggregation.SUM, Aggregation.COUNT)
                for c in self.components
            )
        )


class Lease(BaseModel):
    """A pay-per-use lease of one or more machines.

    ``lease_id`` is the id it is stored, billed and invoiced under; :func:`load_lease` gives it in
    the lessor-qualified form ``<lessor>:<reference>`` (:func:`qualified_lease_id`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lease_id: Annotated[str, Field(pattern=ID_PATTERN)]
    lessor: Annotated[str, Field(min_length=1, max_length=128)]
    lessee: Annotated[str, Field(min_length=1, max_length=128)]
    machine_ids: Annotated[tuple[Annotated[str, Field(pattern=ID_PATTERN)], ...], Field(min_length=1)]
    start: UtcDatetime
    end: UtcDatetime | None = None
    billing_interval: BillingInterval
    timezone: str
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    tax_rate: Annotated[Decimal, BeforeValidator(_no_float), Field(ge=0, le=1)]
    #: How long after a period ends its usage still counts as on time (ISO 8601 duration in JSON).
    grace_period: timedelta = timedelta(days=2)
    #: How line amounts and tax are rounded to the minor unit (:mod:`~twin_models.billing.money`).
    rounding: Rounding = Rounding.HALF_EVEN
    tariff: Tariff

    @model_validator(mode="after")
    def _check(self) -> Lease:
        if len(set(self.machine_ids)) != len(self.machine_ids):
            raise ValueError("machine_ids must be unique")
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        if self.currency not in MINOR_UNITS:
            raise ValueError(f"unsupported currency {self.currency!r}")
        if self.grace_period < timedelta(0):
            raise ValueError("grace_period must not be negative")
        try:
            zone(self.timezone)
        except LeaseError as exc:
            raise ValueError(str(exc)) from exc
        return self

    def is_named(self, lease_id: str) -> bool:
        """True when ``lease_id`` names this lease: its id, or its reference in its lessor's namespace.

        A usage event's optional ``lease_id`` is compared with this rule, so an exported usage file may
        carry either the lessor's reference or the qualified id.

        Example:
            >>> lease = load_lease({"lease_id": "lease-1", "lessor": "maker", "lessee": "plant",
            ...     "machine_ids": ["cnc-01"], "start": "2026-10-01T00:00:00Z", "billing_interval": "daily",
            ...     "timezone": "UTC", "currency": "EUR", "tax_rate": "0",
            ...     "tariff": {"components": [{"id": "base", "kind": "base_fee", "amount": "1.00"}]}})
            >>> lease.is_named("maker:lease-1"), lease.is_named("lease-1"), lease.is_named("other:lease-1")
            (True, True, False)
        """
        if lease_id == self.lease_id:
            return True
        try:
            return qualified_lease_id(self.lessor, lease_id) == self.lease_id
        except LeaseError:
            return False

    def period(self, key: str) -> Period:
        """The period named ``key`` in this lease's interval and time zone."""
        return parse_period(key, self.billing_interval, self.timezone)

    def period_of(self, ts: datetime) -> Period:
        """The period containing the instant ``ts``."""
        return period_of(ts, self.billing_interval, self.timezone)

    def close_at(self, period: Period) -> datetime:
        """When the period closes: its end plus the grace period for late usage."""
        return period.end + self.grace_period

    def covered_seconds(self, period: Period) -> int:
        """Seconds of ``period`` inside the lease term (``[start, end)``)."""
        lo = max(period.start, self.start)
        hi = period.end if self.end is None else min(period.end, self.end)
        return max(0, int((hi - lo).total_seconds()))

    def periods(self, until: datetime | None = None) -> list[Period]:
        """The lease's periods from its start to its end (or to ``until`` for an open lease)."""
        stop = self.end if self.end is not None else until
        if stop is None:
            raise LeaseError(f"lease {self.lease_id} has no end: pass until")
        if until is not None:
            stop = min(stop, until)
        return periods_between(self.start, stop, self.billing_interval, self.timezone)

    def closed_periods(self, now: datetime) -> list[Period]:
        """Periods whose grace time has passed at ``now``, oldest first."""
        return [p for p in self.periods(until=now) if self.close_at(p) <= now]


def load_lease(document: dict[str, Any] | str | bytes) -> Lease:
    """Validate a lease document (a dict or JSON text); :class:`LeaseError` names the first problem.

    The lease comes back under its qualified id (:func:`qualified_lease_id`): the document's
    ``lease_id`` may be the lessor's reference alone or already ``<lessor>:<reference>``; one
    qualified by another tenant is refused. A stored lease is read back as it was stored
    (``Lease.model_validate_json``), not through here.

    Example:
        >>> load_lease('{"lease_id": "x"}')
        Traceback (most recent call last):
        ...
        twin_models.billing.errors.LeaseError: lease: lessor: Field required (9 problems)
        >>> doc = {"lease_id": "lease-1", "lessor": "maker", "lessee": "plant", "machine_ids": ["cnc-01"],
        ...        "start": "2026-10-01T00:00:00+02:00", "billing_interval": "monthly",
        ...        "timezone": "Europe/Berlin", "currency": "EUR", "tax_rate": "0.19",
        ...        "tariff": {"components": [{"id": "base", "kind": "base_fee", "amount": "1.00"}]}}
        >>> load_lease(doc).lease_id, load_lease({**doc, "lease_id": "maker:lease-1"}).lease_id
        ('maker:lease-1', 'maker:lease-1')
        >>> load_lease({**doc, "lease_id": "other:lease-1"})
        Traceback (most recent call last):
        ...
        twin_models.billing.errors.LeaseError: lease: lease_id: 'other:lease-1' is qualified by another tenant ...
    """
    try:
        lease = Lease.model_validate(document) if isinstance(document, dict) else Lease.model_validate_json(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "document"
        raise LeaseError(f"lease: {where}: {first['msg']} ({exc.error_count()} problems)") from exc
    try:
        qualified = qualified_lease_id(lease.lessor, lease.lease_id)
    except LeaseError as exc:
        raise LeaseError(f"lease: {exc}") from exc
    return lease if qualified == lease.lease_id else lease.model_copy(update={"lease_id": qualified})
