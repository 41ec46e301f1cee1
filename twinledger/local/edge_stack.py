"""The local edge stack: mosquitto (mTLS) + ingest bridge + one gateway process, in a state folder; with
an ``iot-data`` client (moto), also the shadow relay, so desired configuration reaches the gateway.

Everything generated (CA, certificates, device signing key, spool, broker persistence, inbox) lives
under ``state_dir`` (``.twinledger/edge`` by default, git-ignored) and is reused on the next start, so
a restarted stack keeps its identities and resumes its spool.

Example:
    >>> stack = LocalEdgeStack(Path(".twinledger/edge"), ingest=LoggingIngest())  # doctest: +SKIP
    >>> stack.start()                                                             # doctest: +SKIP
    >>> stack.signing_public_key_pem()   # register it for the things in the device registry  # doctest: +SKIP
    >>> stack.stop()                                                              # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import json
import logging
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from edge_greengrass.pki import load_private_key, provision_device
from edge_greengrass.transport import MqttEndpoint, MqttIdentity
from twin_models.jws import is_jws, open_envelope, payload_of
from twin_models.signing import public_key_pem
from twin_models.telemetry import EnvelopeError, parse_envelope, parse_payload
from twinledger.local.bridge import IngestHandler, MqttIngestBridge
from twinledger.local.broker import BRIDGE_IDENTITY, SHADOW_SERVICE_IDENTITY, MosquittoBroker, free_port
from twinledger.local.shadow_relay import ShadowRelay

__all__ = ["LocalEdgeStack", "LoggingIngest", "load_handler"]

_log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[2]


def load_handler(spec: str) -> IngestHandler:
    """``module:attribute`` -> the callable; ``functions/`` is importable (``app:ingest``)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"expected MODULE:ATTRIBUTE, got {spec!r}")
    functions = str(REPO_ROOT / "functions")
    if functions not in sys.path:
        sys.path.append(functions)
    handler: IngestHandler = getattr(importlib.import_module(module_name), attr)
    return handler


class LoggingIngest:
    """A stand-in ingest for looking at the stream: verifies, deduplicates, logs one line per batch."""

    def __init__(self, public_key_pem: str | None = None) -> None:
        self._key = None
        if public_key_pem:
            from twin_models.signing import load_public_key

            self._key = load_public_key(public_key_pem)
        self.seen: set[tuple[str, int]] = set()
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures: list[dict[str, str]] = []
        summary: dict[str, int] = {}
        for record in event["Records"]:
            body, now = record["body"], datetime.now(UTC)
            try:
                if self._key is not None:
                    envelope = open_envelope(body, self._key, now=now)[0]
                elif is_jws(body):
                    envelope = parse_payload(payload_of(body), now=now)
                else:
                    envelope = parse_envelope(body, now=now)[0]
            except EnvelopeError as exc:
                _log.warning("quarantined %s: %s", record["messageId"], exc)
                continue
            with self.lock:
                key = (envelope.machine_id, envelope.seq)
                if key in self.seen:
                    continue
                self.seen.add(key)
            summary[envelope.machine_id] = summary.get(envelope.machine_id, 0) + len(envelope.samples)
        if summary:
            _log.warning("ingest: %s", json.dumps(summary, sort_keys=True))
        return {"batchItemFailures": failures}


class LocalEdgeStack:
    """Broker, bridge and a gateway process (the fleet simulator) started and stopped together."""

    def __init__(
        self,
        state_dir: Path,
        *,
        ingest: IngestHandler | None = None,
        port: int = 8883,
        site: str = "plant-a",
        machines: int = 8,
        seed: int = 7,
        speed: float = 1.0,
        start: datetime | None = None,
        gateway: bool = True,
        opcua: bool = False,
        shadows: Any | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.site = site
        self.things = [f"cnc-{i + 1:02d}" for i in range(machines)]
        self.broker = MosquittoBroker(state_dir / "broker", port=port)
        self.signing = provision_device(state_dir / "gateway", "gateway-1")
        self.key_id = "gateway-1"
        self._ingest = ingest or LoggingIngest(self.signing_public_key_pem())
        self._machines, self._seed, self._speed, self._start = machines, seed, speed, start
        self._with_gateway = gateway
        self._opcua = opcua
        #: an ``iot-data`` client (moto in server mode): the named shadows the relay serves over MQTT
        self._shadows = shadows
        self.relay: ShadowRelay | None = None
        self.bridge: MqttIngestBridge | None = None
        self.gateway: subprocess.Popen[bytes] | None = None
        self.config_path = state_dir / "gateway" / "gateway.yaml"

    def signing_public_key_pem(self) -> str:
        """The gateway's public key, to register as ``keys[key_id]`` of each thing."""
        return public_key_pem(load_private_key(self.signing.private_key))

    def endpoint(self) -> MqttEndpoint:
        """Where the broker listens and its CA."""
        return MqttEndpoint("127.0.0.1", self.broker.port, self.broker.ca_certificate)

    def write_gateway_config(self) -> Path:
        """The gateway's configuration file (simulator source, direct MQTT5 to the local broker)."""
        source: dict[str, Any] = {
            "type": "simulator",
            "machines": self._machines,
            "seed": self._seed,
            "speed": self._speed,
        }
        if self._start is not None:
            source["start"] = self._start.isoformat()
        if self._opcua:  # serve the simulator over OPC UA and read it through the machine adapter
            source.update({"opcua": True, "opcua_port": free_port()})
        self.config_path.write_text(
            yaml.safe_dump(
                {
                    "site": self.site,
                    "signing": {"key_file": str(self.signing.private_key), "key_id": self.key_id},
                    "source": source,
                    "mqtt": {
                        "endpoint": "127.0.0.1",
                        "port": self.broker.port,
                        "ca_file": str(self.broker.ca_certificate),
                        "credentials_dir": str(self.broker.pki_dir / "clients"),
                    },
                    "spool": {"path": str(self.state_dir / "gateway" / "spool.db")},
                    "status_file": str(self.state_dir / "gateway" / "status.json"),
                }
            )
        )
        return self.config_path

    def start(self) -> LocalEdgeStack:
        """Start broker, bridge and (unless disabled) the gateway process."""
        for thing in self.things:
            self.broker.client_credentials(thing)
        bridge_creds = self.broker.client_credentials(BRIDGE_IDENTITY)
        relay_creds = self.broker.client_credentials(SHADOW_SERVICE_IDENTITY)
        self.broker.start()
        if self._shadows is not None:
            self.relay = ShadowRelay(
                self.endpoint(),
                MqttIdentity(SHADOW_SERVICE_IDENTITY, relay_creds.certificate, relay_creds.private_key),
                self._shadows,
                things=self.things,
            ).start()
        self.bridge = MqttIngestBridge(
            self.endpoint(),
            MqttIdentity("twinledger-bridge", bridge_creds.certificate, bridge_creds.private_key),
            self._ingest,
            inbox_path=self.state_dir / "bridge" / "inbox.db",
        ).start()
        if self._with_gateway:
            config = self.write_gateway_config()
            log = (self.state_dir / "gateway" / "gateway.log").open("ab")
            self.gateway = subprocess.Popen(
                [sys.executable, "-m", "edge_greengrass", "run", "--config", str(config)],
                cwd=REPO_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        return self

    def stop(self) -> None:
        """Stop the gateway (SIGTERM; its spool keeps the rest), the bridge and the broker."""
        if self.gateway is not None and self.gateway.poll() is None:
            self.gateway.send_signal(signal.SIGTERM)
            try:
                self.gateway.wait(15)
            except subprocess.TimeoutExpired:
                self.gateway.kill()
                self.gateway.wait(5)
        if self.bridge is not None:
            self.bridge.stop()
        if self.relay is not None:
            self.relay.stop()
        self.broker.stop()
