"""cdk-nag, the gateway IoT policy, Cognito attributes and the chain signer secret."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs
from twinledger_iac import logical_ids as ids
from twinledger_iac import nag

from tests.infrastructure.conftest import Synthesized

pytestmark = pytest.mark.integration


def test_cdk_nag_has_no_unacknowledged_finding(synthesized: Synthesized) -> None:
    # Synthesis with the AWS Solutions plugin raises on any finding; the fixture synthesised.
    acknowledged = [
        rule
        for resource in synthesized.resources.values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert acknowledged, "acknowledgments are written into the template"
    for rule in acknowledged:
        assert len(rule["reason"]) >= 40, rule  # a written reason, not a placeholder


def test_cdk_nag_fails_synthesis_on_a_finding(tmp_path: Any) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Insecure", env=cdk.Environment(region="eu-central-1"))
    sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.UNENCRYPTED)
    nag.add_checks(app)
    with pytest.raises(Exception, match=r"(?i)validation"):
        app.synth()


def _gateway_statements(synthesized: Synthesized) -> list[dict[str, Any]]:
    document = synthesized.resources[ids.GATEWAY_POLICY]["Properties"]["PolicyDocument"]
    statements: list[dict[str, Any]] = document["Statement"]
    return statements


def _joined(value: Any) -> str:
    """An ARN as text (``Fn::Join`` parts concatenated, pseudo parameters named)."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(_joined(v) for v in value["Fn::Join"][1])
    if isinstance(value, dict) and "Ref" in value:
        return "{" + str(value["Ref"]) + "}"
    return json.dumps(value)


def test_gateway_policy_is_least_privilege(synthesized: Synthesized) -> None:
    statements = _gateway_statements(synthesized)
    by_action: dict[str, list[str]] = {}
    for s in statements:
        assert s["Effect"] == "Allow"
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        by_action.setdefault(s["Action"], []).extend(_joined(r) for r in resources)
    assert set(by_action) == {"iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive"}
    assert by_action["iot:Connect"] == [
        "arn:{AWS::Partition}:iot:eu-central-1:{AWS::AccountId}:client/${iot:Connection.Thing.ThingName}"
    ]
    publish = by_action["iot:Publish"]
    assert any(
        r.endswith(
            ":topic/dt/twinledger/${iot:Connection.Thing.Attributes[site]}/${iot:Connection.Thing.ThingName}/telemetry"
        )
        for r in publish
    )
    for resource in (r for rs in by_action.values() for r in rs):
        # Every resource is pinned to the connected thing itself.
        assert "${iot:Connection.Thing.ThingName}" in resource, resource
        assert "shadow/update" not in resource  # classic shadow: cloud-owned
        for cloud_owned in ("name/state", "name/health", "name/usage"):
            assert cloud_owned not in resource
    connect = next(s for s in statements if s["Action"] == "iot:Connect")
    assert connect["Condition"] == {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}


def test_users_cannot_write_their_tenant_or_role(synthesized: Synthesized) -> None:
    pool = next(iter(synthesized.of_type("AWS::Cognito::UserPool").values()))["Properties"]
    custom = {a["Name"] for a in pool["Schema"] if a.get("AttributeDataType") == "String"}
    assert {"tenant", "role"} <= custom
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["MfaConfiguration"] == "ON"
    client = next(iter(synthesized.of_type("AWS::Cognito::UserPoolClient").values()))["Properties"]
    assert {"custom:tenant", "custom:role"} <= set(client["ReadAttributes"])
    assert not any(a.startswith("custom:") for a in client["WriteAttributes"])
    assert client["GenerateSecret"] is False
    assert client["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert "AllowedOAuthFlows" not in client and "CallbackURLs" not in client


def test_chain_signer_secret_and_parameters(synthesized: Synthesized) -> None:
    template = synthesized.template.to_json()
    parameters = template["Parameters"]
    assert parameters[ids.CHAIN_RPC_URL_PARAM]["AllowedPattern"].startswith("^https?://")
    assert parameters[ids.ANCHOR_REGISTRY_PARAM]["AllowedPattern"] == "^0x[0-9a-fA-F]{40}$"
    secrets = synthesized.of_type("AWS::SecretsManager::Secret")
    assert len(secrets) == 1
    (secret,) = secrets.values()
    assert secret["DeletionPolicy"] == "Retain"
    assert "Name" not in secret["Properties"]


def test_stack_outputs_for_operators(synthesized: Synthesized) -> None:
    outputs = synthesized.template.to_json()["Outputs"]
    for name in (
        ids.OUTPUT_API_URL,
        ids.OUTPUT_USER_POOL_ID,
        ids.OUTPUT_USER_POOL_CLIENT_ID,
        ids.OUTPUT_TELEMETRY_QUEUE_URL,
        ids.OUTPUT_GATEWAY_POLICY,
        ids.OUTPUT_CHAIN_SECRET_ARN,
    ):
        assert name in outputs
