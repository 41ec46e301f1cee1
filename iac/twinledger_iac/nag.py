"""cdk-nag: the AWS Solutions checks and every acknowledged finding, each with its written reason.

Findings are acknowledged one by one on the narrowest construct (cdk-nag 3 matches each finding by
its id, e.g. ``AwsSolutions-IAM5[Resource::<ArchiveBucket.Arn>/*]``). The Chalice resources
(``AWS::Serverless::*``) are expanded by the SAM transform at deployment, so cdk-nag does not see
them; the constructs around them supply what its Lambda and API Gateway rules ask for (own role per
function, log groups with retention, Cognito authorizer on every route).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from twinledger_iac import logical_ids as ids
from twinledger_iac.access import access_of

if TYPE_CHECKING:
    from twinledger_iac.stack import TwinLedgerStack

__all__ = ["REASONS", "acknowledge", "add_checks"]

#: Why each accepted finding is accepted.
REASONS = {
    "bucket-objects": (
        "Object-level access needs the bucket's object ARN with '/*': the function reads (and writes) objects "
        "it names itself (archived raw payloads, invoice documents); no listing, no deletion, one bucket only."
    ),
    "thing-shadows": (
        "Shadows of every registered machine: the set of things grows at run time and thing names are not known "
        "at deployment. Only GetThingShadow/UpdateThingShadow are allowed, in this account and region; the "
        "gateways themselves cannot write these shadows (see the gateway IoT policy)."
    ),
    "AwsSolutions-SMG4": (
        "The chain signer key is an Ethereum account key: rotating it means granting the new address the "
        "anchoring role on the AnchorRegistry contract first, which no rotation Lambda can do safely. It is "
        "rotated by the documented manual procedure (docs/deploy.md)."
    ),
    "xray": (
        "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions (the service "
        "authorization reference lists no resource types for them): '*' is the only resource they accept."
    ),
    "model-ecr-token": (
        "ecr:GetAuthorizationToken has no resource-level permissions; the image layers themselves are read from "
        "the serving image's own repository only. cloudwatch:PutMetricData is limited to the "
        "/aws/sagemaker/Endpoints namespace by condition."
    ),
    "model-logs": (
        "SageMaker writes each instance's log stream into the endpoint's own log group "
        "(/aws/sagemaker/Endpoints/<endpoint name>); the stream names are chosen by SageMaker at run time."
    ),
    "AwsSolutions-IAM4-apigw": (
        "AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS documents for API Gateway's account-level "
        "logging role; API Gateway creates the execution log groups itself, so the policy cannot be narrowed to "
        "names known at deployment."
    ),
    "AwsSolutions-SQS3": (
        "The schedule failures queue is itself the failure destination of the scheduled functions (the role a "
        "dead-letter queue plays); a dead-letter queue behind it would only move the same events again."
    ),
    "AwsSolutions-CFR1": (
        "The dashboard's distribution serves static files only (no data: every figure comes from the signed-in "
        "API); the lessor's and lessees' staff sign in from wherever their plants are, so no country is excluded."
    ),
    "AwsSolutions-CFR2": (
        "The distribution serves the dashboard's static files, which hold no data; the API behind the sign-in has "
        "its own throttling. A WAF web ACL (a per-deployment charge) can be attached without changing the stack."
    ),
    "AwsSolutions-CFR4": (
        "Without a custom domain the distribution uses CloudFront's default certificate, for which CloudFront "
        "fixes the security policy; a deployment with its own domain and ACM certificate gets TLSv1.2_2021 (set)."
    ),
    "bucket-deployment": (
        "The CDK's BucketDeployment handler copies the built dashboard from the asset bucket into the dashboard "
        "bucket and invalidates the distribution at deployment; its role, policy and runtime are the CDK's own, "
        "pinned with aws-cdk-lib, and it runs only during a deployment."
    ),
    "AwsSolutions-COG8": (
        "The Plus feature plan (threat protection) is a paid tier chosen per deployment; users are created by "
        "administrators only, MFA (TOTP) is required and tokens live one hour."
    ),
}


def add_checks(app: cdk.App) -> None:
    """Run the AWS Solutions pack on the whole app when it synthesises (synthesis fails on any finding)."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True))


def _ack(scope: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def _arn_part(stack: cdk.Stack, value: str, pseudo: str) -> str:
    return f"<{pseudo}>" if cdk.Token.is_unresolved(value) else value


def acknowledge(stack: TwinLedgerStack) -> None:
    """Acknowledge the findings the design accepts, on the narrowest construct, with the reason."""
    region = _arn_part(stack, stack.region, "AWS::Region")
    account = _arn_part(stack, stack.account, "AWS::AccountId")
    things = f"Resource::arn:<AWS::Partition>:iot:{region}:{account}:thing/*"
    for logical_id, role in stack.functions.roles.items():
        access = access_of(logical_id)
        if access.shadows:
            _ack(role, f"AwsSolutions-IAM5[{things}]", REASONS["thing-shadows"])
        for bucket in sorted(access.buckets()):
            _ack(
                role,
                f"AwsSolutions-IAM5[Resource::<{ids.bucket_logical_id(bucket)}.Arn>/*]",
                REASONS["bucket-objects"],
            )
    for role in stack.functions.roles.values():
        _ack(role, "AwsSolutions-IAM5[Resource::*]", REASONS["xray"])
    _ack(stack.anomaly.role, "AwsSolutions-IAM5[Resource::*]", REASONS["model-ecr-token"])
    endpoint_logs = (
        f"Resource::arn:<AWS::Partition>:logs:{region}:{account}:log-group:/aws/sagemaker/Endpoints/"
        f"{stack.anomaly.endpoint_name}:*"
    )
    _ack(stack.anomaly.role, f"AwsSolutions-IAM5[{endpoint_logs}]", REASONS["model-logs"])
    _ack(
        stack.operations.api_logs_role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        REASONS["AwsSolutions-IAM4-apigw"],
    )
    _ack(stack.operations.failures, "AwsSolutions-SQS3", REASONS["AwsSolutions-SQS3"])
    _ack(stack.chain.signer_key, "AwsSolutions-SMG4", REASONS["AwsSolutions-SMG4"])
    _ack(stack.auth.user_pool, "AwsSolutions-COG8", REASONS["AwsSolutions-COG8"])
    _acknowledge_dashboard(stack)


def _acknowledge_dashboard(stack: TwinLedgerStack) -> None:
    """The distribution's findings, and those of the CDK's bucket deployment handler (one per stack)."""
    for rule in ("AwsSolutions-CFR1", "AwsSolutions-CFR2", "AwsSolutions-CFR4"):
        _ack(stack.dashboard.distribution, rule, REASONS[rule])
    handlers = [c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")]
    region = _arn_part(stack, stack.region, "AWS::Region")
    account = _arn_part(stack, stack.account, "AWS::AccountId")
    assets = f"Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-{account}-{region}/*"
    bucket = stack.resolve(stack.dashboard.bucket.node.default_child.logical_id)  # type: ignore[union-attr]
    rules = [
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        *(f"AwsSolutions-IAM5[Action::s3:{a}]" for a in ("Abort*", "DeleteObject*", "GetBucket*", "GetObject*")),
        "AwsSolutions-IAM5[Action::s3:List*]",
        "AwsSolutions-IAM5[Resource::*]",
        f"AwsSolutions-IAM5[Resource::<{bucket}.Arn>/*]",
        f"AwsSolutions-IAM5[{assets}]",
        "AwsSolutions-L1",
    ]
    for handler in handlers:
        for rule in rules:
            _ack(handler, rule, REASONS["bucket-deployment"])
