#!/usr/bin/env python3
"""The twinledger CDK app: ``python iac/app.py`` (or ``cdk synth`` in ``iac/``) synthesises offline.

Needs a region (``CDK_DEFAULT_REGION`` or ``AWS_DEFAULT_REGION``) and no credentials: nothing here
calls AWS. ``chalice package`` runs during synthesis and fetches the Lambda wheels from PyPI.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import aws_cdk as cdk
from twinledger_iac import TwinLedgerStack, nag


def main() -> None:
    """Synthesise the twinledger stack into ``cdk.out`` (or the CLI's output directory)."""
    region = os.environ.get("CDK_DEFAULT_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        sys.exit("set CDK_DEFAULT_REGION or AWS_DEFAULT_REGION: the stack is built for one region")
    # chalice package reads the region from the AWS variables only.
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    # The CDK CLI passes its output directory in CDK_OUTDIR; run directly, write next to this file.
    outdir = None if os.environ.get("CDK_OUTDIR") else str(Path(__file__).resolve().parent / "cdk.out")
    app = cdk.App(outdir=outdir)
    TwinLedgerStack(
        app,
        env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=region),
        description="twinledger: trusted machine data for leased CNC machines",
    )
    nag.add_checks(app)
    app.synth()


if __name__ == "__main__":
    main()
