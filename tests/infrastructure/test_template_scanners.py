"""cfn-lint and checkov over the synthesised template: every finding is fixed or acknowledged with a reason.

The acknowledgements are ``iac/scanners-acknowledged.yaml``. A finding no entry matches fails the test, and
so does an entry that matches no finding (it would hide the next one).
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infrastructure.conftest import REPO_ROOT, Synthesized

pytestmark = pytest.mark.integration

ACKNOWLEDGED = REPO_ROOT / "iac" / "scanners-acknowledged.yaml"
#: checkov lives in its own environment (it pins boto3 far below the project's): scripts/setup.sh test.
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"


def _acknowledged(tool: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load(ACKNOWLEDGED.read_text(encoding="utf-8"))[tool]
    return entries


def _unmatched(
    findings: list[tuple[str, str]], entries: list[dict[str, Any]], key: str
) -> tuple[list[tuple[str, str]], list[str]]:
    """Findings ``(rule, resource)`` no entry acknowledges, and entries that acknowledge nothing."""
    used: set[int] = set()
    open_findings = []
    for rule, resource in findings:
        matches = [
            i
            for i, entry in enumerate(entries)
            if entry[key] == rule and any(fnmatch.fnmatchcase(resource, p) for p in entry["resources"])
        ]
        used.update(matches)
        if not matches:
            open_findings.append((rule, resource))
    stale = [f"{entry[key]} {entry['resources']}" for i, entry in enumerate(entries) if i not in used]
    return open_findings, stale


def test_every_acknowledgement_has_a_reason() -> None:
    for tool, key in (("cfn-lint", "rule"), ("checkov", "check")):
        for entry in _acknowledged(tool):
            assert entry[key] and entry["resources"], entry
            assert len(str(entry.get("reason", "")).split()) >= 12, f"{tool} {entry[key]}: give the reason"


def test_the_matcher_reports_open_findings_and_stale_entries() -> None:
    entries = [{"check": "CKV_1", "resources": ["AWS::SQS::Queue.*"]}, {"check": "CKV_2", "resources": ["*"]}]
    open_findings, stale = _unmatched(
        [("CKV_1", "AWS::SQS::Queue.Q"), ("CKV_1", "AWS::S3::Bucket.B")], entries, "check"
    )
    assert open_findings == [("CKV_1", "AWS::S3::Bucket.B")] and stale == ["CKV_2 ['*']"]


def test_cfn_lint_finds_nothing_unacknowledged(synthesized: Synthesized) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "json", "--", str(synthesized.template_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 2, 4, 6, 8, 10, 12, 14), done.stderr  # bit 1 would be a crash
    matches = json.loads(done.stdout or "[]")
    findings = []
    for match in matches:
        path = match.get("Location", {}).get("Path") or []
        resource = str(path[1]) if len(path) > 1 and path[0] == "Resources" else ""
        findings.append((str(match["Rule"]["Id"]), resource))
    open_findings, stale = _unmatched(findings, _acknowledged("cfn-lint"), "rule")
    assert open_findings == [], open_findings
    assert stale == [], f"acknowledged but not found any more: {stale}"


def test_checkov_finds_nothing_unacknowledged(synthesized: Synthesized, tmp_path: Path) -> None:
    if not CHECKOV.is_file():
        pytest.fail(f"{CHECKOV} is missing: run scripts/setup.sh test (checkov has its own environment)")
    done = subprocess.run(
        [
            str(CHECKOV),
            "--quiet",
            "--compact",
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--skip-download",
            "-f",
            str(synthesized.template_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    report = json.loads(done.stdout)
    report = report[0] if isinstance(report, list) else report
    assert report["summary"]["parsing_errors"] == 0 and report["summary"]["resource_count"] > 50
    findings = [(str(f["check_id"]), str(f["resource"])) for f in report["results"]["failed_checks"]]
    open_findings, stale = _unmatched(findings, _acknowledged("checkov"), "check")
    assert open_findings == [], open_findings
    assert stale == [], f"acknowledged but not found any more: {stale}"
