"""``twinledger up``: the whole local stack from any directory. The printed API answers with the lessee's
token, a machine's history grows while it runs, the schedules run, and Ctrl-C ends every process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.twin_reads import reported_state
from twinledger.local.broker import find_mosquitto
from twinledger.local.ganache import GANACHE_BIN

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed (apt-get install mosquitto)"),
    pytest.mark.skipif(not GANACHE_BIN.exists(), reason="Ganache is not installed (npm ci)"),
]


def get(url: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def covered_seconds(api: str, token: str) -> float:
    now = datetime.now(UTC)
    frm, to = (
        (now - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    status, line = get(f"{api}/machines/cnc-01/timeline?from={frm}&to={to}", token)
    assert status == 200, line
    return sum(
        (datetime.fromisoformat(i["end"]) - datetime.fromisoformat(i["start"])).total_seconds()
        for i in line["intervals"]
        if i["category"] != "unknown"
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def test_up_brings_the_whole_stack_and_stops_it_cleanly(tmp_path: Path) -> None:
    # Given `twinledger up` started from a directory outside the repository, with its default state folder
    options = ["--machines", "2", "--speed", "30", "--history-hours", "1", "--schedule-interval", "3"]
    process = subprocess.Popen(
        [sys.executable, "-m", "twinledger", "up", *options, "--api-port", "0", "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, process.stderr.read().decode()[-3000:] if process.stderr else ""
        info = json.loads(line)
        state = tmp_path / ".twinledger"
        assert info["tokens_file"] == str(state / "tokens.json")
        assert json.loads((state / "tokens.json").read_text())["tokens"] == info["tokens"]
        api, lessee = info["api"], info["tokens"]["lessee"]
        # When the lessee reads a machine's twin
        deadline = time.monotonic() + 60
        status, twin = get(f"{api}/machines/cnc-01/twin", lessee)
        # (ingest creates the state shadow empty before its first version-locked merge: wait for the state)
        while time.monotonic() < deadline and not reported_state(twin):
            time.sleep(1)
            status, twin = get(f"{api}/machines/cnc-01/twin", lessee)
        # Then it answers with the machine's reported state, and another tenant's token is refused
        assert status == 200 and twin["shadows"]["state"]["reported"]["category"]
        assert get(f"{api}/machines/cnc-01/twin", "not-a-token")[0] == 401
        # And the dashboard is served with the chain the browser is to ask (and no token)
        assert info["dashboard"] == f"{api}/dashboard/"
        status, config = get(f"{info['dashboard']}config.json", "")
        assert status == 200 and config["rpc_url"] == info["chain"]
        assert config["anchor_registry"] == info["anchor_registry"] and "token" not in json.dumps(config)
        # And its history grows over 20 s
        first = covered_seconds(api, lessee)
        time.sleep(20)
        assert covered_seconds(api, lessee) > first
        pids = json.loads((state / "pids.json").read_text())
        assert {"moto", "api", "ganache", "mosquitto", "gateway"} <= set(pids)
        assert "Traceback" not in (state / "logs" / "lambda.log").read_text()
    finally:
        # When it gets Ctrl-C
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    # Then it exits 0 and every process it started has ended
    assert process.returncode == 0, err.decode()[-3000:]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in pids.values()):
        time.sleep(0.2)
    assert not [name for name, pid in pids.items() if alive(pid)]


def test_up_fails_loudly_when_a_part_cannot_come_up(tmp_path: Path) -> None:
    # Given a port for the API that is already taken
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # When `twinledger up` is asked to serve the API there
        result = subprocess.run(
            [sys.executable, "-m", "twinledger", "up", "--machines", "1", "--api-port", str(port), "--port", "0"],
            cwd=tmp_path,
            capture_output=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
    # Then it says which part failed and exits non-zero, without a traceback
    assert result.returncode == 1
    assert b"error:" in result.stderr and b"Traceback" not in result.stderr
