"""The SageMaker deployment requests, checked with botocore's Stubber (nothing reaches AWS)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from twinledger.deploy.sagemaker_deploy import DeployConfig, SageMakerDeployer, build_source_bundle, sklearn_image_uri

ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
IMAGE = "492215442770.dkr.ecr.eu-central-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
STAMP = "20260105-060000"
TAGS = [{"Key": "project", "Value": "twinledger"}, {"Key": "component", "Value": "anomaly"}]


@pytest.fixture
def clients(aws_env: None) -> tuple[Any, Any]:
    return boto3.client("sagemaker", region_name="eu-central-1"), boto3.client("s3", region_name="eu-central-1")


def _put(stub: Stubber, key: str) -> None:
    stub.add_response("put_object", {"ETag": '"x"'}, {"Bucket": "ml-bucket", "Key": key, "Body": ANY})


def test_train_and_deploy_sends_the_expected_requests(clients: tuple[Any, Any], tmp_path: Path) -> None:
    sm, s3 = clients
    csv = tmp_path / "healthy.csv"
    csv.write_text("a,b\n1,2\n")
    config = DeployConfig(
        region="eu-central-1", role_arn=ROLE, bucket="ml-bucket", hyperparameters={"detector": "zscore"}
    )
    prefix = "twinledger/anomaly"
    source = f"s3://ml-bucket/{prefix}/code/{STAMP}/sourcedir.tar.gz"
    job = f"twinledger-anomaly-{STAMP}"
    model_data = f"s3://ml-bucket/{prefix}/output/{job}/output/model.tar.gz"
    with Stubber(sm) as sm_stub, Stubber(s3) as s3_stub:
        _put(s3_stub, f"{prefix}/code/{STAMP}/sourcedir.tar.gz")
        _put(s3_stub, f"{prefix}/train/{STAMP}/healthy.csv")
        sm_stub.add_response(
            "create_training_job",
            {"TrainingJobArn": "arn:aws:sagemaker:eu-central-1:123456789012:training-job/x"},
            {
                "TrainingJobName": job,
                "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
                "RoleArn": ROLE,
                "HyperParameters": {
                    "sagemaker_program": '"train.py"',
                    "sagemaker_submit_directory": json.dumps(source),
                    "sagemaker_region": '"eu-central-1"',
                    "sagemaker_container_log_level": '"20"',
                    "detector": '"zscore"',
                },
                "InputDataConfig": [
                    {
                        "ChannelName": "training",
                        "DataSource": {
                            "S3DataSource": {
                                "S3DataType": "S3Prefix",
                                "S3Uri": f"s3://ml-bucket/{prefix}/train/{STAMP}",
                                "S3DataDistributionType": "FullyReplicated",
                            }
                        },
                        "ContentType": "text/csv",
                    }
                ],
                "OutputDataConfig": {"S3OutputPath": f"s3://ml-bucket/{prefix}/output"},
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                "Tags": TAGS,
            },
        )
        sm_stub.add_response(
            "describe_training_job",
            {
                "TrainingJobName": job,
                "TrainingJobArn": "arn:aws:sagemaker:eu-central-1:123456789012:training-job/x",
                "TrainingJobStatus": "Completed",
                "SecondaryStatus": "Completed",
                "ModelArtifacts": {"S3ModelArtifacts": model_data},
                "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                "CreationTime": "2026-01-05T06:00:00Z",
            },
            {"TrainingJobName": job},
        )
        sm_stub.add_response(
            "create_model",
            {"ModelArn": "arn:aws:sagemaker:eu-central-1:123456789012:model/x"},
            {
                "ModelName": job,
                "ExecutionRoleArn": ROLE,
                "PrimaryContainer": {
                    "Image": IMAGE,
                    "ModelDataUrl": model_data,
                    "Environment": {
                        "SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": source,
                        "SAGEMAKER_REGION": "eu-central-1",
                        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                    },
                },
                "Tags": TAGS,
            },
        )
        sm_stub.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": "arn:aws:sagemaker:eu-central-1:123456789012:endpoint-config/x"},
            {
                "EndpointConfigName": job,
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": job,
                        "InstanceType": "ml.t2.medium",
                        "InitialInstanceCount": 1,
                        "InitialVariantWeight": 1.0,
                    }
                ],
                "Tags": TAGS,
            },
        )
        sm_stub.add_client_error(
            "describe_endpoint",
            service_error_code="ValidationException",
            service_message='Could not find endpoint "twinledger-anomaly".',
            http_status_code=400,
            expected_params={"EndpointName": "twinledger-anomaly"},
        )
        sm_stub.add_response(
            "create_endpoint",
            {"EndpointArn": "arn:aws:sagemaker:eu-central-1:123456789012:endpoint/twinledger-anomaly"},
            {"EndpointName": "twinledger-anomaly", "EndpointConfigName": job, "Tags": TAGS},
        )
        result = SageMakerDeployer(config, sm, s3).run("twinledger-anomaly", train_files=[csv], stamp=STAMP, wait=False)
        sm_stub.assert_no_pending_responses()
        s3_stub.assert_no_pending_responses()
    assert result == {"endpoint": "twinledger-anomaly", "model": job, "model_data": model_data, "source": source}


def test_existing_endpoint_is_updated_with_a_serverless_config(clients: tuple[Any, Any], tmp_path: Path) -> None:
    sm, s3 = clients
    model_tar = tmp_path / "model.tar.gz"
    model_tar.write_bytes(b"not inspected here")
    config = DeployConfig(region="eu-central-1", role_arn=ROLE, bucket="ml-bucket", serverless_memory_mb=2048)
    name = f"twinledger-anomaly-{STAMP}"
    with Stubber(sm) as sm_stub, Stubber(s3) as s3_stub:
        _put(s3_stub, f"twinledger/anomaly/code/{STAMP}/sourcedir.tar.gz")
        _put(s3_stub, f"twinledger/anomaly/models/{STAMP}/model.tar.gz")
        sm_stub.add_response("create_model", {"ModelArn": "arn:aws:sagemaker:eu-central-1:1:model/x"}, None)
        sm_stub.add_response(
            "create_endpoint_config",
            {"EndpointConfigArn": "arn:aws:sagemaker:eu-central-1:1:endpoint-config/x"},
            {
                "EndpointConfigName": name,
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": name,
                        "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
                    }
                ],
                "Tags": TAGS,
            },
        )
        sm_stub.add_response(
            "describe_endpoint",
            {
                "EndpointName": "twinledger-anomaly",
                "EndpointArn": "arn:aws:sagemaker:eu-central-1:1:endpoint/twinledger-anomaly",
                "EndpointConfigName": "old",
                "EndpointStatus": "InService",
                "CreationTime": "2026-01-01T00:00:00Z",
                "LastModifiedTime": "2026-01-01T00:00:00Z",
            },
            {"EndpointName": "twinledger-anomaly"},
        )
        sm_stub.add_response(
            "update_endpoint",
            {"EndpointArn": "arn:aws:sagemaker:eu-central-1:1:endpoint/twinledger-anomaly"},
            {"EndpointName": "twinledger-anomaly", "EndpointConfigName": name},
        )
        SageMakerDeployer(config, sm, s3).run("twinledger-anomaly", model_tar=model_tar, stamp=STAMP, wait=False)
        sm_stub.assert_no_pending_responses()


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


def test_image_uri_per_region() -> None:
    assert sklearn_image_uri("eu-central-1") == IMAGE
    with pytest.raises(ValueError, match="--image-uri"):
        sklearn_image_uri("mars-north-1")
