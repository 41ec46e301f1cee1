"""Predictive maintenance at ingest: score windows on the anomaly endpoint, update the ``health`` shadow,
open maintenance tickets and page on critical faults (see ``docs/anomaly.md``).

Example (what the ingest path calls per machine and batch):
    >>> from chalicelib.anomaly import AnomalyService                              # doctest: +SKIP
    >>> outcome = services().anomaly.handle_samples(machine, samples, previous)  # doctest: +SKIP
    >>> shadows.update(machine, "health", outcome.shadow)                        # doctest: +SKIP
"""

from __future__ import annotations

from chalicelib.anomaly.client import AnomalyResult, score_windows, windows_from_samples
from chalicelib.anomaly.errors import AnomalyServiceError, ScoringFailedError
from chalicelib.anomaly.service import AnomalyOutcome, AnomalyService, health_shadow, maintenance_ticket

__all__ = [
    "AnomalyOutcome",
    "AnomalyResult",
    "AnomalyService",
    "AnomalyServiceError",
    "ScoringFailedError",
    "health_shadow",
    "maintenance_ticket",
    "score_windows",
    "windows_from_samples",
]
