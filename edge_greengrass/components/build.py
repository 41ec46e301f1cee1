"""Custom ``gdk component build`` for the twinledger components.

Run from a component folder (``gdk component build`` does this), or directly:
``python3 edge_greengrass/components/build.py com.twinledger.TelemetryPublisher [--version 0.1.0] [--out DIR]``.

The artifact carries only what a gateway runs: the *edge wheel* ``twinledger_edge-<v>-py3-none-any.whl``
holds the ``edge_greengrass`` and ``twin_models`` packages (never ``twinledger``, ``functions/`` or the
component folders) and requires only the gateway's dependencies (:func:`edge_requirements`: the
``edge`` extra of ``pyproject.toml`` and the base dependencies the gateway imports — no pandas,
scikit-learn, boto3, Chalice or web3). The wheel is written here with the standard library alone
(reproducible: fixed timestamps and order; no network, no build backend), and the script lays out
what GDK expects: ``greengrass-build/artifacts/<name>/<version>/{<wheel>, main.py}`` and
``greengrass-build/recipes/recipe.yaml`` with the version and the wheel's file name filled in.

Example:
    $ python3 edge_greengrass/components/build.py com.twinledger.TelemetryPublisher --out /tmp/gg
    /tmp/gg
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import shutil
import tomllib
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]

#: The distribution the gateway installs (a wheel of its own, not the project's ``twinledger`` wheel).
DIST_NAME = "twinledger-edge"
#: The import packages in the edge wheel.
PACKAGES = ("edge_greengrass", "twin_models")
#: Base dependencies of the project (``[project].dependencies``) that the gateway imports; the others
#: (numpy, pycryptodome) serve only modules of ``twin_models`` it never loads (analytics, Merkle trees).
EDGE_BASE_DEPENDENCIES = ("pydantic", "cryptography", "joserfc", "rfc8785")
#: Besides the modules: files the packages ship (PEP 561 marker).
DATA_FILES = ("py.typed",)

_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's earliest timestamp: the same sources give the same wheel bytes


def _project(pyproject: Path) -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads(pyproject.read_text())["project"]
    return project


def requirement_name(requirement: str) -> str:
    """The normalised distribution name of a requirement string (PEP 503).

    Example:
        >>> requirement_name("Foo_Bar[extra]>=1.0")
        'foo-bar'
    """
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def edge_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """What the edge wheel requires: the ``edge`` extra plus :data:`EDGE_BASE_DEPENDENCIES`, as pinned there.

    Example:
        >>> sorted(requirement_name(r) for r in edge_requirements())  # doctest: +NORMALIZE_WHITESPACE
        ['asyncua', 'awscrt', 'awsiotsdk', 'cryptography', 'joserfc', 'pydantic', 'pyyaml', 'rfc8785']
    """
    project = _project(pyproject)
    base = [r for r in project["dependencies"] if requirement_name(r) in EDGE_BASE_DEPENDENCIES]
    missing = set(EDGE_BASE_DEPENDENCIES) - {requirement_name(r) for r in base}
    if missing:
        raise SystemExit(f"{pyproject}: no base dependency {sorted(missing)} (EDGE_BASE_DEPENDENCIES is stale)")
    return [*base, *project["optional-dependencies"]["edge"]]


def package_files(root: Path = REPO_ROOT) -> list[Path]:
    """The files of :data:`PACKAGES` that go into the wheel, relative to ``root``, sorted.

    As setuptools finds packages: a folder is part of a package only when it holds ``__init__.py`` (so
    ``edge_greengrass/components/`` with its recipes and this script is not); caches are skipped.

    Example:
        >>> "edge_greengrass/components/build.py" in {p.as_posix() for p in package_files()}
        False
    """
    found: list[Path] = []
    for package in PACKAGES:
        folders = [root / package]
        while folders:
            folder = folders.pop()
            if not (folder / "__init__.py").is_file():
                continue
            for entry in folder.iterdir():
                if entry.is_dir() and entry.name != "__pycache__":
                    folders.append(entry)
                elif entry.is_file() and (entry.suffix == ".py" or entry.name in DATA_FILES):
                    found.append(entry.relative_to(root))
    return sorted(found)


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(directory: Path, version: str, *, root: Path = REPO_ROOT) -> Path:
    """Write the edge wheel into ``directory``; returns its path.

    Example:
        >>> import tempfile
        >>> build_wheel(Path(tempfile.mkdtemp()), "0.1.0").name
        'twinledger_edge-0.1.0-py3-none-any.whl'
    """
    project = _project(root / "pyproject.toml")
    stem = f"{DIST_NAME.replace('-', '_')}-{version}"
    dist_info = f"{stem}.dist-info"
    metadata = "".join(
        [
            "Metadata-Version: 2.1\n",
            f"Name: {DIST_NAME}\n",
            f"Version: {version}\n",
            "Summary: twinledger's Greengrass gateway: sources, spool, signed telemetry, shadow sync\n",
            f"License: {project.get('license', {}).get('text', 'UNKNOWN')}\n",
            f"Requires-Python: {project['requires-python']}\n",
            *(f"Requires-Dist: {r}\n" for r in edge_requirements(root / "pyproject.toml")),
        ]
    )
    wheel_info = "Wheel-Version: 1.0\nGenerator: twinledger components/build.py\nRoot-Is-Purelib: true\n"
    wheel_info += "Tag: py3-none-any\n"
    entries = [(p.as_posix(), (root / p).read_bytes()) for p in package_files(root)]
    entries += [(f"{dist_info}/METADATA", metadata.encode()), (f"{dist_info}/WHEEL", wheel_info.encode())]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in entries)
    entries.append((f"{dist_info}/RECORD", (record + f"{dist_info}/RECORD,,\n").encode()))

    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{stem}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
            archive.writestr(info, data)
    return wheel


def build(component: str, version: str | None = None, *, out: Path | None = None) -> Path:
    """Build ``component`` into ``out`` (default ``<component folder>/greengrass-build``); returns that folder.

    Example:
        >>> import tempfile
        >>> out = build("com.twinledger.MachineSimulator", out=Path(tempfile.mkdtemp()) / "gg")
        >>> sorted(p.name for p in (out / "artifacts" / "com.twinledger.MachineSimulator").glob("*/*"))
        ['main.py', 'twinledger_edge-0.1.0-py3-none-any.whl']
    """
    source = HERE / component
    if not (source / "recipe.yaml").is_file():
        raise SystemExit(f"unknown component {component!r} (no {source / 'recipe.yaml'})")
    version = version or _project(REPO_ROOT / "pyproject.toml")["version"]
    out = out or source / "greengrass-build"
    shutil.rmtree(out, ignore_errors=True)
    artifacts = out / "artifacts" / component / version
    artifacts.mkdir(parents=True)
    (out / "recipes").mkdir()
    wheel = build_wheel(artifacts, version)  # pip needs the wheel's own file name
    shutil.copy(source / "main.py", artifacts / "main.py")
    recipe = (source / "recipe.yaml").read_text()
    recipe = recipe.replace("{COMPONENT_VERSION}", version).replace("{WHEEL_FILE}", wheel.name)
    (out / "recipes" / "recipe.yaml").write_text(recipe)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("component")
    parser.add_argument("--version", default=None)
    parser.add_argument("--out", type=Path, default=None, help="default: <component folder>/greengrass-build")
    args = parser.parse_args()
    print(build(args.component, args.version, out=args.out))
