"""A machine's exported maintenance history and its verification: hashes, links and anchored heads.

An export holds the entries in order (each a JSON document exactly as hashed), their hashes, the chain
links, the head, and every anchored head (*checkpoint*) with its proof bundle. :func:`check_export`
checks it off line, trusting nothing in it but the proof bundles' Merkle roots (which the command line
then asks the chain about):

1. every entry is a well-formed entry of this machine at its place (``seq`` = position);
2. every entry hashes to its stated hash, and every link holds (``prev_hash`` = the hash of the entry
   before, the zero hash before the first);
3. every anchored head is the hash of the entry at its ``seq``, and its bundle proves it under its root;
4. the last entry is covered by an anchored head.

It names the first entry that breaks and how: ``edited`` (its content changed), ``deleted`` (entries
missing at this place), ``inserted`` (an entry that does not belong), ``reordered`` (entries out of order),
``malformed``, ``anchor_mismatch`` (the entries up to an anchored head were rewritten consistently, so
only the anchor shows it: some entry in the named range changed).

Example:
    >>> from datetime import UTC, datetime
    >>> from twin_models.maintenance.entries import Author, EntryContent, seal_entry
    >>> at, who = datetime(2026, 1, 5, tzinfo=UTC), Author(subject="a", tenant="t", role="operator")
    >>> log = []
    >>> for i in range(4):
    ...     log.append(seal_entry(EntryContent(kind="note", occurred_at=at, text=f"note {i}"), machine_id="m",
    ...                           previous=log[-1] if log else None, author=who, recorded_at=at))
    >>> export = build_export("m", log, [], exported_at=at)
    >>> check_export(export).first_break is None
    True
    >>> export.entries[2]["text"] = "forged"
    >>> broken = check_export(export).first_break
    >>> broken.position, broken.kind
    (2, 'edited')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from twin_models.anchoring import ProofBundle, bytes32_hex, record_hash
from twin_models.maintenance.entries import GENESIS_HASH, LogEntry
from twin_models.telemetry import UtcDatetime

__all__ = [
    "EXPORT_FORMAT",
    "BreakKind",
    "ChainBreak",
    "ChainCheck",
    "ChainLink",
    "Checkpoint",
    "MaintenanceExport",
    "build_export",
    "check_export",
    "entry_bundle",
]

EXPORT_FORMAT = "twinledger-maintenance-export"
BreakKind = Literal["edited", "deleted", "inserted", "reordered", "malformed", "anchor_mismatch"]


class ChainLink(BaseModel):
    """One link of the chain: the entry at ``seq``, the hash it links to and its own hash."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    prev_hash: str
    hash: str


class Checkpoint(BaseModel):
    """A head of the chain: the hash of the entry at ``seq``; anchored when it carries its proof bundle."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(ge=0)
    hash: str
    bundle: ProofBundle | None = None


class MaintenanceExport(BaseModel):
    """A machine's whole maintenance history as ``GET /machines/{id}/maintenance/export`` gives it."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["twinledger-maintenance-export"] = "twinledger-maintenance-export"
    v: Literal[1] = 1
    machine_id: str
    exported_at: UtcDatetime
    entries: list[Any] = Field(description="the entries in order, each the JSON document that is hashed")
    hashes: list[str] = Field(default_factory=list)
    links: list[ChainLink] = Field(default_factory=list)
    head: Checkpoint | None = None
    anchored_head: Checkpoint | None = None
    checkpoints: list[Checkpoint] = Field(default_factory=list)


class ChainBreak(BaseModel):
    """The first place where an export stops being the machine's history."""

    model_config = ConfigDict(frozen=True)

    position: int
    kind: BreakKind
    reason: str
    seq: int | None = None
    entry_id: str | None = None


class ChainCheck(BaseModel):
    """The off-line verdict on an export."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    machine_id: str
    entries: int
    head: str | None
    anchored_through: int | None
    pending: int
    checkpoints: int
    first_break: ChainBreak | None = None
    reasons: list[str] = Field(default_factory=list)


def build_export(
    machine_id: str, entries: Sequence[LogEntry], checkpoints: Sequence[Checkpoint], exported_at: datetime
) -> MaintenanceExport:
    """The export of a machine's entries (in order) and its anchored heads."""
    docs = [e.document() for e in entries]
    hashes = [bytes32_hex(record_hash(d)) for d in docs]
    anchored = sorted((c for c in checkpoints if c.bundle is not None), key=lambda c: c.seq)
    return MaintenanceExport(
        machine_id=machine_id,
        exported_at=exported_at,
        entries=docs,
        hashes=hashes,
        links=[ChainLink(seq=e.seq, prev_hash=e.prev_hash, hash=h) for e, h in zip(entries, hashes, strict=True)],
        head=Checkpoint(seq=len(docs) - 1, hash=hashes[-1]) if docs else None,
        anchored_head=anchored[-1] if anchored else None,
        checkpoints=anchored,
    )


def entry_bundle(entry: Mapping[str, Any], following: Sequence[Mapping[str, Any]], head: ProofBundle) -> ProofBundle:
    """The proof bundle of one entry, from the bundle of the anchored head at or after it.

    ``following`` are the entries after it up to the head (none when the entry is the head): the bundle
    checks that they link the entry to the head, and that the head is under the anchored root.
    """
    return head.model_copy(
        update={
            "record_id": str(entry.get("entry_id", "")),
            "record": dict(entry),
            "record_hash": record_hash(dict(entry)),
            "hash_algorithm": "keccak256-jcs",
            "chain_after": [dict(f) for f in following] or None,
        }
    )


def _hash_of(doc: Any) -> str | None:
    try:
        return bytes32_hex(record_hash(doc))
    except Exception:  # not JSON at all
        return None


def _seq(doc: Any) -> int | None:
    value = doc.get("seq") if isinstance(doc, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _Walk:
    """The facts the checks compare, computed once."""

    def __init__(self, export: MaintenanceExport) -> None:
        self.export = export
        self.docs = export.entries
        self.n = len(self.docs)
        self.hashes = [_hash_of(d) for d in self.docs]
        self.seqs = [_seq(d) for d in self.docs]
        self.prevs = [d.get("prev_hash") if isinstance(d, dict) else None for d in self.docs]
        self.positions: dict[int, list[int]] = {}
        for position, seq in enumerate(self.seqs):
            if seq is not None:
                self.positions.setdefault(seq, []).append(position)

    def brk(self, position: int, kind: BreakKind, reason: str) -> ChainBreak:
        doc = self.docs[position] if 0 <= position < self.n else None
        entry_id = doc.get("entry_id") if isinstance(doc, dict) else None
        seq = self.seqs[position] if 0 <= position < self.n else None
        return ChainBreak(
            position=position,
            kind=kind,
            reason=reason,
            seq=seq,
            entry_id=entry_id if isinstance(entry_id, str) else None,
        )

    def vouched(self, position: int) -> bool:
        """Whether the next entry links to this one (so this one is as it was when the next was written)."""
        after = position + 1
        return after < self.n and self.hashes[position] is not None and self.prevs[after] == self.hashes[position]


def _malformed(walk: _Walk, p: int) -> ChainBreak | None:
    doc = walk.docs[p]
    if walk.hashes[p] is None:
        return walk.brk(p, "malformed", "not a JSON document")
    try:
        entry = LogEntry.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "entry"
        return walk.brk(p, "malformed", f"not a maintenance entry: {where}: {first['msg']}")
    if entry.machine_id != walk.export.machine_id:
        return walk.brk(p, "inserted", f"an entry of machine {entry.machine_id!r}, not {walk.export.machine_id!r}")
    return None


def _out_of_place(walk: _Walk, p: int) -> ChainBreak | None:
    seq = walk.seqs[p]
    if seq == p or seq is None:
        return None
    if seq > p:
        if p + 1 < walk.n and walk.seqs[p + 1] == p:
            if seq == p + 1:
                return walk.brk(p, "reordered", f"entry {seq} stands before entry {p}")
            return walk.brk(p, "inserted", f"an entry claiming seq {seq} stands where entry {p} belongs")
        if p in walk.positions:
            return walk.brk(p, "reordered", f"entry {seq} stands where entry {p} belongs; entry {p} comes later")
        missing = f"entry {p}" if seq == p + 1 else f"entries {p} to {seq - 1}"
        return walk.brk(p, "deleted", f"{missing} missing: the entry here is entry {seq}")
    # a seq seen before: two entries claim it; the one the next entry links to is the log's
    first = walk.positions[seq][0]
    if first != p and walk.vouched(p):
        return walk.brk(first, "inserted", f"two entries claim seq {seq}; the log links to the later one")
    return walk.brk(p, "inserted", f"two entries claim seq {seq}; this one is not linked into the log")


def _unlinked(walk: _Walk, p: int) -> ChainBreak | None:
    expected = GENESIS_HASH if p == 0 else walk.hashes[p - 1]
    if walk.prevs[p] == expected:
        return None
    if p > 0 and walk.vouched(p):
        return walk.brk(p - 1, "edited", f"entry {p - 1} no longer hashes to the hash entry {p} links to")
    if p == 0:
        return walk.brk(0, "edited", "the first entry does not start from the zero hash")
    return walk.brk(p, "edited", f"entry {p} does not link to the hash of entry {p - 1}")


def _first_break(walk: _Walk, reasons: list[str]) -> ChainBreak | None:
    export = walk.export
    stated = export.hashes if len(export.hashes) == walk.n else None
    if stated is None and export.hashes:
        reasons.append(f"the export lists {len(export.hashes)} hashes for {walk.n} entries")
    links = export.links if len(export.links) == walk.n else None
    if links is None and export.links:
        reasons.append(f"the export lists {len(export.links)} links for {walk.n} entries")
    for p in range(walk.n):
        found = _malformed(walk, p) or _out_of_place(walk, p)
        if found is not None:
            return found
        if stated is not None and stated[p] != walk.hashes[p]:
            return walk.brk(p, "edited", f"entry {p} does not hash to its stated hash")
        if links is not None and links[p] != ChainLink(seq=p, prev_hash=str(walk.prevs[p]), hash=str(walk.hashes[p])):
            return walk.brk(p, "edited", f"the export's link {p} does not match entry {p}")
        found = _unlinked(walk, p)
        if found is not None:
            return found
    return None


def _check_checkpoints(walk: _Walk, reasons: list[str]) -> tuple[ChainBreak | None, int | None, int]:
    """The first anchored head the entries do not match; the last seq covered by an anchored head."""
    anchored_through: int | None = None
    previous = -1
    checked = 0
    for checkpoint in sorted(walk.export.checkpoints, key=lambda c: c.seq):
        if checkpoint.bundle is None:
            continue
        checked += 1
        bundle = checkpoint.bundle
        if bytes32_hex(bundle.anchored_hash()) != checkpoint.hash:
            reasons.append(f"the bundle of the head at {checkpoint.seq} proves another hash")
            return walk.brk(checkpoint.seq, "anchor_mismatch", "the head's bundle proves another hash"), None, checked
        offline = bundle.verify_offline()
        if not offline.ok:
            reasons.append(f"head at {checkpoint.seq}: {offline.reason}")
            return walk.brk(checkpoint.seq, "anchor_mismatch", offline.reason), None, checked
        if checkpoint.seq >= walk.n:
            missing = walk.n if walk.n else 0
            return (
                walk.brk(
                    missing, "deleted", f"the log ends at {walk.n - 1} but a head at {checkpoint.seq} is anchored"
                ),
                None,
                checked,
            )
        if walk.hashes[checkpoint.seq] != checkpoint.hash:
            low = previous + 1
            span = f"entry {low}" if low == checkpoint.seq else f"entries {low} to {checkpoint.seq}"
            reason = f"{span}: entry {checkpoint.seq} no longer hashes to the head anchored for it"
            return walk.brk(low, "anchor_mismatch", reason), None, checked
        previous = checkpoint.seq
        anchored_through = checkpoint.seq
    return None, anchored_through, checked


def check_export(export: MaintenanceExport | Mapping[str, Any]) -> ChainCheck:
    """Checks an export off line (see the module doc); ``ok`` only if nothing breaks and every entry is
    covered by an anchored head."""
    if not isinstance(export, MaintenanceExport):
        export = MaintenanceExport.model_validate(export)
    walk = _Walk(export)
    reasons: list[str] = []
    first = _first_break(walk, reasons)
    anchored_through: int | None = None
    checked = 0
    if first is None:
        first, anchored_through, checked = _check_checkpoints(walk, reasons)
    if first is not None:
        where = f"entry {first.entry_id or first.position} (position {first.position})"
        reasons.insert(0, f"{where} {first.kind}: {first.reason}")
    pending = walk.n - 1 - (anchored_through if anchored_through is not None else -1)
    if first is None and pending > 0:
        covered = "no entry is" if anchored_through is None else f"entries after {anchored_through} are"
        reasons.append(f"{covered} covered by an anchored head yet ({pending} pending)")
    if first is None and export.head is not None and walk.n and export.head.hash != walk.hashes[-1]:
        reasons.append("the export's head is not the hash of its last entry")
    anchored_head = export.anchored_head
    if first is None and anchored_head is not None and anchored_through not in (None, anchored_head.seq):
        reasons.append("the export's anchored head is not its latest anchored checkpoint")
    return ChainCheck(
        ok=first is None and not reasons,
        machine_id=export.machine_id,
        entries=walk.n,
        head=walk.hashes[-1] if walk.n else None,
        anchored_through=anchored_through,
        pending=max(pending, 0),
        checkpoints=checked,
        first_break=first,
        reasons=reasons,
    )
