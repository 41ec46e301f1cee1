"""The demo's maintenance part, through the HTTP API as each party calls it.

Before the anchoring schedule runs: the lessor publishes the maintenance plan of the fleet's machine type;
for every ticket the day's alarms opened, the lessee's operator acknowledges it and the lessor's service
technician starts it and resolves it with the entry that fixes the fault; the heads schedule then queues
every machine's chain head, so the one anchoring run covers them. After it: the due list and the
statistics of the machine that had the most trouble, and its exported history checked off line and each
anchored head against the chain.

Wiring only: every rule is the services' (:mod:`chalicelib.maintenance`) and the domain's.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode

from twinledger.wording import counted

__all__ = ["MACHINE_TYPE", "PLAN_FILE", "report", "resolve_faults", "write_report"]

MACHINE_TYPE = "vmc-800"
PLAN_FILE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "maintenance-plan.json"

#: What the technician does for a fault on each component: (kind, text, plan task, replaced parts).
_WORK: dict[str, tuple[str, str, str | None, list[dict[str, Any]]]] = {
    "spindle_bearings": (
        "part_replacement",
        "spindle front bearing set replaced; radial play 2 um, run-in 30 min at 6,000 rpm",
        "spindle-bearings",
        [{"part_number": "SKF-7014-CD-P4A", "quantity": 2, "description": "angular contact bearing"}],
    ),
    "cooling_system": (
        "repair",
        "coolant pump impeller replaced, filters cleaned, concentration set to 7 %",
        "coolant",
        [],
    ),
    "tool_change": ("tool_change", "worn end mill replaced", "tool-wear", []),
    "general_inspection": ("inspection", "machine inspected: guards, way covers, lubrication", None, []),
}


def _call(client: Any, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
    sender = getattr(client.http, method.lower())
    kwargs: dict[str, Any] = {"headers": {**headers, "Content-Type": "application/json"}}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    response = sender(path, **kwargs)
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.body!r}")
    return json.loads(response.body)


def resolve_faults(
    client: Any, services: Any, clock: Any, tokens: dict[str, dict[str, str]], scheduled_event: dict[str, Any]
) -> dict[str, Any]:
    """Publish the plan, work every open ticket to resolution, queue the chain heads; what it did.

    ``tokens`` holds the bearer headers of the ``lessor``, ``operator`` and ``technician``; ``clock`` is the
    demo's clock (moved on as the work takes time).
    """
    devices = services.adapters.devices
    machines = [d.machine_id for d in devices.all()]
    for device in devices.all():
        devices.put(device.model_copy(update={"machine_type": MACHINE_TYPE}))
    plan = json.loads(PLAN_FILE.read_text(encoding="utf-8"))
    _call(client, "PUT", f"/maintenance-plans/{MACHINE_TYPE}", tokens["lessor"], plan)
    resolved: list[dict[str, Any]] = []
    per_machine: dict[str, int] = {}
    start = clock.now
    for machine_id in machines:
        tickets = _call(client, "GET", f"/machines/{machine_id}/tickets?state=active", tokens["operator"])["items"]
        per_machine[machine_id] = len(services.maintenance.store.tickets(machine_id))
        for ticket in tickets:
            tid = ticket["ticket_id"]
            clock.now = start + timedelta(minutes=25)
            _call(client, "POST", f"/tickets/{tid}/acknowledge", tokens["operator"], {"note": "seen on the HMI"})
            clock.now = start + timedelta(hours=2)
            _call(client, "POST", f"/tickets/{tid}/start", tokens["technician"], {"note": "on site"})
            clock.now = start + timedelta(hours=4, minutes=30)
            kind, text, task, parts = _WORK.get(ticket["component"], _WORK["general_inspection"])
            entry: dict[str, Any] = {"kind": kind, "text": text, "component": ticket["component"], "parts": parts}
            if task is not None:
                entry["task"] = task
            done = _call(client, "POST", f"/tickets/{tid}/resolve", tokens["technician"], {"entry": entry})
            resolved.append(done["ticket"])
    clock.now = start + timedelta(hours=5)
    heads = client.lambda_.invoke("maintenance_heads", scheduled_event).payload
    return {"machines": per_machine, "resolved": resolved, "heads": heads}


def report(
    client: Any, tokens: dict[str, dict[str, str]], work: dict[str, Any], start: datetime, end: datetime
) -> dict[str, Any]:
    """After the anchoring run: the due list and statistics of the machine with the most tickets, and its
    exported history verified (off line, then every anchored head through ``POST /proofs/verify``)."""
    from twin_models.maintenance import check_export
    from twin_models.timestamps import format_utc

    machine_id = max(sorted(work["machines"]), key=lambda m: work["machines"][m])
    due = _call(client, "GET", f"/machines/{machine_id}/maintenance/due", tokens["operator"])
    query = urlencode({"from": format_utc(start), "to": format_utc(end)})
    stats = _call(client, "GET", f"/machines/{machine_id}/statistics?{query}", tokens["lessor"])
    export = _call(client, "GET", f"/machines/{machine_id}/maintenance/export", tokens["operator"])
    check = check_export(export)
    on_chain = [_call(client, "POST", "/proofs/verify", tokens["operator"], c["bundle"]) for c in export["checkpoints"]]
    return {
        "machine_id": machine_id,
        "tickets": sum(work["machines"].values()),
        "resolved": work["resolved"],
        "heads_submitted": int(work["heads"].get("submitted", 0)),
        "due": due,
        "statistics": stats,
        "export": {
            "entries": check.entries,
            "offline_ok": check.first_break is None,
            "anchored_through": check.anchored_through,
            "checkpoints": len(on_chain),
            "on_chain_ok": bool(on_chain) and all(v.get("ok") for v in on_chain),
            "blocks": sorted({int(v.get("block_number") or 0) for v in on_chain}),
            "ok": check.ok and bool(on_chain) and all(v.get("ok") for v in on_chain),
        },
    }


def write_report(result: dict[str, Any], out: TextIO) -> None:
    """The demo's maintenance lines."""
    if not result:
        return
    w = out.write
    mttr = [t["mttr_h"] for t in result["resolved"] if t.get("mttr_h") is not None]
    w(
        f"maintenance: {counted(result['tickets'], 'ticket')} from anomaly alarms (one per fault episode); "
        f"{len(result['resolved'])} resolved by the lessor's technician"
        + (f" (MTTR {sum(mttr) / len(mttr):.1f} h)" if mttr else "")
        + f"; the log heads of {counted(result['heads_submitted'], 'machine')} anchored with the day's records\n"
    )
    for ticket in result["resolved"]:
        w(
            f"    {ticket['ticket_id']:<12} {ticket['severity']:<8} {ticket['component']:<17} -> {ticket['state']}"
            f" by {ticket['resolving_entry']}\n"
        )
    machine = result["machine_id"]
    stats = result["statistics"]
    usage = stats["usage"]
    parts = usage["parts"]
    w(
        f"{machine} statistics: spindle {usage['spindle_hours']:.1f} h, parts {parts['good']} good /"
        f" {parts['rejected']} rejected, energy {usage['energy_kwh']:.1f} kWh, alarms {stats['alarms']['total']},"
        f" MTTA {stats['mtta_h']} h, MTTR {stats['mttr_h']} h, MTBF {stats['mtbf_h']} spindle h\n"
    )
    for trend in stats.get("health_trend", []):
        words = {"critical": "at its critical level", "steady": "steady, no time to critical projected"}
        low, high = trend["interval_h"]
        said = words.get(trend["status"], trend["status"])
        if trend["status"] == "rising" and trend.get("projected_critical_at"):
            said = f"rising, critical projected {trend['projected_critical_at']} (in {low}-{high or 'open'} h)"
        w(f"    health trend of {trend['component']} over the last {trend['window_h']:g} h: {said}\n")
    due = result["due"]
    w(f"{machine} due list (plan {due['plan']['machine_type'] if due['plan'] else 'none'}):\n")
    for item in due["items"]:
        w(f"    {item['status']:<8} {item['title']:<28} {item['reason']}\n")
    export = result["export"]
    verdict = "intact and anchored" if export["ok"] else "FAILED"
    block = export["blocks"][-1] if export["blocks"] else "-"
    w(
        f"{machine} exported history: {counted(export['entries'], 'entry')}, hash chain "
        f"{'ok' if export['offline_ok'] else 'BROKEN'}, {counted(export['checkpoints'], 'anchored head')}"
        f" checked against the chain (block {block}): {verdict}\n"
    )
