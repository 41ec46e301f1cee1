"""``twinledger up``: the whole local stack in one command (see :mod:`twinledger.local.stack`); with
``--edge-only``, the edge part alone (mosquitto with mTLS, the ingest bridge, a simulated gateway).

Example:
    $ twinledger up                                          # API on http://127.0.0.1:8000, Ctrl-C stops all
    $ twinledger up --machines 8 --speed 60 --history-hours 6
    $ twinledger up --edge-only --ingest app:ingest --duration 120
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from twin_models.bounds import number, port, seed, whole

__all__ = ["register"]


_PORTS_HELP = """ports (all on 127.0.0.1; 0 picks a free one):
  --api-port      the HTTP API (chalice local serving the app)        default 8000
  --port          mosquitto, MQTT over mTLS                             default 8883
  --moto-port     moto in server mode (DynamoDB, S3, IoT data, ...)     default: a free port
  --ganache-port  Ganache JSON-RPC (the AnchorRegistry and the lease)   default: a free port
  --endpoint-port the local SageMaker runtime endpoint                  default: a free port
"""


def _stop_on_signals() -> threading.Event:
    """An event set by SIGINT (Ctrl-C) or SIGTERM: the command then stops what it started and exits."""
    stopped = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stopped


def _full(args: argparse.Namespace) -> int:
    from twinledger.local.stack import LocalStack, Ports

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    stack = LocalStack(
        args.state_dir,
        ports=Ports(
            api=args.api_port,
            mqtt=args.port,
            moto=args.moto_port,
            ganache=args.ganache_port,
            endpoint=args.endpoint_port,
        ),
        machines=args.machines,
        seed=args.seed,
        speed=args.speed,
        history_hours=args.history_hours if args.speed > 1 else 0.0,
        schedule_interval_s=args.schedule_interval,
    )
    stopped = _stop_on_signals()
    print(f"starting the local stack in {stack.state_dir} ...", file=sys.stderr, flush=True)
    # the Lambda handlers running in this process log and emit metrics on stdout, as in Lambda: that goes to
    # a log file, so stdout carries just the one line describing the stack
    out = sys.stdout
    (stack.state_dir / "logs").mkdir(parents=True, exist_ok=True)
    with (stack.state_dir / "logs" / "lambda.log").open("a") as lambda_log, contextlib.redirect_stdout(lambda_log):
        return _serve(stack, args, stopped, out)


def _serve(stack: Any, args: argparse.Namespace, stopped: threading.Event, out: TextIO) -> int:
    from twinledger.local.stack import StackError

    try:
        stack.start()
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "api": stack.api_url,
                "dashboard": stack.dashboard_url,
                "tokens_file": str(stack.tokens_path),
                "tokens": stack.tokens,
                "things": stack.things,
                "moto": stack.env["TWINLEDGER_AWS_ENDPOINT_URL"],
                "chain": stack.env["TWINLEDGER_CHAIN_RPC_URL"],
                "anchor_registry": stack.env["TWINLEDGER_ANCHOR_REGISTRY"],
                "schedule_interval_s": stack.schedule_interval_s,
            }
        ),
        file=out,
        flush=True,
    )
    from twinledger.local.api_server import dashboard_url

    print(f"API: {stack.api_url}  (tokens in {stack.tokens_path}); Ctrl-C stops everything", file=sys.stderr)
    print(f"Dashboard: {dashboard_url(stack.api_url, stack.tokens['lessee'])}", file=sys.stderr)
    code = 0
    try:
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while not stopped.wait(1.0):
            if deadline is not None and time.monotonic() >= deadline:
                break
            try:
                stack.check()
            except StackError as exc:
                print(f"error: {exc}", file=sys.stderr)
                code = 1
                break
    finally:
        stack.stop()
    return code


def _up(args: argparse.Namespace) -> int:
    args.state_dir = args.state_dir.expanduser().resolve()
    if not args.edge_only:
        return _full(args)
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
    stopped = _stop_on_signals()
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
    code = 0
    try:
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while not stopped.wait(1.0):
            if deadline is not None and time.monotonic() >= deadline:
                break
            if stack.gateway is not None and stack.gateway.poll() is not None:  # never fail silently
                log = args.state_dir / "gateway" / "gateway.log"
                tail = log.read_text(errors="replace").splitlines()[-5:] if log.exists() else []
                print(f"error: the gateway exited with {stack.gateway.returncode}: {' | '.join(tail)}", file=sys.stderr)
                code = 1
                break
    finally:
        stack.stop()
    return code


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``up``."""
    up = subparsers.add_parser(
        "up",
        help="start the whole local stack: moto, Ganache, mosquitto (mTLS), the bridge, gateways and the API",
        description="The whole local stack on 127.0.0.1; prints the API's URL and a token per role.",
        epilog=_PORTS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    up.add_argument(
        "--state-dir", type=Path, default=Path(".twinledger"), help="certificates, spool, logs, tokens (made absolute)"
    )
    up.add_argument("--port", type=port(), default=8883, help="mosquitto (MQTT over mTLS)")
    up.add_argument("--api-port", type=port(), default=8000, help="the HTTP API")
    up.add_argument("--moto-port", type=port(), default=0, help="moto in server mode (0: free port)")
    up.add_argument("--ganache-port", type=port(), default=0, help="Ganache JSON-RPC (0: free port)")
    up.add_argument("--endpoint-port", type=port(), default=0, help="the SageMaker runtime endpoint (0: free port)")
    up.add_argument(
        "--schedule-interval",
        type=number(0, 86_400, low_open=True),
        default=10.0,
        help="seconds between runs of OEE, billing and anchoring",
    )
    up.add_argument("--edge-only", action="store_true", help="only mosquitto, the bridge and the gateway")
    up.add_argument("--machines", type=whole(1, 64), default=4, help="simulated machines, 1 to 64 (default 4)")
    up.add_argument("--seed", type=seed(), default=7)
    up.add_argument(
        "--speed", type=number(0, 3600, low_open=True), default=1.0, help="simulated seconds per second (at most 3600)"
    )
    up.add_argument(
        "--history-hours", type=number(0, 24 * 31), default=24.0, help="with --speed > 1: start this far back"
    )
    up.add_argument("--ingest", default=None, help="MODULE:ATTR of the ingest handler (default: verify and log)")
    up.add_argument("--no-gateway", action="store_true", help="broker and bridge only")
    up.add_argument("--opcua", action="store_true", help="read the simulator over OPC UA (real time)")
    up.add_argument("--duration", type=number(0, low_open=True), default=None, help="stop after this many seconds")
    up.set_defaults(handler=_up)
