"""Reading a twin answer (``GET /machines/{id}/twin``) in the integration tests."""

from __future__ import annotations

from typing import Any


def reported_state(twin: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``state`` shadow's reported section once it holds a machine state, else None.

    Ingest creates the shadow empty (``{"schema": 1}``) before its first version-locked merge, so a shadow
    that exists is not yet one with a state: a reader waiting for the first telemetry waits for this.

    Example:
        >>> reported_state({"shadows": {"state": {"reported": {"schema": 1}}}}) is None
        True
        >>> reported_state({"shadows": {"state": {"reported": {"state": 100, "category": "running"}}}})["state"]
        100
    """
    reported = ((twin or {}).get("shadows", {}).get("state") or {}).get("reported") or {}
    return reported if "state" in reported and "category" in reported else None
