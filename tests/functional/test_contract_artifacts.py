"""The committed contract artifacts are what the pinned compiler makes of the committed sources."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACT_DIRS = [
    ROOT / "contracts" / "artifacts",
    ROOT / "functions" / "chalicelib" / "adapters" / "chain" / "artifacts",
]


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: cannot recompile the contracts (install Node.js 20)")
    if not (ROOT / "node_modules" / "solc").is_dir():
        pytest.skip("node_modules/solc is missing: run `npm ci` to recompile the contracts")
    if not (ROOT / "node_modules" / "@openzeppelin" / "contracts").is_dir():
        pytest.skip("node_modules/@openzeppelin/contracts is missing: run `npm ci`")
    return node


def test_recompiled_artifacts_match_committed(tmp_path: Path) -> None:
    node = _node()
    subprocess.run([node, "contracts/compile.js", "--out", str(tmp_path)], cwd=ROOT, check=True, capture_output=True)

    fresh = sorted(p.name for p in tmp_path.glob("*.json"))
    assert fresh, "the compiler produced no artifact"
    for directory in ARTIFACT_DIRS:
        assert sorted(p.name for p in directory.glob("*.json")) == fresh
        for name in fresh:
            assert (directory / name).read_text() == (tmp_path / name).read_text(), f"stale {directory / name}"


def test_artifacts_pin_compiler_and_evm_version() -> None:
    for path in ARTIFACT_DIRS[0].glob("*.json"):
        artifact = json.loads(path.read_text())
        assert artifact["compiler"]["version"].startswith("0.8.28+")
        assert artifact["compiler"]["settings"]["evmVersion"] == "shanghai"
        assert artifact["compiler"]["settings"]["optimizer"]["enabled"] is True
        assert len(artifact["bytecode"]) > 2 and int(artifact["bytecode"], 16) > 0
        assert len(artifact["abi"]) > 0


def test_no_third_party_solidity_is_kept_in_the_repository() -> None:
    sources = list((ROOT / "contracts").rglob("*.sol"))

    assert sources
    for path in sources:
        text = path.read_text()
        assert "OpenZeppelin Contracts (last updated" not in text, f"{path} holds vendored OpenZeppelin code"
        assert "SPDX-License-Identifier: Apache-2.0" in text
