"""One synthesis of the twinledger stack (with cdk-nag) shared by every infrastructure test.

Synthesis runs ``chalice package`` (which fetches the Lambda wheels from PyPI) and takes tens of
seconds, so it runs once per session; no AWS call is made and no credentials are needed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
IAC_DIR = REPO_ROOT / "iac"
if str(IAC_DIR) not in sys.path:
    sys.path.append(str(IAC_DIR))  # after functions/: both hold an ``app`` module
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

REGION = "eu-central-1"


@dataclass
class Synthesized:
    """The stack, its template and the raw template JSON."""

    stack: Any
    template: Any
    resources: dict[str, dict[str, Any]]
    #: The synthesised template file (for scanners).
    template_path: Path

    def of_type(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        """Resources of one CloudFormation type, by logical id."""
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    """The stack synthesised once, with the AWS Solutions checks (synthesis fails on any finding)."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template
    from twinledger_iac import TwinLedgerStack, nag

    saved = dict(os.environ)  # chalice package exports the stage's variables (CDK tokens) into os.environ
    try:
        os.environ["AWS_DEFAULT_REGION"] = REGION
        for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        outdir = tmp_path_factory.mktemp("cdk.out")
        app = cdk.App(outdir=str(outdir))
        stack = TwinLedgerStack(app, env=cdk.Environment(region=REGION))
        nag.add_checks(app)
        assembly = app.synth()
        template = Template.from_stack(stack)
        resources = assembly.get_stack_by_name(stack.stack_name).template["Resources"]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    template_path = outdir / str(stack.template_file)
    yield Synthesized(stack=stack, template=template, resources=resources, template_path=template_path)


@pytest.fixture(scope="session")
def table_specs() -> dict[str, Any]:
    """``chalicelib.adapters.tables.TABLE_SPECS``."""
    from chalicelib.adapters.tables import TABLE_SPECS

    return dict(TABLE_SPECS)


@pytest.fixture(scope="session")
def bucket_specs() -> dict[str, Any]:
    """``chalicelib.adapters.tables.BUCKET_SPECS``."""
    from chalicelib.adapters.tables import BUCKET_SPECS

    return dict(BUCKET_SPECS)
