"""Cognito: the user pool whose tokens carry ``custom:tenant`` and ``custom:role``, its app client, and
the API Gateway authorizer that verifies them before any route runs.

Users never set their own tenant or role: the app client may read both attributes but write
neither; an administrator sets them (``aws cognito-idp admin-create-user ... custom:tenant=...``).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from twinledger_iac import logical_ids as ids

__all__ = ["Auth"]


class Auth(Construct):
    """User pool (admin-created users, strong passwords, TOTP MFA required) and a public app client."""

    def __init__(
        self, scope: Construct, construct_id: str, *, removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            ids.USER_POOL,
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True, username=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            custom_attributes={
                "tenant": cognito.StringAttribute(min_len=1, max_len=128, mutable=True),
                "role": cognito.StringAttribute(min_len=1, max_len=32, mutable=True),
            },
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
            ),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=removal_policy,
        )
        self.client = self.user_pool.add_client(
            ids.USER_POOL_CLIENT,
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            # Sign-in is SRP against the pool; no hosted UI, so no OAuth flows or callback URLs.
            disable_o_auth=True,
            prevent_user_existence_errors=True,
            read_attributes=cognito.ClientAttributes()
            .with_standard_attributes(email=True, email_verified=True)
            .with_custom_attributes("tenant", "role"),
            # Tenant and role are set by an administrator only: never writable through the client.
            write_attributes=cognito.ClientAttributes().with_standard_attributes(email=True),
            id_token_validity=cdk.Duration.hours(1),
            access_token_validity=cdk.Duration.hours(1),
            refresh_token_validity=cdk.Duration.days(30),
        )

    def authorizer(self) -> dict[str, Any]:
        """The OpenAPI security scheme of API Gateway's Cognito authorizer on this pool (ID tokens)."""
        return {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "x-amazon-apigateway-authtype": "cognito_user_pools",
            "x-amazon-apigateway-authorizer": {
                "type": "cognito_user_pools",
                "providerARNs": [self.user_pool.user_pool_arn],
            },
        }
