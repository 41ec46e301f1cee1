"""``twinledger maintenance``: plans and exported histories off line, against what the API serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.functional.maintenance_support import MACHINE, PLAN, Api, api, open_ticket
from twinledger.cli import main as cli

__all__ = ["api"]

EXAMPLE_PLAN = Path(__file__).resolve().parents[2] / "docs" / "examples" / "maintenance-plan.json"


def test_plan_check_and_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["maintenance", "plan-check", str(EXAMPLE_PLAN)]) == 0
    assert json.loads(capsys.readouterr().out)["machine_type"] == "vmc-800"
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps({**PLAN, "tasks": [{**PLAN["tasks"][0], "every": {}}]}))
    assert cli(["maintenance", "plan-check", str(bad)]) == 1
    assert capsys.readouterr().err.startswith("error: tasks.0.every")
    assert cli(["maintenance", "plan-check", str(tmp_path / "none.json")]) == 2
    assert cli(["maintenance", "plan-schema"]) == 0
    assert "MaintenancePlan" in json.loads(capsys.readouterr().out)["title"]


def test_tickets_and_due_from_an_exported_history(api: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ticket = open_ticket(api)
    api.clock.advance(minutes=20)
    api.ok("POST", f"/tickets/{ticket}/acknowledge", "operator")
    served = api.ok("GET", f"/machines/{MACHINE}/tickets", "operator")["items"]
    export = tmp_path / "history.json"
    export.write_text(json.dumps(api.ok("GET", f"/machines/{MACHINE}/maintenance/export", "operator")))

    assert cli(["maintenance", "tickets", str(export)]) == 0
    assert json.loads(capsys.readouterr().out) == served
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(PLAN))
    at = "2026-01-09T06:00:00Z"
    assert cli(["maintenance", "due", "--plan", str(plan), "--export", str(export), "--at", at]) == 0
    items = {i["task"]: i for i in json.loads(capsys.readouterr().out)["items"]}
    assert items["spindle-bearings"]["status"] == "overdue" and items["spindle-bearings"]["ticket"] == ticket
