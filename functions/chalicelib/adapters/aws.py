"""Lazy, cached boto3 clients: built on first use, so moto is active before any client exists.

``TWINLEDGER_AWS_ENDPOINT_URL`` points every client at one endpoint (moto in server mode);
``TWINLEDGER_IOT_DATA_ENDPOINT_URL`` overrides the IoT data plane (in AWS, the account's
``iot:Data-ATS`` endpoint).

Example:
    >>> from chalicelib.adapters import aws
    >>> aws.reset_clients()  # in tests, after starting moto
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.settings import get_settings

__all__ = ["client", "reset_clients"]

_lock = threading.Lock()
_clients: dict[tuple[str, str | None, str], Any] = {}
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)


def client(service: str) -> Any:
    """The shared client of ``service`` for the current settings."""
    settings = get_settings()
    endpoint = settings.aws_endpoint_url
    if service == "iot-data" and settings.iot_data_endpoint_url:
        endpoint = settings.iot_data_endpoint_url
    key = (service, endpoint, settings.region)
    found = _clients.get(key)
    if found is None:
        with _lock:
            found = _clients.get(key)
            if found is None:
                factory: Any = boto3.client
                found = factory(service, region_name=settings.region, endpoint_url=endpoint, config=_CONFIG)
                _clients[key] = found
    return found


def reset_clients() -> None:
    """Forget every client (tests call this after starting or stopping moto)."""
    with _lock:
        _clients.clear()
