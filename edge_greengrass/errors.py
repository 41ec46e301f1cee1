"""Errors raised by the edge components, all from one base."""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "EdgeError",
    "ProvisioningError",
    "PublishError",
    "ReplayError",
    "SourceError",
    "SpoolError",
    "SpoolFullError",
]


class EdgeError(Exception):
    """Base of every error raised by ``edge_greengrass``."""


class ConfigurationError(EdgeError):
    """A gateway or component configuration that cannot be used as given."""


class ProvisioningError(EdgeError):
    """A key, CSR or certificate could not be created or read."""


class SpoolError(EdgeError):
    """The durable spool could not be read or written."""


class SpoolFullError(SpoolError):
    """The spool is at its size bound and its policy is to reject new envelopes."""


class PublishError(EdgeError):
    """A publish was not acknowledged (disconnect, refusal, timeout)."""


class SourceError(EdgeError):
    """A machine data source (OPC UA, simulator, replay) failed."""


class ReplayError(SourceError):
    """A replay file that cannot be read as CNC data."""
