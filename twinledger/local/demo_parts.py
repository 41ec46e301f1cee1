"""The demo's quality-proof part: parts recorded per machine, and one good and one rejected part verified end to
end.

The demo's plant day is simulated in the past, while the in-process chain keeps real time; a key registered
today is anchored after that day's data was signed, which ``key_registered_before_data`` rightly refuses.
So the end-to-end proof is made on a machine commissioned now: its key registration is anchored first, then
it produces for a few minutes (signed v2 envelopes through the ingest Lambda), its part records are anchored,
and a good and a rejected part's bundles (``GET /parts/{id}``) pass every check, each proof asked of the
chain through ``POST /proofs/verify``.

Example:
    >>> PartsReport(per_machine={"cnc-01": (10, 1)}).recorded
    11
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from twinledger.wording import counted

__all__ = ["PartsReport", "drain", "format_report", "parts_demo"]

QA_MACHINE = "cnc-qa"


@dataclass
class PartsReport:
    """Parts per machine (good, rejected) and the parts verified end to end."""

    per_machine: dict[str, tuple[int, int]] = field(default_factory=dict)
    verified: list[dict[str, Any]] = field(default_factory=list)

    @property
    def recorded(self) -> int:
        """Part records of the demo's plant day."""
        return sum(good + rejected for good, rejected in self.per_machine.values())


def drain(run: Callable[[], dict[str, Any]], max_runs: int = 50) -> dict[str, Any]:
    """Fire the anchoring schedule until the queue is empty (each run stops within its time budget, and a
    plant day's part records take several batches); the runs' figures added up.

    Example:
        >>> runs = iter([{"anchored": 1024, "batches": 1, "tx_hashes": ["0x1"], "pending_left": 6},
        ...              {"anchored": 6, "batches": 1, "tx_hashes": ["0x2"], "pending_left": 0}])
        >>> total = drain(lambda: next(runs))
        >>> total["anchored"], total["tx_hashes"], total["runs"]
        (1030, ['0x1', '0x2'], 2)
    """
    total: dict[str, Any] = {"anchored": 0, "batches": 0, "tx_hashes": [], "runs": 0}
    for _ in range(max_runs):
        report = run()
        total["runs"] += 1
        total["anchored"] += int(report.get("anchored", 0))
        total["batches"] += int(report.get("batches", 0))
        total["tx_hashes"] += list(report.get("tx_hashes") or [])
        total |= {k: v for k, v in report.items() if k not in total}
        total["pending_left"] = report.get("pending_left", 0)
        if not report.get("pending_left") or not report.get("anchored") or report.get("error"):
            return total
    return total


def _list(client: Any, headers: dict[str, str], machine_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"limit": "1000", **({"next": cursor} if cursor else {})}
        response = client.http.get(f"/machines/{machine_id}/parts?{urlencode(query)}", headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET parts of {machine_id}: {response.status_code} {response.body!r}")
        page = json.loads(response.body)
        items += page["items"]
        cursor = page["next"]
        if cursor is None:
            return items


def _sqs(bodies: list[str]) -> dict[str, Any]:
    """The SQS event the topic rule's queue delivers."""
    return {
        "Records": [
            {
                "messageId": f"qa-{i}",
                "receiptHandle": f"qa-{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-central-1:000000000000:twinledger-telemetry",
                "awsRegion": "eu-central-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def _verify(client: Any, headers: dict[str, str], part_id: str) -> dict[str, Any]:
    from twin_models.anchoring import ProofBundle
    from twin_models.parts import ChainAnswer, PartBundle, check

    response = client.http.get(f"/parts/{quote(part_id, safe='')}", headers=headers)
    bundle = PartBundle.model_validate_json(response.body)

    def on_chain(proof: ProofBundle) -> ChainAnswer:
        answer = json.loads(
            client.http.post(
                "/proofs/verify",
                headers={**headers, "Content-Type": "application/json"},
                body=proof.model_dump_json().encode(),
            ).body
        )
        at = answer.get("anchored_at")
        return ChainAnswer(
            ok=bool(answer.get("ok")),
            anchored_at=datetime.fromisoformat(at.replace("Z", "+00:00")) if at else None,
            reason="; ".join(answer.get("reasons") or ()),
        )

    result = check(bundle, on_chain)
    return {
        "part_id": part_id,
        "result": bundle.record["result"],
        "ok": result.ok,
        "failed": result.failed,
        "checks": [c.name for c in result.checks],
        "envelopes": len(bundle.envelopes),
    }


def parts_demo(
    client: Any, built: Any, clock: Any, headers: dict[str, str], machines: list[str], tenant: dict[str, str]
) -> PartsReport:
    """Count the plant day's parts per machine, then commission a machine now and verify two of its parts."""
    from datetime import time

    from edge_greengrass.simulator import MachineProfile, MachineSimulator, ShiftCalendar
    from twin_models.jws import seal_jws
    from twin_models.signing import generate_private_key, public_key_pem
    from twin_models.tenancy import Device

    report = PartsReport()
    for machine_id in machines:
        items = _list(client, headers, machine_id)
        rejected = sum(1 for p in items if p["result"] == "rejected")
        report.per_machine[machine_id] = (len(items) - rejected, rejected)

    key = generate_private_key()
    built.adapters.devices.put(
        Device(
            machine_id=QA_MACHINE,
            site=tenant["site"],
            lessor=tenant["lessor"],
            lessee=tenant["lessee"],
            keys={f"{QA_MACHINE}/1": public_key_pem(key)},
        )
    )
    built.parts.register_key(QA_MACHINE, f"{QA_MACHINE}/1")
    built.anchoring.run_once()  # the key's registration is on chain before the machine signs anything
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    profile = MachineProfile(
        QA_MACHINE,
        programs={"P100": 9.0},
        setup_s=(5, 10),
        reject_rate=0.05,
        micro_stops_per_h=0.0,
        breakdowns_per_h=0.0,
        idle_per_h=0.0,
    )
    all_day = ShiftCalendar(timezone="UTC", shifts=((time(0), time(23, 59, 59)),), breaks=())
    samples = list(MachineSimulator(profile, seed=5, start=start, calendar=all_day).run(240))
    chunks = [samples[i : i + 60] for i in range(0, len(samples), 60)]
    bodies = [
        seal_jws(
            QA_MACHINE,
            tenant["site"],
            seq,
            chunk,
            key,
            f"{QA_MACHINE}/1",
            sent_at=chunk[-1].ts,
            previous=chunks[seq - 1][-1] if seq else None,
        ).decode()
        for seq, chunk in enumerate(chunks)
    ]
    clock.now = max(clock.now, samples[-1].ts + timedelta(seconds=5))
    # the same adapters, its own pipeline: the plant day's ingest totals stay the plant day's
    outcome = type(built)(built.adapters, built.settings).ingest.handle_batch(_sqs(bodies))
    if outcome.accepted != len(bodies):
        raise RuntimeError(f"the commissioned machine's envelopes were not all accepted: {outcome.reasons}")
    built.anchoring.run_once()
    made = _list(client, headers, QA_MACHINE)
    for wanted in ("good", "rejected"):
        found = next((p for p in made if p["result"] == wanted), None)
        if found is not None:
            report.verified.append(_verify(client, headers, found["part_id"]))
    return report


def format_report(report: PartsReport) -> str:
    """The demo's lines about parts."""
    rows = ", ".join(f"{m} {g + r} ({r} rejected)" for m, (g, r) in sorted(report.per_machine.items()))
    lines = [f"parts: {report.recorded} recorded from the signed telemetry, each queued for anchoring: {rows}\n"]
    for item in report.verified:
        verdict = "verified end to end" if item["ok"] else f"FAILED at {item['failed']}"
        lines.append(
            f"part proof ({item['result']}, {QA_MACHINE} commissioned now): {item['part_id']} {verdict}"
            f" ({', '.join(item['checks'])}; {counted(item['envelopes'], 'signed envelope')})\n"
        )
    return "".join(lines)
