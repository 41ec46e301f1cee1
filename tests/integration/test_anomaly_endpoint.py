"""boto3 ``sagemaker-runtime`` -> local endpoint server (a real process) -> the inference module."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from chalicelib import wiring
from chalicelib.adapters.anomaly import SageMakerEndpoint
from chalicelib.anomaly import score_windows
from twin_models.anomaly import AnomalyModel, telemetry_features, train_table
from twin_models.anomaly.synthetic import synthetic_samples
from twinledger.deploy.sagemaker_deploy import build_source_bundle
from twinledger.files.anomaly import pack_model_tar

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    telemetry = AnomalyModel.fit(telemetry_features(synthetic_samples(60 * 240, seed=31), window=60))
    rng = pd.DataFrame(
        {"temp": [30.0 + (i % 7) * 0.1 for i in range(500)], "vib": [2.0 + (i % 5) * 0.01 for i in range(500)]}
    )
    table = train_table(rng, persistence="1/1")
    return {
        "twinledger-anomaly": pack_model_tar(telemetry, root / "telemetry.tar.gz"),
        "table-model": pack_model_tar(table, root / "table.tar.gz"),
    }


@pytest.fixture(scope="module")
def endpoint_url(models: dict[str, Path]) -> Iterator[str]:
    args = [sys.executable, "-m", "twinledger.local.sagemaker_endpoint", "--port", "0"]
    for name, path in models.items():
        args += ["--model", f"{name}={path}"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"endpoint server did not start: {proc.stderr.read() if proc.stderr else ''}")
        yield json.loads(line)["url"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def runtime(endpoint_url: str, aws_env: None) -> Any:
    return boto3.client("sagemaker-runtime", region_name="eu-central-1", endpoint_url=endpoint_url)


def _windows(fault: str | None, n: int, seed: int) -> list[dict[str, Any]]:
    rows = synthetic_samples(60 * n, seed=seed, fault=fault, onset=0.0, severity=3.0)
    return [{"samples": [dict(s, ts=s["ts"].isoformat()) for s in rows[i : i + 60]]} for i in range(0, 60 * n, 60)]


def test_json_round_trip_through_boto3(runtime: Any) -> None:
    # Given a machine whose bearing degrades, sent as raw 1 Hz windows
    body = json.dumps({"thing": "mill-01", "windows": _windows("bearing", 6, seed=1)})
    # When
    response = runtime.invoke_endpoint(
        EndpointName="twinledger-anomaly", Body=body, ContentType="application/json", Accept="application/json"
    )
    # Then
    data = json.loads(response["Body"].read())
    assert response["ContentType"] == "application/json"
    assert data["thing"] == "mill-01"
    assert len(data["results"]) == 6
    assert data["summary"]["alarm"] is True
    assert data["summary"]["action"] == "spindle_bearings"


def test_csv_round_trip_through_boto3(runtime: Any) -> None:
    body = pd.DataFrame({"temp": [30.2, 45.0, 30.1], "vib": [2.0, 2.0, 2.02]}).to_csv(index=False)
    response = runtime.invoke_endpoint(EndpointName="table-model", Body=body, ContentType="text/csv", Accept="text/csv")
    out = pd.read_csv(io.StringIO(response["Body"].read().decode()))
    assert out["is_anomaly"].tolist() == [0, 1, 0]


def test_errors_come_back_as_service_errors(runtime: Any) -> None:
    with pytest.raises(ClientError) as unknown:
        runtime.invoke_endpoint(EndpointName="nope", Body=b"{}", ContentType="application/json")
    assert unknown.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError) as bad:
        runtime.invoke_endpoint(EndpointName="twinledger-anomaly", Body=b"{}", ContentType="application/json")
    assert bad.value.response["Error"]["Code"] == "ModelError"
    assert "windows" in bad.value.response["Error"]["Message"]


def test_health_client_over_http(endpoint_url: str, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWINLEDGER_ANOMALY_ENDPOINT", "twinledger-anomaly")
    monkeypatch.setenv("TWINLEDGER_SAGEMAKER_ENDPOINT_URL", endpoint_url)
    endpoint = wiring.build().adapters.endpoint  # the wiring picks the runtime endpoint from the settings
    assert isinstance(endpoint, SageMakerEndpoint) and endpoint.endpoint_url == endpoint_url
    healthy = score_windows("mill-02", _windows(None, 3, seed=2), endpoint=endpoint)
    assert (healthy.severity, healthy.alarm) == ("ok", False)
    faulty = score_windows("mill-02", _windows("cooling", 4, seed=3), state=healthy.state, endpoint=endpoint)
    assert faulty.alarm is True
    assert faulty.action == "cooling_system"
    assert faulty.contributions
    assert faulty.score > faulty.threshold


def test_source_bundle_serves_with_numpy_pandas_sklearn_only(tmp_path: Path, models: dict[str, Path]) -> None:
    with tarfile.open(fileobj=io.BytesIO(build_source_bundle())) as tar:
        tar.extractall(tmp_path / "code", filter="data")
    with tarfile.open(models["twinledger-anomaly"]) as tar:
        tar.extractall(tmp_path / "model", filter="data")
    request = json.dumps({"thing": "m", "windows": _windows(None, 2, seed=4)})
    script = (
        "import json, sys\n"
        "import inference\n"
        "model = inference.model_fn(sys.argv[1])\n"
        "request = inference.input_fn(sys.argv[2], 'application/json')\n"
        "body, _ = inference.output_fn(inference.predict_fn(request, model))\n"
        "mods = sorted(m.split('.')[0] for m in sys.modules)\n"
        "print(json.dumps({'results': len(json.loads(body)['results']), 'modules': mods,\n"
        "                  'twin_models': sys.modules['twin_models'].__file__}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(tmp_path / "code")}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "model"), request],
        cwd=tmp_path / "code",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    out = json.loads(done.stdout)
    assert out["results"] == 2
    assert out["twin_models"].startswith(str(tmp_path / "code"))
    assert not {"boto3", "botocore", "pydantic", "chalice", "chalicelib", "web3"} & set(out["modules"])
