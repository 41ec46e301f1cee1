"""Billing periods in the lessee's calendar: they open and close at *local* midnight.

A period is named by a key that shows its interval: ``2026-10-05`` (daily), ``2026-W41``
(weekly, ISO weeks from Monday), ``2026-10`` (monthly). Its ``start`` and ``end`` are the
UTC instants of the local midnights, so a daily period on a daylight-saving change lasts
23 or 25 hours and October in Berlin lasts 745 hours.

Example:
    >>> p = parse_period("2026-10", BillingInterval.MONTHLY, "Europe/Berlin")
    >>> p.start.isoformat(), p.end.isoformat()
    ('2026-09-30T22:00:00+00:00', '2026-10-31T23:00:00+00:00')
    >>> p.hours
    745
    >>> p.next().key, p.previous().key
    ('2026-11', '2026-09')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from twin_models.billing.errors import LeaseError, PeriodError

__all__ = [
    "BillingInterval",
    "Period",
    "parse_period",
    "period_of",
    "periods_between",
    "zone",
]

_DAILY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEKLY = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTHLY = re.compile(r"^(\d{4})-(\d{2})$")


class BillingInterval(StrEnum):
    """How often a lease is invoiced."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; :class:`LeaseError` when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise LeaseError(f"unknown time zone {name!r}") from exc


def _local_midnight_utc(day: date, tz: str) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone(tz)).astimezone(UTC)


def _first_day(interval: BillingInterval, day: date) -> date:
    if interval is BillingInterval.DAILY:
        return day
    if interval is BillingInterval.WEEKLY:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_first_day(interval: BillingInterval, first: date) -> date:
    if interval is BillingInterval.DAILY:
        return first + timedelta(days=1)
    if interval is BillingInterval.WEEKLY:
        return first + timedelta(days=7)
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _previous_first_day(interval: BillingInterval, first: date) -> date:
    if interval is BillingInterval.MONTHLY:
        return (first - timedelta(days=1)).replace(day=1)
    return first - timedelta(days=1 if interval is BillingInterval.DAILY else 7)


def _key(interval: BillingInterval, first: date) -> str:
    if interval is BillingInterval.DAILY:
        return first.isoformat()
    if interval is BillingInterval.WEEKLY:
        year, week, _ = first.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return f"{first.year:04d}-{first.month:02d}"


@dataclass(frozen=True)
class Period:
    """One billing period of a lease calendar: ``[start, end)`` in UTC, named by ``key``."""

    interval: BillingInterval
    tz: str
    first_day: date

    @property
    def key(self) -> str:
        """``2026-10-05``, ``2026-W41`` or ``2026-10``."""
        return _key(self.interval, self.first_day)

    @cached_property
    def start(self) -> datetime:
        """Local midnight of the first day, in UTC."""
        return _local_midnight_utc(self.first_day, self.tz)

    @cached_property
    def end(self) -> datetime:
        """Local midnight after the last day, in UTC (exclusive)."""
        return _local_midnight_utc(_next_first_day(self.interval, self.first_day), self.tz)

    @cached_property
    def seconds(self) -> int:
        """Length in seconds (daylight-saving changes included)."""
        return int((self.end - self.start).total_seconds())

    @property
    def hours(self) -> int:
        """Length in whole hours (a local day is 23, 24 or 25 hours long)."""
        return self.seconds // 3600

    def contains(self, ts: datetime) -> bool:
        """True when ``start <= ts < end``."""
        return self.start <= ts < self.end

    def next(self) -> Period:
        """The period that follows."""
        return Period(self.interval, self.tz, _next_first_day(self.interval, self.first_day))

    def previous(self) -> Period:
        """The period before."""
        return Period(self.interval, self.tz, _previous_first_day(self.interval, self.first_day))

    def __lt__(self, other: Period) -> bool:
        return self.first_day < other.first_day


def period_of(ts: datetime, interval: BillingInterval, tz: str) -> Period:
    """The period of ``interval`` in zone ``tz`` that contains the instant ``ts``.

    Example:
        >>> from datetime import datetime, timezone
        >>> period_of(datetime(2026, 10, 31, 23, 30, tzinfo=timezone.utc),
        ...           BillingInterval.MONTHLY, "Europe/Berlin").key
        '2026-11'
    """
    if ts.tzinfo is None:
        raise PeriodError(f"timestamp {ts.isoformat()} has no time zone")
    local_day = ts.astimezone(zone(tz)).date()
    return Period(interval, tz, _first_day(interval, local_day))


def parse_period(key: str, interval: BillingInterval, tz: str) -> Period:
    """The period named ``key``; :class:`PeriodError` when it does not name a period of ``interval``."""
    try:
        if interval is BillingInterval.MONTHLY and (m := _MONTHLY.match(key)):
            first = date(int(m[1]), int(m[2]), 1)
        elif interval is BillingInterval.WEEKLY and (m := _WEEKLY.match(key)):
            first = date.fromisocalendar(int(m[1]), int(m[2]), 1)
        elif interval is BillingInterval.DAILY and (m := _DAILY.match(key)):
            first = date(int(m[1]), int(m[2]), int(m[3]))
        else:
            examples = {"daily": "2026-10-05", "weekly": "2026-W41", "monthly": "2026-10"}
            raise PeriodError(
                f"period {key!r} does not name a {interval.value} period (expected e.g. {examples[interval]})"
            )
    except ValueError as exc:
        raise PeriodError(f"period {key!r}: {exc}") from exc
    zone(tz)
    return Period(interval, tz, first)


def periods_between(start: datetime, end: datetime, interval: BillingInterval, tz: str) -> list[Period]:
    """Every period that overlaps ``[start, end)``, in order."""
    if end <= start:
        return []
    out = [period_of(start, interval, tz)]
    while out[-1].end < end:
        out.append(out[-1].next())
    return out
