"""The demo runs the whole path in-process, and its figures agree with each other."""

from __future__ import annotations

import io
from decimal import Decimal

from twinledger.local.demo import run_demo


def test_three_machines_one_day_end_to_end() -> None:
    out = io.StringIO()
    result = run_demo(machines=3, days=1, seed=7, out=out)
    report = out.getvalue()

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
