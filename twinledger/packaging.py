"""Build the Lambda bundle: ``chalice package`` with the pure domain vendored in.

Chalice packages only ``app.py``, ``chalicelib/``, ``requirements.txt`` and ``vendor/``; the
domain package ``twin_models`` lives at the repository's top, so it is copied into
``functions/vendor/`` (ignored by git) right before packaging.

Example:
    $ twinledger package --out build/lambda
    build/lambda/deployment.zip  build/lambda/sam.json
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from twinledger.paths import FUNCTIONS_DIR, REPO_ROOT

__all__ = ["VENDORED_PACKAGES", "package_functions", "vendor_domain", "vendored_domain"]

#: Top-level packages of this repository that the Lambdas import.
VENDORED_PACKAGES = ("twin_models",)


def vendor_domain() -> Path:
    """Copy the domain package(s) into ``functions/vendor`` afresh; returns the vendor folder."""
    vendor = FUNCTIONS_DIR / "vendor"
    for name in VENDORED_PACKAGES:
        target = vendor / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(REPO_ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return vendor


@contextlib.contextmanager
def vendored_domain() -> Iterator[Path]:
    """The domain vendored into ``functions/vendor`` for the duration of a packaging step, removed after:
    a copy left behind would shadow the live code in ``chalice local`` and in tests.

    Example:
        >>> with vendored_domain() as vendor:  # doctest: +SKIP
        ...     subprocess.run(["chalice", "package", "out"], cwd=FUNCTIONS_DIR, check=True)
    """
    vendor = vendor_domain()
    try:
        yield vendor
    finally:
        for name in VENDORED_PACKAGES:
            shutil.rmtree(vendor / name, ignore_errors=True)
        with contextlib.suppress(OSError):
            vendor.rmdir()  # only if nothing else is vendored


def package_functions(out_dir: Path, stage: str = "dev", region: str | None = None) -> Path:
    """Run ``chalice package`` into ``out_dir``; returns the path of ``deployment.zip``.

    Needs no AWS credentials, only a region (taken from the environment, else ``eu-central-1``).
    """
    out_dir = out_dir.resolve()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    env = dict(os.environ)
    env["AWS_DEFAULT_REGION"] = region or env.get("AWS_DEFAULT_REGION") or "eu-central-1"
    chalice = Path(sys.executable).with_name("chalice")
    command = [str(chalice)] if chalice.exists() else [sys.executable, "-m", "chalice.cli"]
    with vendored_domain():
        subprocess.run([*command, "package", "--stage", stage, str(out_dir)], cwd=FUNCTIONS_DIR, env=env, check=True)
    bundle = out_dir / "deployment.zip"
    if not bundle.is_file():
        raise RuntimeError(f"chalice package wrote no {bundle}")
    return bundle
