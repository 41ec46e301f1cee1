"""``twinledger api``: the HTTP API alone on embedded backends, and its OpenAPI document.

Example:
    $ twinledger api --port 8000            # serves until Ctrl-C; prints the URL, the dashboard and three tokens
    $ twinledger api --chain in-process     # the chain in process (no Ganache): the browser cannot ask it
    $ twinledger api openapi > docs/openapi.json
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from twin_models.bounds import port, seed, whole
from twinledger.wording import counted

__all__ = ["register"]


def _openapi(args: argparse.Namespace) -> int:
    from twinledger.paths import ensure_functions_importable

    ensure_functions_importable()
    import app as app_module
    from chalicelib.openapi import document

    text = json.dumps(document(app_module.app), indent=2, ensure_ascii=False) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _chain(choice: str) -> str:
    """``auto``: Ganache when it is installed (a browser then checks proofs on the chain itself)."""
    if choice != "auto":
        return choice
    import shutil

    from twinledger.local.ganache import GANACHE_BIN

    return "ganache" if GANACHE_BIN.exists() and shutil.which("node") else "in-process"


def _serve(args: argparse.Namespace) -> int:
    from twinledger.local.api_server import dashboard_url, serve_api

    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    chain = _chain(args.chain)
    with serve_api(port=args.port, machines=args.machines, hours=args.hours, seed=args.seed, chain=chain) as api:
        info = api.as_json()
        if args.tokens_file:
            path = Path(args.tokens_file)
            path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
            path.chmod(0o600)
        print(f"twinledger API on {api.url}  (OpenAPI: {api.url}/openapi.json)")
        for role, token in api.tokens.items():
            print(f"  {role:<10} {token}")
        seeded = f"{counted(api.seed.accepted, 'envelope')} ingested, {counted(api.seed.anchored, 'record')} anchored"
        print(f"  machines: {', '.join(api.seed.machines)}; lease {api.seed.lease_id}; {seeded}")
        print(f"  chain: {api.chain['rpc_url'] or 'in process'} (AnchorRegistry {api.chain['anchor_registry']})")
        print(f"Dashboard: {dashboard_url(api.url, api.tokens['lessee'])}")
        if args.tokens_file:
            print(f"  URL and tokens written to {args.tokens_file}")
        print("Ctrl-C stops.", flush=True)
        stop.wait()
    return 0


def _run(args: argparse.Namespace) -> int:
    return _openapi(args) if args.action == "openapi" else _serve(args)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``api``."""
    parser = subparsers.add_parser(
        "api",
        help="serve the HTTP API alone on embedded backends (seeded demo fleet), or print its OpenAPI document",
        description="`twinledger api` serves the Chalice app on 127.0.0.1 over in-memory stores and an in-process "
        "chain, seeded through the admin routes; it prints the URL and a token for a lessor, a lessee and a "
        "technician. `twinledger api openapi` prints the OpenAPI 3.1 document (docs/openapi.json).",
    )
    parser.add_argument("action", nargs="?", choices=["serve", "openapi"], default="serve")
    parser.add_argument("--port", type=port(), default=8000, help="port on 127.0.0.1 (default 8000; 0: any free one)")
    parser.add_argument("--machines", type=whole(1, 64), default=3, help="seeded machines, 1 to 64 (default 3)")
    parser.add_argument(
        "--hours", type=whole(1, 24 * 31), default=8, help="simulated hours of telemetry, 1 to 744 (default 8)"
    )
    parser.add_argument("--seed", type=seed(), default=7, help="simulator seed (default 7)")
    parser.add_argument("--tokens-file", help="also write the URL and tokens to this JSON file (mode 0600)")
    parser.add_argument(
        "--chain",
        choices=["auto", "ganache", "in-process"],
        default="auto",
        help="the chain: a Ganache devnet a browser can reach, or eth-tester in process (auto: Ganache if installed)",
    )
    parser.add_argument("--out", help="openapi: write the document to this file instead of standard output")
    parser.set_defaults(handler=_run)
