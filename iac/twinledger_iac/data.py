"""DynamoDB tables and S3 buckets, built in one loop from the specs in ``chalicelib.adapters.tables``.

CloudFormation names every resource; the functions learn the names from environment variables
(``spec.env``), exactly as the local stack passes its own names in.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from twinledger_iac import logical_ids as ids

__all__ = ["DataStores"]

_ATTRIBUTE_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER}

#: Read actions on a table and its indexes.
TABLE_READ_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
)
#: Write actions on a table (no table management).
TABLE_WRITE_ACTIONS = (
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)


def _attribute(key: tuple[str, str]) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key[0], type=_ATTRIBUTE_TYPES[key[1]])


class DataStores(Construct):
    """One table per ``TABLE_SPECS`` entry and one bucket per ``BUCKET_SPECS`` entry.

    Tables: on-demand, point-in-time recovery, encrypted with the AWS managed key, retained on
    stack deletion. Buckets: private, encrypted, versioned, TLS only, access-logged.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table_specs: dict[str, Any],
        bucket_specs: dict[str, Any],
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self.table_specs = table_specs
        self.bucket_specs = bucket_specs
        self.tables: dict[str, dynamodb.Table] = {}
        self.buckets: dict[str, s3.Bucket] = {}

        for key, spec in table_specs.items():
            table = dynamodb.Table(
                self,
                ids.table_logical_id(key),
                partition_key=_attribute(spec.partition_key),
                sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                time_to_live_attribute=spec.ttl_attribute,
                deletion_protection=removal_policy == cdk.RemovalPolicy.RETAIN,
                removal_policy=removal_policy,
            )
            for index_name, pk, sk in spec.indexes:
                table.add_global_secondary_index(
                    index_name=index_name,
                    partition_key=_attribute(pk),
                    sort_key=_attribute(sk) if sk else None,
                    projection_type=dynamodb.ProjectionType.ALL,
                )
            _pin(table, ids.table_logical_id(key))
            self.tables[key] = table

        self.access_logs = s3.Bucket(
            self,
            ids.ACCESS_LOGS_BUCKET,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            enforce_ssl=True,
            versioned=True,  # a deleted or overwritten log object stays recoverable for 30 days
            lifecycle_rules=[
                s3.LifecycleRule(expiration=cdk.Duration.days(365), noncurrent_version_expiration=cdk.Duration.days(30))
            ],
            removal_policy=removal_policy,
        )
        _pin(self.access_logs, ids.ACCESS_LOGS_BUCKET)
        for key in bucket_specs:
            bucket = s3.Bucket(
                self,
                ids.bucket_logical_id(key),
                encryption=s3.BucketEncryption.S3_MANAGED,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                versioned=True,
                server_access_logs_bucket=self.access_logs,
                server_access_logs_prefix=f"{key}/",
                removal_policy=removal_policy,
            )
            _pin(bucket, ids.bucket_logical_id(key))
            self.buckets[key] = bucket

    def environment(self) -> dict[str, str]:
        """Every table and bucket name under its spec's environment variable."""
        env = {self.table_specs[key].env: table.table_name for key, table in self.tables.items()}
        env.update({self.bucket_specs[key].env: bucket.bucket_name for key, bucket in self.buckets.items()})
        return env

    def table_resources(self, key: str) -> list[str]:
        """The ARNs of table ``key`` and of each of its indexes, named one by one (no wildcard)."""
        table = self.tables[key]
        return [table.table_arn, *(f"{table.table_arn}/index/{name}" for name, _, _ in self.table_specs[key].indexes)]

    def grant_tables(self, role: iam.IRole, keys: tuple[str, ...], *, write: bool) -> None:
        """Item-level access to the tables ``keys`` (and their indexes)."""
        if not keys:
            return
        actions = [*TABLE_READ_ACTIONS, *(TABLE_WRITE_ACTIONS if write else ())]
        resources = [arn for key in keys for arn in self.table_resources(key)]
        role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources))

    def grant_buckets(self, role: iam.IRole, keys: tuple[str, ...], *, write: bool) -> None:
        """Object get (and put) in the buckets ``keys``; no listing, no deleting (buckets are versioned)."""
        if not keys:
            return
        actions = ["s3:GetObject", *(("s3:PutObject",) if write else ())]
        resources = [self.buckets[key].arn_for_objects("*") for key in keys]
        role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources))


def _pin(construct: Construct, logical_id: str) -> None:
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnResource)
    child.override_logical_id(logical_id)
