"""The demo runs the whole path in-process, and its figures agree with each other.

The demo runs once for the module, through the command line (``twinledger demo --json``), with the
options that make it quickest while keeping a faulty machine in the fleet: three machines (cnc-03 carries
the bearing fault), one day, the largest envelopes. The same run's result is also rendered as the text
report, so the JSON document and the text are compared figure for figure.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from twinledger.cli import main
from twinledger.cli.demo import MAX_BATCH
from twinledger.local import demo as demo_module
from twinledger.local.demo import NEXT_STEPS, DemoResult, write_report

ARGS = ["demo", "--machines", "3", "--days", "1", "--seed", "7", "--batch", str(MAX_BATCH)]
PHASES = (
    "commissioning the anomaly model",
    "registering the fleet and the lease",
    "edge and ingest",
    "schedules and the parties' API reads",
    "federating the failure model",
)


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    result: DemoResult
    document: dict[str, Any]
    text: str


@pytest.fixture(scope="module")
def run() -> Run:
    """``twinledger demo --json`` once; the result it printed is kept (a spy on ``run_demo``)."""
    seen: list[DemoResult] = []
    real = demo_module.run_demo

    def spy(**kwargs: Any) -> DemoResult:
        seen.append(real(**kwargs))
        return seen[-1]

    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        patch.setattr(demo_module, "run_demo", spy)
        code = main([*ARGS, "--json"])
    assert len(seen) == 1
    text = io.StringIO()
    write_report(seen[0], text)
    return Run(code, stdout.getvalue(), stderr.getvalue(), seen[0], json.loads(stdout.getvalue()), text.getvalue())


def test_three_machines_one_day_end_to_end(run: Run) -> None:
    result, report = run.result, run.text
    assert run.code == 0

    # every envelope but the planted bad ones was ingested; the bad ones are quarantined with reasons
    assert result.accepted == result.envelopes_sent - 3 and result.duplicates == 1
    assert dict(result.quarantined) == {"bad_signature": 1, "unsigned": 1}
    # the fleet figure is a roll-up of the machines' (their planned times are equal here)
    oees = [m.oee for m in result.machines if m.oee is not None]
    assert result.fleet["oee"] is not None and min(oees) < result.fleet["oee"] < max(oees)
    # the bearing wear built into cnc-03 raises a spindle-bearing alarm; the healthy machines stay quiet
    health = {m.machine_id: (m.health, m.action) for m in result.machines}
    assert health["cnc-03"][0] in ("warning", "critical") and health["cnc-03"][1] == "spindle_bearings"
    assert health["cnc-01"] == health["cnc-02"] == ("ok", "")
    # the invoice bills exactly the parts OEE counted, from the same signed telemetry
    body = result.invoice["invoice"]
    billed_parts = sum(Decimal(line["quantity"]) for line in body["lines"] if line.get("meter") == "parts")
    assert billed_parts == sum(m.total for m in result.machines)
    assert result.invoice["anchor"]["status"] == "posted"
    # the OEE schedule queued every closed shift (two per machine) and scoring every ticket; one batch
    # anchored them all, and each shift result's proof checks on chain through the API
    assert result.periods_anchored == 2 * len(result.machines)
    # (and every part record the ingest path derived, one per part the counters counted, and every machine's
    # maintenance-log head)
    heads = result.maintenance["heads_submitted"]
    assert result.anchored_records == result.periods_anchored + heads + result.parts.recorded
    assert result.parts.recorded == sum(m.total for m in result.machines)
    assert [(v["result"], v["ok"]) for v in result.parts.verified] == [("good", True), ("rejected", True)]
    assert all(m.proofs == 2 and m.proof_ok for m in result.machines)
    assert "fleet   OEE" in report and "proofs 2 ok" in report
    # the technician's entries resolve every ticket; one machine's history checks against the chain
    maintenance = result.maintenance
    assert result.tickets >= 1 and len(maintenance["resolved"]) == result.tickets
    assert all(t["state"] == "resolved" for t in maintenance["resolved"])
    assert maintenance["machine_id"] == "cnc-03" and maintenance["export"]["ok"]
    assert maintenance["due"]["items"] and maintenance["statistics"]["usage"]["spindle_hours"] > 0
    assert "cnc-03 due list" in report and "intact and anchored" in report
    # the factories federate the failure model once, its last round anchored and verified
    assert result.federation["verified"] is True and result.federation["rounds"] == 3


def test_json_prints_one_document_and_progress_goes_to_stderr(run: Run) -> None:
    assert run.stdout.count("\n") == 1 and run.stdout.endswith("}\n")  # one JSON document, nothing else
    assert run.document["ok"] is True
    # not a terminal: one plain line per phase, in order, each with its time
    done = [line for line in run.stderr.splitlines() if re.fullmatch(r".+: done \(\d+\.\d s\)", line)]
    assert [line.rsplit(": done", 1)[0] for line in done] == list(PHASES)
    assert "\r" not in run.stderr and "Traceback" not in run.stderr


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _line(text: str, pattern: str) -> re.Match[str]:
    found = [m for line in text.splitlines() if (m := re.fullmatch(pattern, line))]
    assert len(found) == 1, f"expected one line matching {pattern!r}, found {len(found)}"
    return found[0]


def test_the_json_document_and_the_text_report_give_the_same_figures(run: Run) -> None:
    doc, text = run.document, run.text
    head = _line(text, r"twinledger demo: (\d+) machines?, (\d+) days? from (\S+) \((\S+)\), seed (\d+)")
    assert head.groups() == (
        str(doc["demo"]["machines"]),
        str(doc["demo"]["days"]),
        doc["demo"]["start"],
        doc["demo"]["timezone"],
        str(doc["demo"]["seed"]),
    )
    assert head[0].startswith("twinledger demo: 3 machines, 1 day from")  # counts in words

    pct = r"\s*(n/a|\d+\.\d%)"
    for machine in doc["machines"]:
        row = _line(
            text,
            rf"{machine['machine_id']}  OEE{pct}  \(A{pct} x P{pct} x Q{pct}\)  good\s+(\d+)/\s*(\d+)"
            r"  breakdowns (\d+)  proofs (\d+) (ok|FAILED)  health (.+)",
        )
        assert row.groups()[:4] == tuple(_pct(machine[k]) for k in ("oee", "availability", "performance", "quality")), (
            machine["machine_id"]
        )
        assert [int(g) for g in row.groups()[4:8]] == [
            machine["good"],
            machine["total"],
            machine["breakdown_events"],
            machine["proofs"],
        ]
        assert row[9] == ("ok" if machine["proof_ok"] else "FAILED")
        tickets = machine["tickets"]
        words = f"{tickets} ticket" + ("" if tickets == 1 else "s")
        assert row[10] == ("ok" if machine["health"] == "ok" else f"{machine['health']} ({machine['action']}, {words})")

    fleet = _line(text, rf"fleet   OEE{pct}  \(A{pct} x P{pct} x Q{pct}\)  weighted by planned production time")
    assert fleet.groups() == tuple(_pct(doc["fleet"][k]) for k in ("oee", "availability", "performance", "quality"))

    tel = doc["telemetry"]
    row = _line(
        text,
        r"telemetry: (\d+) envelopes? sent, (\d+) ingested, (\d+) duplicates?, (\d+) quarantined \((.*)\);"
        r" (\d+) samples?",
    )
    assert [int(row[i]) for i in (1, 2, 3, 4, 6)] == [
        tel["envelopes_sent"],
        tel["ingested"],
        tel["duplicates"],
        sum(tel["quarantined"].values()),
        tel["samples"],
    ]
    assert row[5] == ", ".join(f"{k} {v}" for k, v in tel["quarantined"].items())

    maint = doc["maintenance"]
    row = _line(
        text,
        r"maintenance: (\d+) tickets? from anomaly alarms \(one per fault episode\); (\d+) resolved by the lessor's"
        r" technician(?: \(MTTR (\d+\.\d) h\))?; the log heads of (\d+) machines? anchored with the day's records",
    )
    mttr = [t["mttr_h"] for t in maint["resolved"] if t.get("mttr_h") is not None]
    assert (int(row[1]), int(row[2]), int(row[4])) == (
        maint["tickets"],
        len(maint["resolved"]),
        doc["anchoring"]["maintenance_heads"],
    )
    assert row[3] == (f"{sum(mttr) / len(mttr):.1f}" if mttr else None)
    for ticket in maint["resolved"]:
        _line(text, rf"    {re.escape(ticket['ticket_id'])}\s+{ticket['severity']}\s+{ticket['component']}\s+->"
                    rf" {ticket['state']} by {re.escape(ticket['resolving_entry'])}")  # fmt: skip
    machine_id, stats = maint["machine_id"], maint["statistics"]
    row = _line(
        text,
        rf"{machine_id} statistics: spindle (\S+) h, parts (\d+) good / (\d+) rejected, energy (\S+) kWh,"
        r" alarms (\d+), MTTA (\S+) h, MTTR (\S+) h, MTBF (\S+) spindle h",
    )
    usage = stats["usage"]
    assert row.groups() == (
        f"{usage['spindle_hours']:.1f}",
        str(usage["parts"]["good"]),
        str(usage["parts"]["rejected"]),
        f"{usage['energy_kwh']:.1f}",
        str(stats["alarms"]["total"]),
        str(stats["mtta_h"]),
        str(stats["mttr_h"]),
        str(stats["mtbf_h"]),
    )
    for item in maint["due"]["items"]:
        _line(text, rf"    {item['status']}\s+{re.escape(item['title'])}\s+{re.escape(item['reason'])}")
    export = maint["export"]
    row = _line(
        text,
        rf"{machine_id} exported history: (\d+) entr(?:y|ies), hash chain (ok|BROKEN), (\d+) anchored heads?"
        r" checked against the chain \(block (\S+)\): (.+)",
    )
    assert row.groups() == (
        str(export["entries"]),
        "ok" if export["offline_ok"] else "BROKEN",
        str(export["checkpoints"]),
        str(export["blocks"][-1]) if export["blocks"] else "-",
        "intact and anchored" if export["ok"] else "FAILED",
    )

    invoice, posted = doc["invoice"]["invoice"], doc["invoice"]["anchor"]
    row = _line(
        text,
        r"invoice (\S+) to (\S+): total (\S+) (\S+) \(subtotal (\S+), tax (\S+)\); usage root (\S+)\.\.\.;"
        r" PayPerUseLease: (\S+) \(tx (\S+)\.\.\.\)",
    )
    assert row.groups() == (
        invoice["invoice_id"],
        invoice["lessee"],
        invoice["total"],
        invoice["currency"],
        invoice["subtotal"],
        invoice["tax"],
        invoice["usage"]["root"][:18],
        posted["status"],
        posted["tx_hash"][:18],
    )
    for item in invoice["lines"]:
        row = _line(text, rf"    {re.escape(item['description'])}\s+(\S+) x\s+(\S+) =\s+(\S+)")
        assert row.groups() == (item["quantity"], item["unit_price"], item["amount"])

    anchoring = doc["anchoring"]
    row = _line(
        text,
        r"anchored (\d+) record hash(?:es)? \((\d+) closed shift results?, (\d+) maintenance log heads?, (\d+) parts?\)"
        r" in Merkle batches on the in-process chain: tx (\S+) \(block (\d+)\); every shift result's proof checked via"
        r" the API",
    )
    assert row.groups() == tuple(
        str(anchoring[k]) for k in ("records", "shift_results", "maintenance_heads", "parts", "tx", "block")
    )

    parts = doc["parts"]
    row = _line(text, r"parts: (\d+) recorded from the signed telemetry, each queued for anchoring: (.+)")
    assert row[1] == str(parts["recorded"])
    assert row[2] == ", ".join(
        f"{m} {c['good'] + c['rejected']} ({c['rejected']} rejected)" for m, c in parts["per_machine"].items()
    )
    for proof in parts["verified"]:
        row = _line(
            text, rf"part proof \({proof['result']}, cnc-qa commissioned now\): {re.escape(proof['part_id'])} (.+)"
        )
        assert row[1].startswith("verified end to end" if proof["ok"] else f"FAILED at {proof['failed']}")
        assert ", ".join(proof["checks"]) in row[1]

    fed = doc["federation"]
    row = _line(
        text,
        r"federated failure model: (\d+) factories, (\d+) rounds?, round (\d+) model (\S+) anchored \(proof verified:"
        r" (\w+)\); ROC-AUC on both factories' held-out rows (\S+) federated against (\S+) trained alone \(mean of"
        r" the two\)",
    )
    assert row.groups() == (
        str(fed["factories"]),
        str(fed["rounds"]),
        str(fed["round"]),
        fed["model_hash"],
        str(fed["verified"]),
        f"{fed['federated_roc_auc']:.3f}",
        f"{fed['local_only_roc_auc']:.3f}",
    )

    assert _line(text, r"finished in (\d+\.\d) s")[1] == f"{doc['seconds']:.1f}"
    tail = text.split("where to look next:\n", 1)[1].splitlines()
    assert [(step["command"], step["what"]) for step in doc["next"]] == list(NEXT_STEPS)
    assert len(tail) == len(NEXT_STEPS)
    for line, (command, what) in zip(tail, NEXT_STEPS, strict=True):
        assert line.startswith(f"  {command} ") and line.endswith(f"  {what}")
