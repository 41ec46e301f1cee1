"""``twinledger api`` as a user starts it: a process of its own, from a directory outside the repository,
with no ``TWINLEDGER_*`` settings inherited; up once it wrote its tokens file, stopped with SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def twinledger_api(workdir: Path, *options: str, timeout_s: float = 180) -> Iterator[dict[str, Any]]:
    """What ``twinledger api --tokens-file`` wrote (URL and tokens), and ``"process"``."""
    info = workdir / "api.json"
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{REPO_ROOT / 'functions'}"}
    for name in [n for n in env if n.startswith("TWINLEDGER_")]:
        env.pop(name)
    command = [sys.executable, "-m", "twinledger", "api", "--port", "0", *options, "--tokens-file", str(info)]
    process = subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + timeout_s
        while not info.exists() or not info.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout and process.poll() is not None else ""
                pytest.fail(f"twinledger api did not come up: {output[-2000:]}")
            time.sleep(0.5)
        yield {**json.loads(info.read_text()), "process": process}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
