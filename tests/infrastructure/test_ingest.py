"""Telemetry path: topic rule -> encrypted TLS-only queue with a DLQ -> the ingest function in batches."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match
from twinledger_iac import logical_ids as ids

from tests.infrastructure.conftest import Synthesized

pytestmark = pytest.mark.integration


def _queue_ids(synthesized: Synthesized) -> tuple[str, str]:
    queues = synthesized.of_type("AWS::SQS::Queue")
    main = next(k for k, q in queues.items() if "RedrivePolicy" in q["Properties"])
    dlq = synthesized.resources[main]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    return main, dlq


def test_queue_has_a_dead_letter_queue_and_both_are_encrypted(synthesized: Synthesized) -> None:
    main, dlq = _queue_ids(synthesized)
    # the telemetry queue, its dead-letter queue and the schedule failures queue (tests/infrastructure/test_operations)
    assert len(synthesized.of_type("AWS::SQS::Queue")) == 3
    redrive = synthesized.resources[main]["Properties"]["RedrivePolicy"]
    assert 1 <= redrive["maxReceiveCount"] <= 10
    for queue in (main, dlq):
        assert synthesized.resources[queue]["Properties"]["SqsManagedSseEnabled"] is True


def test_queues_refuse_plain_http(synthesized: Synthesized) -> None:
    policies = synthesized.of_type("AWS::SQS::QueuePolicy").values()
    secured = {
        ref["Ref"]
        for p in policies
        for ref in p["Properties"]["Queues"]
        if any(
            s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        )
    }
    assert set(_queue_ids(synthesized)) <= secured


def test_visibility_timeout_covers_six_ingest_timeouts(synthesized: Synthesized) -> None:
    main, _ = _queue_ids(synthesized)
    timeout = synthesized.resources[ids.INGEST_FUNCTION]["Properties"]["Timeout"]
    assert synthesized.resources[main]["Properties"]["VisibilityTimeout"] >= 6 * timeout


def test_topic_rule_sends_telemetry_to_the_queue_with_a_role(synthesized: Synthesized) -> None:
    main, _ = _queue_ids(synthesized)
    synthesized.template.has_resource_properties(
        "AWS::IoT::TopicRule",
        {
            "TopicRulePayload": {
                "Sql": "SELECT * FROM 'dt/twinledger/+/+/telemetry'",
                "AwsIotSqlVersion": "2016-03-23",
                "RuleDisabled": False,
                "Actions": [
                    {
                        "Sqs": {
                            "QueueUrl": {"Ref": main},
                            "RoleArn": {"Fn::GetAtt": [Match.string_like_regexp("TelemetryRuleRole"), "Arn"]},
                            "UseBase64": False,
                        }
                    }
                ],
                "ErrorAction": {"CloudwatchLogs": Match.object_like({"RoleArn": Match.any_value()})},
            }
        },
    )


def test_rule_role_may_only_send_to_the_queue_and_log_errors(synthesized: Synthesized) -> None:
    main, _ = _queue_ids(synthesized)
    policies = [p for k, p in synthesized.of_type("AWS::IAM::Policy").items() if "TelemetryRuleRole" in k]
    assert len(policies) == 1
    statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
    sqs = [s for s in statements if "sqs:SendMessage" in s["Action"]]
    assert len(sqs) == 1
    assert sqs[0]["Resource"] == {"Fn::GetAtt": [main, "Arn"]}
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions <= {
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "logs:CreateLogStream",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    }
    # The CloudWatch Logs error action needs all three.
    assert {"logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"} <= actions


def test_event_source_mapping_feeds_ingest_with_partial_batch_failures(synthesized: Synthesized) -> None:
    main, _ = _queue_ids(synthesized)
    synthesized.template.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    synthesized.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": ids.INGEST_FUNCTION},
            "EventSourceArn": {"Fn::GetAtt": [main, "Arn"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 10,
            "MaximumBatchingWindowInSeconds": Match.any_value(),
            "Enabled": True,
        },
    )
    mapping = next(iter(synthesized.of_type("AWS::Lambda::EventSourceMapping").values()))
    assert mapping["Properties"]["MaximumBatchingWindowInSeconds"] > 0
    # Created only once the ingest role may read the queue (Lambda checks it at creation).
    assert any("IngestRole" in dep for dep in mapping.get("DependsOn", []))


def test_dead_letters_raise_an_alert(synthesized: Synthesized) -> None:
    _, dlq = _queue_ids(synthesized)
    (props,) = [
        a["Properties"]
        for a in synthesized.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Dimensions", [{}])[0].get("Value") == {"Fn::GetAtt": [dlq, "QueueName"]}
    ]
    assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}]
    assert props["Threshold"] == 0
    (topic,) = synthesized.of_type("AWS::SNS::Topic")
    assert props["AlarmActions"] == [{"Ref": topic}]
