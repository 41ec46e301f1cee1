"""The whole local stack, as ``twinledger up`` runs it: every part a real process on 127.0.0.1.

* **moto** in server mode stands in for DynamoDB, S3, IoT data (shadows), SNS and Secrets Manager; the
  tables and buckets are created on it;
* **Ganache** with the ``AnchorRegistry`` deployed, and the demo lease's ``PayPerUseLease``;
* a **SageMaker runtime endpoint** serving a quick-start anomaly model commissioned from the simulator;
* **mosquitto** with mTLS, the **ingest bridge** (MQTT -> the real ingest Lambda handler, in process), the
  **shadow relay** (moto's shadows <-> MQTT) and a **gateway process** publishing a simulated fleet;
* the **HTTP API** (the same app on Chalice's local server, :mod:`twinledger.local.api_server`, over moto
  and Ganache), which also serves the web dashboard at ``/dashboard/`` with the chain's URL and registry;
* a **scheduler** thread running the scheduled functions (ingest catch-up, OEE, billing, anchoring) every
  ``schedule_interval_s``, so what is ingested is anchored within seconds.

Machines, the site's shift calendar and the lease are registered through the admin routes, as the lessor,
before the gateway starts. Everything
generated lives under ``state_dir`` (made absolute, so the command works from any directory).

Example:
    >>> stack = LocalStack(Path("/tmp/twinledger")).start()     # doctest: +SKIP
    >>> stack.api_url                                            # doctest: +SKIP
    'http://127.0.0.1:8000'
    >>> stack.stop()                                             # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from twinledger.paths import ensure_functions_importable

__all__ = ["JWT_SECRET", "LocalStack", "Ports", "StackError"]

_log = logging.getLogger(__name__)

#: The local token secret of the stack's API (HS256): local use only.
JWT_SECRET = "twinledger-local-stack-secret-not-for-production"
ENDPOINT_NAME = "twinledger-anomaly"


class StackError(RuntimeError):
    """A part of the stack did not come up, or stopped."""


@dataclass(frozen=True)
class Ports:
    """Where the parts listen on 127.0.0.1 (0: a free port)."""

    api: int = 8000
    mqtt: int = 8883
    moto: int = 0
    ganache: int = 0
    endpoint: int = 0


@dataclass
class _Parts:
    moto: Any = None
    ganache: Any = None
    endpoint: Any = None
    edge: Any = None
    api: Any = None
    scheduler: threading.Thread | None = None
    stopping: threading.Event = field(default_factory=threading.Event)


class LocalStack:
    """Start, watch and stop the local stack (see the module docstring)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        ports: Ports | None = None,
        machines: int = 4,
        seed: int = 7,
        speed: float = 1.0,
        history_hours: float = 0.0,
        schedule_interval_s: float = 10.0,
    ) -> None:
        if machines < 1:
            raise ValueError("machines must be at least 1")
        if schedule_interval_s <= 0:
            raise ValueError("the schedule interval must be positive")
        self.state_dir = state_dir.expanduser().resolve()
        self.ports = ports or Ports()
        self.machines, self.seed, self.speed = machines, seed, speed
        self.history_hours = history_hours
        self.schedule_interval_s = schedule_interval_s
        self.env: dict[str, str] = {}
        self.api_url = ""
        self.tokens: dict[str, str] = {}
        self.schedule_runs = 0
        self.schedule_errors: list[str] = []
        self._parts = _Parts()
        self._saved_env: dict[str, str] = {}

    # -- start ---------------------------------------------------------------------------------
    def start(self) -> LocalStack:
        """Bring every part up, in dependency order; :class:`StackError` (everything stopped) on failure."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_moto()
            self._start_chain()
            self._start_endpoint()
            self._install_env()
            self._deploy_registry()
            self._start_api()
            self._write_tokens()
            self._register()
            self._start_edge()
            self._write_pids()
            self._start_scheduler()
        except BaseException as exc:
            self.stop()
            if isinstance(exc, StackError):
                raise
            raise StackError(f"{type(exc).__name__}: {exc}") from exc
        return self

    def _start_moto(self) -> None:
        from twinledger.local.servers import base_url, moto_process

        try:
            self._parts.moto = moto_process(self.ports.moto or None, self.state_dir / "logs" / "moto.log").start()
        except RuntimeError as exc:
            raise StackError(str(exc)) from exc
        self.env.update(
            {
                "TWINLEDGER_ADAPTERS": "aws",
                "TWINLEDGER_AWS_ENDPOINT_URL": base_url(self._parts.moto),
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": "eu-central-1",
                "AWS_REGION": "eu-central-1",
                "TWINLEDGER_AUTH_MODE": "jwt",
                "TWINLEDGER_JWT_SECRET": JWT_SECRET,
                "POWERTOOLS_METRICS_NAMESPACE": "twinledger",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
        )

    def _start_chain(self) -> None:
        from twinledger.local.ganache import DETERMINISTIC_KEYS, GANACHE_BIN, Ganache, GanacheError

        if not GANACHE_BIN.exists():
            raise StackError(f"Ganache is not installed ({GANACHE_BIN}): run scripts/setup.sh test")
        try:
            self._parts.ganache = Ganache(port=self.ports.ganache or None).start()
        except GanacheError as exc:
            raise StackError(f"Ganache: {exc}") from exc
        self.env.update(
            {"TWINLEDGER_CHAIN_RPC_URL": self._parts.ganache.url, "TWINLEDGER_CHAIN_PRIVATE_KEY": DETERMINISTIC_KEYS[0]}
        )

    def _start_endpoint(self) -> None:
        from twinledger.local.demo import commission_model
        from twinledger.local.sagemaker_endpoint import LocalEndpointServer

        model_dir = self.state_dir / "anomaly-model"
        if not model_dir.is_dir() or not any(model_dir.iterdir()):
            commission_model(model_dir, self.seed)
        self._parts.endpoint = LocalEndpointServer({ENDPOINT_NAME: model_dir}, port=self.ports.endpoint).start()
        self.env.update(
            {
                "TWINLEDGER_ANOMALY_ENDPOINT": ENDPOINT_NAME,
                "TWINLEDGER_SAGEMAKER_ENDPOINT_URL": self._parts.endpoint.url,
            }
        )

    def _install_env(self) -> None:
        """This process runs the ingest handler and the schedules: it uses the same settings as the API."""
        self._saved_env = {name: os.environ[name] for name in self.env if name in os.environ}
        os.environ.update(self.env)
        ensure_functions_importable()
        from chalicelib import wiring
        from chalicelib.adapters import aws
        from chalicelib.adapters.chain.config import reset_chain
        from chalicelib.adapters.tables import create_resources

        aws.reset_clients()
        reset_chain()
        wiring.reset()
        create_resources(aws.client("dynamodb"), aws.client("s3"))

    def _deploy_registry(self) -> None:
        from chalicelib import wiring
        from chalicelib.adapters.chain.config import connect, get_chain_settings
        from chalicelib.adapters.chain.registry import deploy_anchor_registry

        settings = get_chain_settings()
        w3 = connect(settings)
        registry = deploy_anchor_registry(w3, str(w3.eth.accounts[0]), options=settings.sender_options())
        os.environ["TWINLEDGER_ANCHOR_REGISTRY"] = self.env["TWINLEDGER_ANCHOR_REGISTRY"] = registry
        wiring.reset()

    def _register(self) -> None:
        """The machines (with the gateway's key), the site's calendar and the lease, through the admin
        routes as the lessor; and each machine's IoT thing, whose named shadows the twin keeps."""
        from chalicelib.adapters import aws
        from edge_greengrass.pki import load_private_key, provision_device
        from edge_greengrass.simulator import FleetSimulator
        from twin_models.signing import public_key_pem
        from twinledger.local.api_server import register_fleet

        signing = provision_device(self.state_dir / "edge" / "gateway", "gateway-1")
        pem = public_key_pem(load_private_key(signing.private_key))
        fleet = FleetSimulator(self.machines, self.seed, datetime.now(UTC))
        iot = aws.client("iot")
        for machine_id in fleet.machines:
            iot.create_thing(thingName=machine_id)
        start = datetime.now(UTC) - timedelta(hours=self.history_hours) - timedelta(days=1)
        register_fleet(
            self.api_url,
            self.tokens["lessor"],
            {m: (sim.profile.line, dict(sim.profile.programs)) for m, sim in fleet.machines.items()},
            {machine_id: {"gateway-1": pem} for machine_id in fleet.machines},
            start.replace(minute=0, second=0, microsecond=0),
        )

    def _start_edge(self) -> None:
        from chalicelib.adapters import aws
        from twinledger.local.broker import BrokerError, find_mosquitto
        from twinledger.local.edge_stack import LocalEdgeStack, load_handler
        from twinledger.local.servers import free_port

        if find_mosquitto() is None:
            raise StackError("mosquitto is not installed (apt-get install -y mosquitto)")
        start = datetime.now(UTC) - timedelta(hours=self.history_hours) if self.history_hours else None
        self._parts.edge = LocalEdgeStack(
            self.state_dir / "edge",
            ingest=load_handler("app:ingest"),
            port=self.ports.mqtt or free_port(),
            machines=self.machines,
            seed=self.seed,
            speed=self.speed,
            start=start,
            shadows=aws.client("iot-data"),
        )
        try:
            self._parts.edge.start()
        except BrokerError as exc:
            raise StackError(f"mosquitto: {exc}") from exc
        time.sleep(1.0)
        self._check_gateway()

    def _check_gateway(self) -> None:
        gateway = self._parts.edge.gateway if self._parts.edge is not None else None
        if gateway is not None and gateway.poll() is not None:
            log = self.state_dir / "edge" / "gateway" / "gateway.log"
            tail = log.read_text(errors="replace").splitlines()[-5:] if log.exists() else []
            raise StackError(f"the gateway exited with {gateway.returncode}: " + " | ".join(tail))

    def _dashboard_config(self) -> Path:
        """The dashboard's local settings (no token): the chain the browser asks, the site, the lease."""
        from zoneinfo import ZoneInfo

        from chalicelib.adapters.chain.config import connect, get_chain_settings
        from twinledger.local.api_server import LEASE_REFERENCE, LESSOR, PLANT_TZ, SITE

        path = self.state_dir / "dashboard-config.json"
        config = {
            "mode": "local",
            "rpc_url": self.env["TWINLEDGER_CHAIN_RPC_URL"],
            "chain_id": int(connect(get_chain_settings()).eth.chain_id),
            "anchor_registry": self.env["TWINLEDGER_ANCHOR_REGISTRY"],
            "site": SITE,
            "lease_id": f"{LESSOR}:{LEASE_REFERENCE}",
            "default_day": datetime.now(ZoneInfo(PLANT_TZ)).date().isoformat(),
            "refresh_s": 5,
        }
        path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        return path

    @property
    def dashboard_url(self) -> str:
        """The dashboard on the stack's API."""
        from twinledger.local.api_server import dashboard_url

        return dashboard_url(self.api_url)

    def _start_api(self) -> None:
        from twinledger.local.servers import api_process, base_url

        try:
            self._parts.api = api_process(
                self.env, self.ports.api or None, self.state_dir / "logs" / "api.log", self._dashboard_config()
            )
            self._parts.api.start()
        except RuntimeError as exc:
            raise StackError(str(exc)) from exc
        self.api_url = base_url(self._parts.api)

    def _write_tokens(self) -> None:
        from chalicelib.auth import issue_token
        from twinledger.local.demo import LESSEE, LESSOR

        day = 24 * 3600
        self.tokens = {
            "lessor": issue_token(JWT_SECRET, tenant=LESSOR, role="lessor", subject="leasing-manager", ttl_s=day),
            "lessee": issue_token(JWT_SECRET, tenant=LESSEE, role="lessee", subject="plant-manager", ttl_s=day),
            "technician": issue_token(
                JWT_SECRET, tenant=LESSOR, role="technician", subject="service-technician", ttl_s=day
            ),
        }
        path = self.tokens_path
        path.write_text(json.dumps({"api": self.api_url, "tokens": self.tokens}, indent=2))
        path.chmod(0o600)

    def _write_pids(self) -> None:
        (self.state_dir / "pids.json").write_text(json.dumps(self.pids()))

    @property
    def things(self) -> list[str]:
        """The simulated machines' ids."""
        return [f"cnc-{i + 1:02d}" for i in range(self.machines)]

    @property
    def tokens_path(self) -> Path:
        """Where the API's URL and the three tokens are written."""
        return self.state_dir / "tokens.json"

    def pids(self) -> dict[str, int]:
        """The process ids of the stack's processes that are running (the rest run in this process)."""
        parts, found = self._parts, {}
        for name in ("moto", "api"):
            server = getattr(parts, name)
            if server is not None and server.process is not None:
                found[name] = server.process.pid
        ganache = parts.ganache._process if parts.ganache is not None else None
        if ganache is not None:
            found["ganache"] = ganache.pid
        if parts.edge is not None:
            if parts.edge.broker.pid is not None:
                found["mosquitto"] = parts.edge.broker.pid
            if parts.edge.gateway is not None:
                found["gateway"] = parts.edge.gateway.pid
        return found

    # -- the schedules -------------------------------------------------------------------------
    def run_schedules(self) -> dict[str, Any]:
        """Run every scheduled function once, as EventBridge would: each failure is logged and kept."""
        from chalicelib.wiring import services

        now = datetime.now(UTC)
        done: dict[str, Any] = {}
        schedules: tuple[tuple[str, Callable[[], Any]], ...] = (
            ("ingest_catch_up", lambda: services().ingest.catch_up()),
            ("oee_shifts", lambda: services().oee.run_schedule(now)),
            ("billing_close_periods", lambda: services().billing.run(time_budget_s=30.0).as_dict()),
            ("anchor", lambda: services().anchoring.run_once(time_budget_seconds=30.0).as_dict()),
        )
        for name, run in schedules:
            try:
                done[name] = run()
            except Exception as exc:  # a schedule that fails is retried at the next tick, as in AWS
                _log.warning("schedule %s failed: %s", name, exc)
                self.schedule_errors.append(f"{name}: {exc}")
        self.schedule_runs += 1
        return done

    def _start_scheduler(self) -> None:
        def loop() -> None:
            while not self._parts.stopping.wait(self.schedule_interval_s):
                self.run_schedules()

        self._parts.scheduler = threading.Thread(target=loop, name="schedules", daemon=True)
        self._parts.scheduler.start()

    # -- watch and stop ------------------------------------------------------------------------
    def check(self) -> None:
        """:class:`StackError` when a process of the stack has stopped."""
        self._check_gateway()
        for name in ("moto", "api"):
            part = getattr(self._parts, name)
            if part is not None and not part.alive():
                raise StackError(f"{part.name} stopped (exit {part.process.returncode})")
        ganache = self._parts.ganache
        if ganache is not None and not ganache.running:
            raise StackError("Ganache stopped")

    def stop(self) -> None:
        """Stop every part that was started, the last first; the environment is given back."""
        parts = self._parts
        parts.stopping.set()
        if parts.scheduler is not None:
            parts.scheduler.join(timeout=60)
        for name in ("api", "edge", "endpoint", "ganache", "moto"):
            part = getattr(parts, name)
            if part is None:
                continue
            try:
                part.close() if name == "ganache" else part.stop()
            except Exception as exc:  # stop the rest regardless
                _log.warning("stopping %s: %s", name, exc)
            setattr(parts, name, None)
        for name in self.env:
            os.environ.pop(name, None)
        os.environ.update(self._saved_env)
