"""Gateway configuration: one document for Greengrass (component configuration) and ``edge run``.

Paths (device key, certificates, spool) always come from configuration, never from code. A JSON or
YAML file is read by :func:`load_config`; under Greengrass the recipe's ``ComponentConfiguration``
is passed to the component as a JSON file path argument.

This is also the one module of ``edge_greengrass`` that reads the process environment: the few values
the nucleus (or the operator) sets there come from :func:`edge_environment`, read when it is called,
never at import time.

Example:
    >>> cfg = GatewayConfig.model_validate({
    ...     "site": "plant-a",
    ...     "signing": {"key_file": "/greengrass/v2/keys/device.key", "key_id": "gw-1"},
    ...     "source": {"type": "simulator", "machines": 2, "seed": 7, "speed": 60},
    ... })
    >>> cfg.publisher.batch_size, cfg.source.things()
    (60, ['cnc-01', 'cnc-02'])
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge_greengrass.errors import ConfigurationError
from edge_greengrass.spool import OverflowPolicy
from twin_models.telemetry import NAME_PATTERN

__all__ = [
    "EdgeEnvironment",
    "GatewayConfig",
    "MqttConfig",
    "OpcUaSourceConfig",
    "PublisherConfig",
    "ReplaySourceConfig",
    "ShadowConfig",
    "SigningConfig",
    "SimulatorSourceConfig",
    "SpoolConfig",
    "edge_environment",
    "load_config",
    "load_config_dict",
]

ThingName = Annotated[str, Field(pattern=NAME_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SimulatorSourceConfig(_Strict):
    """The seeded fleet simulator, in-process (``opcua: false``) or served over OPC UA and read back."""

    type: Literal["simulator"] = "simulator"
    machines: Annotated[int, Field(ge=1, le=500)] = 8
    seed: int = 7
    #: simulated start; default: now (real time) — set it in the past for accelerated runs
    start: dt.datetime | None = None
    #: simulated seconds per wall-clock second (1 = real time)
    speed: Annotated[float, Field(gt=0, le=100_000)] = 1.0
    #: serve the simulator as an OPC UA server and read it through the OPC UA adapter
    opcua: bool = False
    opcua_port: Annotated[int, Field(ge=0, le=65535)] = 4840

    def things(self) -> list[str]:
        """The thing names the simulator produces (``cnc-01``...)."""
        return [f"cnc-{i + 1:02d}" for i in range(self.machines)]


class OpcUaSourceConfig(_Strict):
    """A real machine read over OPC UA: one node id per sample field, per thing."""

    type: Literal["opcua"] = "opcua"
    url: str
    #: ``{thing: {sample_field: node_id}}``, e.g. ``{"cnc-01": {"spindle_speed_rpm": "ns=2;s=cnc-01.Spindle"}}``
    node_map: dict[ThingName, dict[str, str]]
    #: ``{thing: node_id}``: the Boolean node the gateway writes the lessor's ``lease_lock`` to (the
    #: controller's logic starts no new cycle while it is true); a thing without one is locked on its
    #: samples only (state 710)
    lock_nodes: dict[ThingName, str] = Field(default_factory=dict)
    sampling_interval_s: Annotated[float, Field(gt=0)] = 1.0
    reconnect_delay_s: Annotated[float, Field(gt=0)] = 2.0

    def things(self) -> list[str]:
        """The things in the node map."""
        return sorted(self.node_map)


class ReplaySourceConfig(_Strict):
    """A CSV of real CNC data (100 ms rows) replayed as one thing at any speed."""

    type: Literal["replay"] = "replay"
    path: Path
    thing: ThingName = "cnc-replay"
    speed: Annotated[float, Field(gt=0)] = 1.0
    start: dt.datetime | None = None
    rows_per_sample: Annotated[int, Field(ge=1)] = 10
    loop: bool = False

    def things(self) -> list[str]:
        """The one replayed thing."""
        return [self.thing]


class SigningConfig(_Strict):
    """The gateway's device key (PEM, P-256) and the id the cloud knows it by."""

    key_file: Path
    key_id: str


class SpoolConfig(_Strict):
    """Where the spool lives and how big it may grow."""

    path: Path = Path("spool.db")
    max_bytes: Annotated[int, Field(gt=0)] = 256 * 1024 * 1024
    max_age_s: Annotated[float, Field(gt=0)] = 7 * 86400
    policy: OverflowPolicy = OverflowPolicy.DROP_OLDEST


class PublisherConfig(_Strict):
    """Batching and the in-flight window."""

    batch_size: Annotated[int, Field(ge=1, le=3600)] = 60
    max_batch_age_s: Annotated[float, Field(gt=0)] = 90.0
    window: Annotated[int, Field(ge=1, le=1000)] = 32
    #: 3: each envelope a JWS over its samples as columns (the default: one 5 KB IoT message a minute at
    #: 1 Hz); 2: a JWS over a list of samples; 1: the signature inside the JSON, for a cloud that does not
    #: take JWS yet (it refuses v1 once the machine's transition window ends)
    envelope_version: Literal[1, 2, 3] = 3


class MqttConfig(_Strict):
    """Direct MQTT5 + mTLS to IoT Core (or the local broker) outside Greengrass.

    Each thing connects with its own certificate: ``<credentials_dir>/<thing>.crt`` and ``.key``.
    """

    endpoint: str
    port: int = 8883
    ca_file: Path | None = None
    credentials_dir: Path
    iot_core_limits: bool | None = None


class ShadowConfig(_Strict):
    """Shadow sync: which named shadow carries the desired configuration."""

    enabled: bool = True
    shadow_name: str = "config"


class GatewayConfig(_Strict):
    """Everything one gateway process needs."""

    site: Annotated[str, Field(pattern=NAME_PATTERN)]
    signing: SigningConfig
    source: Annotated[SimulatorSourceConfig | OpcUaSourceConfig | ReplaySourceConfig, Field(discriminator="type")]
    transport: Literal["mqtt", "ipc"] = "mqtt"
    mqtt: MqttConfig | None = None
    spool: SpoolConfig = SpoolConfig()
    publisher: PublisherConfig = PublisherConfig()
    shadow: ShadowConfig = ShadowConfig()
    #: write a JSON status line (metrics) to this file every few seconds, if set
    status_file: Path | None = None


def load_config(path: Path, *, overrides: dict[str, Any] | None = None) -> GatewayConfig:
    """Read a JSON or YAML gateway configuration; relative paths resolve against the file's folder.

    Raises :class:`ConfigurationError` naming the first invalid field.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigurationError(f"cannot read configuration {path}: {exc}") from exc
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path} is not valid JSON/YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{path} must hold a mapping, not {type(raw).__name__}")
    raw.update(overrides or {})
    return load_config_dict(raw, base=path.parent, origin=str(path))


def load_config_dict(raw: dict[str, Any], *, base: Path, origin: str = "configuration") -> GatewayConfig:
    """Validate a configuration mapping; relative paths resolve against ``base``.

    Example:
        >>> cfg = load_config_dict({"site": "s", "signing": {"key_file": "k.pem", "key_id": "g"},
        ...                         "source": {"type": "simulator"}}, base=Path("/gg/work"))
        >>> str(cfg.signing.key_file), str(cfg.spool.path)
        ('/gg/work/k.pem', '/gg/work/spool.db')
    """
    try:
        config = GatewayConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(f"{origin}: {where}: {first['msg']}") from exc
    return _resolve(config, base)


def _resolve(config: GatewayConfig, base: Path) -> GatewayConfig:
    def fix(p: Path | None) -> Path | None:
        return None if p is None or p.is_absolute() else base / p

    update: dict[str, Any] = {}
    if key := fix(config.signing.key_file):
        update["signing"] = config.signing.model_copy(update={"key_file": key})
    if spool := fix(config.spool.path):
        update["spool"] = config.spool.model_copy(update={"path": spool})
    if config.mqtt is not None:
        mqtt_update = {
            k: v
            for k, v in {
                "ca_file": fix(config.mqtt.ca_file),
                "credentials_dir": fix(config.mqtt.credentials_dir),
            }.items()
            if v is not None
        }
        update["mqtt"] = config.mqtt.model_copy(update=mqtt_update)
    if isinstance(config.source, ReplaySourceConfig) and (csv := fix(config.source.path)):
        update["source"] = config.source.model_copy(update={"path": csv})
    if status := fix(config.status_file):
        update["status_file"] = status
    return config.model_copy(update=update)


@dataclass(frozen=True)
class EdgeEnvironment:
    """What the process environment tells the gateway (see :func:`edge_environment`)."""

    #: ``AWS_IOT_THING_NAME``: the core device's thing, set by the Greengrass nucleus for its components
    #: (``{iot:thingName}`` in component configuration values); empty outside Greengrass
    machine_id: str = ""
    #: ``TWINLEDGER_OPCUA_HOST``: where the MachineSimulator component's OPC UA server listens
    opcua_host: str = "0.0.0.0"


def edge_environment(environ: Mapping[str, str] | None = None) -> EdgeEnvironment:
    """The environment's settings for the gateway, read now from ``environ`` (default: ``os.environ``).

    Every environment read of ``edge_greengrass`` goes through here, on use, never at import time.

    Example:
        >>> edge_environment({"AWS_IOT_THING_NAME": "cnc-01"})
        EdgeEnvironment(machine_id='cnc-01', opcua_host='0.0.0.0')
    """
    env = os.environ if environ is None else environ
    defaults = EdgeEnvironment()
    return EdgeEnvironment(
        machine_id=env.get("AWS_IOT_THING_NAME", defaults.machine_id),
        opcua_host=env.get("TWINLEDGER_OPCUA_HOST", defaults.opcua_host),
    )
