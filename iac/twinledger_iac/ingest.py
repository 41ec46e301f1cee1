"""Telemetry ingest: IoT topic rule -> SQS queue (with dead-letter queue) -> the ``ingest`` Lambda.

The rule forwards every message on ``dt/twinledger/+/+/telemetry`` to the queue; the queue feeds the
Chalice ``ingest`` function in batches, and the function reports failed records one by one
(``ReportBatchItemFailures``) so only they are retried; a record that fails ``max_receive_count``
times moves to the dead-letter queue. Rule errors (e.g. the queue refusing a message) go to a log group.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from twinledger_iac import logical_ids as ids
from twinledger_iac.iot import TELEMETRY_TOPIC_FILTER

__all__ = ["TELEMETRY_SQL", "TelemetryIngest"]

#: The topic rule's query: the whole signed envelope, untouched.
TELEMETRY_SQL = f"SELECT * FROM '{TELEMETRY_TOPIC_FILTER}'"


class TelemetryIngest(Construct):
    """Queue, dead-letter queue and topic rule; :meth:`feed` wires the queue to the ingest function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_timeout: cdk.Duration,
        max_receive_count: int = 5,
        batch_size: int = 10,
        batching_window_s: int = 5,
    ) -> None:
        super().__init__(scope, construct_id)
        self.batch_size = batch_size
        self.batching_window_s = batching_window_s
        self.dead_letters = sqs.Queue(
            self,
            ids.TELEMETRY_DLQ,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            ids.TELEMETRY_QUEUE,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(4),
            # AWS's guidance for Lambda event sources: six times the function timeout.
            visibility_timeout=cdk.Duration.seconds(6 * function_timeout.to_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=max_receive_count),
        )

        self.rule_errors = logs.LogGroup(self, ids.TELEMETRY_RULE_ERRORS, retention=logs.RetentionDays.ONE_YEAR)
        self.rule_role = iam.Role(
            self,
            ids.TELEMETRY_RULE_ROLE,
            assumed_by=iam.ServicePrincipal("iot.amazonaws.com"),
            description="The telemetry topic rule: send to the telemetry queue, log rule errors",
        )
        self.queue.grant_send_messages(self.rule_role)
        # What the IoT CloudWatch Logs action calls, on this log group only.
        self.rule_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                resources=[self.rule_errors.log_group_arn],
            )
        )
        self.rule = iot.CfnTopicRule(
            self,
            ids.TELEMETRY_RULE,
            topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
                sql=TELEMETRY_SQL,
                aws_iot_sql_version="2016-03-23",
                rule_disabled=False,
                description="Gateway telemetry envelopes to the ingest queue",
                actions=[
                    iot.CfnTopicRule.ActionProperty(
                        sqs=iot.CfnTopicRule.SqsActionProperty(
                            queue_url=self.queue.queue_url, role_arn=self.rule_role.role_arn, use_base64=False
                        )
                    )
                ],
                error_action=iot.CfnTopicRule.ActionProperty(
                    cloudwatch_logs=iot.CfnTopicRule.CloudwatchLogsActionProperty(
                        log_group_name=self.rule_errors.log_group_name, role_arn=self.rule_role.role_arn
                    )
                ),
            ),
        )

    def feed(self, function_name: str, role: iam.IRole) -> lambda_.CfnEventSourceMapping:
        """Map the queue to the function ``function_name`` (a name or ARN, e.g. a ``Ref``)."""
        self.queue.grant_consume_messages(role)
        mapping = lambda_.CfnEventSourceMapping(
            self,
            ids.INGEST_EVENT_SOURCE,
            function_name=function_name,
            event_source_arn=self.queue.queue_arn,
            batch_size=self.batch_size,
            maximum_batching_window_in_seconds=self.batching_window_s,
            function_response_types=["ReportBatchItemFailures"],
            enabled=True,
        )
        # Lambda checks the role's SQS permissions when it creates the mapping.
        mapping.node.add_dependency(role)
        return mapping

    def alarm_on_dead_letters(self, topic: sns.ITopic) -> cloudwatch.Alarm:
        """Alert ``topic`` as soon as a record lands in the dead-letter queue (data that was not ingested)."""
        alarm = cloudwatch.Alarm(
            self,
            ids.DEAD_LETTERS_ALARM,
            alarm_description="Telemetry records gave up after retries: inspect the dead-letter queue and redrive",
            metric=self.dead_letters.metric_approximate_number_of_messages_visible(period=cdk.Duration.minutes(5)),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        return alarm
