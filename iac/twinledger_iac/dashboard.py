"""The web dashboard in AWS: its built files (``dashboard/dist``) in a private bucket behind CloudFront (origin
access control, HTTPS only, security headers), and Cognito's hosted UI as its sign-in.

The files go to ``dashboard/`` in the bucket with ``config.json`` beside them (the hosted UI's domain, the
dashboard's app client, the API's URL); the app client runs the authorization code flow with PKCE, public (no
secret), back to ``https://<distribution>/dashboard/``. The chain's JSON-RPC endpoint and the registry are the
deployment's (context ``dashboardRpcUrl``, ``anchorRegistry``), so the browser asks that node itself.

Example:
    >>> # Dashboard(stack, "Dashboard", user_pool=auth.user_pool, api_url=url, logs=data.access_logs)
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

__all__ = ["DASHBOARD_DIST", "Dashboard", "content_security_policy"]

#: What ``npm run build --prefix dashboard`` writes.
DASHBOARD_DIST = Path(__file__).resolve().parents[2] / "dashboard" / "dist"
PREFIX = "dashboard"


def content_security_policy(connect: list[str]) -> str:
    """The dashboard's policy: its own files only, and calls to itself, the API, Cognito and the chain.

    Example:
        >>> "script-src 'self'" in content_security_policy(["https://api.example"])
        True
    """
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"connect-src 'self' {' '.join(connect)}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


class Dashboard(Construct):
    """Bucket, distribution, the hosted UI's domain and the dashboard's app client; the files when built."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        user_pool: cognito.UserPool,
        api_url: str,
        logs: s3.IBucket,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        dist: Path = DASHBOARD_DIST,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        rpc_url = str(self.node.try_get_context("dashboardRpcUrl") or "")
        registry = str(self.node.try_get_context("anchorRegistry") or "")
        self.bucket = s3.Bucket(
            self,
            "DashboardBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=logs,
            server_access_logs_prefix="dashboard/",
            removal_policy=removal_policy,
        )
        self.domain = user_pool.add_domain(
            "HostedUi",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=f"twinledger-{stack.account}"),
        )
        cognito_url = f"https://{self.domain.domain_name}.auth.{stack.region}.amazoncognito.com"
        connect = [api_url.rstrip("/"), cognito_url, *([rpc_url] if rpc_url else [])]
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "DashboardHeaders",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(connect), override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=cdk.Duration.days(365), include_subdomains=True, override=True
                ),
            ),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "DashboardDistribution",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                response_headers_policy=headers,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
            ),
            default_root_object=f"{PREFIX}/index.html",
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            enable_logging=True,
            log_bucket=logs,
            log_file_prefix="cloudfront-dashboard/",
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
        )
        self.url = f"https://{self.distribution.distribution_domain_name}/{PREFIX}/"
        self.client = user_pool.add_client(
            "DashboardClient",
            generate_secret=False,
            prevent_user_existence_errors=True,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=[self.url],
                logout_urls=[self.url],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            read_attributes=cognito.ClientAttributes()
            .with_standard_attributes(email=True, email_verified=True)
            .with_custom_attributes("tenant", "role"),
            write_attributes=cognito.ClientAttributes().with_standard_attributes(email=True),
            id_token_validity=cdk.Duration.hours(1),
            access_token_validity=cdk.Duration.hours(1),
            refresh_token_validity=cdk.Duration.days(1),
        )
        self.config = {
            "mode": "aws",
            "api": api_url,
            "rpc_url": rpc_url or None,
            "anchor_registry": registry or None,
            "cognito": {"domain": cognito_url, "client_id": self.client.user_pool_client_id, "redirect": self.url},
            "refresh_s": 10,
        }
        self.deployment: s3deploy.BucketDeployment | None = None
        if (dist / "index.html").is_file():  # the built files ship with the stack; synthesis works without them
            self.deployment = s3deploy.BucketDeployment(
                self,
                "DashboardFiles",
                sources=[s3deploy.Source.asset(str(dist)), s3deploy.Source.json_data("config.json", self.config)],
                destination_bucket=self.bucket,
                destination_key_prefix=PREFIX,
                distribution=self.distribution,
                distribution_paths=[f"/{PREFIX}/*"],
                memory_limit=256,
            )
