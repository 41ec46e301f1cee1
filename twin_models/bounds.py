"""What a number or a day given on a command line may be: the one rule for every command's options.

Each factory returns a callable for ``argparse``'s ``type=``: it turns the text into the value, or raises
:class:`BoundsError` (an ``argparse.ArgumentTypeError``, so a parser prints its message as it is) naming
what was expected. A whole number is what :func:`int` reads; a number is what :func:`float` reads and is
finite; a day is an ISO 8601 date; a moment (:func:`instant`) an ISO 8601 time with its offset. The bounds
are kept on the callable (``low``, ``high``, ``low_open``, ``high_open``), so a help text or a test can
read them.

Example:
    >>> machines = whole(1, 64)
    >>> machines("8")
    8
    >>> machines("0")
    Traceback (most recent call last):
    ...
    twin_models.bounds.BoundsError: must be a whole number from 1 to 64, not '0'
    >>> number(0, 1, low_open=True, high_open=True)("1")
    Traceback (most recent call last):
    ...
    twin_models.bounds.BoundsError: must be a number above 0 and below 1, not '1'
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from datetime import date, datetime

from twin_models.timestamps import TimestampError, parse_utc

__all__ = ["BoundsError", "Day", "Number", "Whole", "day", "instant", "number", "port", "seed", "whole"]

#: The largest seed a simulator takes (``random.Random`` takes any; numpy's generators take 32 bits).
MAX_SEED = 2**32 - 1


class BoundsError(argparse.ArgumentTypeError):
    """A value outside what the option takes (its message says what it takes)."""


def _range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    def show(value: float) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)

    if low is not None and high is not None and not low_open and not high_open:
        return f"from {show(low)} to {show(high)}"
    parts = []
    if low is not None:
        parts.append(f"above {show(low)}" if low_open else f"at least {show(low)}")
    if high is not None:
        parts.append(f"below {show(high)}" if high_open else f"at most {show(high)}")
    return " and ".join(parts)


def _message(what: str, bounds: str, text: str) -> str:
    return f"must be {what}{' ' + bounds if bounds else ''}, not {text!r}"


@dataclass(frozen=True)
class Whole:
    """A whole number from ``low`` to ``high`` (either end ``None``: open)."""

    low: int | None = None
    high: int | None = None

    def __call__(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not self.admits(value):
            raise BoundsError(_message("a whole number", self.describe(), text))
        return value

    def admits(self, value: int) -> bool:
        """Whether ``value`` is within the bounds."""
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self) -> str:
        """The range in words (``from 1 to 64``)."""
        return _range_text(self.low, self.high, False, False)


@dataclass(frozen=True)
class Number:
    """A finite number within the bounds; ``low_open``/``high_open`` leave that end out."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __call__(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not self.admits(value):
            raise BoundsError(_message("a number", self.describe(), text))
        return value

    def admits(self, value: float) -> bool:
        """Whether ``value`` is within the bounds."""
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (self.high is not None and (value >= self.high if self.high_open else value > self.high))

    def describe(self) -> str:
        """The range in words (``above 0 and below 1``)."""
        return _range_text(self.low, self.high, self.low_open, self.high_open)


@dataclass(frozen=True)
class Day:
    """A calendar day (``YYYY-MM-DD``) from ``first`` to ``last``."""

    first: date
    last: date

    def __call__(self, text: str) -> date:
        try:
            value = date.fromisoformat(text)
        except ValueError:
            value = None
        if value is None or not self.first <= value <= self.last:
            raise BoundsError(f"must be a day (YYYY-MM-DD) from {self.first} to {self.last}, not {text!r}")
        return value


def whole(low: int | None = None, high: int | None = None) -> Whole:
    """A whole number from ``low`` to ``high``.

    Example:
        >>> whole(0)("12")
        12
    """
    return Whole(low, high)


def number(
    low: float | None = None, high: float | None = None, *, low_open: bool = False, high_open: bool = False
) -> Number:
    """A finite number within the bounds (``low_open``: above ``low``, not equal to it).

    Example:
        >>> number(0, low_open=True)("0.5")
        0.5
    """
    return Number(low, high, low_open, high_open)


def day(first: date, last: date) -> Day:
    """A day from ``first`` to ``last``.

    Example:
        >>> day(date(2000, 1, 1), date(2099, 12, 31))("2026-01-05")
        datetime.date(2026, 1, 5)
    """
    return Day(first, last)


def instant(text: str) -> datetime:
    """A moment: ISO 8601 text that names its offset, as aware UTC (:func:`twin_models.timestamps.parse_utc`).

    Example:
        >>> instant("2026-01-05T07:00:00+01:00").isoformat()
        '2026-01-05T06:00:00+00:00'
    """
    try:
        return parse_utc(text)
    except TimestampError as exc:
        raise BoundsError(str(exc)) from None


def port() -> Whole:
    """A TCP port on 127.0.0.1 (0: any free one).

    Example:
        >>> port()("8000")
        8000
    """
    return Whole(0, 65535)


def seed() -> Whole:
    """A simulator seed.

    Example:
        >>> seed()("7")
        7
    """
    return Whole(0, MAX_SEED)
