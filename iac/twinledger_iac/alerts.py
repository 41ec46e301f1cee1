"""The SNS topic for critical machine-health alerts (``TWINLEDGER_ALERT_TOPIC_ARN``)."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from twinledger_iac import logical_ids as ids

__all__ = ["Alerts"]


class Alerts(Construct):
    """An encrypted, TLS-only topic; subscribers (e-mail, pager) are added after deployment."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            ids.ALERT_TOPIC,
            display_name="twinledger machine alerts",
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
            enforce_ssl=True,
        )

    def environment(self) -> dict[str, str]:
        """The topic ARN for the functions."""
        return {"TWINLEDGER_ALERT_TOPIC_ARN": self.topic.topic_arn}

    def grant_publish(self, role: iam.IRole) -> None:
        """Publish to the alert topic."""
        role.add_to_principal_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn]))
