"""Model instances from values the domain computed itself, without validating them again.

Validation is for input. The ingest path also builds many small models from values it has just derived
from validated input (a sample read from checked columns, a segment's intervals and counter points): for
those, :func:`constructed` does what ``Model.model_construct`` does when every field is given, at a
fraction of its per-call cost; :func:`assembled` does the same for a dataclass (a frozen one's ``__init__``
sets every field through ``object.__setattr__``, one call per field).

Example:
    >>> from datetime import UTC, datetime
    >>> from twin_models.history import CounterPoint
    >>> point = constructed(CounterPoint, {"ts": datetime(2026, 1, 5, tzinfo=UTC), "part_count": 3, "reject_count": 0})
    >>> point == CounterPoint(ts=datetime(2026, 1, 5, tzinfo=UTC), part_count=3, reject_count=0)
    True
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["assembled", "constructed"]

M = TypeVar("M", bound=BaseModel)
D = TypeVar("D")
_set = object.__setattr__


def constructed(model: type[M], fields: dict[str, Any]) -> M:
    """An instance of ``model`` holding ``fields``, which must name every field of the model with a value
    that is already valid for it (nothing is checked, converted or defaulted); the dict becomes the
    instance's own."""
    instance = model.__new__(model)
    _set(instance, "__dict__", fields)
    _set(instance, "__pydantic_fields_set__", set(fields))
    _set(instance, "__pydantic_extra__", None)
    _set(instance, "__pydantic_private__", None)
    return instance


def assembled(cls: type[D], fields: dict[str, Any]) -> D:
    """An instance of the dataclass ``cls`` (with an instance ``__dict__``) holding ``fields``, which must name
    every field with its value (defaults are not applied and ``__post_init__`` is not run).

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass(frozen=True)
        ... class Point:
        ...     x: int
        ...     y: int = 0
        >>> assembled(Point, {"x": 1, "y": 2}) == Point(1, 2)
        True
    """
    instance = object.__new__(cls)
    instance.__dict__.update(fields)
    return instance
