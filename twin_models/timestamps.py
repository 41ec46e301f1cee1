"""The one place time changes form: aware datetimes to and from ISO 8601 text and integer microseconds.

The rules, stated once:

* **Text** is ISO 8601 in UTC with a ``Z`` suffix and no needless fraction: whole seconds print as
  ``2026-01-05T06:00:00Z``, a fraction is printed with its trailing zeros dropped
  (``2026-01-05T06:00:00.25Z``). :func:`format_utc` writes it; :func:`parse_utc` reads any ISO 8601
  timestamp that names its offset (``Z`` or ``+hh:mm``) and returns it in UTC.
* **Numbers** are integer microseconds since the Unix epoch, the time base of the numeric kernels
  (OEE engine, metering): exact, so sums and differences never drift. :func:`to_micros` and
  :func:`from_micros` convert one instant; :func:`seconds_to_micros` converts arrays of epoch seconds.
  Float epoch seconds (:func:`to_seconds`, :func:`from_seconds`) are what stored history segments and
  the OEE engine's input arrays carry.
* A datetime without a time zone (*naive*) is never guessed at: every function here refuses it with
  :class:`TimestampError` (a ``ValueError``).

Example:
    >>> from datetime import datetime, timezone, timedelta
    >>> t = datetime(2026, 1, 5, 7, 0, 0, 250000, tzinfo=timezone(timedelta(hours=1)))
    >>> format_utc(t)
    '2026-01-05T06:00:00.25Z'
    >>> parse_utc("2026-01-05T06:00:00.25Z") == t
    True
    >>> to_micros(t), from_micros(to_micros(t)) == t
    (1767592800250000, True)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from twin_models.errors import TwinModelsError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "TimestampError",
    "format_utc",
    "from_micros",
    "from_seconds",
    "parse_utc",
    "seconds_to_micros",
    "to_micros",
    "to_seconds",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


class TimestampError(TwinModelsError, ValueError):
    """A timestamp that is naive (no time zone) or not ISO 8601 text."""


def _naive(value: datetime) -> TimestampError:
    return TimestampError(f"naive datetime {value.isoformat()}: give a time zone (Z for UTC)")


def format_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` and no needless fraction; a naive datetime raises :class:`TimestampError`.

    Example:
        >>> from datetime import datetime, timezone
        >>> format_utc(datetime(2026, 1, 5, 6, tzinfo=timezone.utc))
        '2026-01-05T06:00:00Z'
        >>> format_utc(datetime(2026, 1, 5, 6))
        Traceback (most recent call last):
        ...
        twin_models.timestamps.TimestampError: naive datetime 2026-01-05T06:00:00: give a time zone (Z for UTC)
    """
    if value.tzinfo is not UTC:
        if value.utcoffset() is None:
            raise _naive(value)
        value = value.astimezone(UTC)
    text = value.replace(tzinfo=None).isoformat()  # ...T06:00:00 or ...T06:00:00.250000
    return (text.rstrip("0") if value.microsecond else text) + "Z"


def parse_utc(text: str) -> datetime:
    """The aware UTC datetime of ISO 8601 text that names its offset (``Z`` or ``+hh:mm``).

    Text without an offset, text that is not a timestamp, and anything but a string raise
    :class:`TimestampError` saying which.

    Example:
        >>> parse_utc("2026-01-05T07:00:00+01:00")
        datetime.datetime(2026, 1, 5, 6, 0, tzinfo=datetime.timezone.utc)
        >>> parse_utc("2026-01-05T06:00:00")
        Traceback (most recent call last):
        ...
        twin_models.timestamps.TimestampError: '2026-01-05T06:00:00' has no time zone (use Z for UTC)
        >>> parse_utc("yesterday")
        Traceback (most recent call last):
        ...
        twin_models.timestamps.TimestampError: 'yesterday' is not an ISO 8601 timestamp
    """
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise TimestampError(f"{text!r} is not an ISO 8601 timestamp") from None
    except TypeError:
        raise TimestampError(f"a timestamp is ISO 8601 text, got {type(text).__name__}") from None
    if value.tzinfo is UTC:  # ``Z`` and ``+00:00`` parse to UTC itself
        return value
    if value.utcoffset() is None:
        raise TimestampError(f"{text!r} has no time zone (use Z for UTC)")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 has no UTC form
        raise TimestampError(f"{text!r} is out of range once converted to UTC") from None


def to_micros(value: datetime) -> int:
    """Integer microseconds since the Unix epoch of an aware datetime (exact).

    Example:
        >>> from datetime import datetime, timezone
        >>> to_micros(datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=timezone.utc))
        1000005
    """
    if value.tzinfo is not UTC and value.utcoffset() is None:
        raise _naive(value)
    return (value - _EPOCH) // _ONE_US


def from_micros(micros: int) -> datetime:
    """The aware UTC datetime of integer microseconds since the Unix epoch (inverse of :func:`to_micros`).

    Example:
        >>> from_micros(1_767_592_800_000_000)
        datetime.datetime(2026, 1, 5, 6, 0, tzinfo=datetime.timezone.utc)
    """
    return _EPOCH + timedelta(0, 0, int(micros))  # (days, seconds, microseconds): positional is the faster call


def to_seconds(value: datetime) -> float:
    """Float seconds since the Unix epoch of an aware datetime (``datetime.timestamp`` without its
    local-time guess for naive values).

    Example:
        >>> from datetime import datetime, timezone
        >>> to_seconds(datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=timezone.utc))
        1.5
    """
    if value.tzinfo is not UTC and value.utcoffset() is None:
        raise _naive(value)
    return value.timestamp()


def from_seconds(seconds: float) -> datetime:
    """The aware UTC datetime of float epoch seconds (inverse of :func:`to_seconds`, to the microsecond).

    Example:
        >>> from_seconds(1_767_592_800.25)
        datetime.datetime(2026, 1, 5, 6, 0, 0, 250000, tzinfo=datetime.timezone.utc)
    """
    return datetime.fromtimestamp(float(seconds), UTC)


def seconds_to_micros(values: ArrayLike) -> NDArray[np.int64]:
    """Epoch seconds (an array of floats or ints) as integer epoch microseconds, rounded to the microsecond.

    Example:
        >>> seconds_to_micros([0.25, 1.0000004]).tolist(), seconds_to_micros([3]).tolist()
        ([250000, 1000000], [3000000])
    """
    import numpy as np  # here, not at import time: the envelope path formats and parses without numpy

    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64) * 1_000_000
    return np.rint(arr.astype(np.float64) * 1e6).astype(np.int64)
