"""Operations in the template: access logs, tracing, JSON logs, schedule failure handling, alarms, the
SageMaker endpoint, and problem details from API Gateway itself."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from twinledger_iac import logical_ids as ids
from twinledger_iac.anomaly import SKLEARN_IMAGE_ACCOUNTS, sklearn_image
from twinledger_iac.operations import INGEST_ALARMS, METRICS_NAMESPACE
from twinledger_iac.problems import PROBLEM_CONTENT_TYPE

from tests.infrastructure.conftest import Synthesized

pytestmark = pytest.mark.integration

FUNCTION = "AWS::Serverless::Function"
ALARM = "AWS::CloudWatch::Alarm"


def _logical_id(synthesized: Synthesized, construct: Any) -> str:
    child = getattr(construct.node, "default_child", None) or construct
    return str(synthesized.stack.resolve(child.logical_id))


def _statements(synthesized: Synthesized, role_logical_id: str) -> list[dict[str, Any]]:
    return [
        s
        for p in synthesized.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_logical_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def _role_of(synthesized: Synthesized, function: str) -> str:
    role: str = synthesized.resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]
    return role


def _alarms(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in synthesized.of_type(ALARM).items()}


def _topic_ref(synthesized: Synthesized) -> dict[str, str]:
    return {"Ref": _logical_id(synthesized, synthesized.stack.alerts.topic)}


# -- logs and traces ---------------------------------------------------------------------------------
def test_the_api_writes_json_access_logs_and_traces(synthesized: Synthesized) -> None:
    api = synthesized.resources[ids.REST_API]["Properties"]
    setting = api["AccessLogSetting"]
    log_group = setting["DestinationArn"]["Fn::GetAtt"][0]
    assert synthesized.resources[log_group]["Type"] == "AWS::Logs::LogGroup"
    assert synthesized.resources[log_group]["Properties"]["RetentionInDays"] >= 365
    fields = json.loads(setting["Format"])
    assert {"requestId", "status", "method", "resource", "latencyMs", "errorType"} <= set(fields)
    assert api["TracingEnabled"] is True
    (account,) = synthesized.of_type("AWS::ApiGateway::Account").values()
    role = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    assert synthesized.resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"
    }


def test_every_function_traces_and_logs_json(synthesized: Synthesized) -> None:
    functions = synthesized.of_type(FUNCTION)
    assert len(functions) >= 5
    for name, function in functions.items():
        props = function["Properties"]
        assert props["Tracing"] == "Active", name
        assert props["LoggingConfig"]["LogFormat"] == "JSON", name
        assert props["LoggingConfig"]["ApplicationLogLevel"] == "INFO", name
        env = props["Environment"]["Variables"]
        assert env["TWINLEDGER_JSON_LOGS"] == "true" and env["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false", name
        xray = [
            s for s in _statements(synthesized, _role_of(synthesized, name)) if "xray:PutTraceSegments" in _actions(s)
        ]
        assert len(xray) == 1, name


# -- scheduled functions ---------------------------------------------------------------------------------
def _scheduled(synthesized: Synthesized) -> set[str]:
    return {
        name
        for name, function in synthesized.of_type(FUNCTION).items()
        if any(e.get("Type") == "Schedule" for e in function["Properties"].get("Events", {}).values())
    }


def test_every_scheduled_function_has_a_failure_destination(synthesized: Synthesized) -> None:
    scheduled = _scheduled(synthesized)
    assert {"Anchor", "OeeShifts", "BillingClosePeriods", "IngestCatchUp"} <= scheduled
    configs = {
        c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
        for c in synthesized.of_type("AWS::Lambda::EventInvokeConfig").values()
    }
    assert set(configs) == scheduled
    queue = _logical_id(synthesized, synthesized.stack.operations.failures)
    for name, config in configs.items():
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue, "Arn"]}, name
        assert config["MaximumRetryAttempts"] <= 2
        sends = [s for s in _statements(synthesized, _role_of(synthesized, name)) if "sqs:SendMessage" in _actions(s)]
        assert {"Fn::GetAtt": [queue, "Arn"]} in [s["Resource"] for s in sends], name
    failures_alarm = _alarms(synthesized)[_logical_id(synthesized, synthesized.stack.operations.failures_alarm)]
    assert failures_alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]


def test_every_scheduled_function_has_an_errors_alarm_to_the_alert_topic(synthesized: Synthesized) -> None:
    errors = {
        a["Dimensions"][0]["Value"]["Ref"]: a
        for a in _alarms(synthesized).values()
        if a.get("MetricName") == "Errors" and a.get("Namespace") == "AWS/Lambda"
    }
    assert set(errors) == _scheduled(synthesized)
    for name, alarm in errors.items():
        assert alarm["Dimensions"][0]["Name"] == "FunctionName", name
        assert alarm["Statistic"] == "Sum" and alarm["Threshold"] == 1, name
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", name
        assert alarm["AlarmActions"] == [_topic_ref(synthesized)], name


# -- the pipeline's metrics --------------------------------------------------------------------------------
def test_the_pipeline_metrics_have_alarms_on_the_names_and_dimensions_it_emits(synthesized: Synthesized) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    from chalicelib.ingest import pipeline

    source = Path(pipeline.__file__).read_text(encoding="utf-8")
    pipeline.metrics.add_metric(name="Probe", unit=MetricUnit.Count, value=1)
    emitted: dict[str, Any] = dict(pipeline.metrics.serialize_metric_set())
    pipeline.metrics.clear_metrics()
    directive = emitted["_aws"]["CloudWatchMetrics"][0]
    dimensions = {name: emitted[name] for name in directive["Dimensions"][0]}

    by_metric = {a["MetricName"]: a for a in _alarms(synthesized).values() if a.get("Namespace") == METRICS_NAMESPACE}
    assert {"EnvelopesQuarantined", "ConflictingDuplicates", "ShadowVersionConflicts", "HealthScoringFailures"} <= set(
        by_metric
    )
    for spec in INGEST_ALARMS:
        alarm = by_metric[spec.metric]
        assert f'name="{spec.metric}"' in source, f"the pipeline no longer emits {spec.metric}"
        assert directive["Namespace"] == METRICS_NAMESPACE
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == dimensions, spec.metric
        assert alarm["Statistic"] == "Sum" and alarm["AlarmActions"] == [_topic_ref(synthesized)]
        assert alarm["TreatMissingData"] == "notBreaching"


# -- the SageMaker endpoint --------------------------------------------------------------------------------
def test_the_endpoint_is_built_from_its_model_and_scales(synthesized: Synthesized) -> None:
    (model_id,) = synthesized.of_type("AWS::SageMaker::Model")
    ((config_id, config),) = synthesized.of_type("AWS::SageMaker::EndpointConfig").items()
    ((endpoint_id, endpoint),) = synthesized.of_type("AWS::SageMaker::Endpoint").items()
    (variant,) = config["Properties"]["ProductionVariants"]
    assert variant["ModelName"] == {"Fn::GetAtt": [model_id, "ModelName"]}
    assert endpoint["Properties"]["EndpointConfigName"] == {"Fn::GetAtt": [config_id, "EndpointConfigName"]}
    name = endpoint["Properties"]["EndpointName"]
    for function in synthesized.of_type(FUNCTION).values():
        assert function["Properties"]["Environment"]["Variables"]["TWINLEDGER_ANOMALY_ENDPOINT"] == name

    (target,) = synthesized.of_type("AWS::ApplicationAutoScaling::ScalableTarget").values()
    props = target["Properties"]
    assert props["ServiceNamespace"] == "sagemaker"
    assert props["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert props["ResourceId"] == {
        "Fn::Join": [
            "",
            ["endpoint/", {"Fn::GetAtt": [endpoint_id, "EndpointName"]}, f"/variant/{variant['VariantName']}"],
        ]
    }
    assert 1 <= props["MinCapacity"] < props["MaxCapacity"]
    (policy,) = synthesized.of_type("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    tracking = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"


def test_only_the_ingest_role_invokes_and_only_that_endpoint(synthesized: Synthesized) -> None:
    (endpoint_id,) = synthesized.of_type("AWS::SageMaker::Endpoint")
    invoking = {
        role["Ref"]: s["Resource"]
        for p in synthesized.of_type("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if any(a.startswith("sagemaker:") for a in _actions(s))
        for role in p["Properties"]["Roles"]
    }
    assert invoking == {_role_of(synthesized, ids.INGEST_FUNCTION): {"Ref": endpoint_id}}


def test_the_model_role_reads_exactly_its_two_artifacts(synthesized: Synthesized) -> None:
    (model,) = synthesized.of_type("AWS::SageMaker::Model").values()
    role = model["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]
    (s3,) = [s for s in _statements(synthesized, role) if _actions(s) == {"s3:GetObject"}]
    keys = json.dumps(s3["Resource"])
    assert ids.ANOMALY_MODEL_KEY_PARAM in keys and ids.ANOMALY_SOURCE_KEY_PARAM in keys and "*" not in keys


def test_the_image_table_matches_the_sagemaker_sdk() -> None:
    from twinledger.deploy.sagemaker_deploy import sklearn_image_uri

    for region in SKLEARN_IMAGE_ACCOUNTS:
        assert sklearn_image(region) == sklearn_image_uri(region), region


# -- problem details from API Gateway ---------------------------------------------------------------------
_CONTEXT = re.compile(r"\$context\.[A-Za-z.]+")


def _render(template: str) -> Any:
    """A mapping template with API Gateway's ``$context`` variables filled in, parsed as JSON."""

    def value(match: re.Match[str]) -> str:
        return '"Unauthorized"' if match.group(0) == "$context.error.messageString" else "TRACE"

    return json.loads(_CONTEXT.sub(value, template))


def _check_problem(document: Any, status: int) -> None:
    assert set(document) >= {"type", "title", "status", "detail", "errors"}
    assert document["status"] == status and isinstance(document["detail"], str) and document["detail"]
    assert document["errors"] == [] and document["type"] == "about:blank" and document["title"]


def test_api_gateway_errors_are_problem_details(synthesized: Synthesized) -> None:
    body = synthesized.resources[ids.REST_API]["Properties"]["DefinitionBody"]
    responses = body["x-amazon-apigateway-gateway-responses"]
    expected = {"UNAUTHORIZED": 401, "ACCESS_DENIED": 403, "THROTTLED": 429, "MISSING_AUTHENTICATION_TOKEN": 404}
    assert {k: int(responses[k]["statusCode"]) for k in expected} == expected
    assert {"DEFAULT_4XX", "DEFAULT_5XX", "INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT", "QUOTA_EXCEEDED"} <= set(
        responses
    )
    for kind, response in responses.items():
        status = int(response["statusCode"])
        assert (status >= 500) == (
            kind
            in {
                "DEFAULT_5XX",
                "INTEGRATION_FAILURE",
                "INTEGRATION_TIMEOUT",
                "AUTHORIZER_FAILURE",
                "AUTHORIZER_CONFIGURATION_ERROR",
                "API_CONFIGURATION_ERROR",
            }
        ), kind
        assert response["responseParameters"]["gatewayresponse.header.Content-Type"] == f"'{PROBLEM_CONTENT_TYPE}'"
        for template in response["responseTemplates"].values():
            _check_problem(_render(template), status)


def test_methods_a_route_does_not_declare_answer_405(synthesized: Synthesized) -> None:
    body = synthesized.resources[ids.REST_API]["Properties"]["DefinitionBody"]
    assert body["paths"]
    for path, operations in body["paths"].items():
        declared = {m.upper() for m in operations if m in {"get", "post", "put", "patch", "delete", "head", "options"}}
        fallback = operations["x-amazon-apigateway-any-method"]
        assert fallback["security"] == [{ids.COGNITO_AUTHORIZER: []}], path
        integration = fallback["x-amazon-apigateway-integration"]
        assert integration["type"] == "mock"
        response = integration["responses"]["default"]
        assert response["statusCode"] == "405"
        allow = response["responseParameters"]["method.response.header.Allow"].strip("'")
        assert set(allow.split(", ")) == declared, path
        assert response["responseParameters"]["method.response.header.Content-Type"] == f"'{PROBLEM_CONTENT_TYPE}'"
        document = _render(response["responseTemplates"]["application/json"])
        _check_problem(document, 405)
        assert allow in document["detail"]
