"""Errors raised by the anomaly-detection domain, all derived from :class:`AnomalyError`."""

from __future__ import annotations

from twin_models.errors import TwinModelsError

__all__ = ["AnomalyError", "FeatureError", "ModelArtifactError", "NotFittedError"]


class AnomalyError(TwinModelsError):
    """Base class of every anomaly-detection error."""


class FeatureError(AnomalyError):
    """Input rows or samples that cannot be turned into features (missing columns, no numeric data)."""


class NotFittedError(AnomalyError):
    """A detector or model used before it was fitted."""


class ModelArtifactError(AnomalyError):
    """A model directory or ``model.tar.gz`` that is missing, corrupt or of an unknown format."""
