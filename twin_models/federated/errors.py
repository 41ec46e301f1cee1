"""The federated domain's one error type."""

from __future__ import annotations

from twin_models.errors import TwinModelsError

__all__ = ["FederationError"]


class FederationError(TwinModelsError):
    """Statistics, updates or sketches that cannot be combined as asked."""
