"""``twinledger up``: the local edge stack — mosquitto with mTLS, the ingest bridge, a simulated gateway.

Example:
    $ twinledger up --machines 8 --speed 60                 # Ctrl-C stops everything
    $ twinledger up --ingest app:ingest --duration 120      # feed the real ingest Lambda handler
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

__all__ = ["register"]


def _up(args: argparse.Namespace) -> int:
    from twinledger.local.broker import BrokerError, find_mosquitto
    from twinledger.local.edge_stack import LocalEdgeStack, load_handler

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    if find_mosquitto() is None:
        print("error: mosquitto is not installed (apt-get install -y mosquitto)", file=sys.stderr)
        return 2
    ingest = load_handler(args.ingest) if args.ingest else None
    start = datetime.now(UTC) - timedelta(hours=args.history_hours) if args.speed > 1 else None
    stack = LocalEdgeStack(
        args.state_dir,
        ingest=ingest,
        port=args.port,
        machines=args.machines,
        seed=args.seed,
        speed=args.speed,
        start=start,
        gateway=not args.no_gateway,
        opcua=args.opcua,
    )
    stopped = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    try:
        stack.start()
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {
                "broker": f"mqtts://127.0.0.1:{stack.broker.port}",
                "ca": str(stack.broker.ca_certificate),
                "credentials": str(stack.broker.pki_dir / "clients"),
                "things": stack.things,
                "key_id": stack.key_id,
                "public_key_pem": stack.signing_public_key_pem(),
                "gateway_config": str(stack.config_path),
            }
        ),
        flush=True,
    )
    try:
        stopped.wait(args.duration)
    finally:
        stack.stop()
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``up``."""
    up = subparsers.add_parser("up", help="start mosquitto (mTLS), the ingest bridge and a simulated gateway")
    up.add_argument("--state-dir", type=Path, default=Path(".twinledger/edge"), help="certificates, spool, inbox")
    up.add_argument("--port", type=int, default=8883)
    up.add_argument("--machines", type=int, default=8)
    up.add_argument("--seed", type=int, default=7)
    up.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    up.add_argument("--history-hours", type=float, default=24.0, help="with --speed > 1: start this far back")
    up.add_argument("--ingest", default=None, help="MODULE:ATTR of the ingest handler (default: verify and log)")
    up.add_argument("--no-gateway", action="store_true", help="broker and bridge only")
    up.add_argument("--opcua", action="store_true", help="read the simulator over OPC UA (real time)")
    up.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    up.set_defaults(handler=_up)
