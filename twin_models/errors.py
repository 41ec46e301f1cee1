"""The base of every error the pure domain raises."""

from __future__ import annotations

__all__ = ["TwinModelsError"]


class TwinModelsError(Exception):
    """Base class of the domain's errors; each area derives its own ``...Error`` from it."""
