"""The web dashboard in the stack: private files behind CloudFront, security headers, Cognito's hosted UI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from twinledger_iac.dashboard import DASHBOARD_DIST

from tests.infrastructure.conftest import Synthesized

pytestmark = pytest.mark.integration


def _one(synthesized: Synthesized, cfn_type: str, prefix: str = "") -> dict[str, Any]:
    found = [r for k, r in synthesized.of_type(cfn_type).items() if k.startswith(prefix)]
    assert len(found) == 1, (cfn_type, prefix, len(found))
    properties: dict[str, Any] = found[0]["Properties"]
    return properties


def test_the_files_are_private_and_served_by_cloudfront_over_https_only(synthesized: Synthesized) -> None:
    bucket = _one(synthesized, "AWS::S3::Bucket", "DashboardDashboardBucket")
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    config = _one(synthesized, "AWS::CloudFront::Distribution")["DistributionConfig"]
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["Origins"][0]["OriginAccessControlId"]  # origin access control, not a public website
    assert config["DefaultRootObject"] == "dashboard/index.html"
    assert config["Logging"]["Bucket"]
    assert synthesized.of_type("AWS::CloudFront::OriginAccessControl")


def test_the_pages_are_held_to_their_own_scripts_by_a_content_security_policy(synthesized: Synthesized) -> None:
    policy = _one(synthesized, "AWS::CloudFront::ResponseHeadersPolicy")["ResponseHeadersPolicyConfig"]
    security = policy["SecurityHeadersConfig"]
    csp = json.dumps(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp and "amazoncognito.com" in csp
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31_536_000


def test_users_sign_in_through_the_hosted_ui_with_the_code_flow(synthesized: Synthesized) -> None:
    assert synthesized.of_type("AWS::Cognito::UserPoolDomain")
    clients = [c["Properties"] for c in synthesized.of_type("AWS::Cognito::UserPoolClient").values()]
    dashboard = [c for c in clients if c.get("AllowedOAuthFlows")]
    assert len(dashboard) == 1
    client = dashboard[0]
    assert client["AllowedOAuthFlows"] == ["code"] and client["GenerateSecret"] is False
    assert "dashboard/" in json.dumps(client["CallbackURLs"])
    assert "custom:tenant" not in client.get("WriteAttributes", [])


def test_the_built_dashboard_ships_with_the_stack(synthesized: Synthesized) -> None:
    deployments = synthesized.of_type("Custom::CDKBucketDeployment")
    if not (DASHBOARD_DIST / "index.html").is_file():
        assert deployments == {}  # synthesis works without a build; nothing is shipped then
        return
    (deployment,) = deployments.values()
    assert deployment["Properties"]["DestinationBucketKeyPrefix"] == "dashboard"
    assert len(deployment["Properties"]["SourceBucketNames"]) == 2  # the built files and config.json
