"""The lock files: current with what they are compiled from, every pin hashed, the bundle's lock complete."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from twinledger.locks import DIGEST_PREFIX, LOCKS, input_digest, recorded_digest, stale
from twinledger.paths import REPO_ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;\\]+)")


def _pins(lock: Path) -> dict[str, list[str]]:
    """Package name -> the hashes listed under its pin."""
    pins: dict[str, list[str]] = {}
    current = ""
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            current = match.group(1).lower().replace("_", "-")
            pins.setdefault(current, [])
        elif line.strip().startswith("--hash=sha256:") and current:
            pins[current].append(line.strip())
    return pins


@pytest.mark.parametrize("name", sorted(LOCKS))
def test_every_lock_was_compiled_from_the_current_declarations(name: str) -> None:
    spec = LOCKS[name]
    assert recorded_digest(spec.path) == input_digest(spec), (
        f"{spec.path.relative_to(REPO_ROOT)} is older than {spec.source}: run scripts/lock.sh"
    )


@pytest.mark.parametrize("name", sorted(LOCKS))
def test_every_pin_carries_hashes(name: str) -> None:
    pins = _pins(LOCKS[name].path)
    assert pins
    assert not [package for package, hashes in pins.items() if not hashes]


def test_a_changed_dependency_makes_the_lock_stale(tmp_path: Path) -> None:
    # Given a copy of the declarations and the locks, all current
    for name in ("pyproject.toml", "functions/requirements.txt", "requirements"):
        source, target = REPO_ROOT / name, tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    assert stale(tmp_path) == []
    # When a tool setting changes, nothing is stale; when a dependency is added, the pyproject locks are
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("line-length = 120", "line-length = 119"))
    assert stale(tmp_path) == []
    pyproject.write_text(pyproject.read_text().replace('"pytest>=8",', '"pytest>=8",\n  "flwr>=1.42",'))
    assert set(stale(tmp_path)) == {"dev"}
    pyproject.write_text(pyproject.read_text().replace('"numpy>=1.26",', '"numpy>=1.26",\n  "tzdata",'))
    assert set(stale(tmp_path)) == {"dev", "local", "verify"}
    # and a new Lambda requirement makes the bundle's lock stale
    requirements = tmp_path / "functions" / "requirements.txt"
    requirements.write_text(requirements.read_text() + "epcis-event-hash-generator>=1.9\n")
    assert "lambda" in stale(tmp_path)


def test_the_bundle_lock_holds_every_lambda_requirement_for_the_lambda_platform() -> None:
    lock = LOCKS["lambda"].path
    pins = _pins(lock)
    declared = {
        re.split(r"[<>=\[ ;]", line.split("#", 1)[0].strip(), maxsplit=1)[0].lower()
        for line in (REPO_ROOT / "functions" / "requirements.txt").read_text().splitlines()
        if line.split("#", 1)[0].strip()
    }
    assert declared <= set(pins)
    assert "x86_64-manylinux_2_17" in lock.read_text().split("\n", 3)[1]
    numpy = next(m.group(3) for m in map(PIN.match, lock.read_text().splitlines()) if m and m.group(1) == "numpy")
    assert tuple(int(p) for p in numpy.split(".")[:2]) < (2, 3)  # manylinux2014 wheels (see requirements.txt)
    assert not {p for p in pins if p.startswith(("sagemaker", "moto", "pandas", "boto3-stubs"))}


def test_the_header_names_the_command_that_regenerates_it() -> None:
    for spec in LOCKS.values():
        head = spec.path.read_text().split("\n", 3)
        assert "scripts/lock.sh" in head[0] and head[2].startswith(DIGEST_PREFIX)
