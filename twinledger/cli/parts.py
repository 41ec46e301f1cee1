"""``twinledger verify --part BUNDLE.json`` and ``twinledger parts``: check a part's proof bundle, offline and
against the chain, naming the first check that fails.

The checks (:mod:`twin_models.parts.bundle`): ``record_hash``, ``epcis_event_ids``, ``merkle_proof``,
``envelope_signatures``, ``anchored_root`` and ``key_registered_before_data``. The bundle is what
``GET /parts/{part_id}`` returns.

Example:
    $ twinledger verify --part part.json --rpc http://127.0.0.1:8545
    $ twinledger parts events part.json
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from twin_models.anchoring import ProofBundle
from twin_models.errors import TwinModelsError
from twin_models.parts import CHECKS, NAMESPACES, ChainAnswer, PartBundle, check, event_hash_id
from twinledger.paths import ensure_functions_importable

__all__ = ["register", "verify_part"]


def _read(path: str) -> PartBundle | None:
    try:
        return PartBundle.model_validate_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        print(f"error: cannot read a part bundle from {path}: {exc}", file=sys.stderr)
        return None


def verify_part(args: argparse.Namespace) -> int:
    """Run every check of a part bundle; exit 0 when all pass, 1 naming the first that failed, 2 on errors."""
    bundle = _read(args.part)
    if bundle is None:
        return 2
    ensure_functions_importable()
    from chalicelib.anchoring.service import verify_bundle
    from chalicelib.ports.chain import ChainError
    from twinledger.cli.anchor import _reader

    @cache
    def client() -> Any:
        registry = args.registry or (bundle.proof.contract if bundle.proof else None)
        return _reader(args, registry)

    def on_chain(proof: ProofBundle) -> ChainAnswer:
        found = verify_bundle(proof, client())
        return ChainAnswer(ok=found.ok, anchored_at=found.anchored_at, reason="; ".join(found.reasons))

    try:
        result = check(bundle, on_chain)
    except (ChainError, TwinModelsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report = {
        "part_id": bundle.part_id,
        "ok": result.ok,
        "failed": result.failed,
        "checks": [c.model_dump() for c in result.checks],
        "not_run": [name for name in CHECKS if name not in {c.name for c in result.checks}],
    }
    print(json.dumps(report, indent=2))
    return 0 if result.ok else 1


def _events(args: argparse.Namespace) -> int:
    bundle = _read(args.bundle)
    if bundle is None:
        return 2
    rows = [
        {"bizStep": e.get("bizStep"), "eventID": e.get("eventID"), "recomputed": event_hash_id(e, NAMESPACES)}
        for e in bundle.events
    ]
    print(json.dumps(rows, indent=2))
    return 0 if all(r["eventID"] == r["recomputed"] for r in rows) else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds ``parts events`` (``verify --part`` is an option of ``verify``)."""
    parts = subparsers.add_parser("parts", help="part proof bundles")
    commands = parts.add_subparsers(dest="parts_command", metavar="COMMAND", required=True)
    events = commands.add_parser("events", help="each EPCIS event of a part bundle with its recomputed hash id")
    events.add_argument("bundle")
    events.set_defaults(handler=_events)
