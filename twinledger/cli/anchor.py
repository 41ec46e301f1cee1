"""``twinledger verify`` and ``twinledger anchor``: check records against the chain, deploy, drain.

``verify`` trusts nothing but the chain: it re-hashes the record in the proof bundle, checks the Merkle
proof and asks the registry named in the bundle (or ``--registry``) on the node at ``--rpc``. It and
``anchor log-check`` need only the installed package (``pip install 'twinledger[verify]'``); ``deploy`` and
``drain`` need a source checkout.

``verify --maintenance`` checks a machine's exported maintenance history (``GET
/machines/{id}/maintenance/export``): every entry's hash, every link, and that the heads are anchored; it
names the first entry that breaks. Like ``verify --record`` it exits 0 when everything checks, 1 when
something does not, 2 when the file cannot be read or the chain cannot be asked.

Example:
    $ twinledger verify --record proof.json --rpc http://127.0.0.1:8545
    $ twinledger verify --part part.json --rpc http://127.0.0.1:8545
    $ twinledger verify --maintenance cnc-03-history.json --rpc http://127.0.0.1:8545
    $ twinledger anchor hash summary.json
    $ twinledger anchor deploy --rpc http://127.0.0.1:8545
    $ twinledger anchor drain
    $ twinledger anchor log-check --machine cnc-01 --entries maintenance.jsonl --registry 0x... --rpc ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from twin_models.anchoring import ProofBundle, bytes32_hex, record_hash, verify_bundle
from twin_models.bounds import whole
from twin_models.errors import TwinModelsError
from twin_models.hashchain import chain_heads, first_mismatch, machine_key
from twinledger.cli.parts import verify_part
from twinledger.paths import ensure_functions_importable
from twinledger.verify import RegistryError, RegistryReader

__all__ = ["register"]

#: ``--rpc eth-tester``: the chain that runs inside this process (demo, tests); needs a source checkout.
EMBEDDED_RPC = "eth-tester"


def _rpc(args: argparse.Namespace) -> str:
    return str(args.rpc or os.environ.get("TWINLEDGER_CHAIN_RPC_URL") or "http://127.0.0.1:8545")


def _reader(args: argparse.Namespace, registry: str | None) -> RegistryReader:
    """A read-only registry reader that needs only the wheel (no key is loaded: checking needs none)."""
    if not registry:
        raise RegistryError("no registry address: pass --registry (or use a bundle that names its contract)")
    rpc = _rpc(args)
    if rpc != EMBEDDED_RPC:
        return RegistryReader(rpc, registry)
    # the in-process chain of the demo and the tests lives in the functions' chain adapter
    ensure_functions_importable()
    from chalicelib.adapters.chain.config import connect, get_chain_settings

    return RegistryReader(rpc, registry, w3=connect(replace(get_chain_settings(), rpc_url=rpc)))


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _verify(args: argparse.Namespace) -> int:
    if args.part:
        return verify_part(args)
    if args.maintenance:
        return _verify_maintenance(args)
    if not args.record:
        print("error: give --record PROOF.json, --part BUNDLE.json or --maintenance EXPORT.json", file=sys.stderr)
        return 2
    try:
        bundle = ProofBundle.model_validate_json(Path(args.record).read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        print(f"error: cannot read a proof bundle from {args.record}: {exc}", file=sys.stderr)
        return 2
    try:
        result = verify_bundle(bundle, _reader(args, args.registry or bundle.contract))
    except (RegistryError, TwinModelsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print({"record_id": bundle.record_id, "root": bytes32_hex(bundle.root), **result.as_dict()})
    return 0 if result.ok else 1


def _verify_maintenance(args: argparse.Namespace) -> int:
    """An exported maintenance history: off line (hashes, links, heads), then each anchored head on chain."""
    from twin_models.maintenance import ChainBreak, MaintenanceExport, check_export

    try:
        export = MaintenanceExport.model_validate_json(Path(args.maintenance).read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        print(f"error: cannot read a maintenance export from {args.maintenance}: {exc}", file=sys.stderr)
        return 2
    check = check_export(export)
    report: dict[str, Any] = {
        "machine_id": check.machine_id,
        "entries": check.entries,
        "head": check.head,
        "offline_ok": check.first_break is None,
        "anchored_through": check.anchored_through,
        "pending": check.pending,
        "first_break": check.first_break.model_dump() if check.first_break else None,
        "checkpoints": [],
        "on_chain": None,
        "reasons": list(check.reasons),
    }
    ok = check.ok
    if not args.offline and check.first_break is None:
        on_chain = True
        try:
            readers: dict[str, Any] = {}
            for checkpoint in export.checkpoints:
                if checkpoint.bundle is None:
                    continue
                registry = args.registry or checkpoint.bundle.contract or ""
                if registry not in readers:
                    readers[registry] = _reader(args, registry)
                verdict = verify_bundle(checkpoint.bundle, readers[registry])
                report["checkpoints"].append(
                    {"seq": checkpoint.seq, "ok": verdict.ok, "block_number": verdict.block_number}
                )
                if not verdict.ok and on_chain:
                    on_chain = False
                    entry = export.entries[checkpoint.seq] if checkpoint.seq < len(export.entries) else {}
                    broken = ChainBreak(
                        position=checkpoint.seq,
                        kind="anchor_mismatch",
                        reason=f"the head anchored for entry {checkpoint.seq} is not on chain: "
                        + "; ".join(verdict.reasons),
                        seq=checkpoint.seq,
                        entry_id=entry.get("entry_id") if isinstance(entry, dict) else None,
                    )
                    report["first_break"] = broken.model_dump()
                    report["reasons"].append(broken.reason)
        except (RegistryError, TwinModelsError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        report["on_chain"] = on_chain and bool(report["checkpoints"])
        ok = ok and bool(report["on_chain"])
    report["ok"] = ok
    _print(report)
    return 0 if ok else 1


def _hash(args: argparse.Namespace) -> int:
    try:
        document = json.loads(Path(args.file).read_text(encoding="utf-8"))
        print(bytes32_hex(record_hash(document, args.algorithm)))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _deploy(args: argparse.Namespace) -> int:
    ensure_functions_importable()
    from chalicelib.adapters.chain.config import connect, get_chain_settings, load_signer
    from chalicelib.adapters.chain.registry import deploy_anchor_registry
    from chalicelib.ports.chain import ChainError

    settings = replace(get_chain_settings(), rpc_url=_rpc(args))
    try:
        w3 = connect(settings)
        signer: Any = load_signer(settings)
        if signer is None:
            if not w3.eth.accounts:
                raise ChainError("no signing key configured and the node has no unlocked account")
            signer = str(w3.eth.accounts[0])
        address = deploy_anchor_registry(w3, signer, options=settings.sender_options())
    except (ChainError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    admin = signer if isinstance(signer, str) else signer.address
    _print({"registry": address, "rpc": settings.rpc_url, "admin": admin})
    return 0


def _drain(args: argparse.Namespace) -> int:
    ensure_functions_importable()
    from chalicelib import wiring
    from chalicelib.ports.chain import ChainError

    try:
        report = wiring.services().anchoring.run_once(max_batches=args.max_batches)
    except ChainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print(report.as_dict())
    return 0 if not report.error else 1


def _log_check(args: argparse.Namespace) -> int:
    try:
        lines = Path(args.entries).read_text(encoding="utf-8").splitlines()
        entries = [record_hash(json.loads(line)) for line in lines if line.strip()]
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        client = _reader(args, args.registry)
        on_chain = client.log_heads(machine_key(args.machine))
    except (RegistryError, TwinModelsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    mismatch = first_mismatch(entries, on_chain)
    _print(
        {
            "machine": args.machine,
            "entries": len(entries),
            "on_chain": len(on_chain),
            "ok": mismatch is None,
            "first_mismatch": mismatch,
            "local_head": bytes32_hex(chain_heads(entries)[-1]) if entries else None,
            "chain_head": bytes32_hex(on_chain[-1]) if on_chain else None,
        }
    )
    return 0 if mismatch is None else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds ``verify`` and ``anchor`` (hash, deploy, drain, log-check)."""
    verify = subparsers.add_parser(
        "verify", help="check a record's proof bundle, or a machine's exported maintenance history, against the chain"
    )
    verify.add_argument("--record", help="proof bundle JSON (from GET /proofs or GET /maintenance/{entry_id})")
    verify.add_argument(
        "--part", help="part bundle JSON (from GET /parts/{part_id}): every check, the first failing named"
    )
    verify.add_argument("--rpc", help="node JSON-RPC URL (default $TWINLEDGER_CHAIN_RPC_URL or 127.0.0.1:8545)")
    verify.add_argument(
        "--maintenance", metavar="EXPORT", help="maintenance history JSON (GET /machines/{id}/maintenance/export)"
    )
    verify.add_argument("--registry", help="AnchorRegistry address (default: the bundle's contract)")
    verify.add_argument("--offline", action="store_true", help="--maintenance: check hashes and links only")
    verify.set_defaults(handler=_verify)

    anchor = subparsers.add_parser("anchor", help="record hashes, registry deployment, anchoring runs")
    commands = anchor.add_subparsers(dest="anchor_command", metavar="COMMAND", required=True)
    hash_cmd = commands.add_parser("hash", help="print the record hash of a JSON record")
    hash_cmd.add_argument("file")
    hash_cmd.add_argument("--algorithm", default="keccak256-jcs", choices=["keccak256-jcs", "sha256-jcs"])
    hash_cmd.set_defaults(handler=_hash)

    deploy = commands.add_parser("deploy", help="deploy an AnchorRegistry (key from the chain settings)")
    deploy.add_argument("--rpc")
    deploy.set_defaults(handler=_deploy)

    drain = commands.add_parser("drain", help="anchor the pending record hashes now")
    drain.add_argument("--max-batches", type=whole(1), default=None, help="at most this many batches (at least 1)")
    drain.set_defaults(handler=_drain)

    log_check = commands.add_parser("log-check", help="compare a maintenance log with its on-chain hash chain")
    log_check.add_argument("--machine", required=True, help="thing name")
    log_check.add_argument("--entries", required=True, help="JSON lines, one maintenance entry per line, in order")
    log_check.add_argument("--registry", required=True)
    log_check.add_argument("--rpc")
    log_check.set_defaults(handler=_log_check)
