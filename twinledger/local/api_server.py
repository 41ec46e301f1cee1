"""The HTTP API alone, on embedded backends: the same Chalice app over the in-memory stores and the
in-process chain, served on 127.0.0.1 by Chalice's local server, seeded with a demo fleet.

The seeding goes through the API itself, as an operator's tools would: the lessor registers each machine
with its gateway key (``POST /machines``), sets the site's shift calendar (``PUT /sites/{site}/calendar``)
and registers the lease (``POST /leases``, with its ``PayPerUseLease`` contract deployed on the in-process
chain). Then the simulated gateways' signed envelopes go through the ingest pipeline, and the OEE, billing
and anchoring schedules run once, so twins, timelines, OEE, usage, an invoice and proofs are there to read.

The server differs from ``chalice local`` only where ``chalice local`` answers outside the error model:
a method no route declares (TRACE, QUERY, ...) reaches the app, which answers 405 problem details, and a
path no route matches is a 404 problem instead of API Gateway's 403 ``Missing Authentication Token``.

Example:
    >>> with serve_api(port=0, machines=2, hours=1) as api:  # doctest: +SKIP
    ...     api.url.startswith("http://127.0.0.1:"), sorted(api.tokens)
    (True, ['lessee', 'lessor', 'technician'])
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from twinledger.paths import ensure_functions_importable

__all__ = ["ApiServer", "SeedReport", "main", "register_fleet", "serve_api"]

PLANT_TZ = "Europe/Berlin"
SITE = "plant-a"
LESSOR = "toolmaker"
LESSEE = "factory-1"
LEASE_REFERENCE = "lease-demo"
TOKEN_TTL_S = 12 * 3600
_STANDARD = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


@dataclass
class SeedReport:
    """What the seeding put in place."""

    machines: list[str] = field(default_factory=list)
    lease_id: str = ""
    envelopes: int = 0
    accepted: int = 0
    periods_anchored: int = 0
    invoices: int = 0
    anchored: int = 0
    records: list[str] = field(default_factory=list)


@dataclass
class ApiServer:
    """A running API: its base URL, one token per role, and what was seeded."""

    url: str
    tokens: dict[str, str]
    seed: SeedReport
    jwt_secret: str

    def as_json(self) -> dict[str, Any]:
        """The URL, tokens and seeded ids as one JSON document (what tools read)."""
        return {
            "url": self.url,
            "openapi": f"{self.url}/openapi.json",
            "tokens": self.tokens,
            "machines": self.seed.machines,
            "lease_id": self.seed.lease_id,
            "records": self.seed.records,
        }


def _environment(secret: str) -> None:
    """In-memory stores, the in-process chain and local tokens signed with ``secret``."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "POWERTOOLS_METRICS_NAMESPACE": "twinledger",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }.items():
        os.environ.setdefault(name, value)
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"]
    os.environ.update(
        {
            "TWINLEDGER_ADAPTERS": "memory",
            "TWINLEDGER_AUTH_MODE": "jwt",
            "TWINLEDGER_JWT_SECRET": secret,
            "TWINLEDGER_CHAIN_RPC_URL": "eth-tester",
        }
    )
    for name in ("TWINLEDGER_AWS_ENDPOINT_URL", "TWINLEDGER_ANCHOR_REGISTRY", "TWINLEDGER_ANCHOR_STORE"):
        os.environ.pop(name, None)


def _server(app: Any, host: str, port: int) -> Any:
    """Chalice's local server for ``app``, with the two answers of the error model it lacks."""
    from chalice.config import Config
    from chalice.local import ChaliceRequestHandler, CustomLocalChalice, ForbiddenError, LocalChalice, LocalDevServer

    from chalicelib.problems import MEDIA_TYPE, problem

    class Handler(ChaliceRequestHandler):
        """Every method reaches the app (which answers 405 for one a route does not declare)."""

        def __getattr__(self, name: str) -> Any:
            if name.startswith("do_") and name[3:].isalpha() and name[3:].isupper():
                return self._generic_handle
            raise AttributeError(name)

        def _send_error_response(self, error: Any) -> None:
            if isinstance(error, ForbiddenError):  # no route matches the path: 404, not API Gateway's 403
                path = self.path.split("?", 1)[0][:200]
                body = json.dumps(problem(404, f"no route for {path}")).encode()
                self._send_http_response(404, {"Content-Type": MEDIA_TYPE}, body)
                return
            super()._send_error_response(error)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the API's own logs are the app's."""

    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    return LocalDevServer(app, Config(), host, port, handler_cls=Handler)


def _call(url: str, method: str, path: str, token: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{method} {path} answered {exc.code}: {exc.read()[:500]!r}") from exc


def _lease(machine_ids: list[str], start: datetime) -> dict[str, Any]:
    return {
        "lease_id": LEASE_REFERENCE,
        "lessor": LESSOR,
        "lessee": LESSEE,
        "machine_ids": machine_ids,
        "start": start.isoformat(),
        "billing_interval": "daily",
        "timezone": PLANT_TZ,
        "currency": "EUR",
        "tax_rate": "0.19",
        "grace_period": "PT2H",
        "tariff": {
            "components": [
                {"id": "base", "kind": "base_fee", "description": "Fleet day fee", "amount": "240.00"},
                {"id": "spindle", "meter": "spindle_hours", "description": "Spindle hours", "unit_price": "9.50"},
                {"id": "parts", "meter": "parts", "description": "Parts", "unit_price": "0.08"},
            ]
        },
    }


def register_fleet(
    url: str,
    lessor_token: str,
    machines: Mapping[str, tuple[str, dict[str, float]]],
    keys: Mapping[str, dict[str, str]],
    lease_start: datetime,
) -> str:
    """Register machines (``{id: (line, ideal cycle times)}``, each with its gateway ``keys``), the site's
    shift calendar and the lease through the API, as the lessor; the lease's ``PayPerUseLease`` is deployed
    on the configured chain first. Returns the lease id.

    Example:
        >>> register_fleet(url, token, {"cnc-01": ("line-1", {"P1": 30.0})}, keys, start)  # doctest: +SKIP
        'toolmaker:lease-demo'
    """
    from chalicelib.adapters.chain import LeaseTerms, deploy_lease
    from chalicelib.adapters.chain.config import connect, get_chain_settings
    from twin_models.merkle import keccak256

    for machine_id, (line, programs) in sorted(machines.items()):
        _call(url, "POST", "/machines", lessor_token, {
            "machine_id": machine_id, "site": SITE, "line": line, "lessee": LESSEE,
            "timezone": PLANT_TZ, "keys": dict(keys[machine_id]), "ideal_cycle_times_s": programs,
        })  # fmt: skip
    _call(url, "PUT", f"/sites/{SITE}/calendar", lessor_token, {
        "timezone": PLANT_TZ,
        "shifts": [
            {"name": "early", "start": "06:00", "end": "14:00", "breaks": [["10:00", "10:30"]]},
            {"name": "late", "start": "14:00", "end": "22:00", "breaks": [["18:00", "18:30"]]},
        ],
    })  # fmt: skip
    w3 = connect(get_chain_settings())
    lessor_account, lessee_account = (str(a) for a in w3.eth.accounts[:2])
    machine_ids = sorted(machines)
    lease_doc = _lease(machine_ids, lease_start)
    terms = LeaseTerms(
        lessor=lessor_account,
        lessee=lessee_account,
        operator=lessor_account,
        tariff_hash=keccak256(json.dumps(lease_doc["tariff"], sort_keys=True).encode()),
        machine_ids=tuple(keccak256(m.encode()) for m in machine_ids),
        starts_at=lease_start,
        dispute_window_seconds=7 * 86_400,
    )
    address = deploy_lease(w3, lessor_account, terms)
    created = _call(url, "POST", "/leases", lessor_token, {**lease_doc, "contract_address": address})
    return str(created["lease_id"])


def _seed(url: str, tokens: dict[str, str], machines: int, hours: int, seed: int) -> SeedReport:
    """Register the fleet through the API, ingest its telemetry, run the schedules once."""
    from chalicelib.oee.service import period_record_id
    from chalicelib.wiring import services
    from edge_greengrass.simulator import FleetSimulator, ShiftCalendar
    from twin_models.signing import generate_private_key, public_key_pem, seal_wire

    report = SeedReport()
    tz = ZoneInfo(PLANT_TZ)
    day = (datetime.now(tz) - timedelta(days=2)).date()  # a plant day whose billing period has closed
    lease_start = datetime.combine(day, dtime(0), tz).astimezone(UTC)
    start = datetime.combine(day, dtime(6), tz).astimezone(UTC)  # the early shift
    fleet = FleetSimulator(machines, seed, start, calendar=ShiftCalendar(timezone=PLANT_TZ))
    keys = {machine_id: generate_private_key() for machine_id in sorted(fleet.machines)}
    report.machines = sorted(fleet.machines)
    report.lease_id = register_fleet(
        url,
        tokens["lessor"],
        {m: (sim.profile.line, dict(sim.profile.programs)) for m, sim in fleet.machines.items()},
        {m: {f"{m}/1": public_key_pem(key)} for m, key in keys.items()},
        lease_start,
    )

    bodies: list[str] = []
    seqs = dict.fromkeys(fleet.machines, 0)
    last: dict[str, Any] = {}
    for _ in range(hours):
        for machine_id, samples in fleet.advance(3600).items():
            for first in range(0, len(samples), 300):
                chunk = samples[first : first + 300]
                wire = seal_wire(machine_id, SITE, seqs[machine_id], chunk, keys[machine_id], f"{machine_id}/1",
                                 chunk[-1].ts, last.get(machine_id))  # fmt: skip
                last[machine_id] = chunk[-1]
                seqs[machine_id] += 1
                bodies.append(wire.decode())
    built = services()
    for first in range(0, len(bodies), 10):
        event = {"Records": [
            {"messageId": f"seed-{first + i}", "receiptHandle": f"rh-{first + i}", "body": body,
             "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"}, "messageAttributes": {},
             "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:local:0:telemetry",
             "awsRegion": "eu-central-1"}
            for i, body in enumerate(bodies[first : first + 10])
        ]}  # fmt: skip
        built.ingest.handle_batch(event)
    report.envelopes = len(bodies)
    report.accepted = built.ingest.totals.accepted
    day_end = datetime.combine(day + timedelta(days=1), dtime(0), tz).astimezone(UTC)
    oee = built.oee.run_schedule(day_end + timedelta(hours=3))
    report.periods_anchored = int(oee.get("periods_anchored", 0))
    report.invoices = len(built.billing.run().issued)
    report.anchored = int(built.anchoring.run_once().as_dict().get("anchored", 0))
    report.records = [period_record_id(m, start) for m in report.machines]
    return report


@contextlib.contextmanager
def serve_api(
    host: str = "127.0.0.1", port: int = 8000, machines: int = 3, hours: int = 8, seed: int = 7,
    jwt_secret: str | None = None,
) -> Iterator[ApiServer]:  # fmt: skip
    """Serve the API on embedded backends until the block ends; seeded as the module says."""
    secret = jwt_secret or secrets.token_urlsafe(32)
    saved = dict(os.environ)
    _environment(secret)
    ensure_functions_importable()
    import app as app_module
    from chalicelib import wiring
    from chalicelib.adapters.chain.config import reset_chain
    from chalicelib.auth import issue_token

    reset_chain()
    wiring.reset()
    wiring.use(wiring.build())
    server = _server(app_module.app, host, port)
    bound_port = int(server.server.server_address[1])
    thread = threading.Thread(target=server.server.serve_forever, name="twinledger-api", daemon=True)
    thread.start()
    url = f"http://{host}:{bound_port}"
    tokens = {
        role: issue_token(secret, tenant=tenant, role=role, subject=f"{role}-local", ttl_s=TOKEN_TTL_S)
        for role, tenant in (("lessor", LESSOR), ("lessee", LESSEE), ("technician", LESSOR))
    }
    try:
        seeded = _seed(url, tokens, machines, hours, seed)
        yield ApiServer(url=url, tokens=tokens, seed=seeded, jwt_secret=secret)
    finally:
        server.server.shutdown()
        server.server.server_close()
        thread.join(timeout=10)
        wiring.reset()
        reset_chain()
        os.environ.clear()
        os.environ.update(saved)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m twinledger.local.api_server --port P``: serve the app with the environment's settings
    (stores, chain, tokens), nothing seeded, until SIGTERM; ``twinledger up`` runs its API this way."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description="Serve the twinledger API with the environment's settings.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    ensure_functions_importable()
    import app as app_module

    server = _server(app_module.app, args.host, args.port)
    signal.signal(signal.SIGTERM, lambda signum, frame: threading.Thread(target=server.server.shutdown).start())
    try:
        server.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
