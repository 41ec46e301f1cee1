"""The SuperLink's Fargate service on its own stack, with the AWS Solutions checks (fails on any finding)."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template
    from twinledger_iac import nag
    from twinledger_iac.federated import FederationLink

    app = cdk.App(outdir=str(tmp_path_factory.mktemp("cdk.out")))
    stack = cdk.Stack(app, "Federation", env=cdk.Environment(region="eu-central-1"))
    FederationLink(stack, "Federation")
    nag.add_checks(app)
    app.synth()  # raises on an unacknowledged finding
    return Template.from_stack(stack)


def test_superlink_runs_on_fargate_in_isolated_subnets(federation: Any) -> None:
    from aws_cdk.assertions import Match

    federation.resource_count_is("AWS::ECS::Service", 1)
    federation.has_resource_properties(
        "AWS::ECS::Service",
        {
            "LaunchType": "FARGATE",
            "DesiredCount": 1,
            "NetworkConfiguration": {"AwsvpcConfiguration": Match.object_like({"AssignPublicIp": "DISABLED"})},
        },
    )
    federation.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {"ContainerDefinitions": [Match.object_like({"Command": Match.array_with(["--port", "9093"])})]},
    )


def test_only_tls_on_443_is_public(federation: Any) -> None:
    federation.has_resource_properties("AWS::ElasticLoadBalancingV2::Listener", {"Port": 443, "Protocol": "TLS"})
    groups = federation.find_resources("AWS::EC2::SecurityGroup")
    public = [
        rule
        for group in groups.values()
        for rule in group["Properties"].get("SecurityGroupIngress", [])
        if rule.get("CidrIp") == "0.0.0.0/0"
    ]
    assert [(r["FromPort"], r["ToPort"]) for r in public] == [(443, 443)]


def test_task_role_has_no_policy(federation: Any) -> None:
    roles = federation.find_resources("AWS::IAM::Role")
    task_roles = [k for k in roles if "TaskTaskRole" in k]
    policies = federation.find_resources("AWS::IAM::Policy")
    attached = {r["Ref"] for p in policies.values() for r in p["Properties"].get("Roles", [])}
    assert task_roles and not set(task_roles) & attached
