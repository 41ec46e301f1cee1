"""Entry points of the Greengrass components: configuration through IPC, publishing through IPC.

Each component's ``main.py`` calls one function here with a ``GreengrassCoreIPCClientV2``; the
client is created in ``main.py`` (the only place that needs a running nucleus), so everything below
runs in tests with a fake client.

Example:
    >>> class FakeIpc:
    ...     def get_configuration(self, *, key_path):
    ...         class R: value = {"site": "plant-a", "accessControl": {}}
    ...         return R()
    >>> IpcConfiguration(FakeIpc()).component_config()
    {'site': 'plant-a'}
"""

from __future__ import annotations

import argparse
import logging
import threading
from pathlib import Path
from typing import Any

from edge_greengrass.config import GatewayConfig, SimulatorSourceConfig, edge_environment
from edge_greengrass.errors import ConfigurationError
from edge_greengrass.transport import IpcTransport

__all__ = ["IpcConfiguration", "gateway_config_from_ipc", "publisher_main", "simulator_main"]

_log = logging.getLogger(__name__)

#: Keys of a component configuration that belong to the nucleus, not to the program.
_NUCLEUS_KEYS = {"accessControl"}


class IpcConfiguration:
    """Thin wrapper over ``GreengrassCoreIPCClientV2.get_configuration`` for this component."""

    def __init__(self, ipc_client: Any) -> None:
        self._ipc = ipc_client

    def component_config(self) -> dict[str, Any]:
        """This component's whole configuration, without the nucleus' ``accessControl``."""
        response = self._ipc.get_configuration(key_path=[])
        value = dict(response.value or {})
        return {k: v for k, v in value.items() if k not in _NUCLEUS_KEYS}


def gateway_config_from_ipc(ipc_client: Any, *, workdir: Path) -> GatewayConfig:
    """The gateway configuration of the component; relative paths resolve against ``workdir``."""
    from edge_greengrass.config import load_config_dict

    raw = IpcConfiguration(ipc_client).component_config()
    raw["transport"] = "ipc"
    raw = _interpolate(raw, {"{iot:thingName}": edge_environment().machine_id})
    return load_config_dict(raw, base=workdir, origin="component configuration")


def _interpolate(value: Any, variables: dict[str, str]) -> Any:
    """Recipe variables (``{iot:thingName}``) in configuration values, which the nucleus leaves as text."""
    if isinstance(value, str):
        for name, replacement in variables.items():
            value = value.replace(name, replacement)
        return value
    if isinstance(value, dict):
        return {_interpolate(k, variables): _interpolate(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, variables) for v in value]
    return value


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="twinledger Greengrass component")
    parser.add_argument("--workdir", type=Path, default=Path.cwd(), help="the component's {work:path}")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def publisher_main(ipc_client: Any, argv: list[str]) -> int:
    """``com.twinledger.TelemetryPublisher``: source -> spool -> PublishToIoTCore, with shadow sync."""
    from edge_greengrass.runner import Gateway

    args = _parse(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    config = gateway_config_from_ipc(ipc_client, workdir=args.workdir)
    gateway = Gateway(config, IpcTransport(ipc_client))
    gateway.install_signal_handlers()
    try:
        return gateway.run()
    finally:
        gateway.close()


def simulator_main(ipc_client: Any, argv: list[str]) -> int:
    """``com.twinledger.MachineSimulator``: the seeded fleet served as an OPC UA server."""
    from edge_greengrass.opcua import SimulatorOpcUaServer
    from edge_greengrass.sources import SimulatorSource

    args = _parse(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    raw = IpcConfiguration(ipc_client).component_config()
    try:
        cfg = SimulatorSourceConfig.model_validate({"type": "simulator", **raw})
    except ValueError as exc:
        raise ConfigurationError(f"component configuration: {exc}") from exc
    source = SimulatorSource(machines=cfg.machines, seed=cfg.seed, start=cfg.start, speed=cfg.speed)
    server = SimulatorOpcUaServer(source, host=edge_environment().opcua_host, port=cfg.opcua_port)
    stop = threading.Event()
    server.run(stop)
    return 0
