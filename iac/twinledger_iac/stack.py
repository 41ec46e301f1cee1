"""The twinledger stack: composes one construct per concern and grants each function its profile."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from twinledger_iac import logical_ids as ids
from twinledger_iac import nag
from twinledger_iac.access import access_of
from twinledger_iac.alerts import Alerts
from twinledger_iac.anomaly import AnomalyEndpoint
from twinledger_iac.auth import Auth
from twinledger_iac.chain import Chain
from twinledger_iac.dashboard import Dashboard
from twinledger_iac.data import DataStores
from twinledger_iac.federated import FederationLink
from twinledger_iac.functions import ChaliceFunctions
from twinledger_iac.ingest import TelemetryIngest
from twinledger_iac.iot import GatewayIdentity
from twinledger_iac.operations import Operations
from twinledger_iac.project import bucket_specs, stage_settings, table_specs

__all__ = ["TwinLedgerStack"]

#: The SageMaker endpoint the ingest function scores feature windows with (context ``anomalyEndpoint``).
DEFAULT_ANOMALY_ENDPOINT = "twinledger-anomaly"
#: Stage-wide API throttling (requests per second, burst).
API_RATE_PER_S = 50
API_BURST = 100


class TwinLedgerStack(cdk.Stack):
    """Data stores, ingest, auth, IoT, chain settings, alerts, the anomaly endpoint, the Chalice functions and
    their operations (logs, traces, alarms).

    Context: ``removalPolicy`` (``retain``, the default, or ``destroy`` for throw-away stacks) and
    ``anomalyEndpoint`` (the SageMaker endpoint name).
    """

    def __init__(self, scope: Construct, construct_id: str = ids.STACK, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # S3 server access logs are granted by a bucket policy, not the legacy LogDeliveryWrite ACL.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        removal = (
            cdk.RemovalPolicy.DESTROY
            if str(self.node.try_get_context("removalPolicy") or "retain").lower() == "destroy"
            else cdk.RemovalPolicy.RETAIN
        )
        anomaly_endpoint = str(self.node.try_get_context("anomalyEndpoint") or DEFAULT_ANOMALY_ENDPOINT)
        stage = stage_settings()

        self.data = DataStores(
            self, ids.DATA, table_specs=table_specs(), bucket_specs=bucket_specs(), removal_policy=removal
        )
        self.alerts = Alerts(self, ids.ALERTS)
        self.auth = Auth(self, ids.AUTH, removal_policy=removal)
        self.chain = Chain(self, ids.CHAIN, removal_policy=removal)
        self.gateways = GatewayIdentity(self, ids.IOT)
        self.ingest = TelemetryIngest(
            self, ids.INGEST, function_timeout=cdk.Duration.seconds(stage.timeout_of(ids.INGEST_CHALICE_NAME))
        )

        self.anomaly = AnomalyEndpoint(self, ids.ANOMALY, endpoint_name=anomaly_endpoint)

        environment = {
            "TWINLEDGER_AUTH_MODE": "cognito",
            "TWINLEDGER_ANOMALY_ENDPOINT": anomaly_endpoint,
            "TWINLEDGER_JSON_LOGS": "true",
            # traces carry timings and calls, never tenant data
            "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
            "POWERTOOLS_TRACER_CAPTURE_ERROR": "true",
            **self.data.environment(),
            **self.alerts.environment(),
            **self.chain.environment(),
        }
        self.functions = ChaliceFunctions(self, ids.FUNCTIONS, environment=environment, stage=stage)

        for logical_id, role in self.functions.roles.items():
            self._grant(logical_id, role)
        ingest = self.functions.function(ids.INGEST_FUNCTION)
        self.event_source = self.ingest.feed(ingest.ref, self.functions.roles[ids.INGEST_FUNCTION])
        self.ingest.alarm_on_dead_letters(self.alerts.topic)
        self.secured_routes = self.functions.require_authorizer(ids.COGNITO_AUTHORIZER, self.auth.authorizer())
        self.problem_paths = self.functions.answer_problems(ids.COGNITO_AUTHORIZER)
        self.functions.throttle_api(rate_per_s=API_RATE_PER_S, burst=API_BURST)
        self.operations = Operations(self, ids.OPERATIONS, functions=self.functions, topic=self.alerts.topic)

        self.federation = FederationLink(self, "Federation")  # the lessor's Flower SuperLink (docs/federated.md)
        self.dashboard = Dashboard(  # the web dashboard on CloudFront, signed in by Cognito's hosted UI
            self,
            "Dashboard",
            user_pool=self.auth.user_pool,
            api_url=self._api_url(),
            logs=self.data.access_logs,
            removal_policy=removal,
        )

        self._outputs()
        nag.acknowledge(self)

    def _grant(self, logical_id: str, role: iam.Role) -> None:
        access = access_of(logical_id)
        self.data.grant_tables(role, access.read_tables, write=False)
        self.data.grant_tables(role, access.write_tables, write=True)
        self.data.grant_buckets(role, access.read_buckets, write=False)
        self.data.grant_buckets(role, access.write_buckets, write=True)
        if access.shadows:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["iot:GetThingShadow", "iot:UpdateThingShadow"],
                    resources=[self.format_arn(service="iot", resource="thing", resource_name="*")],
                )
            )
        if access.chain_signer:
            self.chain.grant_signer(role)
        if access.anomaly_endpoint:
            self.anomaly.grant_invoke(role)
        if access.alerts:
            self.alerts.grant_publish(role)

    def _api_url(self) -> str:
        api = self.functions.rest_api()
        stage = stage_settings().api_gateway_stage
        return f"https://{api.ref}.execute-api.{self.region}.{self.url_suffix}/{stage}/"

    def _outputs(self) -> None:
        cdk.CfnOutput(self, ids.OUTPUT_API_URL, value=self._api_url(), description="Base URL of the HTTP API")
        cdk.CfnOutput(self, "DashboardUrl", value=self.dashboard.url, description="The web dashboard")
        cdk.CfnOutput(self, ids.OUTPUT_USER_POOL_ID, value=self.auth.user_pool.user_pool_id)
        cdk.CfnOutput(self, ids.OUTPUT_USER_POOL_CLIENT_ID, value=self.auth.client.user_pool_client_id)
        cdk.CfnOutput(self, ids.OUTPUT_TELEMETRY_QUEUE_URL, value=self.ingest.queue.queue_url)
        cdk.CfnOutput(self, ids.OUTPUT_GATEWAY_POLICY, value=self.gateways.policy.ref)
        cdk.CfnOutput(self, ids.OUTPUT_CHAIN_SECRET_ARN, value=self.chain.signer_key.secret_arn)
        cdk.CfnOutput(self, ids.OUTPUT_ALERT_TOPIC_ARN, value=self.alerts.topic.topic_arn)
        cdk.CfnOutput(self, ids.OUTPUT_ANOMALY_ENDPOINT, value=self.anomaly.endpoint.attr_endpoint_name)
        cdk.CfnOutput(self, ids.OUTPUT_ACCESS_LOGS, value=self.operations.access_logs.log_group_name)
