"""``twinledger verify`` from the built wheel, installed alone into a fresh virtual environment.

The wheel and the ``verify`` lock are all the environment gets: no checkout on ``sys.path``, no Chalice
project, no dev packages. Proof bundles are exported in this process by the anchoring service on a Ganache
devnet, as a lessor would hand them out; the installed command checks them against the chain.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from chalicelib.adapters.chain import AnchorClient, deploy_anchor_registry
from chalicelib.adapters.memory import InMemoryAnchorStore
from chalicelib.anchoring.service import AnchoringService
from twin_models.anchoring import record_hash
from twinledger.local.ganache import DETERMINISTIC_KEYS, Ganache
from twinledger.locks import LOCKS
from twinledger.paths import REPO_ROOT

pytestmark = pytest.mark.integration


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def _clean_env(venv: Path) -> dict[str, str]:
    """The environment a user's shell would have: the venv first on PATH, nothing of this checkout."""
    keep = {k: v for k, v in os.environ.items() if k in {"HOME", "LANG", "LC_ALL", "TMPDIR"}}
    return {**keep, "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "PYTHONNOUSERSITE": "1"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv holding the ``verify`` lock and the wheel built from this checkout; yields its folder."""
    root = tmp_path_factory.mktemp("installed")
    wheels = root / "wheels"
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(wheels), "."],
        cwd=REPO_ROOT,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = wheels.glob("twinledger-*.whl")

    venv = root / "venv"
    uv = Path(sys.executable).with_name("uv")
    if uv.is_file():
        steps = [
            [str(uv), "venv", "--quiet", "--python", sys.executable, str(venv)],
            [
                str(uv),
                "pip",
                "install",
                "--quiet",
                "--python",
                str(venv / "bin" / "python"),
                "--require-hashes",
                "-r",
                str(LOCKS["verify"].path),
            ],
            [str(uv), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "--no-deps", str(wheel)],
        ]
    else:
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [*pip, "--require-hashes", "-r", str(LOCKS["verify"].path)],
            [*pip, "--no-deps", str(wheel)],
        ]
    for step in steps:
        done = _run(step, cwd=root)
        assert done.returncode == 0, (step, done.stderr[-3000:])
    yield venv
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def bundles(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ganache, dict[str, Path]]]:
    """A devnet, and proof bundles exported from it: a batch record, a maintenance-log entry, tampered copies."""
    if not (REPO_ROOT / "node_modules" / ".bin" / "ganache").exists():
        pytest.fail("Ganache is missing: run scripts/setup.sh test (npm ci)")
    folder = tmp_path_factory.mktemp("bundles")
    with Ganache() as node:
        admin = Account.from_key(DETERMINISTIC_KEYS[0])
        w3 = node.w3()
        registry = AnchorClient(w3, deploy_anchor_registry(w3, admin), admin)
        service = AnchoringService(InMemoryAnchorStore(), lambda: registry, batch_size=16)
        invoice = {"invoice": "2026-11/lease-0042", "total": "1234.50", "currency": "EUR"}
        visit = {"entry_id": "cnc-01/0", "thing": "cnc-01", "work": "spindle bearing replaced"}
        service.submit("invoice/0042/2026-11", record_hash(invoice), "billing")
        service.submit("invoice/0043/2026-11", record_hash({"other": 1}), "billing")
        service.submit_log_entry("cnc-01", "cnc-01/0", record_hash(visit), ("oem",))
        assert service.run_once().anchored == 3
        exported = {
            "invoice": service.bundle("invoice/0042/2026-11", record=invoice),
            "invoice-tampered": service.bundle("invoice/0042/2026-11", record={**invoice, "total": "234.50"}),
            "log": service.bundle("cnc-01/0", record=visit),
            "log-tampered": service.bundle("cnc-01/0", record={**visit, "work": "nothing"}),
        }
        paths = {}
        for name, bundle in exported.items():
            paths[name] = folder / f"{name}.json"
            paths[name].write_text(bundle.model_dump_json(), encoding="utf-8")
        yield node, paths


def _verify(venv: Path, bundle: Path, rpc: str) -> subprocess.CompletedProcess[str]:
    return _run(
        ["twinledger", "verify", "--record", str(bundle), "--rpc", rpc], cwd=bundle.parent, env=_clean_env(venv)
    )


def test_the_installed_package_is_the_wheel_without_the_chalice_project(installed: Path) -> None:
    probe = (
        "import importlib.util, twinledger; print(twinledger.__file__); print(importlib.util.find_spec('chalicelib'))"
    )
    done = _run([str(installed / "bin" / "python"), "-c", probe], cwd=installed, env=_clean_env(installed))
    assert done.returncode == 0, done.stderr
    location, chalicelib = done.stdout.split()
    assert location.startswith(str(installed)) and chalicelib == "None"


def test_the_installed_verify_passes_a_good_bundle(installed: Path, bundles: tuple[Ganache, dict[str, Path]]) -> None:
    node, paths = bundles
    for name in ("invoice", "log"):
        done = _verify(installed, paths[name], node.url)
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        result = json.loads(done.stdout)
        assert result["ok"] and result["on_chain"] and result["block_number"] > 0, name


def test_the_installed_verify_fails_a_tampered_bundle(
    installed: Path, bundles: tuple[Ganache, dict[str, Path]]
) -> None:
    node, paths = bundles
    for name in ("invoice-tampered", "log-tampered"):
        done = _verify(installed, paths[name], node.url)
        assert done.returncode == 1, (name, done.stdout, done.stderr)
        result = json.loads(done.stdout)
        assert not result["ok"] and not result["offline_ok"] and result["reasons"], name


def test_an_unreachable_node_is_one_line_and_exit_2(installed: Path, bundles: tuple[Ganache, dict[str, Path]]) -> None:
    _, paths = bundles
    done = _verify(installed, paths["invoice"], "http://127.0.0.1:9")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [["demo"], ["package"], ["anchor", "drain"]])
def test_commands_that_need_a_checkout_say_so_in_one_line(installed: Path, command: list[str]) -> None:
    done = _run(["twinledger", *command], cwd=installed, env=_clean_env(installed))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "checkout" in done.stderr
