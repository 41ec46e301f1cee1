"""Local processes standing in for AWS services, started and stopped as one unit: moto in server mode and
``chalice local`` serving the API. ``twinledger up`` and the integration tests start them the same way.

Example:
    >>> with moto_server() as endpoint:                 # doctest: +SKIP
    ...     print(endpoint)
    http://127.0.0.1:50123
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from twinledger.paths import REPO_ROOT

__all__ = [
    "FUNCTIONS_DIR",
    "ServerProcess",
    "api_process",
    "base_url",
    "chalice_local",
    "chalice_process",
    "free_port",
    "moto_process",
    "moto_server",
]

FUNCTIONS_DIR = REPO_ROOT / "functions"


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One HTTP server process: started, waited for until ``probe_url`` answers, stopped with its group.

    Its output goes to ``log_path`` (or nowhere), so a server that does not come up says why."""

    def __init__(
        self,
        name: str,
        command: list[str],
        probe_url: str,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self.name, self.command, self.probe_url = name, command, probe_url
        self.cwd, self.env, self.log_path, self.timeout_s = cwd, dict(env) if env else None, log_path, timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> ServerProcess:
        """Start the process and wait until it answers HTTP; ``RuntimeError`` (with its log's tail) if not."""
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        sink = self._log if self._log is not None else subprocess.DEVNULL
        self.process = subprocess.Popen(
            self.command, cwd=self.cwd, env=self.env, stdout=sink, stderr=sink, start_new_session=True
        )
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}{self._tail()}")
            try:
                urllib.request.urlopen(self.probe_url, timeout=1)
                return self
            except urllib.error.HTTPError:
                return self  # it answers
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not answer at {self.probe_url} within {self.timeout_s:.0f} s{self._tail()}"
        )

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(errors="replace").splitlines()[-5:]
        return ("; last lines of " + str(self.log_path) + ":\n  " + "\n  ".join(lines)) if lines else ""


def moto_process(port: int | None = None, log_path: Path | None = None) -> ServerProcess:
    """moto's HTTP server on ``port`` (a free one by default) of 127.0.0.1, not started yet."""
    port = port or free_port()
    binary = Path(sys.executable).with_name("moto_server")
    return ServerProcess(
        "moto",
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        f"http://127.0.0.1:{port}/moto-api/",
        log_path=log_path,
    )


def chalice_process(env: Mapping[str, str], port: int | None = None, log_path: Path | None = None) -> ServerProcess:
    """``chalice local`` serving the app on ``port`` of 127.0.0.1 with ``env`` added, not started yet."""
    port = port or free_port()
    binary = Path(sys.executable).with_name("chalice")
    return ServerProcess(
        "chalice local",
        [str(binary), "local", "--stage", "local", "--host", "127.0.0.1", "--port", str(port), "--no-autoreload"],
        f"http://127.0.0.1:{port}/machines",
        cwd=FUNCTIONS_DIR,
        env={**os.environ, **env},
        log_path=log_path,
    )


def api_process(
    env: Mapping[str, str], port: int | None = None, log_path: Path | None = None, dashboard_config: Path | None = None
) -> ServerProcess:
    """The HTTP API (:func:`twinledger.local.api_server.main`: the app with the error model's 404 and 405, and
    the dashboard with the settings in ``dashboard_config``) on ``port`` of 127.0.0.1 with ``env`` added, not
    started yet."""
    port = port or free_port()
    extra = ["--dashboard-config", str(dashboard_config)] if dashboard_config is not None else []
    return ServerProcess(
        "the API",
        [sys.executable, "-m", "twinledger.local.api_server", "--host", "127.0.0.1", "--port", str(port), *extra],
        f"http://127.0.0.1:{port}/openapi.json",
        env={**os.environ, **env},
        log_path=log_path,
    )


def base_url(server: ServerProcess) -> str:
    """``http://127.0.0.1:PORT`` of a server."""
    scheme, _, rest = server.probe_url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's HTTP server on a free loopback port; yields its endpoint URL."""
    server = moto_process().start()
    try:
        yield base_url(server)
    finally:
        server.stop()


@contextmanager
def chalice_local(env: Mapping[str, str]) -> Iterator[str]:
    """``chalice local`` serving the app over HTTP on a free loopback port; yields its base URL."""
    server = chalice_process(env).start()
    try:
        yield base_url(server)
    finally:
        server.stop()
