"""Errors of the billing model, all derived from :class:`BillingError`."""

from __future__ import annotations

from collections.abc import Sequence

from twin_models.errors import TwinModelsError

__all__ = [
    "BillingError",
    "LeaseError",
    "PeriodError",
    "UsageConflictError",
    "UsageError",
    "usage_location",
]


class BillingError(TwinModelsError):
    """Base of every billing error."""


class LeaseError(BillingError):
    """A lease or tariff document that cannot be used (schema, tiers, time zone, currency)."""


class PeriodError(BillingError):
    """A billing period that is malformed or does not fit the lease's interval."""


def usage_location(source: str | None, lines: Sequence[int]) -> str:
    """Where in a usage file something is: the one rule every usage-line message starts with.

    ``<source>: line <n>``, ``<source>: lines <a> and <b>``; without a source just ``line <n>``.

    Example:
        >>> usage_location("usage.jsonl", [3]), usage_location("usage.jsonl", [3, 17]), usage_location(None, [2])
        ('usage.jsonl: line 3', 'usage.jsonl: lines 3 and 17', 'line 2')
    """
    numbers = [str(n) for n in lines]
    where = f"line {numbers[0]}" if len(numbers) == 1 else f"lines {', '.join(numbers[:-1])} and {numbers[-1]}"
    return where if source is None else f"{source}: {where}"


class UsageError(BillingError):
    """A usage event or usage file that cannot be read; the message names the file, the line(s) and the field.

    ``detail`` says what is wrong (starting with the field's name when one field is); ``source``
    (a file name) and ``lines`` (1-based) say where, formatted by :func:`usage_location`.

    Example:
        >>> err = UsageError("quantity '-1' must be a finite number >= 0", source="usage.jsonl", lines=[3],
        ...                  field="quantity")
        >>> str(err), err.lines, err.field
        ("usage.jsonl: line 3: quantity '-1' must be a finite number >= 0", (3,), 'quantity')
        >>> str(UsageError("missing fields ['ts']"))
        "missing fields ['ts']"
    """

    def __init__(
        self,
        detail: str,
        *,
        source: str | None = None,
        lines: Sequence[int] = (),
        field: str | None = None,
    ) -> None:
        self.detail = detail
        self.source = source
        self.lines = tuple(lines)
        self.field = field
        super().__init__(f"{usage_location(source, self.lines)}: {detail}" if self.lines else detail)


class UsageConflictError(UsageError):
    """Two usage events with the same id but different content (a duplicate must be identical)."""
