"""The maintenance log's hash chain and the verification of an exported history (no chain: the anchored heads'
bundles are checked off line against their Merkle roots).

The Hypothesis test is the issue's: any edit, deletion, insertion or reordering of an exported history
fails verification, whether the forger leaves the stated hashes and links alone or recomputes them, or
rewrites the whole chain after the change (then only the anchored head shows it).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin_models.anchoring import ProofBundle, bytes32_hex, record_hash
from twin_models.maintenance import (
    GENESIS_HASH,
    Alarm,
    Author,
    Checkpoint,
    EntryContent,
    LogEntry,
    MaintenanceExport,
    UsageSnapshot,
    build_export,
    check_export,
    entry_bundle,
    seal_entry,
)
from twin_models.merkle import MerkleTree, keccak256

T0 = datetime(2026, 1, 5, 6, tzinfo=UTC)
TECH = Author(subject="tom", tenant="toolmaker", role="service_technician")
KINDS = ("inspection", "note", "repair", "tool_change", "calibration")


def make_log(n: int, machine_id: str = "cnc-01") -> list[LogEntry]:
    log: list[LogEntry] = []
    for i in range(n):
        at = T0 + timedelta(hours=i)
        if i % 5 == 3:
            content = EntryContent(
                kind="alarm",
                occurred_at=at,
                text="bearing vibration",
                alarm=Alarm(
                    source="anomaly", code="spindle_bearings", severity="warning", component="spindle_bearings"
                ),
            )
        else:
            content = EntryContent(kind=KINDS[i % len(KINDS)], occurred_at=at, text=f"work {i}")
        usage = UsageSnapshot(spindle_hours=round(1.5 * i, 6), parts=40 * i, energy_kwh=3.25 * i)
        log.append(
            seal_entry(
                content,
                machine_id=machine_id,
                previous=log[-1] if log else None,
                author=TECH,
                recorded_at=at + timedelta(minutes=5),
                usage=usage,
            )
        )
    return log


def anchored(log: list[LogEntry], at: list[int]) -> list[Checkpoint]:
    """Heads anchored at the seqs ``at`` (one Merkle batch with some other records, as the drain makes)."""
    heads = [log[s].hash for s in at]
    others = [keccak256(f"other-{i}".encode()) for i in range(3)]
    tree = MerkleTree.build(heads + others)
    return [
        Checkpoint(
            seq=s,
            hash=bytes32_hex(h),
            bundle=ProofBundle(
                record_id=f"maintenance-head/cnc-01/{s}",
                kind="maintenance-head",
                record=log[s].document(),
                record_hash=h,
                proof=tree.proof(i),
                root=tree.root,
            ),
        )
        for i, (s, h) in enumerate(zip(at, heads, strict=True))
    ]


def export_of(n: int) -> MaintenanceExport:
    log = make_log(n)
    seqs = sorted({n // 3, (2 * n) // 3, n - 1})
    return build_export("cnc-01", log, anchored(log, seqs), exported_at=T0 + timedelta(days=1))


def test_a_sealed_chain_verifies_and_every_entry_links_to_the_one_before() -> None:
    export = export_of(9)
    check = check_export(export)
    assert check.ok, check.reasons
    assert (check.entries, check.anchored_through, check.pending, check.checkpoints) == (9, 8, 0, 3)
    assert export.entries[0]["prev_hash"] == GENESIS_HASH
    for before, after in zip(export.entries, export.entries[1:], strict=False):
        assert after["prev_hash"] == bytes32_hex(record_hash(before))


def test_the_entry_hash_is_record_hash_of_the_whole_document() -> None:
    entry = make_log(1)[0]
    assert entry.hash == record_hash(entry.document())
    assert entry.document()["entry_id"] == "cnc-01.0" and "prev_hash" in entry.document()


def test_an_unanchored_tail_is_pending_not_ok() -> None:
    log = make_log(6)
    check = check_export(build_export("cnc-01", log, anchored(log, [3]), exported_at=T0))
    assert not check.ok and check.first_break is None
    assert (check.anchored_through, check.pending) == (3, 2)


def test_an_entry_bundle_proves_it_through_the_entries_after_it_to_the_anchored_head() -> None:
    log = make_log(7)
    (head,) = anchored(log, [6])
    assert head.bundle is not None
    bundle = entry_bundle(log[3].document(), [e.document() for e in log[4:7]], head.bundle)
    assert bundle.verify_offline().ok
    assert bundle.anchored_hash() == log[6].hash
    forged = copy.deepcopy(bundle.chain_after)
    assert forged is not None
    forged[1]["text"] = "forged"
    assert not bundle.model_copy(update={"chain_after": forged}).verify_offline().ok
    edited = {**log[3].document(), "text": "other"}
    assert not entry_bundle(edited, [e.document() for e in log[4:7]], head.bundle).verify_offline().ok


# -- the first break is named at the entry that was touched --------------------------------------------------


def test_a_changed_entry_is_named_at_its_position() -> None:
    export = export_of(10)
    export.entries[4]["text"] = "nothing happened"
    broken = check_export(export).first_break
    assert broken is not None and (broken.position, broken.kind, broken.entry_id) == (4, "edited", "cnc-01.4")


def test_a_changed_entry_with_recomputed_hashes_is_still_named_at_its_position() -> None:
    export = export_of(10)
    export.entries[4]["usage"]["spindle_hours"] = 0.0
    restate(export)
    broken = check_export(export).first_break
    assert broken is not None and (broken.position, broken.kind) == (4, "edited")


def test_a_dropped_entry_is_named_at_its_position() -> None:
    export = export_of(10)
    del export.entries[6]
    broken = check_export(export).first_break
    assert broken is not None and (broken.position, broken.kind) == (6, "deleted")


def test_two_swapped_entries_are_named_at_the_first() -> None:
    export = export_of(10)
    export.entries[2], export.entries[7] = export.entries[7], export.entries[2]
    broken = check_export(export).first_break
    assert broken is not None and (broken.position, broken.kind) == (2, "reordered")


def test_an_inserted_entry_is_named_at_its_position() -> None:
    export = export_of(10)
    forged = {**export.entries[5], "text": "an inspection that never happened"}
    export.entries.insert(5, forged)
    broken = check_export(export).first_break
    assert broken is not None and (broken.position, broken.kind) == (5, "inserted")


def test_a_rewritten_chain_is_caught_by_the_anchored_head_only() -> None:
    export = export_of(12)
    export.entries[5]["text"] = "rewritten"
    rechain(export, 5)
    check = check_export(export)
    assert check.first_break is not None and check.first_break.kind == "anchor_mismatch"
    assert check.first_break.position == 5  # after the head anchored at 4, up to the one at 8


def test_a_truncated_tail_is_caught_by_the_anchored_head() -> None:
    export = export_of(9)
    del export.entries[8]
    restate(export)
    broken = check_export(export).first_break
    assert broken is not None and broken.kind == "deleted"


# -- any tampering fails --------------------------------------------------------------------------------------


def restate(export: MaintenanceExport) -> None:
    """A forger who recomputes the stated hashes, the links and the head after changing entries."""
    export.hashes = [bytes32_hex(record_hash(d)) for d in export.entries]
    export.links = [
        type(export.links[0])(seq=d.get("seq", -1), prev_hash=str(d.get("prev_hash")), hash=h)
        for d, h in zip(export.entries, export.hashes, strict=True)
    ]
    if export.head is not None and export.entries:
        export.head = export.head.model_copy(update={"seq": len(export.entries) - 1, "hash": export.hashes[-1]})


def rechain(export: MaintenanceExport, start: int) -> None:
    """A forger who also relinks every entry after ``start`` (so every link holds again)."""
    for p in range(max(start, 1), len(export.entries)):
        export.entries[p]["prev_hash"] = bytes32_hex(record_hash(export.entries[p - 1]))
    restate(export)


EDITS: dict[str, Any] = {
    "text": lambda d: d.update(text=d["text"] + " (amended)"),
    "occurred_at": lambda d: d.update(occurred_at="2025-01-01T00:00:00Z"),
    "spindle_hours": lambda d: d["usage"].update(spindle_hours=d["usage"]["spindle_hours"] + 100),
    "author": lambda d: d["author"].update(subject="someone else"),
    "kind": lambda d: d.update(kind="note" if d["kind"] != "note" else "inspection"),
}


@st.composite
def tampered(draw: st.DrawFn) -> MaintenanceExport:
    n = draw(st.integers(min_value=2, max_value=12))
    export = export_of(n)
    how = draw(st.sampled_from(["edit", "delete", "insert", "reorder"]))
    docs = export.entries
    if how == "edit":
        p = draw(st.integers(0, n - 1))
        EDITS[draw(st.sampled_from(sorted(EDITS)))](docs[p])
    elif how == "delete":
        count = draw(st.integers(1, n - 1))
        p = draw(st.integers(0, n - count))
        del docs[p : p + count]
    elif how == "insert":
        p = draw(st.integers(0, n))
        source = copy.deepcopy(docs[draw(st.integers(0, n - 1))])
        source["text"] = "forged: " + source["text"]
        if draw(st.booleans()):  # a forged entry that links properly to the one before its place
            source["seq"] = p
            source["entry_id"] = f"cnc-01.{p}"
            source["prev_hash"] = GENESIS_HASH if p == 0 else bytes32_hex(record_hash(docs[p - 1]))
        docs.insert(p, source)
    else:
        i = draw(st.integers(0, n - 2))
        j = draw(st.integers(i + 1, n - 1))
        if draw(st.booleans()):
            docs[i], docs[j] = docs[j], docs[i]
        else:
            docs[i : j + 1] = list(reversed(docs[i : j + 1]))
    strength = draw(st.sampled_from(["naive", "restated", "rechained"]))
    if strength == "restated":
        restate(export)
    elif strength == "rechained":
        rechain(export, 0)
    return export


@settings(max_examples=300, deadline=None)
@given(tampered())
def test_any_edit_deletion_insertion_or_reordering_fails_verification(export: MaintenanceExport) -> None:
    check = check_export(export.model_dump(mode="json"))  # as read back from the exported file
    assert not check.ok
    # named as a break, or (a properly linked entry added after the anchored head) not covered by an anchor
    assert check.first_break is not None or check.pending > 0


@pytest.mark.parametrize("n", [1, 2, 5])
def test_an_untouched_export_read_back_from_json_verifies(n: int) -> None:
    export = export_of(n)
    assert check_export(MaintenanceExport.model_validate_json(export.model_dump_json())).ok
