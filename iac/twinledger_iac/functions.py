"""The Chalice app (``functions/``) as CDK resources: ``chalice package`` output included in the stack.

Every function gets its own role, built from its profile in :mod:`twinledger_iac.access` (Chalice's
own policy generation is off), its own log group, and every resource name as an environment variable.
The REST API requires a Cognito ID token on every route: the authorizer is added to the OpenAPI body
Chalice generates, so routes need no decorator and read the verified claims from the request context.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from chalice.cdk import Chalice
from chalice.utils import to_cfn_resource_name
from constructs import Construct

from twinledger_iac import logical_ids as ids
from twinledger_iac.problems import gateway_responses, method_not_allowed
from twinledger_iac.project import REPO_ROOT, StageSettings

__all__ = ["ChaliceFunctions", "staged_functions"]

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
#: Chalice needs a role ARN when it does not manage roles; every function's is replaced by its own role.
_ROLE_PLACEHOLDER = "arn:aws:iam::000000000000:role/replaced-by-the-cdk-app"
#: Where ``chalice package`` writes its bundles during synthesis (ignored by git).
PACKAGE_DIR = REPO_ROOT / "build" / "cdk"


def staged_functions() -> contextlib.AbstractContextManager[Path]:
    """The Chalice project as it is packaged: a copy of ``functions/`` whose ``requirements.txt`` is the lock
    ``requirements/lambda.lock`` and whose ``vendor/`` holds ``twin_models`` (Chalice bundles only what is in
    the project); see ``twinledger.packaging.staged_project``."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from twinledger.packaging import staged_project

    return staged_project(PACKAGE_DIR / "project")


def _drop_old_bundles(folder: Path, max_age_s: float = 3600.0) -> None:
    """Remove the bundles of earlier syntheses (~40 MB each); a synthesis writes its own afresh."""
    if not folder.is_dir():
        return
    cutoff = time.time() - max_age_s
    for entry in folder.iterdir():
        if entry.stat().st_mtime >= cutoff:
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


@contextlib.contextmanager
def _working_dir(path: Path) -> Iterator[None]:
    """Run in ``path``: the Chalice construct writes ``chalice.out`` into the working directory."""
    path.mkdir(parents=True, exist_ok=True)
    _drop_old_bundles(path / "chalice.out")
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


class ChaliceFunctions(Construct):
    """The packaged Chalice app with one role and one log group per function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: dict[str, str],
        stage: StageSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        stage_config: dict[str, Any] = {
            "api_gateway_stage": stage.api_gateway_stage,
            "lambda_memory_size": stage.memory_size,
            "lambda_timeout": stage.timeout,
            "autogen_policy": False,
            "manage_iam_role": False,
            "iam_role_arn": _ROLE_PLACEHOLDER,
            "environment_variables": dict(environment),
        }
        with staged_functions() as project, _working_dir(PACKAGE_DIR):
            self.chalice = Chalice(self, ids.CHALICE_APP, source_dir=str(project), stage_config=stage_config)

        by_logical_id = {to_cfn_resource_name(name): name for name in stage.functions}
        self.functions: dict[str, cdk.CfnResource] = {}
        self.roles: dict[str, iam.Role] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        for child in self.chalice.sam_template.node.children:
            if not isinstance(child, cdk.CfnResource) or child.cfn_resource_type != SERVERLESS_FUNCTION:
                continue
            logical_id = child.node.id
            role = iam.Role(
                self,
                ids.function_role_id(logical_id),
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"twinledger function {logical_id}",
            )
            log_group = logs.LogGroup(
                self, ids.function_log_group_id(logical_id), retention=logs.RetentionDays.ONE_YEAR
            )
            log_group.grant_write(role)
            child.add_property_override("Role", role.role_arn)
            # JSON: Powertools lines stay one object each; the runtime's own lines become objects too.
            child.add_property_override(
                "LoggingConfig",
                {
                    "LogGroup": log_group.log_group_name,
                    "LogFormat": "JSON",
                    "ApplicationLogLevel": "INFO",
                    "SystemLogLevel": "WARN",
                },
            )
            chalice_name = by_logical_id.get(logical_id)
            if chalice_name is not None:
                child.add_property_override("Timeout", stage.timeout_of(chalice_name))
                child.add_property_override("MemorySize", stage.memory_of(chalice_name))
            child.node.add_dependency(role)
            self.functions[logical_id] = child
            self.roles[logical_id] = role
            self.log_groups[logical_id] = log_group

    def function(self, logical_id: str) -> cdk.CfnResource:
        """The ``AWS::Serverless::Function`` with ``logical_id`` (``Ingest``, ``APIHandler``, ...)."""
        return self.functions[logical_id]

    def scheduled(self) -> list[str]:
        """The logical ids of the functions an EventBridge schedule invokes (``@blueprint.schedule``)."""
        # Read from the SAM template chalice package wrote: the typed event properties of CfnInclude cannot
        # all be read back through jsii.
        template = json.loads((Path(self.chalice._sam_package_dir) / "sam.json").read_text(encoding="utf-8"))
        found = []
        for logical_id, resource in template.get("Resources", {}).items():
            events = resource.get("Properties", {}).get("Events", {}) if resource["Type"] == SERVERLESS_FUNCTION else {}
            if any(event.get("Type") == "Schedule" for event in events.values()):
                found.append(logical_id)
        return sorted(found)

    def rest_api(self) -> cdk.CfnResource:
        """The ``AWS::Serverless::Api`` of the HTTP routes."""
        api: cdk.CfnResource = self.chalice.get_resource(ids.REST_API)
        return api

    def definition_body(self) -> dict[str, Any]:
        """The REST API's OpenAPI body as Chalice generated it."""
        body = getattr(self.rest_api(), "definition_body", None)
        return dict(body) if isinstance(body, dict) else {}

    def throttle_api(self, rate_per_s: int, burst: int) -> None:
        """Cap every route of the REST API stage (API Gateway answers 429 above the cap)."""
        self.rest_api().add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": rate_per_s,
                    "ThrottlingBurstLimit": burst,
                }
            ],
        )

    def answer_problems(self, scheme_name: str) -> list[str]:
        """API Gateway's own errors as problem details, and a 405 problem for every method a path does not
        declare (secured by ``scheme_name`` like the routes); returns the paths that got one.

        See :mod:`twinledger_iac.problems`.
        """
        api = self.rest_api()
        api.add_property_override("DefinitionBody.x-amazon-apigateway-gateway-responses", gateway_responses())
        covered = []
        for path, operations in self.definition_body().get("paths", {}).items():
            declared = [m.lower() for m, op in operations.items() if isinstance(op, dict)]
            escaped = path.replace(".", "\\.")
            api.add_property_override(
                f"DefinitionBody.paths.{escaped}.x-amazon-apigateway-any-method",
                {**method_not_allowed(declared), "security": [{scheme_name: []}]},
            )
            covered.append(path)
        return covered

    def require_authorizer(self, scheme_name: str, scheme: dict[str, Any]) -> list[str]:
        """Put ``scheme`` on every route but CORS preflights; returns the secured ``METHOD path`` pairs."""
        api = self.rest_api()
        api.add_property_override(f"DefinitionBody.securityDefinitions.{scheme_name}", scheme)
        secured = []
        for path, operations in self.definition_body().get("paths", {}).items():
            for method, operation in operations.items():
                if method.lower() == "options" or not isinstance(operation, dict):
                    continue
                escaped = path.replace(".", "\\.")
                api.add_property_override(f"DefinitionBody.paths.{escaped}.{method}.security", [{scheme_name: []}])
                secured.append(f"{method.upper()} {path}")
        return secured
