"""Build the Lambda bundle: ``chalice package`` from the locked requirements, with the pure domain vendored in.

Chalice packages only ``app.py``, ``chalicelib/``, ``requirements.txt`` and ``vendor/``. The bundle is built
from a staged copy of ``functions/`` (:func:`staged_project`, under ``build/``) whose ``requirements.txt`` is
the lock ``requirements/lambda.lock`` (every version pinned, every file hashed) and whose ``vendor/`` holds
the domain package ``twin_models``, which lives at the repository's top. ``functions/requirements.txt`` stays
the declaration people edit; ``scripts/lock.sh`` compiles it into the lock.

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

from twinledger.paths import FUNCTIONS_DIR, REPO_ROOT, require_checkout

__all__ = [
    "LAMBDA_LOCK",
    "STAGING_DIR",
    "VENDORED_PACKAGES",
    "package_functions",
    "staged_project",
    "vendor_domain",
    "vendored_domain",
]

#: Top-level packages of this repository that the Lambdas import.
VENDORED_PACKAGES = ("twin_models",)
#: The Lambda bundle's requirements, pinned with hashes (``scripts/lock.sh``).
LAMBDA_LOCK = REPO_ROOT / "requirements" / "lambda.lock"
#: Where the project is staged for packaging (ignored by git). Kept between builds: Chalice caches the
#: downloaded wheels in the staged ``.chalice/deployments`` by the requirements' hash.
STAGING_DIR = REPO_ROOT / "build" / "lambda-project"
#: What of ``functions/`` is not staged.
_NOT_STAGED = ("__pycache__", "*.pyc", "vendor", "deployments", "requirements.txt")


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


@contextlib.contextmanager
def staged_project(staging: Path = STAGING_DIR) -> Iterator[Path]:
    """A copy of ``functions/`` to package: the lock as ``requirements.txt``, ``twin_models`` in ``vendor/``.

    The copy is refreshed on every use; its ``.chalice/deployments`` (Chalice's wheel cache) is kept.

    Example:
        >>> with staged_project() as project:  # doctest: +SKIP
        ...     subprocess.run(["chalice", "package", "out"], cwd=project, check=True)
    """
    require_checkout("functions/app.py")
    if not LAMBDA_LOCK.is_file():
        raise RuntimeError(f"no {LAMBDA_LOCK}: run scripts/lock.sh")
    staging.mkdir(parents=True, exist_ok=True)
    for entry in staging.iterdir():
        if entry.name == ".chalice":
            for inner in entry.iterdir():
                if inner.name != "deployments":
                    shutil.rmtree(inner) if inner.is_dir() else inner.unlink()
        elif entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    shutil.copytree(FUNCTIONS_DIR, staging, ignore=shutil.ignore_patterns(*_NOT_STAGED), dirs_exist_ok=True)
    shutil.copyfile(LAMBDA_LOCK, staging / "requirements.txt")
    for name in VENDORED_PACKAGES:
        shutil.copytree(
            REPO_ROOT / name, staging / "vendor" / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    yield staging


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
    with staged_project() as project:
        subprocess.run([*command, "package", "--stage", stage, str(out_dir)], cwd=project, env=env, check=True)
    bundle = out_dir / "deployment.zip"
    if not bundle.is_file():
        raise RuntimeError(f"chalice package wrote no {bundle}")
    return bundle
