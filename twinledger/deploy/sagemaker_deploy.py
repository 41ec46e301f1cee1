"""Train and deploy the anomaly model on SageMaker with boto3's ``sagemaker`` client.

Steps (each a plain request builder plus one client call, so the requests can be checked offline with
botocore's ``Stubber``):

1. :func:`build_source_bundle` packs ``train.py``/``inference.py`` launchers, ``twinledger/sagemaker_entry``
   and ``twin_models.anomaly`` (with the two modules it needs) into ``sourcedir.tar.gz`` (uploaded to S3);
   they need only numpy, pandas and scikit-learn, which the framework container has.
2. ``CreateTrainingJob`` in script mode on the scikit-learn container: the channel ``training`` holds
   healthy CSVs; the job writes ``model.tar.gz``.
3. ``CreateModel`` (inference code from the same bundle), ``CreateEndpointConfig`` (instance or
   serverless) and ``CreateEndpoint`` / ``UpdateEndpoint``.

This uses boto3 rather than the ``sagemaker`` SDK: the SDK (3.x) pulls in ~80 extra packages and its
API changed between major versions; the four control-plane calls are all the tooling needs.

Example:
    $ python -m twinledger.deploy.sagemaker_deploy --bucket my-ml-bucket \\
        --role-arn arn:aws:iam::123456789012:role/SageMakerExecution \\
        --train-data healthy.csv --endpoint-name twinledger-anomaly --serverless-memory-mb 2048
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "SKLEARN_IMAGE_ACCOUNTS",
    "DeployConfig",
    "SageMakerDeployer",
    "build_source_bundle",
    "main",
    "sklearn_image_uri",
]

#: Accounts hosting the scikit-learn framework image, by region (``--image-uri`` for other regions).
SKLEARN_IMAGE_ACCOUNTS: dict[str, str] = {
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-central-1": "492215442770",
}
SKLEARN_IMAGE_TAG = "1.2-1-cpu-py3"
_REPO_ROOT = Path(__file__).resolve().parents[2]

_TRAIN_LAUNCHER = '''"""SageMaker script-mode entry: runs twinledger.sagemaker_entry.train."""
import sys

from twinledger.sagemaker_entry.train import main

if __name__ == "__main__":
    sys.exit(main())
'''
_INFERENCE_LAUNCHER = '''"""SageMaker serving entry: the handlers of twinledger.sagemaker_entry.inference."""
from twinledger.sagemaker_entry.inference import input_fn, model_fn, output_fn, predict_fn

__all__ = ["input_fn", "model_fn", "output_fn", "predict_fn"]
'''


def sklearn_image_uri(region: str, tag: str = SKLEARN_IMAGE_TAG) -> str:
    """The scikit-learn framework image in ``region``.

    Example:
        >>> sklearn_image_uri("eu-west-1")
        '141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3'
    """
    try:
        account = SKLEARN_IMAGE_ACCOUNTS[region]
    except KeyError:
        raise ValueError(f"no known scikit-learn image in {region}; pass --image-uri") from None
    return f"{account}.dkr.ecr.{region}.amazonaws.com/sagemaker-scikit-learn:{tag}"


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def build_source_bundle(out: str | Path | None = None) -> bytes:
    """``sourcedir.tar.gz``: the two launchers at the root, ``twin_models.anomaly`` and the entry package.

    Only ``.py`` files and ``py.typed`` go in; byte-for-byte reproducible (fixed mtimes, sorted names).
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add_bytes(tar, "train.py", _TRAIN_LAUNCHER.encode())
        _add_bytes(tar, "inference.py", _INFERENCE_LAUNCHER.encode())
        _add_bytes(tar, "requirements.txt", b"")
        _add_bytes(tar, "twinledger/__init__.py", b'"""twinledger (SageMaker bundle)."""\n')
        files = sorted(
            [
                _REPO_ROOT / "twin_models" / "__init__.py",
                _REPO_ROOT / "twin_models" / "errors.py",
                *(_REPO_ROOT / "twin_models" / "anomaly").glob("*.py"),
                *(_REPO_ROOT / "twinledger" / "sagemaker_entry").glob("*.py"),
            ]
        )
        for path in files:
            if "__pycache__" in path.parts:
                continue
            _add_bytes(tar, path.relative_to(_REPO_ROOT).as_posix(), path.read_bytes())
    data = gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0)
    if out is not None:
        Path(out).write_bytes(data)
    return data


@dataclass(frozen=True)
class DeployConfig:
    """Where and how to train and host."""

    region: str
    role_arn: str
    bucket: str
    prefix: str = "twinledger/anomaly"
    image_uri: str | None = None
    training_instance_type: str = "ml.m5.large"
    instance_type: str = "ml.t2.medium"
    instance_count: int = 1
    serverless_memory_mb: int | None = None
    serverless_max_concurrency: int = 5
    max_runtime_s: int = 3600
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=lambda: {"project": "twinledger", "component": "anomaly"})

    @property
    def image(self) -> str:
        """The container image for training and serving."""
        return self.image_uri or sklearn_image_uri(self.region)


def _stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")


class SageMakerDeployer:
    """Builds and sends the SageMaker control-plane requests (clients injected; nothing at import)."""

    def __init__(self, config: DeployConfig, sagemaker: Any, s3: Any) -> None:
        self.config = config
        self.sagemaker = sagemaker
        self.s3 = s3

    def _tags(self) -> list[dict[str, str]]:
        return [{"Key": k, "Value": v} for k, v in self.config.tags.items()]

    def s3_uri(self, *parts: str) -> str:
        """``s3://bucket/prefix/parts...``."""
        return "s3://" + "/".join([self.config.bucket, self.config.prefix.strip("/"), *parts])

    def upload(self, data: bytes, *parts: str) -> str:
        """Put ``data`` under the prefix; returns its S3 URI."""
        key = "/".join([self.config.prefix.strip("/"), *parts])
        self.s3.put_object(Bucket=self.config.bucket, Key=key, Body=data)
        return f"s3://{self.config.bucket}/{key}"

    def training_job_request(self, job_name: str, source_uri: str, train_uri: str) -> dict[str, Any]:
        """``CreateTrainingJob`` in script mode (hyperparameters JSON-encoded, as the toolkit expects)."""
        hyper = {
            "sagemaker_program": "train.py",
            "sagemaker_submit_directory": source_uri,
            "sagemaker_region": self.config.region,
            "sagemaker_container_log_level": "20",
            **self.config.hyperparameters,
        }
        return {
            "TrainingJobName": job_name,
            "AlgorithmSpecification": {"TrainingImage": self.config.image, "TrainingInputMode": "File"},
            "RoleArn": self.config.role_arn,
            "HyperParameters": {k: json.dumps(v) for k, v in hyper.items()},
            "InputDataConfig": [
                {
                    "ChannelName": "training",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": train_uri,
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                    "ContentType": "text/csv",
                }
            ],
            "OutputDataConfig": {"S3OutputPath": self.s3_uri("output")},
            "ResourceConfig": {
                "InstanceType": self.config.training_instance_type,
                "InstanceCount": 1,
                "VolumeSizeInGB": 10,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": self.config.max_runtime_s},
            "Tags": self._tags(),
        }

    def model_request(self, model_name: str, model_data_url: str, source_uri: str) -> dict[str, Any]:
        """``CreateModel`` serving ``model.tar.gz`` with ``inference.py`` from the source bundle."""
        return {
            "ModelName": model_name,
            "ExecutionRoleArn": self.config.role_arn,
            "PrimaryContainer": {
                "Image": self.config.image,
                "ModelDataUrl": model_data_url,
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": source_uri,
                    "SAGEMAKER_REGION": self.config.region,
                    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                },
            },
            "Tags": self._tags(),
        }

    def endpoint_config_request(self, config_name: str, model_name: str) -> dict[str, Any]:
        """``CreateEndpointConfig``: serverless when a memory size is configured, instances otherwise."""
        variant: dict[str, Any] = {"VariantName": "AllTraffic", "ModelName": model_name}
        if self.config.serverless_memory_mb:
            variant["ServerlessConfig"] = {
                "MemorySizeInMB": self.config.serverless_memory_mb,
                "MaxConcurrency": self.config.serverless_max_concurrency,
            }
        else:
            variant.update(
                InstanceType=self.config.instance_type,
                InitialInstanceCount=self.config.instance_count,
                InitialVariantWeight=1.0,
            )
        return {"EndpointConfigName": config_name, "ProductionVariants": [variant], "Tags": self._tags()}

    def train(self, job_name: str, source_uri: str, train_uri: str, poll_s: float = 30.0) -> str:
        """Run the training job to completion; returns the ``model.tar.gz`` S3 URI."""
        self.sagemaker.create_training_job(**self.training_job_request(job_name, source_uri, train_uri))
        while True:
            desc = self.sagemaker.describe_training_job(TrainingJobName=job_name)
            status = desc["TrainingJobStatus"]
            if status == "Completed":
                return str(desc["ModelArtifacts"]["S3ModelArtifacts"])
            if status in ("Failed", "Stopped"):
                raise RuntimeError(f"training job {job_name} {status}: {desc.get('FailureReason', '')}")
            time.sleep(poll_s)

    def deploy(self, endpoint_name: str, model_data_url: str, source_uri: str, stamp: str | None = None) -> str:
        """Create the model and endpoint configuration, then create or update the endpoint."""
        suffix = stamp or _stamp()
        model_name = f"{endpoint_name}-{suffix}"
        self.sagemaker.create_model(**self.model_request(model_name, model_data_url, source_uri))
        self.sagemaker.create_endpoint_config(**self.endpoint_config_request(model_name, model_name))
        try:
            self.sagemaker.describe_endpoint(EndpointName=endpoint_name)
            exists = True
        except self.sagemaker.exceptions.ClientError as exc:
            if "Could not find endpoint" not in str(exc) and "ValidationException" not in str(exc):
                raise
            exists = False
        if exists:
            self.sagemaker.update_endpoint(EndpointName=endpoint_name, EndpointConfigName=model_name)
        else:
            self.sagemaker.create_endpoint(EndpointName=endpoint_name, EndpointConfigName=model_name, Tags=self._tags())
        return model_name

    def run(
        self,
        endpoint_name: str,
        train_files: Sequence[Path] = (),
        model_tar: Path | None = None,
        stamp: str | None = None,
        wait: bool = True,
    ) -> dict[str, str]:
        """The whole flow: bundle, upload, train (unless ``model_tar`` is given), deploy."""
        suffix = stamp or _stamp()
        source_uri = self.upload(build_source_bundle(), "code", suffix, "sourcedir.tar.gz")
        if model_tar is not None:
            model_uri = self.upload(model_tar.read_bytes(), "models", suffix, "model.tar.gz")
        else:
            if not train_files:
                raise ValueError("give training CSVs or a model.tar.gz")
            for path in train_files:
                self.upload(path.read_bytes(), "train", suffix, path.name)
            model_uri = self.train(f"{endpoint_name}-{suffix}", source_uri, self.s3_uri("train", suffix))
        model_name = self.deploy(endpoint_name, model_uri, source_uri, suffix)
        if wait:
            self.sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=endpoint_name)
        return {"endpoint": endpoint_name, "model": model_name, "model_data": model_uri, "source": source_uri}


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: train on SageMaker (or take a local ``model.tar.gz``) and deploy the endpoint."""
    parser = argparse.ArgumentParser(description="Train and deploy the twinledger anomaly endpoint on SageMaker.")
    parser.add_argument("--region", default=None)
    parser.add_argument("--role-arn", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", default="twinledger/anomaly")
    parser.add_argument("--endpoint-name", default="twinledger-anomaly")
    parser.add_argument("--train-data", action="append", type=Path, default=[], help="healthy CSV (repeatable)")
    parser.add_argument("--model-tar", type=Path, default=None, help="deploy this model.tar.gz, skip training")
    parser.add_argument("--image-uri", default=None, help="container image (default: scikit-learn framework image)")
    parser.add_argument("--instance-type", default="ml.t2.medium")
    parser.add_argument("--serverless-memory-mb", type=int, default=None)
    parser.add_argument("--hyperparameter", action="append", default=[], help="NAME=VALUE for train.py")
    parser.add_argument("--no-wait", action="store_true")
    args = parser.parse_args(argv)

    import boto3  # deployment tooling only

    session = boto3.session.Session(region_name=args.region)
    region = session.region_name or "eu-central-1"
    hyper = dict(h.split("=", 1) for h in args.hyperparameter)
    config = DeployConfig(
        region=region,
        role_arn=args.role_arn,
        bucket=args.bucket,
        prefix=args.prefix,
        image_uri=args.image_uri,
        instance_type=args.instance_type,
        serverless_memory_mb=args.serverless_memory_mb,
        hyperparameters=hyper,
    )
    deployer = SageMakerDeployer(config, session.client("sagemaker"), session.client("s3"))
    result = deployer.run(args.endpoint_name, args.train_data, args.model_tar, wait=not args.no_wait)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
