"""Custom ``gdk component build`` for the twinledger components.

Run from a component folder (``gdk component build`` does this), or directly:
``python3 edge_greengrass/components/build.py com.twinledger.TelemetryPublisher [--version 0.1.0]``.
It builds the project wheel (the shared ``edge_greengrass`` and ``twin_models`` packages) and lays
out what GDK expects: ``greengrass-build/artifacts/<name>/<version>/{twinledger-<v>-py3-none-any.whl, main.py}`` and
``greengrass-build/recipes/recipe.yaml`` with the version and the wheel's file name filled in.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]


def build(component: str, version: str | None = None) -> Path:
    """Build ``component`` into ``<component folder>/greengrass-build``; returns that folder."""
    source = HERE / component
    if not (source / "recipe.yaml").is_file():
        raise SystemExit(f"unknown component {component!r} (no {source / 'recipe.yaml'})")
    version = version or tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    out = source / "greengrass-build"
    shutil.rmtree(out, ignore_errors=True)
    artifacts = out / "artifacts" / component / version
    artifacts.mkdir(parents=True)
    (out / "recipes").mkdir()
    with tempfile.TemporaryDirectory() as wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", wheels, str(REPO_ROOT)], check=True
        )
        (wheel,) = Path(wheels).glob("twinledger-*.whl")
        shutil.copy(wheel, artifacts / wheel.name)  # pip needs the wheel's own file name
    shutil.copy(source / "main.py", artifacts / "main.py")
    recipe = (source / "recipe.yaml").read_text()
    recipe = recipe.replace("{COMPONENT_VERSION}", version).replace("{WHEEL_FILE}", wheel.name)
    (out / "recipes" / "recipe.yaml").write_text(recipe)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("component")
    parser.add_argument("--version", default=None)
    args = parser.parse_args()
    print(build(args.component, args.version))
