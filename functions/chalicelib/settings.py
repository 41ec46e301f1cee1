"""Every setting of the functions, in one validated model: the only module that reads the environment.

The settings are read on first use, never at import time, and read again when the environment
changed (a test or the local stack may change it between calls): :func:`get_settings` keys its
cache on the ``TWINLEDGER_*``, ``AWS_*`` and ``POWERTOOLS_*`` variables it was built from. A value that
cannot be used (``TWINLEDGER_ANCHOR_BATCH_SIZE=0``, ``TWINLEDGER_AUTH_MODE=ldap``) is a
:class:`SettingsError` naming the variable.

Variables (all optional; the defaults are the embedded local ones):

========================================  ==============================================================
``AWS_REGION`` / ``AWS_DEFAULT_REGION``   region (``eu-central-1``)
``TWINLEDGER_ADAPTERS``                   ``aws`` (boto3, the default) or ``memory`` (in-process stores)
``TWINLEDGER_AWS_ENDPOINT_URL``           one endpoint for every AWS client (moto in server mode)
``TWINLEDGER_IOT_DATA_ENDPOINT_URL``      the IoT data plane (in AWS, the account's ``iot:Data-ATS``)
``TWINLEDGER_<KEY>_TABLE`` / ``_BUCKET``  physical table and bucket names (the CDK app passes them in)
``TWINLEDGER_AUTH_MODE``                  ``jwt`` (local HS256 tokens) or ``cognito``
``TWINLEDGER_JWT_SECRET`` / ``_ISSUER``   the local token secret and issuer
``TWINLEDGER_MAX_FUTURE_S``               how far in the future an envelope may be sent (300)
``TWINLEDGER_SHADOW_RETRIES``             retries of a version-locked shadow update (5)
``TWINLEDGER_OEE_LOOKBACK_H``             hours the OEE schedule's first (or full) run recomputes (48)
``TWINLEDGER_OEE_ANCHOR_AFTER_H``         hours after its end a period's OEE is anchored (2)
``TWINLEDGER_ANOMALY_ENDPOINT``           the SageMaker endpoint's name; unset: ingest does not score
``TWINLEDGER_SAGEMAKER_ENDPOINT_URL``     send ``InvokeEndpoint`` here (the local endpoint server)
``TWINLEDGER_ALERT_TOPIC_ARN``            the SNS topic for critical alerts
``TWINLEDGER_ALERT_COOLDOWN_S``           one page per fault per this many seconds (3600)
``TWINLEDGER_CHAIN_RPC_URL``              the node's JSON-RPC URL; ``eth-tester``: an in-process chain
``TWINLEDGER_ANCHOR_REGISTRY``            the ``AnchorRegistry`` address (required with a real node)
``TWINLEDGER_CHAIN_KEY_SECRET_ID``        a Secrets Manager secret with the signing key
``TWINLEDGER_CHAIN_KEY_FILE``             a file with the signing key (hex)
``TWINLEDGER_CHAIN_PRIVATE_KEY``          the signing key itself (local use)
``TWINLEDGER_CHAIN_CONFIRMATIONS``        blocks to wait for (1)
``TWINLEDGER_CHAIN_RECEIPT_TIMEOUT_S``    (120) ``TWINLEDGER_CHAIN_REQUEST_TIMEOUT_S`` (10)
``TWINLEDGER_CHAIN_RETRIES``              (4)
``TWINLEDGER_ANCHOR_BATCH_SIZE``          record hashes per Merkle batch (1024)
``TWINLEDGER_ANCHOR_STORE``               ``dynamodb`` or ``memory`` (the anchoring queue alone)
``TWINLEDGER_JSON_LOGS``                  ``true``: every function logs Powertools JSON (set in AWS by the CDK app)
========================================  ==============================================================

Example:
    >>> import os
    >>> os.environ["TWINLEDGER_MAX_FUTURE_S"] = "60"
    >>> get_settings().max_future_s
    60.0
    >>> del os.environ["TWINLEDGER_MAX_FUTURE_S"]
    >>> get_settings().max_future_s
    300.0
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["EMBEDDED_RPC", "Settings", "SettingsError", "get_settings"]

EMBEDDED_RPC = "eth-tester"
_PREFIXES = ("TWINLEDGER_", "AWS_", "POWERTOOLS_")


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable."""


class Settings(BaseModel):
    """Every setting the functions read, with the local defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str = "eu-central-1"
    adapters: Literal["aws", "memory"] = "aws"
    aws_endpoint_url: str | None = None
    iot_data_endpoint_url: str | None = None
    table_names: dict[str, str] = Field(default_factory=dict)
    bucket_names: dict[str, str] = Field(default_factory=dict)
    auth_mode: Literal["jwt", "cognito"] = "jwt"
    jwt_secret: str | None = None
    jwt_issuer: str = "twinledger-local"
    max_future_s: float = Field(300.0, ge=0)
    shadow_retries: int = Field(5, ge=0, le=50)
    oee_lookback_h: float = Field(48.0, gt=0, le=24 * 400)
    oee_anchor_after_h: float = Field(2.0, ge=0, le=24 * 30)
    anomaly_endpoint: str | None = None
    sagemaker_endpoint_url: str | None = None
    alert_topic_arn: str | None = None
    alert_cooldown_s: int = Field(3600, ge=0)
    chain_rpc_url: str = EMBEDDED_RPC
    anchor_registry: str | None = None
    chain_key_secret_id: str | None = None
    chain_key_file: str | None = None
    chain_private_key: str | None = None
    chain_confirmations: int = Field(1, ge=1)
    chain_receipt_timeout_s: float = Field(120.0, gt=0)
    chain_request_timeout_s: float = Field(10.0, gt=0)
    chain_retries: int = Field(4, ge=0)
    anchor_batch_size: int = Field(1024, ge=1)
    anchor_store: Literal["dynamodb", "memory"] | None = None
    json_logs: bool = False

    @property
    def scoring_enabled(self) -> bool:
        """True where an anomaly endpoint is configured for ingest to call."""
        return bool(self.anomaly_endpoint)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """The settings a process environment describes (see the module doc for the variables).

        Example:
            >>> Settings.from_environ({"TWINLEDGER_HISTORY_TABLE": "h-1"}).table_names
            {'history': 'h-1'}
            >>> Settings.from_environ({"TWINLEDGER_ANCHOR_BATCH_SIZE": "0"})
            Traceback (most recent call last):
            ...
            chalicelib.settings.SettingsError: TWINLEDGER_ANCHOR_BATCH_SIZE='0' must be at least 1
        """
        values: dict[str, object] = {}
        tables: dict[str, str] = {}
        buckets: dict[str, str] = {}
        for name, raw in environ.items():
            if not name.startswith("TWINLEDGER_") or raw == "":
                continue
            key = name.removeprefix("TWINLEDGER_").lower()
            if key.endswith("_table"):
                tables[key.removesuffix("_table")] = raw
            elif key.endswith("_bucket"):
                buckets[key.removesuffix("_bucket")] = raw
            elif key in cls.model_fields and key not in {"table_names", "bucket_names", "region"}:
                values[key] = raw
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
        if region:
            values["region"] = region
        values["table_names"] = tables
        values["bucket_names"] = buckets
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            variable = "AWS_REGION" if where == "region" else f"TWINLEDGER_{where.upper()}"
            raise SettingsError(f"{variable}={first.get('input')!r} {_plain(first)}") from exc


def _plain(error: Mapping[str, object]) -> str:
    """A validation error in words a person setting a variable reads."""
    kind, ctx = str(error.get("type", "")), error.get("ctx")
    bounds = ctx if isinstance(ctx, Mapping) else {}
    if kind == "int_parsing":
        return "is not an integer"
    if kind == "float_parsing":
        return "is not a number"
    if kind in {"greater_than_equal", "greater_than"}:
        word = "at least" if kind == "greater_than_equal" else "more than"
        return f"must be {word} {bounds.get('ge', bounds.get('gt'))}"
    if kind in {"less_than_equal", "less_than"}:
        return f"must be at most {bounds.get('le', bounds.get('lt'))}"
    return str(error.get("msg", "is not valid"))


_lock = threading.Lock()
_cached: tuple[tuple[tuple[str, str], ...], Settings] | None = None


def get_settings() -> Settings:
    """The settings of the current environment, built on first use and again after it changed."""
    global _cached
    snapshot = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(_PREFIXES)))
    found = _cached
    if found is not None and found[0] == snapshot:
        return found[1]
    with _lock:
        settings = Settings.from_environ(dict(snapshot))
        _cached = (snapshot, settings)
        return settings
