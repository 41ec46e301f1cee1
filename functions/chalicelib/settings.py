"""Configuration from the environment: endpoints, auth mode and limits (names: ``tables``).

Read on every call (a handful of ``os.environ`` look-ups), so a test or the local stack
can change it without restarting anything.

Example:
    >>> import os
    >>> os.environ["TWINLEDGER_MAX_FUTURE_S"] = "60"
    >>> get_settings().max_future_s
    60.0
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["Settings", "get_settings"]


@dataclass(frozen=True)
class Settings:
    """Every setting the functions read, with local defaults."""

    region: str
    aws_endpoint_url: str | None
    iot_data_endpoint_url: str | None
    auth_mode: str
    jwt_secret: str | None
    jwt_issuer: str
    max_future_s: float
    shadow_retries: int


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def get_settings() -> Settings:
    """The current settings (``TWINLEDGER_*`` variables, AWS region variables)."""
    return Settings(
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-central-1",
        aws_endpoint_url=os.environ.get("TWINLEDGER_AWS_ENDPOINT_URL") or None,
        iot_data_endpoint_url=os.environ.get("TWINLEDGER_IOT_DATA_ENDPOINT_URL") or None,
        auth_mode=_env("TWINLEDGER_AUTH_MODE", "jwt"),
        jwt_secret=os.environ.get("TWINLEDGER_JWT_SECRET") or None,
        jwt_issuer=_env("TWINLEDGER_JWT_ISSUER", "twinledger-local"),
        max_future_s=float(_env("TWINLEDGER_MAX_FUTURE_S", "300")),
        shadow_retries=int(_env("TWINLEDGER_SHADOW_RETRIES", "5")),
    )
