"""The health area's AWS adapters (the only boto3 code here): the SageMaker runtime endpoint, the alert
cooldown table (DynamoDB) and the alert topic (SNS). Each sits behind a lazy getter, so moto is active
before any client exists.

Configuration (environment):

* ``TWINLEDGER_ANOMALY_ENDPOINT`` — the SageMaker endpoint name (default ``twinledger-anomaly``).
* ``TWINLEDGER_SAGEMAKER_ENDPOINT_URL`` — send ``InvokeEndpoint`` here instead (the local endpoint server).
* ``TWINLEDGER_ANOMALY_MODEL_DIR`` — no endpoint at all: run the inference module in-process on this
  model directory (the embedded demo and fast tests).
* ``TWINLEDGER_ALERT_TOPIC_ARN`` — the SNS topic for critical alerts.
* ``TWINLEDGER_ALERT_COOLDOWN_S`` — one page per fault per this many seconds (default 3600).
"""

from __future__ import annotations

import importlib
import os
import threading
from functools import lru_cache
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import aws
from chalicelib.health.errors import EndpointError
from chalicelib.settings import get_settings
from chalicelib.tables import table_name

__all__ = [
    "AlertPublisher",
    "AnomalyEndpoint",
    "CooldownStore",
    "InProcessEndpoint",
    "SageMakerEndpoint",
    "SnsAlertPublisher",
    "get_cooldown_store",
    "get_endpoint",
    "get_publisher",
    "reset_adapters",
]

_RUNTIME_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=10)


class AnomalyEndpoint(Protocol):
    """Anything that answers an ``InvokeEndpoint`` body with the inference module's response."""

    def invoke(self, body: bytes, content_type: str = "application/json") -> bytes:
        """The response body for a request body."""
        ...


class SageMakerEndpoint:
    """A deployed (or local) SageMaker endpoint called with boto3 ``sagemaker-runtime``."""

    def __init__(self, name: str, client: Any | None = None) -> None:
        self.name = name
        self._client = client

    @property
    def client(self) -> Any:
        """The runtime client (built on first use)."""
        if self._client is None:
            url = os.environ.get("TWINLEDGER_SAGEMAKER_ENDPOINT_URL")
            if url:
                self._client = boto3.client(
                    "sagemaker-runtime", region_name=get_settings().region, endpoint_url=url, config=_RUNTIME_CONFIG
                )
            else:
                self._client = aws.client("sagemaker-runtime")
        return self._client

    def invoke(self, body: bytes, content_type: str = "application/json") -> bytes:
        try:
            response = self.client.invoke_endpoint(
                EndpointName=self.name, Body=body, ContentType=content_type, Accept="application/json"
            )
            data: bytes = response["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise EndpointError(f"anomaly endpoint {self.name} failed: {exc}") from exc
        return data


class InProcessEndpoint:
    """The inference module called directly on a model directory (no HTTP, no AWS)."""

    def __init__(self, model_dir: str) -> None:
        self._module: Any = importlib.import_module("twinledger.sagemaker_entry.inference")
        self._model = self._module.model_fn(model_dir)

    def invoke(self, body: bytes, content_type: str = "application/json") -> bytes:
        try:
            request = self._module.input_fn(body, content_type)
            payload, _ = self._module.output_fn(self._module.predict_fn(request, self._model), "application/json")
        except Exception as exc:  # the module's own errors: bad input, unknown features
            raise EndpointError(f"in-process anomaly model failed: {exc}") from exc
        return str(payload).encode()


class CooldownStore:
    """One page per fault: a conditional put that succeeds only when the previous page's cooldown ended
    (table ``alert_cooldown``, key ``alert_key`` = ``<thing>#<action>``)."""

    def try_acquire(self, alert_key: str, now_s: int, cooldown_s: int) -> bool:
        """True (and the cooldown is started) when no page was sent for this key in the last cooldown."""
        try:
            aws.client("dynamodb").put_item(
                TableName=table_name("alert_cooldown"),
                Item={
                    "alert_key": {"S": alert_key},
                    "until": {"N": str(now_s + cooldown_s)},
                    "expires_at": {"N": str(now_s + cooldown_s + 86_400)},
                },
                ConditionExpression="attribute_not_exists(alert_key) OR #until <= :now",
                ExpressionAttributeNames={"#until": "until"},
                ExpressionAttributeValues={":now": {"N": str(now_s)}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


class AlertPublisher(Protocol):
    """Publishes a critical alert; returns the message id."""

    def publish(self, subject: str, message: str, attributes: dict[str, str]) -> str:
        """Send one alert."""
        ...


class SnsAlertPublisher:
    """Critical alerts to the SNS topic ``TWINLEDGER_ALERT_TOPIC_ARN``."""

    def __init__(self, topic_arn: str) -> None:
        self.topic_arn = topic_arn

    def publish(self, subject: str, message: str, attributes: dict[str, str]) -> str:
        response = aws.client("sns").publish(
            TopicArn=self.topic_arn,
            Subject=subject[:100],
            Message=message,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )
        return str(response["MessageId"])


_lock = threading.Lock()


@lru_cache(maxsize=4)
def _endpoint_for(name: str, model_dir: str | None) -> AnomalyEndpoint:
    if model_dir:
        return InProcessEndpoint(model_dir)
    return SageMakerEndpoint(name)


def get_endpoint() -> AnomalyEndpoint:
    """The configured anomaly endpoint (in-process when ``TWINLEDGER_ANOMALY_MODEL_DIR`` is set)."""
    with _lock:
        return _endpoint_for(
            os.environ.get("TWINLEDGER_ANOMALY_ENDPOINT", "twinledger-anomaly"),
            os.environ.get("TWINLEDGER_ANOMALY_MODEL_DIR") or None,
        )


def get_cooldown_store() -> CooldownStore:
    """The alert cooldown table adapter."""
    return CooldownStore()


def get_publisher() -> AlertPublisher | None:
    """The SNS publisher, or ``None`` when no topic is configured (alerts are then only returned)."""
    arn = os.environ.get("TWINLEDGER_ALERT_TOPIC_ARN")
    return SnsAlertPublisher(arn) if arn else None


def reset_adapters() -> None:
    """Forget cached adapters (tests, after changing the environment)."""
    _endpoint_for.cache_clear()
