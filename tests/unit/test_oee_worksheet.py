"""Published worked examples, through the API and through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin_models.oee import evaluate_scenario
from twinledger.cli import main
from twinledger.files.oee import load_scenario

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "docs" / "examples"
WORKSHEET = EXAMPLES / "oee-worksheet.json"
ROLLUP = EXAMPLES / "oee-rollup.json"


def test_classic_worksheet_reproduces_published_figures() -> None:
    # Vorne's classic OEE worksheet: 480 min shift, 60 min breaks, 47 min down, 1.0 s ideal,
    # 19,271 parts, 423 rejects -> A 88.81 %, P 86.11 %, Q 97.80 %, OEE 74.79 %.
    report = evaluate_scenario(load_scenario(WORKSHEET))
    m = report.machines[0]
    assert m.planned_production_time_s == 420 * 60
    assert m.run_time_s == 373 * 60
    assert (m.total_count, m.reject_count, m.good_count) == (19271, 423, 18848)
    assert m.availability is not None and m.performance is not None and m.quality is not None
    assert m.oee is not None
    assert round(m.availability, 4) == 0.8881
    assert round(m.performance, 4) == 0.8611
    assert round(m.quality, 4) == 0.9780
    assert round(m.oee, 4) == 0.7479
    assert m.breakdown_events == 1
    assert m.mttr_s == 47 * 60
    assert m.mtbf_s == 373 * 60
    assert m.warnings == []


def test_cli_prints_worksheet_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["oee", "--scenario", str(WORKSHEET), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    total = out["total"]
    assert [round(total[k], 4) for k in ("availability", "performance", "quality", "oee")] == [
        0.8881,
        0.8611,
        0.9780,
        0.7479,
    ]
    assert set(total["losses_s"]) == {
        "breakdowns",
        "setup_adjustments",
        "small_stops",
        "reduced_speed",
        "startup_rejects",
        "production_rejects",
        "idle",
        "unknown",
    }
    assert total["losses_s"]["breakdowns"] == 47 * 60
    assert total["losses_s"]["production_rejects"] == 423 * 1.0


def test_cli_by_shift_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["oee", "--scenario", str(WORKSHEET), "--by", "shift", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [p["label"] for p in out["periods"]] == ["2026-01-05 early"]
    assert out["periods"][0]["total"]["oee"] == pytest.approx(out["total"]["oee"])
    assert main(["oee", "--scenario", str(WORKSHEET)]) == 0
    assert "74.79" in capsys.readouterr().out


def test_cli_reports_bad_input_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    scenario = json.loads(WORKSHEET.read_text())
    scenario["machines"][0]["states"][0]["state"] = "dancing"
    bad.write_text(json.dumps(scenario))
    assert main(["oee", "--scenario", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "dancing" in err and "not a valid OEE scenario" in err
    assert main(["oee", "--scenario", str(tmp_path / "missing.json")]) == 1
    assert "cannot read scenario" in capsys.readouterr().err


def test_rollup_is_time_weighted_not_a_mean_of_percentages() -> None:
    report = evaluate_scenario(load_scenario(ROLLUP))
    machines = {m.machine_id: m for m in report.machines}
    oees = [m.oee for m in report.machines]
    assert all(o is not None for o in oees)
    mean_of_percentages = sum(o for o in oees if o is not None) / len(oees)
    pooled = sum(m.fully_productive_time_s for m in report.machines) / sum(
        m.planned_production_time_s for m in report.machines
    )
    t = report.total
    assert t.oee is not None
    assert t.oee == pytest.approx(pooled, rel=1e-12)
    assert abs(t.oee - mean_of_percentages) > 0.01
    assert t.availability is not None and t.performance is not None and t.quality is not None
    assert t.availability * t.performance * t.quality == pytest.approx(t.oee, rel=1e-12)
    line_a = next(line for line in report.lines if line.line == "line-a")
    assert line_a.machine_ids == ["cnc-01", "cnc-02"]
    a_machines = [machines["cnc-01"], machines["cnc-02"]]
    assert line_a.oee == pytest.approx(
        sum(m.fully_productive_time_s for m in a_machines) / sum(m.planned_production_time_s for m in a_machines)
    )
    # cnc-03 runs two programs with different ideal cycle times and a counter that was reset.
    c3 = machines["cnc-03"]
    assert c3.total_count == 450 + 150 + 20 + 100
    assert c3.net_run_time_s == pytest.approx(450 * 30.0 + 270 * 45.0)
    assert any("reset" in w for w in c3.warnings)


def test_dst_example_by_shift(capsys: pytest.CaptureFixture[str]) -> None:
    # 2026-03-29 in Berlin has 23 hours; the night shift that started on the 28th is 5 hours inside the day.
    assert main(["oee", "--scenario", str(EXAMPLES / "oee-dst-shifts.json"), "--by", "shift", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    periods = out["periods"]
    assert [p["label"] for p in periods] == [
        "2026-03-28 night",
        "2026-03-29 early",
        "2026-03-29 late",
        "2026-03-29 night",
    ]
    assert [p["total"]["all_time_s"] / 3600 for p in periods] == [5, 8, 8, 2]
    assert out["total"]["all_time_s"] == 23 * 3600
    early = periods[1]["total"]
    assert early["planned_production_time_s"] == 7.5 * 3600  # the machine stopped for its break
    assert early["losses_s"]["breakdowns"] == 1800
    assert periods[2]["total"]["planned_production_time_s"] == 8 * 3600  # it ran through this one
    assert sum(p["total"]["fully_productive_time_s"] for p in periods) / sum(
        p["total"]["planned_production_time_s"] for p in periods
    ) == pytest.approx(out["total"]["oee"])
