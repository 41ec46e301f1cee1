"""What operators need on day one: API access logs, tracing, structured function logs, a failure
destination and an error alarm per scheduled function, and alarms on the ingest pipeline's own metrics.

Every alarm notifies the alert topic. The metric names and dimensions are the ones
``chalicelib.ingest.pipeline`` emits (Powertools EMF, namespace ``twinledger``, dimension
``service=ingest``); ``tests/infrastructure/test_operations.py`` checks them against the code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from twinledger_iac import logical_ids as ids
from twinledger_iac.functions import ChaliceFunctions

__all__ = ["ACCESS_LOG_FORMAT", "INGEST_ALARMS", "METRICS_NAMESPACE", "MetricAlarm", "Operations"]

#: The namespace of the functions' own metrics (``Metrics(namespace=...)`` in the ingest pipeline).
METRICS_NAMESPACE = "twinledger"
#: The dimensions the ingest pipeline's metrics carry (``Metrics(service="ingest")``).
INGEST_DIMENSIONS = {"service": "ingest"}

#: One JSON object per request (CloudWatch Logs Insights reads the fields directly).
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "extendedRequestId": "$context.extendedRequestId",
        "ip": "$context.identity.sourceIp",
        "userAgent": "$context.identity.userAgent",
        "requestTime": "$context.requestTimeEpoch",
        "method": "$context.httpMethod",
        "resource": "$context.resourcePath",
        "path": "$context.path",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integrationLatency",
        "errorType": "$context.error.responseType",
        "error": "$context.error.message",
        "tenant": "$context.authorizer.claims.custom:tenant",
        "xrayTraceId": "$context.xrayTraceId",
    },
    separators=(",", ":"),
)


@dataclass(frozen=True)
class MetricAlarm:
    """An alarm on one of the pipeline's metrics: ``Sum`` over ``period_min`` at or above ``threshold``."""

    construct_id: str
    metric: str
    threshold: float
    description: str
    period_min: int = 5
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1


#: The ingest pipeline's alarms.
INGEST_ALARMS = (
    MetricAlarm(
        ids.QUARANTINE_ALARM,
        "EnvelopesQuarantined",
        threshold=1,
        description="Telemetry was quarantined (bad signature, unknown machine, malformed): see the quarantine "
        "table and the QuarantinedByReason metric",
    ),
    MetricAlarm(
        ids.CONFLICTING_DUPLICATES_ALARM,
        "ConflictingDuplicates",
        threshold=1,
        description="The same (machine, seq) arrived with other validly signed content: a faulty gateway or a "
        "cloned device key",
    ),
    MetricAlarm(
        ids.SHADOW_CONFLICTS_ALARM,
        "ShadowVersionConflicts",
        threshold=50,
        description="Many version conflicts on shadow updates: concurrent writers on the same machines; "
        "retries may run out and envelopes go to the backlog",
    ),
    MetricAlarm(
        ids.SCORING_FAILURES_ALARM,
        "HealthScoringFailures",
        threshold=1,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        description="Health scoring failed (SageMaker endpoint unavailable or erroring): machine health is "
        "not being updated",
    ),
)


class Operations(Construct):
    """Access logs and tracing on the API; logs, tracing, failure destinations and alarms on the functions."""

    def __init__(self, scope: Construct, construct_id: str, *, functions: ChaliceFunctions, topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        self.topic = topic
        self._api_access_logs(functions)
        self._function_tracing(functions)
        self.failures = sqs.Queue(
            self,
            ids.SCHEDULE_FAILURES_QUEUE,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        self.schedule_alarms: dict[str, cloudwatch.Alarm] = {}
        self.invoke_configs: dict[str, lambda_.CfnEventInvokeConfig] = {}
        for logical_id in functions.scheduled():
            self._scheduled(functions, logical_id)
        self.failures_alarm = self._alarm(
            ids.SCHEDULE_FAILURES_ALARM,
            self.failures.metric_approximate_number_of_messages_visible(period=cdk.Duration.minutes(5)),
            threshold=1,
            description="A scheduled run failed after its retries: its event is in the schedule failures queue",
        )
        self.metric_alarms = {
            spec.metric: self._alarm(
                spec.construct_id,
                cloudwatch.Metric(
                    namespace=METRICS_NAMESPACE,
                    metric_name=spec.metric,
                    dimensions_map=INGEST_DIMENSIONS,
                    statistic="Sum",
                    period=cdk.Duration.minutes(spec.period_min),
                ),
                threshold=spec.threshold,
                description=spec.description,
                evaluation_periods=spec.evaluation_periods,
                datapoints_to_alarm=spec.datapoints_to_alarm,
            )
            for spec in INGEST_ALARMS
        }

    # -- the API -----------------------------------------------------------------------------------
    def _api_access_logs(self, functions: ChaliceFunctions) -> None:
        self.access_logs = logs.LogGroup(self, ids.API_ACCESS_LOGS, retention=logs.RetentionDays.ONE_YEAR)
        api = functions.rest_api()
        api.add_property_override(
            "AccessLogSetting", {"DestinationArn": self.access_logs.log_group_arn, "Format": ACCESS_LOG_FORMAT}
        )
        api.add_property_override("TracingEnabled", True)
        # API Gateway writes to CloudWatch Logs with the account's role (one per account and region).
        self.api_logs_role = iam.Role(
            self,
            ids.API_LOGS_ROLE,
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonAPIGatewayPushToCloudWatchLogs")
            ],
            description="API Gateway's account role for access and execution logs",
        )
        self.api_account = apigateway.CfnAccount(
            self, ids.API_GATEWAY_ACCOUNT, cloud_watch_role_arn=self.api_logs_role.role_arn
        )
        api.node.add_dependency(self.api_account)

    # -- every function ------------------------------------------------------------------------------
    def _function_tracing(self, functions: ChaliceFunctions) -> None:
        for logical_id, function in functions.functions.items():
            function.add_property_override("Tracing", "Active")
            functions.roles[logical_id].add_to_principal_policy(
                iam.PolicyStatement(actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"])
            )

    # -- scheduled functions -------------------------------------------------------------------------
    def _scheduled(self, functions: ChaliceFunctions, logical_id: str) -> None:
        function = functions.function(logical_id)
        # EventBridge invokes asynchronously: after two retries the event goes to the failures queue.
        config = lambda_.CfnEventInvokeConfig(
            self,
            ids.schedule_invoke_config_id(logical_id),
            function_name=function.ref,
            qualifier="$LATEST",
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=3600,
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=self.failures.queue_arn)
            ),
        )
        self.failures.grant_send_messages(functions.roles[logical_id])
        config.node.add_dependency(functions.roles[logical_id])
        self.invoke_configs[logical_id] = config
        self.schedule_alarms[logical_id] = self._alarm(
            ids.schedule_errors_alarm_id(logical_id),
            cloudwatch.Metric(
                namespace="AWS/Lambda",
                metric_name="Errors",
                dimensions_map={"FunctionName": function.ref},
                statistic="Sum",
                period=cdk.Duration.minutes(5),
            ),
            threshold=1,
            description=f"The scheduled function {logical_id} raised an error",
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int = 1,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        return alarm
