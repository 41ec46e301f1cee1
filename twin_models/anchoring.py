"""Proof bundles: everything needed to check one record against the chain without trusting our database.

A record (a maintenance entry, a quality result, a daily summary, an invoice) is reduced to a 32-byte
*record hash*; batches of record hashes are anchored as one Merkle root in ``AnchorRegistry``. A
:class:`ProofBundle` carries the record (optional), its hash and how it was computed, the Merkle proof,
the root, and where the root was anchored (chain id, registry address, transaction, block); for a
maintenance-log entry on the registry's own log, ``root`` is the machine's chain head after the entry,
``proof`` the head before it, and ``log_machine`` / ``log_index`` its place in the chain. A record that is
chained to later records before one of them is anchored (a maintenance entry under its machine's anchored
head) carries those records in ``chain_after``: each names the hash of the one before in ``prev_hash``, and
the Merkle proof starts from the last one (:meth:`ProofBundle.anchored_hash`). Anyone can
then recompute the hash from the record, check the proof off line with :meth:`ProofBundle.verify_offline`,
and ask the registry (``verifyRecord``) whether the root is on chain.

Example:
    >>> doc = {"machine": "cnc-01", "day": "2026-11-21", "good_parts": 412}
    >>> h = record_hash(doc)
    >>> from twin_models.merkle import MerkleTree
    >>> tree = MerkleTree.build([h, record_hash({"machine": "cnc-02"})])
    >>> bundle = ProofBundle(record=doc, record_hash=h, proof=tree.proof(0), root=tree.root)
    >>> bundle.verify_offline().ok
    True
    >>> bundle.model_copy(update={"record": {**doc, "good_parts": 500}}).verify_offline().reason
    'the record does not hash to record_hash (keccak256-jcs)'
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

import rfc8785
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema, field_validator

from twin_models.hashchain import link, machine_key
from twin_models.merkle import HASH_SIZE, MerkleError, keccak256, verify_proof

__all__ = [
    "CHAIN_LINK_FIELD",
    "AnchoredRoot",
    "HashAlgorithm",
    "LoggedEntry",
    "OfflineCheck",
    "ProofBundle",
    "RegistryView",
    "Verification",
    "bytes32_hex",
    "parse_bytes32",
    "record_hash",
    "verify_bundle",
]

HashAlgorithm = Literal["keccak256-jcs", "sha256-jcs", "none"]

#: The field of a chained record that holds the hash of the record before it (``0x`` hex).
CHAIN_LINK_FIELD = "prev_hash"


def record_hash(document: Any, algorithm: HashAlgorithm = "keccak256-jcs") -> bytes:
    """The 32-byte hash of a JSON-ready record: keccak-256 (default) or SHA-256 of its RFC 8785 form.

    Example:
        >>> record_hash({"b": 1, "a": 2}) == record_hash({"a": 2, "b": 1})
        True
    """
    canonical = rfc8785.dumps(document)
    if algorithm == "keccak256-jcs":
        return keccak256(canonical)
    if algorithm == "sha256-jcs":
        return hashlib.sha256(canonical).digest()
    raise MerkleError(f"cannot hash a record with algorithm {algorithm!r}")


def parse_bytes32(value: Any) -> bytes:
    """A 32-byte value from bytes or ``0x``-prefixed (or bare) hex."""
    if isinstance(value, bytes | bytearray):
        raw = bytes(value)
    elif isinstance(value, str):
        text = value[2:] if value.startswith(("0x", "0X")) else value
        try:
            raw = bytes.fromhex(text)
        except ValueError as exc:
            raise MerkleError(f"not hex: {value!r:.80}") from exc
    else:
        raise MerkleError(f"not a 32-byte value: {value!r:.80}")
    if len(raw) != HASH_SIZE:
        raise MerkleError(f"expected {HASH_SIZE} bytes, got {len(raw)}")
    return raw


def bytes32_hex(value: bytes) -> str:
    """``0x`` + 64 lower-case hex digits, as the chain and the JSON bundle write a ``bytes32``."""
    return "0x" + value.hex()


Bytes32 = Annotated[
    bytes,
    PlainSerializer(bytes32_hex, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": "^0x[0-9a-f]{64}$", "description": "32 bytes as 0x hex"}),
]


class OfflineCheck(BaseModel):
    """The result of checking a bundle without the chain."""

    ok: bool
    reason: str = ""


class ProofBundle(BaseModel):
    """One record's proof of inclusion in an anchored batch (JSON: hashes as ``0x`` hex)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    record_id: str = ""
    kind: str = ""
    record: Any = None
    hash_algorithm: HashAlgorithm = "keccak256-jcs"
    record_hash: Bytes32
    proof: list[Bytes32] = Field(default_factory=list)
    root: Bytes32
    chain_id: int | None = None
    contract: str | None = None
    tx_hash: Bytes32 | None = None
    block_number: int | None = None
    anchored_at: datetime | None = None
    log_machine: str | None = None
    log_index: int | None = Field(default=None, ge=0)
    chain_after: list[dict[str, Any]] | None = Field(
        default=None,
        description="the records chained after this one up to the anchored one, oldest first; each holds the "
        f"hash of the record before it in {CHAIN_LINK_FIELD!r}",
    )

    @field_validator("record_hash", "root", "tx_hash", mode="before")
    @classmethod
    def _one(cls, value: Any) -> Any:
        return None if value is None else parse_bytes32(value)

    @field_validator("proof", mode="before")
    @classmethod
    def _many(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise MerkleError("proof must be a list of 32-byte hashes")
        return [parse_bytes32(v) for v in value]

    @field_validator("anchored_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise MerkleError("anchored_at needs a time zone")
        return value

    def anchored_hash(self) -> bytes:
        """The hash the Merkle proof starts from: ``record_hash``, or the hash of the last ``chain_after`` record."""
        if not self.chain_after:
            return self.record_hash
        return record_hash(self.chain_after[-1], self._chain_algorithm())

    def _chain_algorithm(self) -> HashAlgorithm:
        return "keccak256-jcs" if self.hash_algorithm == "none" else self.hash_algorithm

    def _check_chain_after(self) -> str:
        """Why ``chain_after`` does not lead from ``record_hash`` to the anchored record ("" when it does)."""
        previous = self.record_hash
        for position, following in enumerate(self.chain_after or []):
            if not isinstance(following, dict) or following.get(CHAIN_LINK_FIELD) != bytes32_hex(previous):
                return f"chain_after[{position}] does not link to the record before it ({CHAIN_LINK_FIELD})"
            previous = record_hash(following, self._chain_algorithm())
        return ""

    def verify_offline(self) -> OfflineCheck:
        """Recomputes the record hash (when the record is present), follows ``chain_after`` and checks the proof
        against ``root``."""
        rehash = self.record is not None and self.hash_algorithm != "none"
        if rehash and record_hash(self.record, self.hash_algorithm) != self.record_hash:
            return OfflineCheck(ok=False, reason=f"the record does not hash to record_hash ({self.hash_algorithm})")
        if self.chain_after:
            if self.log_index is not None:
                return OfflineCheck(ok=False, reason="a bundle follows either chain_after or the registry's log")
            broken = self._check_chain_after()
            if broken:
                return OfflineCheck(ok=False, reason=broken)
            if not verify_proof(self.root, self.anchored_hash(), self.proof):
                return OfflineCheck(ok=False, reason="the proof does not lead from the anchored record to root")
            return OfflineCheck(ok=True)
        if self.log_index is not None:
            if len(self.proof) != 1 or not self.log_machine:
                return OfflineCheck(ok=False, reason="a log entry's bundle needs log_machine and the previous head")
            if link(self.proof[0], self.record_hash, self.log_index) != self.root:
                return OfflineCheck(ok=False, reason="the entry does not link the previous head to root")
            return OfflineCheck(ok=True)
        if not verify_proof(self.root, self.record_hash, self.proof):
            return OfflineCheck(ok=False, reason="the proof does not lead from record_hash to root")
        return OfflineCheck(ok=True)


# -- checking a bundle against the registry ------------------------------------------------------------
class AnchoredRoot(Protocol):
    """What the registry stores about an anchored root."""

    @property
    def anchored_at(self) -> datetime: ...

    @property
    def block_number(self) -> int: ...


class LoggedEntry(Protocol):
    """Where a maintenance-log entry was appended."""

    @property
    def block_number(self) -> int: ...


class RegistryView(Protocol):
    """The read-only answers of an ``AnchorRegistry`` that checking a bundle needs.

    The functions' web3 client (``chalicelib.adapters.chain.AnchorClient``) and the stand-alone reader of
    ``twinledger verify`` (``twinledger.verify.RegistryReader``) both provide them.
    """

    @property
    def address(self) -> str: ...

    def chain_id(self) -> int: ...

    def anchor_of(self, root: bytes) -> AnchoredRoot | None: ...

    def verify_record(self, root: bytes, record_hash: bytes, proof: Sequence[bytes]) -> bool: ...

    def verify_log_entry(self, machine_id: bytes, index: int, previous_head: bytes, entry_hash: bytes) -> bool: ...

    def log_head_at(self, machine_id: bytes, index: int) -> bytes: ...

    def find_log_entry(self, machine_id: bytes, entry_hash: bytes, from_block: int = 0) -> LoggedEntry | None: ...

    def block_time(self, block_number: int) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Verification:
    """The result of checking a proof bundle off line and against the registry."""

    ok: bool
    offline_ok: bool
    on_chain: bool
    anchored_at: datetime | None = None
    block_number: int | None = None
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ok": self.ok,
            "offline_ok": self.offline_ok,
            "on_chain": self.on_chain,
            "anchored_at": self.anchored_at.isoformat() if self.anchored_at else None,
            "block_number": self.block_number,
            "reasons": list(self.reasons),
        }


def verify_bundle(bundle: ProofBundle, client: RegistryView) -> Verification:
    """Checks a bundle without our database: re-hash, Merkle proof, and the registry's ``verifyRecord``.

    The registry answers for itself; the bundle's ``contract`` and ``chain_id``, when present, must name
    the registry ``client`` talks to. A maintenance-log bundle (``log_index`` set) is checked against the
    machine's hash chain (``verifyLogEntry`` and the head after the entry).

    Example:
        >>> # verify_bundle(ProofBundle.model_validate_json(text), RegistryReader(rpc_url, address)).ok
    """
    reasons: list[str] = []
    offline = bundle.verify_offline()
    if not offline.ok:
        reasons.append(offline.reason)
    if bundle.contract and bundle.contract.lower() != client.address.lower():
        reasons.append(f"the bundle names registry {bundle.contract}, not {client.address}")
    chain_id = client.chain_id()
    if bundle.chain_id is not None and bundle.chain_id != chain_id:
        reasons.append(f"the bundle names chain {bundle.chain_id}, the node is chain {chain_id}")
    if bundle.log_index is not None:
        return _verify_log_entry(bundle, client, offline.ok, reasons)
    # a record chained to a later anchored one (chain_after) is proven through that one's leaf
    on_chain = client.verify_record(bundle.root, bundle.anchored_hash(), bundle.proof)
    stored = client.anchor_of(bundle.root)
    if stored is None:
        reasons.append("the root is not anchored in this registry")
    elif not on_chain:
        reasons.append("the registry rejects the proof for this record")
    if stored is not None and bundle.block_number is not None and stored.block_number != bundle.block_number:
        reasons.append(f"the root was anchored in block {stored.block_number}, not {bundle.block_number}")
    return Verification(
        ok=not reasons and on_chain,
        offline_ok=offline.ok,
        on_chain=on_chain,
        anchored_at=stored.anchored_at if stored else None,
        block_number=stored.block_number if stored else None,
        reasons=tuple(reasons),
    )


def _verify_log_entry(bundle: ProofBundle, client: RegistryView, offline_ok: bool, reasons: list[str]) -> Verification:
    if not bundle.log_machine or bundle.log_index is None or len(bundle.proof) != 1:
        return Verification(ok=False, offline_ok=False, on_chain=False, reasons=(*reasons, "incomplete log bundle"))
    machine = machine_key(bundle.log_machine)
    on_chain = client.verify_log_entry(machine, bundle.log_index, bundle.proof[0], bundle.record_hash)
    if on_chain and client.log_head_at(machine, bundle.log_index) != bundle.root:
        on_chain = False
    if not on_chain:
        reasons.append(f"the chain of {bundle.log_machine} does not hold this entry at {bundle.log_index}")
    event = client.find_log_entry(machine, bundle.record_hash) if on_chain else None
    return Verification(
        ok=not reasons and on_chain,
        offline_ok=offline_ok,
        on_chain=on_chain,
        anchored_at=client.block_time(event.block_number) if event else None,
        block_number=event.block_number if event else None,
        reasons=tuple(reasons),
    )
