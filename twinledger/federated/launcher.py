"""A local Flower deployment: one SuperLink and one SuperNode per lessee as processes on 127.0.0.1.

:func:`run_deployment` writes a Flower App (a ``pyproject.toml`` naming
:mod:`twinledger.federated.server_app` and :mod:`twinledger.federated.client_app`), starts
``flower-superlink`` and ``flower-supernode`` processes on free ports (each SuperNode with its lessee's
node config), submits the run with ``flwr run`` against a Flower configuration in a private ``FLWR_HOME``,
waits for the ServerApp's result file and stops every process it started. Flower 1.42 serves the Fleet,
Control and Runtime APIs of the SuperLink over HTTP on one port; the ServerApp and every ClientApp run in
their own ``flwr-serverapp`` / ``flwr-clientapp`` subprocesses.

Example:
    >>> result = run_deployment({"dataset": "synthetic", "clients": 3, "rounds": 2})  # doctest: +SKIP
    >>> result["manifest"]["round"]  # doctest: +SKIP
    2
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from twinledger.federated.inprocess import node_configs
from twinledger.paths import FUNCTIONS_DIR, REPO_ROOT

__all__ = ["DEFAULT_RUN_CONFIG", "FederationRunError", "run_deployment"]

#: The run config keys of the Flower App and their defaults (``flwr run`` may override only these).
DEFAULT_RUN_CONFIG: dict[str, Any] = {
    "dataset": "synthetic",
    "clients": 3,
    "rounds": 2,
    "aggregation": "trimmed",
    "federation": "fleet",
    "data-dir": "",
    "seed": 0,
    "epochs": 30,
    "learning-rate": 0.5,
    "mu": 0.01,
    "attack-factor": 10.0,
    "false-alarm-rate": 0.01,
    "bucket": True,
    "dp-epsilon": 0.0,
    "dp-clip": 1.0,
    "dp-delta": 1e-5,
    "features": "linear",
    "secure-aggregation": False,
    "secagg-clip": 64.0,
    "secagg-max-weight": 16384.0,
    "result-path": "",
}


class FederationRunError(RuntimeError):
    """The deployment did not produce a result (a process failed or the run timed out)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def write_app(folder: Path) -> Path:
    """The Flower App directory: its ``pyproject.toml`` names the apps and declares the run config."""
    folder.mkdir(parents=True, exist_ok=True)
    config = "\n".join(f"{key} = {_toml_value(value)}" for key, value in DEFAULT_RUN_CONFIG.items())
    (folder / "pyproject.toml").write_text(
        "[build-system]\n"
        'requires = ["hatchling"]\n'
        'build-backend = "hatchling.build"\n\n'
        "[project]\n"
        'name = "twinledger-federated"\n'
        'version = "1.0.0"\n'
        "dependencies = []\n\n"
        "[tool.flwr.app]\n"
        'publisher = "twinledger"\n\n'
        "[tool.flwr.app.components]\n"
        'serverapp = "twinledger.federated.server_app:app"\n'
        'clientapp = "twinledger.federated.client_app:app"\n\n'
        f"[tool.flwr.app.config]\n{config}\n",
        encoding="utf-8",
    )
    (folder / "README.md").write_text("twinledger's failure model, federated across lessees.\n", encoding="utf-8")
    return folder


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.2)
    raise FederationRunError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each process group we started, then SIGKILL what is left."""
    for proc in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 5.0
    for proc in processes:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5.0)


@contextlib.contextmanager
def _processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        _stop(started)


def _environment(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(FUNCTIONS_DIR), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    env["FLWR_HOME"] = str(home)
    return env


def run_deployment(
    run_config: Mapping[str, Any],
    attack: str = "",
    attackers: int = 0,
    timeout: float = 240.0,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Start a SuperLink and ``clients`` SuperNodes, run the federation through them, return its result."""
    config = {**DEFAULT_RUN_CONFIG, **dict(run_config)}
    clients = int(config["clients"])
    with contextlib.ExitStack() as stack:
        root = workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="twinledger-flower-")))
        home, logs = root / "flwr-home", root / "logs"
        home.mkdir(parents=True, exist_ok=True)
        logs.mkdir(parents=True, exist_ok=True)
        app_dir = write_app(root / "app")
        result_path = root / "result.json"
        config["result-path"] = str(result_path)
        port = free_port()
        (home / "config.toml").write_text(
            f'[superlink]\ndefault = "local-deployment"\n\n[superlink.local-deployment]\n'
            f'address = "127.0.0.1:{port}"\ninsecure = true\n',
            encoding="utf-8",
        )
        env = _environment(home)
        procs = stack.enter_context(_processes())

        def start(name: str, *command: str) -> None:
            log = stack.enter_context((logs / f"{name}.log").open("wb"))
            procs.append(
                subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            )

        start(
            "superlink",
            "flower-superlink",
            "--insecure",
            "--port",
            str(port),
            "--disable-runtime-dependency-installation",
        )
        _wait_for_port(port, 60.0)
        for node in node_configs(clients, attack, attackers):
            node_config = " ".join(f"{k}={_toml_value(v)}" for k, v in node.items())
            start(
                f"supernode-{node['partition-id']}",
                "flower-supernode",
                "--insecure",
                "--superlink",
                f"127.0.0.1:{port}",
                "--port",
                str(free_port()),
                "--node-config",
                node_config,
            )
        overrides = " ".join(f"{k}={_toml_value(v)}" for k, v in config.items())
        submitted = subprocess.run(
            ["flwr", "run", str(app_dir), "local-deployment", "--run-config", overrides, "--format", "json"],
            env=env,
            cwd=app_dir,
            capture_output=True,
            timeout=120.0,
            check=False,
        )
        if submitted.returncode != 0:
            raise FederationRunError(
                f"flwr run failed: {submitted.stdout.decode()[-2000:]}{submitted.stderr.decode()[-2000:]}"
            )
        deadline = time.monotonic() + timeout
        while not result_path.is_file():
            if time.monotonic() > deadline:
                tail = (logs / "superlink.log").read_text(errors="replace")[-3000:]
                raise FederationRunError(f"no result after {timeout:.0f} s; SuperLink log:\n{tail}")
            if any(p.poll() is not None for p in procs):
                raise FederationRunError("a Flower process exited early; logs in " + str(logs))
            time.sleep(0.5)
        time.sleep(0.2)  # the ServerApp writes the file in one call; let it close
        outcome: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
        outcome["deployment"] = {"superlink": f"127.0.0.1:{port}", "supernodes": clients, "processes": len(procs)}
        return outcome
