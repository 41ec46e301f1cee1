"""The anomaly area's AWS adapters (:mod:`chalicelib.ports.anomaly`): the SageMaker runtime endpoint,
the alert cooldown table (DynamoDB) and the alert topic (SNS).

The endpoint is named by ``TWINLEDGER_ANOMALY_ENDPOINT``; ``TWINLEDGER_SAGEMAKER_ENDPOINT_URL`` sends
``InvokeEndpoint`` to a local endpoint server instead. The in-process model of the embedded demo is not
here: the Lambda bundle never carries the inference code, so the local stack plugs it in through the
wiring (:mod:`chalicelib.wiring`).

Example:
    >>> SageMakerEndpoint("twinledger-anomaly").name
    'twinledger-anomaly'
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters import aws
from chalicelib.adapters.dynamodb import write_if
from chalicelib.adapters.tables import table_name
from chalicelib.ports.anomaly import EndpointError
from chalicelib.settings import get_settings

__all__ = ["CooldownStore", "SageMakerEndpoint", "SnsAlertPublisher"]

_RUNTIME_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=10)


class SageMakerEndpoint:
    """A deployed (or local) SageMaker endpoint called with boto3 ``sagemaker-runtime``."""

    def __init__(self, name: str, endpoint_url: str | None = None, client: Any | None = None) -> None:
        self.name = name
        self.endpoint_url = endpoint_url
        self._client = client

    @property
    def client(self) -> Any:
        """The runtime client (built on first use)."""
        if self._client is None:
            if self.endpoint_url:
                self._client = boto3.client(
                    "sagemaker-runtime",
                    region_name=get_settings().region,
                    endpoint_url=self.endpoint_url,
                    config=_RUNTIME_CONFIG,
                )
            else:
                self._client = aws.client("sagemaker-runtime")
        return self._client

    def invoke(self, body: bytes, content_type: str = "application/json") -> bytes:
        """The endpoint's answer to one request body."""
        try:
            response = self.client.invoke_endpoint(
                EndpointName=self.name, Body=body, ContentType=content_type, Accept="application/json"
            )
            data: bytes = response["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise EndpointError(f"anomaly endpoint {self.name} failed: {exc}") from exc
        return data


class CooldownStore:
    """One page per fault: a conditional put that succeeds only when the previous page's cooldown ended
    (table ``alert_cooldown``, key ``alert_key`` = ``<machine>#<action>``)."""

    def try_acquire(self, alert_key: str, now_s: int, cooldown_s: int) -> bool:
        """True (and the cooldown is started) when no page was sent for this key in the last cooldown."""
        return write_if(
            lambda: aws.client("dynamodb").put_item(
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
        )


class SnsAlertPublisher:
    """Critical alerts to an SNS topic."""

    def __init__(self, topic_arn: str) -> None:
        self.topic_arn = topic_arn

    def publish(self, subject: str, message: str, attributes: dict[str, str]) -> str:
        """Send one alert; returns SNS's message id."""
        response = aws.client("sns").publish(
            TopicArn=self.topic_arn,
            Subject=subject[:100],
            Message=message,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )
        return str(response["MessageId"])
