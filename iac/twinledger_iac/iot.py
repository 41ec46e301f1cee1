"""AWS IoT: the policy every gateway's certificate gets, least privilege by policy variables.

A gateway is a thing with the attribute ``site``. With its certificate it may:

* connect only as its own thing name, and only while the certificate is attached to that thing;
* publish telemetry only on ``dt/twinledger/<its site>/<its thing name>/telemetry``;
* report and read its own ``config`` named shadow, and receive that shadow's answers and deltas.

It cannot publish on any other thing's topics nor touch the ``state``, ``health`` and ``usage``
shadows, which only the cloud writes.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iot as iot
from constructs import Construct

from twinledger_iac import logical_ids as ids

__all__ = ["TELEMETRY_TOPIC_FILTER", "GatewayIdentity", "gateway_policy_document"]

THING = "${iot:Connection.Thing.ThingName}"
SITE = "${iot:Connection.Thing.Attributes[site]}"
#: The topic filter of the telemetry topic rule (``dt/twinledger/<site>/<thing>/telemetry``).
TELEMETRY_TOPIC_FILTER = "dt/twinledger/+/+/telemetry"
#: The one named shadow a gateway reads and reports (its configuration).
GATEWAY_SHADOW = "config"


def gateway_policy_document(stack: cdk.Stack) -> dict[str, Any]:
    """The IoT policy document for gateways (ARNs in ``stack``'s account and region)."""

    def arn(resource: str, name: str) -> str:
        return stack.format_arn(service="iot", resource=resource, resource_name=name)

    shadow = f"$aws/things/{THING}/shadow/name/{GATEWAY_SHADOW}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ConnectAsItself",
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": arn("client", THING),
                "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
            },
            {
                "Sid": "PublishOwnTelemetryAndConfigShadow",
                "Effect": "Allow",
                "Action": "iot:Publish",
                "Resource": [
                    arn("topic", f"dt/twinledger/{SITE}/{THING}/telemetry"),
                    arn("topic", f"{shadow}/update"),
                    arn("topic", f"{shadow}/get"),
                ],
            },
            {
                "Sid": "SubscribeOwnConfigShadow",
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": arn("topicfilter", f"{shadow}/*"),
            },
            {
                "Sid": "ReceiveOwnConfigShadow",
                "Effect": "Allow",
                "Action": "iot:Receive",
                "Resource": arn("topic", f"{shadow}/*"),
            },
        ],
    }


class GatewayIdentity(Construct):
    """The gateway IoT policy (attach it to each gateway certificate at provisioning)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.policy = iot.CfnPolicy(
            self, ids.GATEWAY_POLICY, policy_document=gateway_policy_document(cdk.Stack.of(self))
        )
        self.policy.override_logical_id(ids.GATEWAY_POLICY)
