"""Every table and bucket of the specs exists, with its keys and indexes, protected and unnamed."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match
from twinledger_iac import logical_ids as ids

from tests.infrastructure.conftest import Synthesized

pytestmark = pytest.mark.integration


def _key_schema(spec_pk: tuple[str, str], spec_sk: tuple[str, str] | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": spec_pk[0], "KeyType": "HASH"}]
    if spec_sk:
        schema.append({"AttributeName": spec_sk[0], "KeyType": "RANGE"})
    return schema


def test_one_table_per_spec_and_no_other(synthesized: Synthesized, table_specs: dict[str, Any]) -> None:
    tables = synthesized.of_type("AWS::DynamoDB::Table")
    assert set(tables) == {ids.table_logical_id(key) for key in table_specs}


def test_tables_have_the_spec_keys_indexes_and_ttl(synthesized: Synthesized, table_specs: dict[str, Any]) -> None:
    for key, spec in table_specs.items():
        props = synthesized.resources[ids.table_logical_id(key)]["Properties"]
        request = spec.create_request("unused")
        assert props["KeySchema"] == request["KeySchema"], key
        assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
            request["AttributeDefinitions"], key=lambda a: a["AttributeName"]
        ), key
        indexes = {gsi["IndexName"]: gsi for gsi in props.get("GlobalSecondaryIndexes", [])}
        assert set(indexes) == {name for name, _, _ in spec.indexes}, key
        for name, pk, sk in spec.indexes:
            assert indexes[name]["KeySchema"] == _key_schema(pk, sk), (key, name)
            assert indexes[name]["Projection"] == {"ProjectionType": "ALL"}
        if spec.ttl_attribute:
            assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in props


def test_tables_are_on_demand_encrypted_recoverable_and_unnamed(synthesized: Synthesized) -> None:
    synthesized.template.all_resources_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"SSEEnabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "TableName": Match.absent(),
        },
    )
    for table in synthesized.of_type("AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Retain"


def test_buckets_per_spec_private_encrypted_versioned_logged(
    synthesized: Synthesized, bucket_specs: dict[str, Any]
) -> None:
    for key in bucket_specs:
        props = synthesized.resources[ids.bucket_logical_id(key)]["Properties"]
        assert "BucketName" not in props
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": ids.ACCESS_LOGS_BUCKET}


def test_buckets_refuse_plain_http(synthesized: Synthesized, bucket_specs: dict[str, Any]) -> None:
    policies = synthesized.of_type("AWS::S3::BucketPolicy").values()
    secured = {p["Properties"]["Bucket"]["Ref"] for p in policies if _denies_insecure_transport(p)}
    assert {ids.bucket_logical_id(key) for key in bucket_specs} <= secured


def _denies_insecure_transport(policy: dict[str, Any]) -> bool:
    return any(
        s["Effect"] == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )
