"""The HTTP API alone, on embedded backends: the same Chalice app over the in-memory stores and the
in-process chain, served on 127.0.0.1 by Chalice's local server, seeded with a demo fleet.

The seeding goes through the API itself, as an operator's tools would: the lessor registers each machine
with its gateway key (``POST /machines``), sets the site's shift calendar (``PUT /sites/{site}/calendar``)
and registers the lease (``POST /leases``, with its ``PayPerUseLease`` contract deployed on the in-process
chain). Then the simulated gateways' signed envelopes go through the ingest pipeline, and the OEE, billing
and anchoring schedules run once, so twins, timelines, OEE, usage, an invoice and proofs are there to read.

The seeding runs on a clock pinned to when each message would have arrived (then the wall clock again), so
the plant day's usage is billed on that day's invoice; the anomaly model (commissioned once and cached) scores
health, the lessor's technician records an inspection on each machine, and the samples carry production orders
and a material lot, so every page of the dashboard has something to show.

With ``chain="ganache"`` the chain is a Ganache process (the registry deployed on it) instead of the in-process
eth-tester, so a browser can ask the chain itself. The server also serves the built dashboard
(``dashboard/dist``) at ``/dashboard/`` and its local settings at ``/dashboard/config.json`` (chain URL,
registry, the seeded day: never a token); ``/`` redirects there.

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
import mimetypes
import os
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from twinledger.paths import REPO_ROOT, ensure_functions_importable

__all__ = [
    "DASHBOARD_DIR",
    "ApiServer",
    "SeedClock",
    "SeedReport",
    "dashboard_url",
    "main",
    "register_fleet",
    "serve_api",
]

#: Where ``npm run build --prefix dashboard`` puts the dashboard.
DASHBOARD_DIR = REPO_ROOT / "dashboard" / "dist"
DASHBOARD_PATH = "/dashboard/"
#: The production orders and the material lot the seeded samples carry (one order per half of the shift).
SEED_ORDERS = ("PO-4711", "PO-4712")
SEED_LOT = "LOT-2026-A1"

PLANT_TZ = "Europe/Berlin"
SITE = "plant-a"
LESSOR = "toolmaker"
LESSEE = "factory-1"
LEASE_REFERENCE = "lease-demo"
TOKEN_TTL_S = 12 * 3600
_STANDARD = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


class SeedClock:
    """The use cases' clock: pinned while seeding (``pinned``), the wall clock otherwise.

    Example:
        >>> clock = SeedClock()
        >>> clock.pinned = datetime(2026, 1, 5, tzinfo=UTC)
        >>> clock().year
        2026
    """

    def __init__(self) -> None:
        self.pinned: datetime | None = None

    def __call__(self) -> datetime:
        return self.pinned or datetime.now(UTC)


def dashboard_url(api_url: str, token: str | None = None) -> str:
    """The dashboard's address on a local API, with a token for the sign-in field in the fragment (which
    the browser never sends to a server).

    Example:
        >>> dashboard_url("http://127.0.0.1:8000", "abc")
        'http://127.0.0.1:8000/dashboard/#token=abc'
    """
    return f"{api_url}{DASHBOARD_PATH}" + (f"#token={token}" if token else "")


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
    day: str = ""
    entries: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    lot: str = ""


@dataclass
class ApiServer:
    """A running API: its base URL, one token per role, what was seeded, and the chain it uses."""

    url: str
    tokens: dict[str, str]
    seed: SeedReport
    jwt_secret: str
    chain: dict[str, Any] = field(default_factory=dict)

    @property
    def dashboard(self) -> str:
        """The dashboard's URL (no token)."""
        return dashboard_url(self.url)

    def as_json(self) -> dict[str, Any]:
        """The URL, tokens and seeded ids as one JSON document (what tools read)."""
        return {
            "url": self.url,
            "openapi": f"{self.url}/openapi.json",
            "dashboard": self.dashboard,
            "tokens": self.tokens,
            "machines": self.seed.machines,
            "lease_id": self.seed.lease_id,
            "records": self.seed.records,
            "entries": self.seed.entries,
            "day": self.seed.day,
            "orders": self.seed.orders,
            "lot": self.seed.lot,
            "chain": self.chain,
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


_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".map": "application/json",
}


def _content_type(path: Path) -> str:
    return _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _csp(config: Mapping[str, Any]) -> str:
    """The dashboard's content security policy: its own files, the API, and the chain's JSON-RPC."""
    connect = ["'self'"] + ([str(config["rpc_url"])] if config.get("rpc_url") else [])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        f"connect-src {' '.join(connect)}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


def dashboard_answer(path: str, dist: Path, config: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes] | None:
    """What the server answers for a dashboard path (``/``, ``/dashboard/...``), or None for an API path.

    Example:
        >>> dashboard_answer("/machines", Path("dist"), {}) is None
        True
        >>> dashboard_answer("/", Path("dist"), {})[1]["Location"]
        '/dashboard/'
    """
    path = path.split("?", 1)[0].split("#", 1)[0]
    if path in ("/", "/dashboard"):
        return 302, {"Location": DASHBOARD_PATH, "Content-Length": "0"}, b""
    if not path.startswith(DASHBOARD_PATH):
        return None
    headers = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}
    relative = path[len(DASHBOARD_PATH) :]
    if relative == "config.json":
        body = json.dumps(dict(config)).encode()
        return 200, {**headers, "Content-Type": "application/json"}, body
    root = dist.resolve()
    target = (root / (relative or "index.html")).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        if not (root / "index.html").is_file():
            text = b"the dashboard is not built: npm ci --prefix dashboard && npm run build --prefix dashboard\n"
            return 404, {**headers, "Content-Type": "text/plain; charset=utf-8"}, text
        return 404, {**headers, "Content-Type": "text/plain; charset=utf-8"}, b"not found\n"
    if target.name == "index.html":
        headers["Content-Security-Policy"] = _csp(config)
    elif "/assets/" in f"/{target.relative_to(root).as_posix()}":
        headers["Cache-Control"] = "public, max-age=31536000, immutable"  # file names carry their hash
    return 200, {**headers, "Content-Type": _content_type(target)}, target.read_bytes()


def _server(
    app: Any, host: str, port: int, dashboard: Path | None = None, dashboard_config: Mapping[str, Any] | None = None
) -> Any:
    """Chalice's local server for ``app``, with the two answers of the error model it lacks, and the
    dashboard's files (``dashboard``, default ``dashboard/dist``) at ``/dashboard/``."""
    from chalice.config import Config
    from chalice.local import ChaliceRequestHandler, CustomLocalChalice, ForbiddenError, LocalChalice, LocalDevServer

    from chalicelib.problems import MEDIA_TYPE, problem

    dist = dashboard or DASHBOARD_DIR
    config: Mapping[str, Any] = dashboard_config if dashboard_config is not None else {}  # read per request

    class Handler(ChaliceRequestHandler):
        """Every method reaches the app (which answers 405 for one a route does not declare); GET and HEAD of
        ``/`` and ``/dashboard/...`` are the dashboard's."""

        def _dashboard(self, with_body: bool) -> bool:
            answer = dashboard_answer(self.path, dist, config)
            if answer is None:
                return False
            status, headers, body = answer
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            if with_body:
                self.wfile.write(body)
            return True

        def do_GET(self) -> None:
            if not self._dashboard(with_body=True):
                self._generic_handle()

        def do_HEAD(self) -> None:
            if not self._dashboard(with_body=False):
                self._generic_handle()

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
                {
                    "id": "parts",
                    "meter": "parts",
                    "description": "Parts",
                    "pricing": "graduated",
                    "tiers": [{"up_to": "500", "unit_price": "0.08"}, {"up_to": None, "unit_price": "0.05"}],
                },
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


def _model_dir(seed: int) -> Path:
    """The commissioned anomaly model of ``seed``: trained once, then kept in the user's cache."""
    from twinledger.local.demo import commission_model

    cache = Path.home() / ".cache" / "twinledger" / f"anomaly-model-seed{seed}"
    if not (cache / ".complete").exists():
        cache.mkdir(parents=True, exist_ok=True)
        commission_model(cache, seed)
        (cache / ".complete").touch()
    return cache


def _with_orders(samples: list[Any], start: datetime, hours: int) -> list[Any]:
    """The samples as the gateway stamps them from the config shadow: one production order for each half
    of the seeded hours, one material lot."""
    half = start + timedelta(hours=max(1, hours // 2))
    return [
        s.model_copy(update={"order_id": SEED_ORDERS[0] if s.ts < half else SEED_ORDERS[1], "material_lot": SEED_LOT})
        for s in samples
    ]


def _seed(url: str, tokens: dict[str, str], machines: int, hours: int, seed: int, clock: SeedClock) -> SeedReport:
    """Register the fleet through the API, ingest its telemetry, record maintenance, run the schedules once."""
    from chalicelib.oee.service import period_record_id
    from chalicelib.wiring import services
    from edge_greengrass.simulator import FleetSimulator, ShiftCalendar
    from twin_models.signing import generate_private_key, public_key_pem, seal_wire

    report = SeedReport(orders=list(SEED_ORDERS), lot=SEED_LOT)
    tz = ZoneInfo(PLANT_TZ)
    day = (datetime.now(tz) - timedelta(days=2)).date()  # a plant day whose billing period has closed
    report.day = day.isoformat()
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

    bodies: list[tuple[datetime, str]] = []
    seqs = dict.fromkeys(fleet.machines, 0)
    last: dict[str, Any] = {}
    for _ in range(hours):
        for machine_id, samples in fleet.advance(3600).items():
            samples = _with_orders(samples, start, hours)
            for first in range(0, len(samples), 300):
                chunk = samples[first : first + 300]
                wire = seal_wire(machine_id, SITE, seqs[machine_id], chunk, keys[machine_id], f"{machine_id}/1",
                                 chunk[-1].ts, last.get(machine_id))  # fmt: skip
                last[machine_id] = chunk[-1]
                seqs[machine_id] += 1
                bodies.append((chunk[-1].ts, wire.decode()))
    bodies.sort(key=lambda sent: sent[0])
    built = services()
    for first in range(0, len(bodies), 10):
        batch = bodies[first : first + 10]
        clock.pinned = max(sent for sent, _ in batch) + timedelta(seconds=5)  # the queue delivers a moment later
        event = {"Records": [
            {"messageId": f"seed-{first + i}", "receiptHandle": f"rh-{first + i}", "body": body,
             "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"}, "messageAttributes": {},
             "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:local:0:telemetry",
             "awsRegion": "eu-central-1"}
            for i, (_, body) in enumerate(batch)
        ]}  # fmt: skip
        built.ingest.handle_batch(event)
    report.envelopes = len(bodies)
    report.accepted = built.ingest.totals.accepted
    shift_end = start + timedelta(hours=hours)
    for machine_id in report.machines:  # the lessor's technician looks at every machine after the shift
        clock.pinned = shift_end + timedelta(minutes=30)
        entry = _call(url, "POST", f"/machines/{machine_id}/maintenance", tokens["technician"], {
            "kind": "inspection", "text": "end-of-shift inspection: guards, way covers, lubrication",
            "component": "general",
        })  # fmt: skip
        report.entries.append(str(entry["entry"]["entry_id"]))
    day_end = datetime.combine(day + timedelta(days=1), dtime(0), tz).astimezone(UTC)
    clock.pinned = day_end + timedelta(hours=3)
    oee = built.oee.run_schedule(clock.pinned)
    report.periods_anchored = int(oee.get("periods_anchored", 0))
    report.invoices = len(built.billing.run(clock.pinned).issued)
    built.maintenance.anchor_heads()
    clock.pinned = None  # anchoring and everything after it: the wall clock, as the chain's
    for _ in range(20):  # the anchoring schedule, until the queue is empty
        ran = built.anchoring.run_once().as_dict()
        report.anchored += int(ran.get("anchored", 0))
        if not int(ran.get("pending_left", 0)):
            break
    report.records = [period_record_id(m, start) for m in report.machines]
    return report


def _start_ganache() -> tuple[Any, dict[str, Any]]:
    """A Ganache devnet with the ``AnchorRegistry`` deployed, in this process's settings."""
    from chalicelib.adapters.chain.config import connect, get_chain_settings
    from chalicelib.adapters.chain.registry import deploy_anchor_registry
    from twinledger.local.ganache import Ganache

    node = Ganache().start()
    os.environ["TWINLEDGER_CHAIN_RPC_URL"] = node.url
    settings = get_chain_settings()
    w3 = connect(settings)
    registry = deploy_anchor_registry(w3, str(w3.eth.accounts[0]), options=settings.sender_options())
    os.environ["TWINLEDGER_ANCHOR_REGISTRY"] = registry
    return node, {"rpc_url": node.url, "chain_id": int(w3.eth.chain_id), "anchor_registry": registry}


@contextlib.contextmanager
def serve_api(
    host: str = "127.0.0.1", port: int = 8000, machines: int = 3, hours: int = 8, seed: int = 7,
    jwt_secret: str | None = None, chain: str = "in-process", dashboard: Path | None = None,
) -> Iterator[ApiServer]:  # fmt: skip
    """Serve the API on embedded backends until the block ends; seeded as the module says. ``chain`` is
    ``in-process`` (eth-tester) or ``ganache`` (a devnet process a browser can reach)."""
    if chain not in ("in-process", "ganache"):
        raise ValueError(f"chain must be 'in-process' or 'ganache', not {chain!r}")
    secret = jwt_secret or secrets.token_urlsafe(32)
    saved = dict(os.environ)
    _environment(secret)
    ensure_functions_importable()
    import app as app_module
    from chalicelib import wiring
    from chalicelib.adapters.chain.config import reset_chain
    from chalicelib.auth import issue_token
    from twinledger.local.inprocess_endpoint import InProcessEndpoint

    reset_chain()
    wiring.reset()
    node: Any = None
    server: Any = None
    thread: threading.Thread | None = None
    try:
        chain_info: dict[str, Any] = {"rpc_url": None, "chain_id": None, "anchor_registry": None}
        if chain == "ganache":
            node, chain_info = _start_ganache()
        clock = SeedClock()
        wiring.use(wiring.build(clock=clock, endpoint=InProcessEndpoint(_model_dir(seed))))
        config: dict[str, Any] = {**chain_info, "mode": "local", "site": SITE, "refresh_s": 5}
        server = _server(app_module.app, host, port, dashboard=dashboard, dashboard_config=config)
        bound_port = int(server.server.server_address[1])
        thread = threading.Thread(target=server.server.serve_forever, name="twinledger-api", daemon=True)
        thread.start()
        url = f"http://{host}:{bound_port}"
        tokens = {
            role: issue_token(secret, tenant=tenant, role=role, subject=f"{role}-local", ttl_s=TOKEN_TTL_S)
            for role, tenant in (("lessor", LESSOR), ("lessee", LESSEE), ("technician", LESSOR))
        }
        seeded = _seed(url, tokens, machines, hours, seed, clock)
        if chain_info["anchor_registry"] is None:  # the in-process registry, deployed on first use
            from chalicelib.adapters.chain.config import get_anchor_client

            chain_info["anchor_registry"] = get_anchor_client().address
        config.update(chain_info, default_day=seeded.day, lease_id=seeded.lease_id)
        yield ApiServer(url=url, tokens=tokens, seed=seeded, jwt_secret=secret, chain=chain_info)
    finally:
        if server is not None:
            server.server.shutdown()
            server.server.server_close()
        if thread is not None:
            thread.join(timeout=10)
        wiring.reset()
        reset_chain()
        if node is not None:
            node.close()
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
    parser.add_argument("--dashboard-config", type=Path, help="the dashboard's settings (JSON), served as its config")
    args = parser.parse_args(argv)
    ensure_functions_importable()
    import app as app_module

    config = json.loads(args.dashboard_config.read_text(encoding="utf-8")) if args.dashboard_config else {}
    server = _server(app_module.app, args.host, args.port, dashboard_config=config)
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
