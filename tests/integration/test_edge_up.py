"""``twinledger up`` starts the local edge stack and data flows from the simulated gateway to ingest."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from twinledger.local.broker import find_mosquitto, free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed (apt-get install mosquitto)"),
]

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_up_runs_broker_bridge_and_gateway(tmp_path: Path) -> None:
    state = tmp_path / "edge"
    command = [
        sys.executable,
        "-m",
        "twinledger",
        "up",
        "--edge-only",
        "--state-dir",
        str(state),
        "--port",
        str(free_port()),
    ]
    process = subprocess.Popen(
        [*command, "--machines", "2", "--speed", "120", "--duration", "60"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert info["things"] == ["cnc-01", "cnc-02"] and "BEGIN PUBLIC KEY" in info["public_key_pem"]
        status = state / "gateway" / "status.json"
        deadline = time.monotonic() + 30
        acked = 0
        while time.monotonic() < deadline and acked < 4:
            if status.exists():
                acked = json.loads(status.read_text())["spool"]["acked"]
            time.sleep(0.2)
        assert acked >= 4
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()[-2000:]
    assert b'ingest: {"cnc-01": 60' in err or b'"cnc-02": 60' in err
