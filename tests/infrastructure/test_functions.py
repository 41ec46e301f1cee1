"""The Chalice functions: every resource name in their environment, one role each, Cognito on every route."""

from __future__ import annotations

from typing import Any

import pytest
from twinledger_iac import logical_ids as ids
from twinledger_iac.access import ACCESS

from tests.infrastructure.conftest import Synthesized

pytestmark = pytest.mark.integration

FUNCTION = "AWS::Serverless::Function"
XRAY_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def _env(synthesized: Synthesized, function: str) -> dict[str, Any]:
    variables: dict[str, Any] = synthesized.resources[function]["Properties"]["Environment"]["Variables"]
    return variables


def test_the_app_packages_the_ingest_function_and_the_api(synthesized: Synthesized) -> None:
    functions = synthesized.of_type(FUNCTION)
    assert {ids.INGEST_FUNCTION, ids.API_HANDLER_FUNCTION} <= set(functions)
    assert functions[ids.INGEST_FUNCTION]["Properties"]["Handler"] == "app.ingest"
    assert ids.REST_API in synthesized.of_type("AWS::Serverless::Api")


def test_ingest_environment_names_every_table_and_bucket(
    synthesized: Synthesized, table_specs: dict[str, Any], bucket_specs: dict[str, Any]
) -> None:
    env = _env(synthesized, ids.INGEST_FUNCTION)
    for key, spec in table_specs.items():
        assert env[spec.env] == {"Ref": ids.table_logical_id(key)}, key
    for key, spec in bucket_specs.items():
        assert env[spec.env] == {"Ref": ids.bucket_logical_id(key)}, key


def test_every_function_runs_in_cognito_mode_with_the_same_names(synthesized: Synthesized) -> None:
    envs = [_env(synthesized, f) for f in synthesized.of_type(FUNCTION)]
    for env in envs:
        assert env["TWINLEDGER_AUTH_MODE"] == "cognito"
        assert "Ref" in env["TWINLEDGER_CHAIN_KEY_SECRET_ID"]
        assert env["TWINLEDGER_CHAIN_KEY_SECRET_ARN"] == env["TWINLEDGER_CHAIN_KEY_SECRET_ID"]
        assert env["TWINLEDGER_CHAIN_RPC_URL"] == {"Ref": ids.CHAIN_RPC_URL_PARAM}
        assert env["TWINLEDGER_ANCHOR_REGISTRY"] == {"Ref": ids.ANCHOR_REGISTRY_PARAM}
        assert "TWINLEDGER_ALERT_TOPIC_ARN" in env
        assert env == {**envs[0], **env}


def test_each_function_has_its_own_role_and_log_group(synthesized: Synthesized) -> None:
    roles = set()
    for name, function in synthesized.of_type(FUNCTION).items():
        props = function["Properties"]
        role = props["Role"]["Fn::GetAtt"][0]
        assert synthesized.resources[role]["Type"] == "AWS::IAM::Role", name
        assert "Policies" not in props, name  # no Chalice- or SAM-generated policy
        log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert synthesized.resources[log_group]["Properties"]["RetentionInDays"] > 0
        roles.add(role)
    assert len(roles) == len(synthesized.of_type(FUNCTION))


def test_stage_sizing_comes_from_the_chalice_config(synthesized: Synthesized) -> None:
    from twinledger_iac.project import stage_settings

    stage = stage_settings()
    ingest = synthesized.resources[ids.INGEST_FUNCTION]["Properties"]
    assert ingest["Timeout"] == stage.timeout_of("ingest")
    assert ingest["MemorySize"] == stage.memory_of("ingest")


def _policy_of(synthesized: Synthesized, function: str) -> list[dict[str, Any]]:
    role = synthesized.resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        s
        for p in synthesized.of_type("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


def test_roles_follow_their_access_profile(synthesized: Synthesized) -> None:
    ingest = _actions(_policy_of(synthesized, ids.INGEST_FUNCTION))
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "iot:UpdateThingShadow", "sagemaker:InvokeEndpoint"} <= ingest
    assert "secretsmanager:GetSecretValue" not in ingest  # ingest never signs on chain
    if "Anchor" in ACCESS and "Anchor" in synthesized.of_type(FUNCTION):
        anchor = _actions(_policy_of(synthesized, "Anchor"))
        assert "secretsmanager:GetSecretValue" in anchor
        assert not any(a.startswith(("s3:", "iot:")) for a in anchor)
        # sending to the schedule failures queue (its on-failure destination) is its only queue access
        assert {a for a in anchor if a.startswith("sqs:")} <= {
            "sqs:SendMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
        }
    for function in synthesized.of_type(FUNCTION):
        for statement in _policy_of(synthesized, function):
            if _actions([statement]) <= XRAY_ACTIONS:
                continue  # X-Ray has no resource-level permissions (acknowledged in nag.py)
            assert statement["Resource"] != "*", (function, statement)
            assert not any(a.endswith("*") for a in _actions([statement])), (function, statement)


def test_index_access_is_named_index_by_index(synthesized: Synthesized, table_specs: dict[str, Any]) -> None:
    text = str(_policy_of(synthesized, ids.API_HANDLER_FUNCTION))
    assert "/index/*" not in text
    for name, _, _ in table_specs["devices"].indexes:
        assert f"/index/{name}" in text


def test_every_route_requires_the_cognito_authorizer(synthesized: Synthesized) -> None:
    body = synthesized.resources[ids.REST_API]["Properties"]["DefinitionBody"]
    scheme = body["securityDefinitions"][ids.COGNITO_AUTHORIZER]
    assert scheme["x-amazon-apigateway-authtype"] == "cognito_user_pools"
    assert scheme["x-amazon-apigateway-authorizer"]["providerARNs"] == [
        {
            "Fn::GetAtt": [
                synthesized.stack.resolve(synthesized.stack.auth.user_pool.node.default_child.logical_id),
                "Arn",
            ]
        }
    ]
    operations = [(p, m, o) for p, ops in body["paths"].items() for m, o in ops.items() if m != "options"]
    assert operations
    for path, method, operation in operations:
        assert operation.get("security") == [{ids.COGNITO_AUTHORIZER: []}], (method, path)


def test_api_stage_is_throttled(synthesized: Synthesized) -> None:
    (setting,) = synthesized.resources[ids.REST_API]["Properties"]["MethodSettings"]
    assert setting["ResourcePath"] == "/*"
    assert setting["ThrottlingRateLimit"] > 0
    assert setting["ThrottlingBurstLimit"] >= setting["ThrottlingRateLimit"]
