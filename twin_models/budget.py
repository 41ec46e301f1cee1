"""How long a scheduled job may keep starting new work before its Lambda invocation times out.

The rule, stated once: the time left to *start* new work is the invocation's remaining time less a
margin kept for finishing the piece of work in hand. The margin is a fraction of the remaining time,
capped at ``max_margin_s``; the budget never goes below ``floor_s``. Without a known remaining time
(run outside Lambda, no context) the budget is ``default``.

Example:
    >>> time_budget_s(900_000)            # 15 min left: keep a fifth, at most a minute
    840.0
    >>> time_budget_s(100_000)            # 100 s left: keep 20 s
    80.0
    >>> time_budget_s(None) is None       # no deadline known
    True
"""

from __future__ import annotations

from typing import overload

__all__ = ["time_budget_s"]


@overload
def time_budget_s(
    remaining_ms: int | float | None,
    *,
    margin_fraction: float = ...,
    max_margin_s: float = ...,
    floor_s: float = ...,
    default: None = ...,
) -> float | None: ...


@overload
def time_budget_s(
    remaining_ms: int | float | None,
    *,
    margin_fraction: float = ...,
    max_margin_s: float = ...,
    floor_s: float = ...,
    default: float,
) -> float: ...


def time_budget_s(
    remaining_ms: int | float | None,
    *,
    margin_fraction: float = 0.2,
    max_margin_s: float = 60.0,
    floor_s: float = 0.0,
    default: float | None = None,
) -> float | None:
    """Seconds left to start new work: ``remaining - min(max_margin_s, remaining * margin_fraction)``.

    ``remaining_ms`` is what the Lambda context's ``get_remaining_time_in_millis()`` returns (``None``
    when there is no context: the result is then ``default``). The result is at least ``floor_s``.

    Example:
        >>> time_budget_s(50_000)                                        # the billing schedule
        40.0
        >>> time_budget_s(50_000, margin_fraction=1.0, max_margin_s=30.0, floor_s=1.0, default=600.0)
        20.0
        >>> time_budget_s(10_000, margin_fraction=1.0, max_margin_s=30.0, floor_s=1.0, default=600.0)
        1.0
        >>> time_budget_s(None, default=600.0)
        600.0
    """
    if remaining_ms is None:
        return default
    left = float(remaining_ms) / 1000.0
    margin = min(max_margin_s, max(0.0, left) * margin_fraction)
    return max(floor_s, left - margin)
