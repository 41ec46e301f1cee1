"""Predictive maintenance at ingest: score windows on the anomaly endpoint, update the ``health`` shadow,
open maintenance tickets and page on critical faults (see ``docs/anomaly.md``).

Example (what the ingest path calls per machine and batch):
    >>> from chalicelib.health import HealthService                              # doctest: +SKIP
    >>> outcome = HealthService().handle_samples(thing, samples, previous_reported)  # doctest: +SKIP
    >>> shadows.update(thing, "health", outcome.shadow)                          # doctest: +SKIP
"""

from __future__ import annotations

from chalicelib.health.client import HealthResult, score_windows, windows_from_samples
from chalicelib.health.errors import EndpointError, HealthError
from chalicelib.health.service import HealthOutcome, HealthService, health_shadow, maintenance_ticket

__all__ = [
    "EndpointError",
    "HealthError",
    "HealthOutcome",
    "HealthResult",
    "HealthService",
    "health_shadow",
    "maintenance_ticket",
    "score_windows",
    "windows_from_samples",
]
