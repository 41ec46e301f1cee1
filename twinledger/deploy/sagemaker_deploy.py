"""Train and deploy the anomaly model on SageMaker with the ``sagemaker`` SDK (3.x, ``sagemaker.core``).

Steps:

1. :func:`build_source_bundle` packs ``train.py``/``inference.py`` launchers, ``twinledger/sagemaker_entry``,
   ``twinledger.files.anomaly`` (model directories and CSV files) and ``twin_models.anomaly`` (with the two
   modules it needs) into ``sourcedir.tar.gz``; they need only
   numpy, pandas and scikit-learn, which the framework container has. It is uploaded with
   ``sagemaker.core.s3.S3Uploader``, together with the training CSVs.
2. :func:`train`: ``sagemaker.core.resources.TrainingJob`` in script mode on the scikit-learn framework
   image (``sagemaker.core.image_uris``): the channel ``training`` holds healthy CSVs, the hyperparameters
   ``sagemaker_program``/``sagemaker_submit_directory`` point the container at ``train.py`` in the bundle;
   the job writes ``model.tar.gz``.
3. :func:`deploy`: ``Model`` (``model.tar.gz`` + ``inference.py`` from the same bundle), ``EndpointConfig``
   (instances, or serverless) and ``Endpoint`` (created, or updated to the new configuration if it exists).

The SDK is the optional ``sagemaker`` extra and is imported inside these functions only: importing this
module loads neither the SDK nor boto3, and no Lambda imports either. Nothing reaches the network before
the first AWS call: the image URI comes from the SDK's bundled tables (or ``image_uri``), the bucket and
role are explicit (no default bucket, no role lookup) and the resource classes send no telemetry.

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
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boto3.session import Session

__all__ = [
    "SKLEARN_FRAMEWORK_VERSION",
    "DeployConfig",
    "DeployResult",
    "build_source_bundle",
    "deploy",
    "main",
    "run",
    "sklearn_image_uri",
    "train",
    "upload",
]

#: scikit-learn framework image version (training and serving).
SKLEARN_FRAMEWORK_VERSION = "1.2-1"
_REPO_ROOT = Path(__file__).resolve().parents[2]
_LOG_LEVEL = "20"

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


def sklearn_image_uri(region: str, version: str = SKLEARN_FRAMEWORK_VERSION, instance_type: str = "ml.m5.large") -> str:
    """The scikit-learn framework image in ``region``, from the SDK's bundled image tables (no network).

    Example:
        >>> sklearn_image_uri("eu-west-1")  # doctest: +SKIP
        '141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3'
    """
    from sagemaker.core import image_uris

    try:
        return str(
            image_uris.retrieve(
                "sklearn", region=region, version=version, py_version="py3", instance_type=instance_type
            )
        )
    except ValueError as exc:
        raise ValueError(f"no known scikit-learn image in {region}; pass --image-uri ({exc})") from None


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def build_source_bundle(out: str | Path | None = None) -> bytes:
    """``sourcedir.tar.gz``: the two launchers at the root, ``twin_models.anomaly``, the entry package and
    ``twinledger.files.anomaly``.

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
                _REPO_ROOT / "twin_models" / "sample_fields.py",
                *(_REPO_ROOT / "twin_models" / "anomaly").glob("*.py"),
                *(_REPO_ROOT / "twinledger" / "sagemaker_entry").glob("*.py"),
                _REPO_ROOT / "twinledger" / "files" / "__init__.py",
                _REPO_ROOT / "twinledger" / "files" / "anomaly.py",
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
        return self.image_uri or sklearn_image_uri(self.region, instance_type=self.training_instance_type)

    def s3_uri(self, *parts: str) -> str:
        """``s3://bucket/prefix/parts...``."""
        return "s3://" + "/".join([self.bucket, self.prefix.strip("/"), *parts])


@dataclass(frozen=True)
class DeployResult:
    """What :func:`deploy` created: names of the SageMaker resources and the artifacts they use."""

    endpoint: str
    model: str
    endpoint_config: str
    model_data: str
    source: str
    updated: bool


def _stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")


def _fix_serverless_memory_key(params: dict[str, Any], **_: Any) -> None:
    # sagemaker-core 2.x serialises ``memory_size_in_mb`` as ``MemorySizeInMb``; the API wants ``MemorySizeInMB``.
    for variant in params.get("ProductionVariants", []):
        serverless = variant.get("ServerlessConfig")
        if serverless and "MemorySizeInMb" in serverless:
            serverless["MemorySizeInMB"] = serverless.pop("MemorySizeInMb")


def _session(config: DeployConfig, session: Session | None) -> Session:
    """The caller's boto3 session (or a new one in ``config.region``), with the request fix-up registered.

    Registered before the SDK creates its clients from the session (they copy its event hooks).
    """
    if session is None:
        import boto3

        session = boto3.session.Session(region_name=config.region)
    session.events.register(
        "before-parameter-build.sagemaker.CreateEndpointConfig",
        _fix_serverless_memory_key,
        unique_id="twinledger-serverless-memory-key",
    )
    return session


def _tags(config: DeployConfig) -> list[Any]:
    # plain dicts: the SDK's ``create`` methods validate them into whichever ``Tag`` class they declare
    # (``sagemaker.core.shapes.Tag`` or the ``sagemaker.core.resources.Tag`` that shadows it)
    return [{"key": k, "value": v} for k, v in config.tags.items()]


def upload(config: DeployConfig, data: bytes, *parts: str, session: Session | None = None) -> str:
    """Put ``data`` at ``s3://bucket/prefix/parts...`` (``S3Uploader``); returns the S3 URI."""
    from sagemaker.core.helper.session_helper import Session as SageMakerSession
    from sagemaker.core.s3 import S3Uploader

    sm_session = SageMakerSession(boto_session=_session(config, session), default_bucket=config.bucket)
    return str(S3Uploader.upload_bytes(data, config.s3_uri(*parts), sagemaker_session=sm_session))


def train(
    config: DeployConfig,
    job_name: str,
    source_uri: str,
    train_uri: str,
    *,
    session: Session | None = None,
    wait: bool = True,
    poll_s: int = 30,
) -> str:
    """Run the script-mode training job; returns the S3 URI of its ``model.tar.gz``.

    ``source_uri`` is the uploaded :func:`build_source_bundle`, ``train_uri`` the S3 prefix of the healthy
    CSVs (channel ``training``). ``wait=False`` returns as soon as the job is created (the URI is where
    the job will write the model).
    """
    from sagemaker.core import constants
    from sagemaker.core.resources import TrainingJob
    from sagemaker.core.shapes import (
        AlgorithmSpecification,
        Channel,
        DataSource,
        OutputDataConfig,
        ResourceConfig,
        S3DataSource,
        StoppingCondition,
    )

    hyper = {
        constants.SCRIPT_PARAM_NAME: "train.py",
        constants.DIR_PARAM_NAME: source_uri,
        constants.SAGEMAKER_REGION_PARAM_NAME: config.region,
        constants.CONTAINER_LOG_LEVEL_PARAM_NAME: _LOG_LEVEL,
        **config.hyperparameters,
    }
    output_path = config.s3_uri("output")
    job = TrainingJob.create(
        training_job_name=job_name,
        role_arn=config.role_arn,
        algorithm_specification=AlgorithmSpecification(training_image=config.image, training_input_mode="File"),
        # JSON-encoded values, as the framework containers' training toolkit expects
        hyper_parameters={k: json.dumps(v) for k, v in hyper.items()},
        input_data_config=[
            Channel(
                channel_name="training",
                data_source=DataSource(
                    s3_data_source=S3DataSource(
                        s3_data_type="S3Prefix", s3_uri=train_uri, s3_data_distribution_type="FullyReplicated"
                    )
                ),
                content_type="text/csv",
            )
        ],
        output_data_config=OutputDataConfig(s3_output_path=output_path),
        resource_config=ResourceConfig(
            instance_type=config.training_instance_type, instance_count=1, volume_size_in_gb=10
        ),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=config.max_runtime_s),
        tags=_tags(config),
        session=_session(config, session),
        region=config.region,
    )
    if job is None:  # pragma: no cover - the SDK returns the described job
        raise RuntimeError(f"training job {job_name} was not created")
    if not wait:
        return f"{output_path}/{job_name}/output/model.tar.gz"
    job.wait(poll=poll_s, logs=False)  # raises on Failed/Stopped
    return str(job.model_artifacts.s3_model_artifacts)


def deploy(
    config: DeployConfig,
    endpoint_name: str,
    model_data_url: str,
    source_uri: str,
    *,
    stamp: str | None = None,
    session: Session | None = None,
    wait: bool = True,
    poll_s: int = 30,
) -> DeployResult:
    """Create the model and the endpoint configuration ``<endpoint>-<stamp>``, then the endpoint.

    An existing endpoint is switched to the new configuration (``UpdateEndpoint``), so redeploying keeps
    the endpoint name the ingest Lambda calls. Serverless when ``config.serverless_memory_mb`` is set.
    """
    from botocore.exceptions import ClientError
    from sagemaker.core.resources import Endpoint, EndpointConfig, Model
    from sagemaker.core.shapes import ContainerDefinition, ProductionVariant, ProductionVariantServerlessConfig

    boto_session = _session(config, session)
    where: dict[str, Any] = {"session": boto_session, "region": config.region}
    name = f"{endpoint_name}-{stamp or _stamp()}"
    Model.create(
        model_name=name,
        execution_role_arn=config.role_arn,
        primary_container=ContainerDefinition(
            image=config.image,
            model_data_url=model_data_url,
            environment={
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": source_uri,
                "SAGEMAKER_REGION": config.region,
                "SAGEMAKER_CONTAINER_LOG_LEVEL": _LOG_LEVEL,
            },
        ),
        tags=_tags(config),
        **where,
    )
    if config.serverless_memory_mb:
        variant = ProductionVariant(
            variant_name="AllTraffic",
            model_name=name,
            serverless_config=ProductionVariantServerlessConfig(
                memory_size_in_mb=config.serverless_memory_mb, max_concurrency=config.serverless_max_concurrency
            ),
        )
    else:
        variant = ProductionVariant(
            variant_name="AllTraffic",
            model_name=name,
            instance_type=config.instance_type,
            initial_instance_count=config.instance_count,
            initial_variant_weight=1.0,
        )
    EndpointConfig.create(endpoint_config_name=name, production_variants=[variant], tags=_tags(config), **where)
    try:
        endpoint = Endpoint.get(endpoint_name=endpoint_name, **where)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") != "ValidationException" or "Could not find" not in error.get("Message", ""):
            raise
        endpoint = None
    if endpoint is None:
        endpoint = Endpoint.create(endpoint_name=endpoint_name, endpoint_config_name=name, tags=_tags(config), **where)
        updated = False
    else:
        endpoint.endpoint_config_name = name
        endpoint.update()
        updated = True
    if wait:
        endpoint.wait_for_status("InService", poll=poll_s)
    return DeployResult(
        endpoint=endpoint_name,
        model=name,
        endpoint_config=name,
        model_data=model_data_url,
        source=source_uri,
        updated=updated,
    )


def run(
    config: DeployConfig,
    endpoint_name: str,
    train_files: Sequence[Path] = (),
    model_tar: Path | None = None,
    *,
    stamp: str | None = None,
    session: Session | None = None,
    wait: bool = True,
    poll_s: int = 30,
) -> DeployResult:
    """The whole flow: bundle and upload the code, train (unless ``model_tar`` is given), deploy."""
    if model_tar is None and not train_files:
        raise ValueError("give training CSVs or a model.tar.gz")
    suffix = stamp or _stamp()
    boto_session = _session(config, session)
    source_uri = upload(config, build_source_bundle(), "code", suffix, "sourcedir.tar.gz", session=boto_session)
    if model_tar is not None:
        model_uri = upload(config, model_tar.read_bytes(), "models", suffix, "model.tar.gz", session=boto_session)
    else:
        for path in train_files:
            upload(config, path.read_bytes(), "train", suffix, path.name, session=boto_session)
        model_uri = train(
            config,
            f"{endpoint_name}-{suffix}",
            source_uri,
            config.s3_uri("train", suffix),
            session=boto_session,
            poll_s=poll_s,
        )
    return deploy(
        config, endpoint_name, model_uri, source_uri, stamp=suffix, session=boto_session, wait=wait, poll_s=poll_s
    )


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
    parser.add_argument("--training-instance-type", default="ml.m5.large")
    parser.add_argument("--instance-type", default="ml.t2.medium")
    parser.add_argument("--serverless-memory-mb", type=int, default=None)
    parser.add_argument("--hyperparameter", action="append", default=[], help="NAME=VALUE for train.py")
    parser.add_argument("--no-wait", action="store_true", help="return once the endpoint is being created")
    args = parser.parse_args(argv)

    import boto3  # deployment tooling only

    session = boto3.session.Session(region_name=args.region)
    region = session.region_name or "eu-central-1"
    if session.region_name is None:
        session = boto3.session.Session(region_name=region)
    hyper = dict(h.split("=", 1) for h in args.hyperparameter)
    config = DeployConfig(
        region=region,
        role_arn=args.role_arn,
        bucket=args.bucket,
        prefix=args.prefix,
        image_uri=args.image_uri,
        training_instance_type=args.training_instance_type,
        instance_type=args.instance_type,
        serverless_memory_mb=args.serverless_memory_mb,
        hyperparameters=hyper,
    )
    result = run(config, args.endpoint_name, args.train_data, args.model_tar, session=session, wait=not args.no_wait)
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
