"""The gateway's commands: run a gateway outside Greengrass, provision device credentials.

``python -m edge_greengrass ACTION`` runs them alone (a fast start, nothing of the rest of the project
loaded); ``twinledger edge ACTION`` adds the same parser to the project's command line through
:func:`register`. The gateway's modules are imported by the action that needs them, not here.

Example:
    $ python -m edge_greengrass provision --thing cnc-01 --out .twinledger/pki --local-ca .twinledger/pki/ca
    $ python -m edge_greengrass run --config gateway.yaml --duration 60
    $ twinledger edge run --config gateway.yaml --duration 60      # the same command
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from twin_models.bounds import number

__all__ = ["add_actions", "main", "register"]

Handler = Callable[[argparse.Namespace], int]

#: The one-line description of the commands (``--help``).
DESCRIPTION = "``twinledger edge``: run a gateway outside Greengrass, provision device credentials."


def _run(args: argparse.Namespace) -> int:
    from edge_greengrass.config import load_config
    from edge_greengrass.errors import EdgeError
    from edge_greengrass.runner import Gateway

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(message)s")
    try:
        gateway = Gateway.from_config(load_config(args.config))
    except EdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    gateway.install_signal_handlers()
    try:
        code = gateway.run(duration_s=args.duration)
        if args.drain:
            gateway.publisher.flush()
            gateway.publisher.drain(args.drain)
        print(json.dumps(gateway.status()))
        return code
    finally:
        gateway.close()


def _provision(args: argparse.Namespace) -> int:
    from edge_greengrass.errors import EdgeError
    from edge_greengrass.pki import LocalCertificateAuthority, provision_device

    try:
        ca = LocalCertificateAuthority.create(args.local_ca) if args.local_ca else None
        creds = [provision_device(args.out, thing, ca=ca) for thing in args.thing]
    except EdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for c in creds:
        print(
            json.dumps(
                {
                    "thing": c.name,
                    "private_key": str(c.private_key),
                    "csr": str(c.csr),
                    "certificate": str(c.certificate) if ca else None,
                    "ca_certificate": str(c.ca_certificate) if c.ca_certificate else None,
                }
            )
        )
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``edge run`` and ``edge provision`` to a command line's sub-commands (``twinledger edge ...``).

    Example:
        >>> parser = argparse.ArgumentParser(prog="twinledger")
        >>> register(parser.add_subparsers(dest="command"))
        >>> parser.parse_args(["edge", "run", "--config", "gw.yaml"]).handler is _run
        True
    """
    edge = subparsers.add_parser("edge", help="gateway: run outside Greengrass, provision credentials")
    add_actions(edge)


def main(argv: Sequence[str] | None = None) -> int:
    """The edge commands alone (``python -m edge_greengrass run ...``); returns the exit code.

    Example:
        >>> import tempfile
        >>> main(["provision", "--thing", "cnc-01", "--out", tempfile.mkdtemp()])  # doctest: +ELLIPSIS
        {"thing": "cnc-01", "private_key": ".../cnc-01.key", ...}
        0
    """
    parser = argparse.ArgumentParser(prog="python -m edge_greengrass", description=DESCRIPTION)
    add_actions(parser)
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


def add_actions(edge: argparse.ArgumentParser) -> None:
    """Add the ``run`` and ``provision`` actions (each sets ``handler``) to ``edge``.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_actions(parser)
        >>> parser.parse_args(["provision", "--thing", "cnc-01", "--out", "pki"]).edge_command
        'provision'
    """
    sub = edge.add_subparsers(dest="edge_command", metavar="ACTION", required=True)

    run = sub.add_parser("run", help="run the gateway (source -> spool -> MQTT5/mTLS) from a config file")
    run.add_argument("--config", type=Path, required=True, help="gateway configuration (YAML or JSON)")
    run.add_argument("--duration", type=number(0, low_open=True), default=None, help="stop after this many seconds")
    run.add_argument(
        "--drain", type=number(0), default=0.0, help="at the end, seal open batches and publish for up to S s"
    )
    run.add_argument("-v", "--verbose", action="store_true")
    run.set_defaults(handler=_run)

    prov = sub.add_parser("provision", help="create a device key and CSR (and sign it with a local CA)")
    prov.add_argument("--thing", action="append", required=True, help="thing name (repeatable)")
    prov.add_argument("--out", type=Path, required=True, help="folder for <thing>.key/.csr/.crt")
    prov.add_argument("--local-ca", type=Path, default=None, help="sign with (or create) the local CA in this folder")
    prov.set_defaults(handler=_provision)
