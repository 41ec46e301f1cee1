"""Schemathesis against ``twinledger api``: the API served over HTTP by the same app, on embedded backends,
seeded through the admin routes, tested with the OpenAPI document it serves.

Phases: examples, coverage, fuzzing (positive and negative data) and stateful (links inferred from the
schemas). Every check runs but one: ``positive_data_acceptance`` expects every schema-valid request to
succeed, while the API has rules JSON Schema cannot state (a window's order and length, a cursor the API
issued, a PEM that parses to a P-256 key, a time zone that exists, a lease's terms); a schema-valid request
that breaks one answers 400 naming the rule, which the other checks verify is documented and conforming.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api_process import twinledger_api
from twin_models.signing import generate_private_key, public_key_pem

REPO_ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 10  # per operation and phase: the run takes about two minutes on two cores

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``twinledger api`` started from a directory outside the repository; stopped with SIGINT."""
    with twinledger_api(tmp_path_factory.mktemp("api"), "--hours", "2") as served:
        yield served


def test_twinledger_api_prints_its_url_and_a_token_per_role(served: dict[str, Any]) -> None:
    assert served["url"].startswith("http://127.0.0.1:")
    assert sorted(served["tokens"]) == ["lessee", "lessor", "technician"]
    assert served["machines"] and served["lease_id"] == "toolmaker:lease-demo"


def _request(
    url: str, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, dict[str, str], Any]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, json.loads(body) if body else None


def test_the_tokens_act_in_their_roles(served: dict[str, Any]) -> None:
    tokens = served["tokens"]
    status, _, machines = _request(served["url"], "GET", "/machines", tokens["lessee"])
    assert status == 200 and [m["machine_id"] for m in machines["items"]] == served["machines"]
    key = public_key_pem(generate_private_key())
    body = {"machine_id": "cnc-99", "site": "plant-a", "lessee": "factory-1", "keys": {"cnc-99/1": key}}
    status, headers, problem = _request(served["url"], "POST", "/machines", tokens["technician"], body)
    assert status == 403 and headers["content-type"] == "application/problem+json", problem


@pytest.mark.parametrize(("method", "path", "status"), [
    ("TRACE", "/machines", 405), ("QUERY", "/machines", 405), ("PURGE", "/leases", 405), ("GET", "/nowhere", 404),
])  # fmt: skip
def test_undeclared_methods_and_paths_are_problems_never_5xx(
    served: dict[str, Any], method: str, path: str, status: int
) -> None:
    answer, headers, problem = _request(served["url"], method, path, served["tokens"]["lessee"])
    assert answer == status and headers["content-type"] == "application/problem+json"
    assert problem["status"] == status and problem["type"].startswith("urn:twinledger:problem:")
    if status == 405:
        assert headers["allow"] == "GET, POST"


def test_schemathesis_finds_no_5xx_and_every_answer_conforms(served: dict[str, Any], tmp_path: Path) -> None:
    binary = Path(sys.executable).with_name("st")
    command = [
        str(binary), "run", f"{served['url']}/openapi.json",
        "--header", f"Authorization: Bearer {served['tokens']['lessor']}",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--mode", "all", "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(MAX_EXAMPLES), "--seed", "14", "--generation-database", "none",
        "--workers", "1", "--request-timeout", "30", "--no-color",
    ]  # fmt: skip
    began = time.monotonic()
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=400, check=False)
    elapsed = time.monotonic() - began
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    assert "Stateful" in run.stdout and " passed" in run.stdout, run.stdout[-3000:]
    print(f"schemathesis: {elapsed:.0f} s\n{run.stdout[-1500:]}")


def test_sigint_stops_twinledger_api(served: dict[str, Any]) -> None:
    process: subprocess.Popen[bytes] = served["process"]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
