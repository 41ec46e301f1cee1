"""``chalice package`` produces a bundle, from the lock, that holds everything the Lambdas import."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from twinledger.packaging import LAMBDA_LOCK, package_functions

pytestmark = pytest.mark.integration

#: What the Lambda Python runtime provides itself; everything else must be in the bundle.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")


def _lock_pins() -> dict[str, str]:
    pins = {}
    for line in LAMBDA_LOCK.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split(";")[0].split("\\")[0].strip().split("==")
            pins[_normal(name)] = version.strip()
    return pins


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def test_the_bundle_imports_every_handler_without_the_dev_environment(tmp_path: Path) -> None:
    bundle = package_functions(tmp_path / "out", region="eu-central-1")
    unpacked = tmp_path / "bundle"
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        archive.extractall(unpacked)
    assert "app.py" in names and "twin_models/telemetry.py" in names
    # every distribution in the bundle is the version the lock pins
    pinned = _lock_pins()
    dist_infos = {name.split("/")[0].removesuffix(".dist-info") for name in names if ".dist-info/" in name}
    bundled = {_normal(d.rsplit("-", 1)[0]): d.rsplit("-", 1)[1] for d in dist_infos}
    assert {"web3", "pydantic", "numpy", "aws-lambda-powertools"} <= set(bundled)
    assert {name: version for name, version in bundled.items() if pinned.get(name) != version} == {}
    assert not any(n.startswith(("sagemaker/", "pandas/", "sklearn/", "moto/")) for n in names)

    # a stand-in for the Lambda runtime: the bundle plus only what AWS ships with Python
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    import boto3

    site = Path(boto3.__file__).resolve().parents[1]
    for name in RUNTIME_PROVIDED:
        (runtime / name).symlink_to(site / name)
    probe = (
        "import sys\n"
        f"sys.path[:0] = [{str(unpacked)!r}, {str(runtime)!r}]\n"
        "import app\n"
        "from app import app as chalice_app\n"
        "assert app.__file__.startswith(sys.path[0]), app.__file__\n"
        "import twin_models, pydantic, cryptography, web3\n"
        "assert twin_models.__file__.startswith(sys.path[0])\n"
        "print(sorted(chalice_app.handler_map))\n"
    )
    env = {"AWS_DEFAULT_REGION": "eu-central-1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ingest" in done.stdout
