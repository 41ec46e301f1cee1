"""SageMaker deployment with the ``sagemaker`` SDK, run against moto (nothing reaches AWS or the internet).

The SDK's resource classes send real boto3 requests; ``mock_aws`` answers them in-process, and the
created training job, model, endpoint configuration and endpoint are read back with a plain boto3
client. A socket guard fails the test if anything (image lookup, default bucket, telemetry) tries to
open a network connection.
"""

from __future__ import annotations

import io
import json
import socket
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws

from twinledger.deploy.sagemaker_deploy import DeployConfig, build_source_bundle, deploy, run, sklearn_image_uri

pytest.importorskip("sagemaker.core.resources", reason="the sagemaker extra is not installed")

REGION = "eu-central-1"
BUCKET = "ml-bucket"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
IMAGE = "492215442770.dkr.ecr.eu-central-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
STAMP = "20260105-060000"
NAME = f"twinledger-anomaly-{STAMP}"
PREFIX = "twinledger/anomaly"
SOURCE = f"s3://{BUCKET}/{PREFIX}/code/{STAMP}/sourcedir.tar.gz"
TAGS = [{"Key": "project", "Value": "twinledger"}, {"Key": "component", "Value": "anomaly"}]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any outbound connection is an error (moto answers inside botocore, without sockets)."""

    def refuse(self: socket.socket, address: Any) -> None:
        raise AssertionError(f"network access attempted: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def _drop_empty_structures(parsed: dict[str, Any], **_: Any) -> None:
    # moto answers Describe* with empty structures (``"VpcConfig": {}``, ``"DataCaptureConfig": {}``) where
    # AWS leaves unset members out; the SDK's models reject them, so strip them as AWS would.
    for key in [k for k, v in parsed.items() if v == {}]:
        del parsed[key]


@pytest.fixture
def session(
    aws_env: None, no_network: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[boto3.session.Session]:
    """A boto3 session under ``mock_aws`` with the bucket created.

    The SDK reads its defaults config from ``SAGEMAKER_*_CONFIG_OVERRIDE`` instead of the user's files:
    no defaults from the machine running the tests, telemetry opted out.
    """
    sdk_config = tmp_path / "sagemaker-config.yaml"
    sdk_config.write_text("SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n")
    monkeypatch.setenv("SAGEMAKER_ADMIN_CONFIG_OVERRIDE", str(sdk_config))
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(sdk_config))
    with mock_aws():
        boto_session = boto3.session.Session(region_name=REGION)
        boto_session.events.register("after-call.sagemaker", _drop_empty_structures)
        boto_session.client("s3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
        )
        yield boto_session


def test_train_and_deploy_creates_the_job_model_config_and_endpoint(
    session: boto3.session.Session, tmp_path: Path
) -> None:
    csv = tmp_path / "healthy.csv"
    csv.write_text("a,b\n1,2\n")
    config = DeployConfig(region=REGION, role_arn=ROLE, bucket=BUCKET, hyperparameters={"detector": "zscore"})

    result = run(config, "twinledger-anomaly", train_files=[csv], stamp=STAMP, session=session, poll_s=1)

    sm, s3 = session.client("sagemaker"), session.client("s3")
    bundle = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/code/{STAMP}/sourcedir.tar.gz")["Body"].read()
    assert bundle == build_source_bundle()
    assert s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/train/{STAMP}/healthy.csv")["Body"].read() == b"a,b\n1,2\n"

    job = sm.describe_training_job(TrainingJobName=NAME)
    assert job["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert job["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    assert job["RoleArn"] == ROLE
    assert {k: json.loads(v) for k, v in job["HyperParameters"].items()} == {
        "sagemaker_program": "train.py",
        "sagemaker_submit_directory": SOURCE,
        "sagemaker_region": REGION,
        "sagemaker_container_log_level": "20",
        "detector": "zscore",
    }
    [channel] = job["InputDataConfig"]
    assert channel["ChannelName"] == "training"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/{PREFIX}/train/{STAMP}"
    assert job["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/{PREFIX}/output"
    assert job["ResourceConfig"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10}
    assert job["StoppingCondition"]["MaxRuntimeInSeconds"] == 3600
    model_data = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_data == f"s3://{BUCKET}/{PREFIX}/output/{NAME}/output/model.tar.gz"

    container = sm.describe_model(ModelName=NAME)["PrimaryContainer"]
    assert container["Image"] == IMAGE
    assert container["ModelDataUrl"] == model_data
    assert container["Environment"] == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": SOURCE,
        "SAGEMAKER_REGION": REGION,
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
    }
    [variant] = sm.describe_endpoint_config(EndpointConfigName=NAME)["ProductionVariants"]
    assert variant["ModelName"] == NAME
    assert variant["InstanceType"] == "ml.t2.medium"
    assert variant["InitialInstanceCount"] == 1

    endpoint = sm.describe_endpoint(EndpointName="twinledger-anomaly")
    assert endpoint["EndpointConfigName"] == NAME
    assert endpoint["EndpointStatus"] == "InService"
    assert sm.list_tags(ResourceArn=endpoint["EndpointArn"])["Tags"] == TAGS

    assert result.endpoint == "twinledger-anomaly"
    assert (result.model, result.endpoint_config, result.model_data, result.source) == (NAME, NAME, model_data, SOURCE)
    assert result.updated is False


def test_existing_endpoint_is_switched_to_a_serverless_config(session: boto3.session.Session, tmp_path: Path) -> None:
    sm = session.client("sagemaker")
    model_tar = tmp_path / "model.tar.gz"
    model_tar.write_bytes(b"not inspected here")
    # moto has no UpdateEndpoint: record the request and answer it here (before the SDK creates its client)
    updates: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        updates.append(dict(params))

    def answer(**_: Any) -> Any:
        return AWSResponse("https://sagemaker", 200, HTTPHeaders(), None), {"EndpointArn": "arn:endpoint"}

    session.events.register("before-parameter-build.sagemaker.UpdateEndpoint", record)
    session.events.register("before-call.sagemaker.UpdateEndpoint", answer)
    first = DeployConfig(region=REGION, role_arn=ROLE, bucket=BUCKET)
    deploy(first, "twinledger-anomaly", "s3://ml-bucket/old/model.tar.gz", SOURCE, stamp="old", session=session)
    config = DeployConfig(
        region=REGION, role_arn=ROLE, bucket=BUCKET, serverless_memory_mb=2048, image_uri="1.dkr.ecr/custom:1"
    )
    result = run(config, "twinledger-anomaly", model_tar=model_tar, stamp=STAMP, session=session, poll_s=1)

    uploaded = f"{PREFIX}/models/{STAMP}/model.tar.gz"
    assert session.client("s3").get_object(Bucket=BUCKET, Key=uploaded)["Body"].read() == b"not inspected here"
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []
    container = sm.describe_model(ModelName=NAME)["PrimaryContainer"]
    assert (container["Image"], container["ModelDataUrl"]) == ("1.dkr.ecr/custom:1", f"s3://{BUCKET}/{uploaded}")
    [variant] = sm.describe_endpoint_config(EndpointConfigName=NAME)["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    assert "InstanceType" not in variant
    assert updates == [{"EndpointName": "twinledger-anomaly", "EndpointConfigName": NAME}]
    assert [c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]] == [
        "twinledger-anomaly-old",
        NAME,
    ]
    assert result.updated is True


def test_training_without_data_or_model_is_refused(session: boto3.session.Session) -> None:
    config = DeployConfig(region=REGION, role_arn=ROLE, bucket=BUCKET)
    with pytest.raises(ValueError, match=r"model\.tar\.gz"):
        run(config, "twinledger-anomaly", stamp=STAMP, session=session)


def test_source_bundle_is_reproducible_and_self_contained() -> None:
    first, second = build_source_bundle(), build_source_bundle()
    assert first == second
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        names = tar.getnames()
    assert {
        "train.py",
        "inference.py",
        "twinledger/sagemaker_entry/inference.py",
        "twin_models/anomaly/model.py",
    } <= set(names)
    assert not any(n.startswith(("functions/", "twin_models/billing", "twinledger/cli")) for n in names)


def test_image_uri_per_region_comes_from_the_sdk_tables(no_network: None) -> None:
    assert sklearn_image_uri(REGION) == IMAGE
    with pytest.raises(ValueError, match="--image-uri"):
        sklearn_image_uri("mars-north-1")


def test_importing_the_tooling_loads_neither_the_sdk_nor_boto3() -> None:
    import subprocess
    import sys

    code = (
        "import sys, twinledger.deploy.sagemaker_deploy\n"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & {'sagemaker', 'boto3', 'botocore'})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_command_line_deploys_a_local_model(
    session: boto3.session.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from twinledger.deploy import sagemaker_deploy

    model_tar = tmp_path / "model.tar.gz"
    model_tar.write_bytes(b"model")
    monkeypatch.setattr(boto3.session, "Session", lambda region_name=None: session)
    argv = ["--region", REGION, "--bucket", BUCKET, "--role-arn", ROLE, "--model-tar", str(model_tar)]

    assert sagemaker_deploy.main([*argv, "--instance-type", "ml.m5.large", "--no-wait"]) == 0

    out = json.loads(capsys.readouterr().out)
    assert out["endpoint"] == "twinledger-anomaly" and out["updated"] is False
    sm = session.client("sagemaker")
    [variant] = sm.describe_endpoint_config(EndpointConfigName=out["model"])["ProductionVariants"]
    assert variant["InstanceType"] == "ml.m5.large"
    assert sm.describe_model(ModelName=out["model"])["PrimaryContainer"]["Image"] == IMAGE
