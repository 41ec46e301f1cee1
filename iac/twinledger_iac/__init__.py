"""twinledger's AWS CDK app: one construct per concern, composed by :class:`TwinLedgerStack`.

Example:
    >>> import aws_cdk as cdk
    >>> from twinledger_iac import TwinLedgerStack
    >>> app = cdk.App()
    >>> stack = TwinLedgerStack(app, "TwinLedger", env=cdk.Environment(region="eu-central-1"))  # doctest: +SKIP
"""

from __future__ import annotations

from twinledger_iac.stack import TwinLedgerStack

__all__ = ["TwinLedgerStack"]
