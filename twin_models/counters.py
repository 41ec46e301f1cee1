"""Cumulative controller counters (parts made, parts rejected): what happened between two readings.

The rule, stated once: a controller's part and reject counters only count up, so the increment
between two readings is ``after - before``; a reading *below* the one before means the controller
reset its counter (power cycle, shift reset, overflow) and counted afresh from zero, so the whole
new reading is the increment. The first reading of a series is a baseline and adds nothing.

The twin's shadow totals (:func:`twin_models.history.count_increments`), the OEE engine's count
series (:func:`twin_models.oee.counters_to_counts`) and pay-per-use metering
(:func:`twin_models.billing.derive_usage_events`) all count parts with :func:`counter_delta`.

Example:
    >>> readings = [19000, 19271, 30, 42]
    >>> [counter_delta(a, b) for a, b in zip(readings, readings[1:])]
    [271, 30, 12]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["counter_delta", "counter_reset"]


@overload
def counter_delta(before: int, after: int) -> int: ...


@overload
def counter_delta(before: NDArray[np.int64], after: NDArray[np.int64]) -> NDArray[np.int64]: ...


def counter_delta(before: Any, after: Any) -> Any:
    """The increment of a cumulative counter from reading ``before`` to reading ``after``.

    ``after - before``, or ``after`` itself where the counter went down (a reset: it counts from zero
    again). Works on two ints, or elementwise on two integer numpy arrays of equal length and type
    (``uint64`` included: the result keeps the arrays' type).

    Example:
        >>> counter_delta(5, 9), counter_delta(9, 2), counter_delta(7, 7)
        (4, 2, 0)
        >>> import numpy as np
        >>> values = np.array([5, 9, 2, 4])
        >>> counter_delta(values[:-1], values[1:]).tolist()
        [4, 2, 2]
        >>> counter_delta(np.array([2**64 - 1, 3], dtype=np.uint64), np.array([5, 2**64 - 1], dtype=np.uint64)).tolist()
        [5, 18446744073709551612]
    """
    kept = ~counter_reset(before, after) if hasattr(before, "dtype") else 1 - counter_reset(before, after)
    if hasattr(kept, "astype"):  # unsigned 64-bit counters stay exact: no promotion to a signed or float type
        kept = kept.astype(before.dtype)
    return after - before * kept


@overload
def counter_reset(before: int, after: int) -> bool: ...


@overload
def counter_reset(before: NDArray[np.int64], after: NDArray[np.int64]) -> NDArray[np.bool_]: ...


def counter_reset(before: Any, after: Any) -> Any:
    """Whether the counter was reset between the two readings (it went down); elementwise on arrays.

    Example:
        >>> counter_reset(19271, 30), counter_reset(30, 42)
        (True, False)
    """
    return after < before
