"""``twinledger envelope verify``: check one telemetry envelope (v2 JWS or v1 JSON) against a public key.

Anyone holding a machine's public key can check what its gateway sent, without the cloud.

Example:
    $ twinledger envelope verify envelope.jws --key cnc-01.pub.pem
    {"ok": true, "version": 2, "machine_id": "cnc-01", "seq": 12, "samples": 60, "digest": "sha256:..."}
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = ["register", "verify_file"]


def verify_file(envelope: Path, key: Path) -> dict[str, object]:
    """The verdict on the envelope in ``envelope`` under the PEM public key in ``key``.

    Example:
        >>> verify_file(Path("envelope.jws"), Path("cnc-01.pub.pem"))["ok"]  # doctest: +SKIP
        True
    """
    from twin_models.jws import open_envelope
    from twin_models.signing import load_public_key
    from twin_models.telemetry import EnvelopeError

    body = envelope.read_bytes().strip()
    public_key = load_public_key(key.read_bytes())
    far_future = datetime.now(UTC) + timedelta(days=36500)  # checking an old envelope: no clock rule
    try:
        parsed, digest = open_envelope(body, public_key, now=far_future)
    except EnvelopeError as exc:
        return {"ok": False, "reason": exc.reason, "detail": exc.detail}
    return {
        "ok": True,
        "version": parsed.v,
        "machine_id": parsed.machine_id,
        "seq": parsed.seq,
        "samples": len(parsed.samples),
        "digest": digest,
    }


def _verify(args: argparse.Namespace) -> int:
    for path in (args.envelope, args.key):
        if not path.is_file():
            print(f"error: no file {path}", file=sys.stderr)
            return 2
    try:
        verdict = verify_file(args.envelope, args.key)
    except ValueError as exc:  # not a P-256 public key
        print(f"error: {args.key}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(verdict))
    return 0 if verdict["ok"] else 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``envelope verify``."""
    envelope = subparsers.add_parser("envelope", help="check telemetry envelopes")
    commands = envelope.add_subparsers(dest="envelope_command", metavar="COMMAND", required=True)
    verify = commands.add_parser("verify", help="verify one envelope (v2 JWS or v1 JSON) with a public key")
    verify.add_argument("envelope", type=Path, help="the envelope as published (a file)")
    verify.add_argument("--key", type=Path, required=True, help="the machine's registered public key (PEM)")
    verify.set_defaults(handler=_verify)
