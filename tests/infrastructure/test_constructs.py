"""The constructs on their own, without packaging the Chalice app (fast: no ``chalice package``)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from twinledger_iac import logical_ids as ids
from twinledger_iac.access import ACCESS, DEFAULT_ACCESS, access_of
from twinledger_iac.data import DataStores
from twinledger_iac.ingest import TELEMETRY_SQL, TelemetryIngest
from twinledger_iac.iot import GatewayIdentity, gateway_policy_document
from twinledger_iac.project import stage_settings

from tests.infrastructure.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Parts", env=cdk.Environment(region="eu-central-1"))


def test_access_profiles_name_only_existing_tables_and_buckets(
    table_specs: dict[str, Any], bucket_specs: dict[str, Any]
) -> None:
    for name, access in ACCESS.items():
        assert access.tables() <= set(table_specs), name
        assert access.buckets() <= set(bucket_specs), name
    assert access_of("SomeFutureFunction") is DEFAULT_ACCESS


def test_every_chalice_function_has_its_own_profile() -> None:
    from chalice.utils import to_cfn_resource_name

    app = importlib.import_module("app").app  # functions/app.py (tests/conftest.py puts functions/ first)

    names = {to_cfn_resource_name(f.name) for f in app.pure_lambda_functions}
    names |= {to_cfn_resource_name(source.name) for source in app.event_sources}
    names.add(ids.API_HANDLER_FUNCTION)
    missing = sorted(names - set(ACCESS))
    # A function without a profile still works (it gets the API handler's), but least privilege wants one.
    assert not missing, f"give these functions a profile in iac/twinledger_iac/access.py: {missing}"


def test_logical_ids() -> None:
    assert ids.pascal("alert_cooldown") == "AlertCooldown"
    assert ids.table_logical_id("history") == "HistoryTable"
    assert ids.bucket_logical_id("archive") == "ArchiveBucket"


def test_stage_settings_read_the_chalice_config() -> None:
    stage = stage_settings()
    assert stage.api_gateway_stage
    assert stage.timeout_of("ingest") >= stage.timeout_of("some_other_function") > 0


def test_data_stores_alone(stack: cdk.Stack, table_specs: dict[str, Any], bucket_specs: dict[str, Any]) -> None:
    data = DataStores(stack, "Data", table_specs=table_specs, bucket_specs=bucket_specs)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::DynamoDB::Table", len(table_specs))
    template.resource_count_is("AWS::S3::Bucket", len(bucket_specs) + 1)  # + access logs
    env = data.environment()
    assert set(env) == {s.env for s in table_specs.values()} | {s.env for s in bucket_specs.values()}
    assert all(cdk.Token.is_unresolved(value) for value in env.values())


def test_ingest_alone() -> None:
    stack = cdk.Stack(cdk.App(), "IngestOnly", env=cdk.Environment(region="eu-central-1"))
    ingest = TelemetryIngest(stack, "Ingest", function_timeout=cdk.Duration.seconds(120))
    role = cdk.aws_iam.Role(stack, "Consumer", assumed_by=cdk.aws_iam.ServicePrincipal("lambda.amazonaws.com"))
    ingest.feed("my-function", role)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::IoT::TopicRule", {"TopicRulePayload": {"Sql": TELEMETRY_SQL}})
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"FunctionName": "my-function", "FunctionResponseTypes": ["ReportBatchItemFailures"], "BatchSize": 10},
    )
    template.has_resource_properties("AWS::SQS::Queue", {"VisibilityTimeout": 720})


def test_gateway_policy_names_no_other_thing() -> None:
    stack = cdk.Stack(cdk.App(), "IotOnly", env=cdk.Environment(region="eu-central-1"))
    GatewayIdentity(stack, "Iot")
    document = stack.resolve(gateway_policy_document(stack))
    text = str(document)
    assert "dt/twinledger/${iot:Connection.Thing.Attributes[site]}/${iot:Connection.Thing.ThingName}/telemetry" in text
    assert "+" not in text and "#" not in text
    actions = {s["Action"] for s in document["Statement"]}
    assert actions == {"iot:Connect", "iot:Publish", "iot:Subscribe", "iot:Receive"}


def test_throw_away_data_stores_can_be_deleted(table_specs: dict[str, Any], bucket_specs: dict[str, Any]) -> None:
    stack = cdk.Stack(cdk.App(), "Scratch", env=cdk.Environment(region="eu-central-1"))
    DataStores(
        stack, "Data", table_specs=table_specs, bucket_specs=bucket_specs, removal_policy=cdk.RemovalPolicy.DESTROY
    )
    tables = Template.from_stack(stack).find_resources("AWS::DynamoDB::Table")
    assert tables
    for table in tables.values():
        assert table["DeletionPolicy"] == "Delete"
        assert table["Properties"]["DeletionProtectionEnabled"] is False


def test_app_refuses_to_synthesise_without_a_region(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_DEFAULT_REGION", "AWS_REGION", "CDK_DEFAULT_REGION")}
    env["CDK_OUTDIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "iac" / "app.py")], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "CDK_DEFAULT_REGION" in result.stderr
