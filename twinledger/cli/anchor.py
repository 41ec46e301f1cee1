"""``twinledger verify`` and ``twinledger anchor``: check records against the chain, deploy, drain.

``verify`` trusts nothing but the chain: it re-hashes the record in the proof bundle, checks the Merkle
proof and asks the registry named in the bundle (or ``--registry``) on the node at ``--rpc``. It and
``anchor log-check`` need only the installed package (``pip install 'twinledger[verify]'``); ``deploy`` and
``drain`` need a source checkout.

Example:
    $ twinledger verify --record proof.json --rpc http://127.0.0.1:8545
    $ twinledger verify --part part.json --rpc http://127.0.0.1:8545
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
    if not args.record:
        print("error: give --record PROOF.json or --part BUNDLE.json", file=sys.stderr)
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
    verify = subparsers.add_parser("verify", help="check a record's proof bundle against the chain")
    verify.add_argument("--record", help="proof bundle JSON (from GET /proofs)")
    verify.add_argument(
        "--part", help="part bundle JSON (from GET /parts/{part_id}): every check, the first failing named"
    )
    verify.add_argument("--rpc", help="node JSON-RPC URL (default $TWINLEDGER_CHAIN_RPC_URL or 127.0.0.1:8545)")
    verify.add_argument("--registry", help="AnchorRegistry address (default: the bundle's contract)")
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
    drain.add_argument("--max-batches", type=int, default=None)
    drain.set_defaults(handler=_drain)

    log_check = commands.add_parser("log-check", help="compare a maintenance log with its on-chain hash chain")
    log_check.add_argument("--machine", required=True, help="thing name")
    log_check.add_argument("--entries", required=True, help="JSON lines, one maintenance entry per line, in order")
    log_check.add_argument("--registry", required=True)
    log_check.add_argument("--rpc")
    log_check.set_defaults(handler=_log_check)
