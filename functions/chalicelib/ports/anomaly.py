"""The anomaly area's ports: the scoring endpoint, the page cooldown, the alert topic.

Example:
    >>> issubclass(EndpointError, Exception)
    True
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["AlertPublisher", "AnomalyEndpoint", "Cooldowns", "EndpointError"]


class EndpointError(Exception):
    """The anomaly endpoint failed or answered something unreadable."""


@runtime_checkable
class AnomalyEndpoint(Protocol):
    """Anything that answers an ``InvokeEndpoint`` body with the inference module's response."""

    def invoke(self, body: bytes, content_type: str = "application/json") -> bytes:
        """The response body for a request body; raises :class:`EndpointError`."""
        ...


@runtime_checkable
class Cooldowns(Protocol):
    """One page per fault: a key can be taken again only after its cooldown ended."""

    def try_acquire(self, alert_key: str, now_s: int, cooldown_s: int) -> bool:
        """True (and the cooldown is started) when no page was sent for this key in the last cooldown."""
        ...


@runtime_checkable
class AlertPublisher(Protocol):
    """Publishes a critical alert; returns the message id."""

    def publish(self, subject: str, message: str, attributes: dict[str, str]) -> str:
        """Send one alert."""
        ...
