"""The chain settings of the anchoring and billing functions: the signer key in Secrets Manager, the
node's RPC URL and the ``AnchorRegistry`` address as stack parameters (set at deploy time).

The secret is created with a random placeholder; put the real key in after the first deployment
(``aws secretsmanager put-secret-value --secret-id <ChainSignerSecretArn> --secret-string
'{"private_key": "0x..."}'``). Until then anchoring fails closed with a configuration error.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from twinledger_iac import logical_ids as ids

__all__ = ["Chain"]


class Chain(Construct):
    """Signer secret and chain location; :meth:`environment` is what the functions read."""

    def __init__(
        self, scope: Construct, construct_id: str, *, removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN
    ) -> None:
        super().__init__(scope, construct_id)
        self.signer_key = secretsmanager.Secret(
            self,
            ids.CHAIN_SIGNER_SECRET,
            description='twinledger chain signer: {"private_key": "0x..."} of the anchoring account',
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template='{"private_key": ""}',
                generate_string_key="placeholder",
                exclude_punctuation=True,
            ),
            removal_policy=removal_policy,
        )
        self.rpc_url = cdk.CfnParameter(
            self,
            ids.CHAIN_RPC_URL_PARAM,
            type="String",
            description="JSON-RPC URL of the permissioned Ethereum node the anchors are written to",
            allowed_pattern=r"^https?://\S+$",
            constraint_description="an http(s) URL",
        )
        self.rpc_url.override_logical_id(ids.CHAIN_RPC_URL_PARAM)
        self.registry_address = cdk.CfnParameter(
            self,
            ids.ANCHOR_REGISTRY_PARAM,
            type="String",
            description="Address of the deployed AnchorRegistry contract",
            allowed_pattern=r"^0x[0-9a-fA-F]{40}$",
            constraint_description="a 20-byte hex address (0x...)",
        )
        self.registry_address.override_logical_id(ids.ANCHOR_REGISTRY_PARAM)

    def environment(self) -> dict[str, str]:
        """Chain settings for the functions (names as in ``chalicelib.adapters.chain.config``)."""
        return {
            "TWINLEDGER_CHAIN_RPC_URL": self.rpc_url.value_as_string,
            "TWINLEDGER_ANCHOR_REGISTRY": self.registry_address.value_as_string,
            "TWINLEDGER_CHAIN_KEY_SECRET_ID": self.signer_key.secret_arn,
            "TWINLEDGER_CHAIN_KEY_SECRET_ARN": self.signer_key.secret_arn,
        }

    def grant_signer(self, role: iam.IRole) -> None:
        """Read the signer key (``GetSecretValue`` on this one secret)."""
        self.signer_key.grant_read(role)
