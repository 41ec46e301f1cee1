"""Real local processes standing in for AWS: moto in server mode and ``chalice local``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["chalice_local", "free_port", "moto_server"]

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing answered at {url} within {timeout_s} s")


@contextmanager
def _process(command: list[str], url: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        _wait_http(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's HTTP server on a free loopback port; yields its endpoint URL."""
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    with _process([str(binary), "-H", "127.0.0.1", "-p", str(port)], f"http://127.0.0.1:{port}/moto-api/") as url:
        yield url.removesuffix("/moto-api/")


@contextmanager
def chalice_local(env: dict[str, str]) -> Iterator[str]:
    """``chalice local`` serving the app over HTTP on a free loopback port; yields its base URL."""
    port = free_port()
    binary = Path(sys.executable).with_name("chalice")
    full_env = {**os.environ, **env}
    with _process(
        [str(binary), "local", "--stage", "local", "--host", "127.0.0.1", "--port", str(port), "--no-autoreload"],
        f"http://127.0.0.1:{port}/machines",
        cwd=FUNCTIONS_DIR,
        env=full_env,
    ) as url:
        yield url.removesuffix("/machines")
