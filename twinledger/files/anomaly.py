"""Anomaly models and sensor CSVs on disk: model directories, SageMaker's ``model.tar.gz``, CSV files.

A model is stored as two files, ``model.pkl`` (the pickle blob) and ``manifest.json`` (what the model is,
with the blob's SHA-256), either in a directory (what SageMaker unpacks into ``SM_MODEL_DIR`` and what
the local stack loads) or at the root of ``model.tar.gz`` (what a training job produces and an endpoint
deploys). The blob and manifest come from, and go back to, ``twin_models.anomaly.artifact``; the hash
check happens there. Only load models you produced: a pickle can run code.

Example:
    >>> import tempfile, numpy as np, pandas as pd
    >>> from twin_models.anomaly import AnomalyModel
    >>> model = AnomalyModel.fit(pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) % 7}))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pack_model_tar(model, f"{tmp}/model.tar.gz")
    ...     load_model_tar(path).feature_names
    ('a', 'b')
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from twin_models.anomaly.artifact import model_from_artifact, model_to_artifact
from twin_models.anomaly.errors import FeatureError, ModelArtifactError
from twin_models.anomaly.model import AnomalyModel
from twin_models.anomaly.sensor_csv import SensorTable, parse_sensor_csv

__all__ = [
    "MANIFEST_NAME",
    "MODEL_NAME",
    "load_model_dir",
    "load_model_tar",
    "pack_model_tar",
    "read_sensor_csv",
    "save_model_dir",
]

MODEL_NAME = "model.pkl"
MANIFEST_NAME = "manifest.json"


def _manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, default=str) + "\n").encode("utf-8")


def _from_files(manifest_bytes: bytes, blob: bytes, where: str) -> AnomalyModel:
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
    except ValueError as exc:  # also UnicodeDecodeError
        raise ModelArtifactError(f"no readable model in {where}: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ModelArtifactError(f"no readable model in {where}: {MANIFEST_NAME} is not a JSON object")
    return model_from_artifact(manifest, blob)


def save_model_dir(model: AnomalyModel, directory: str | Path) -> Path:
    """Write ``model.pkl`` and ``manifest.json`` into ``directory`` (created if needed).

    Example:
        >>> import tempfile, pandas as pd
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     out = save_model_dir(AnomalyModel.fit(pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0] * 5})), tmp)
        ...     sorted(p.name for p in out.iterdir())
        ['manifest.json', 'model.pkl']
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    manifest, blob = model_to_artifact(model)
    (out / MODEL_NAME).write_bytes(blob)
    (out / MANIFEST_NAME).write_bytes(_manifest_bytes(manifest))
    return out


def load_model_dir(directory: str | Path) -> AnomalyModel:
    """Load a model written by :func:`save_model_dir`, checking its hash (:class:`ModelArtifactError` if
    the files are missing, corrupt or not a model).

    Example:
        >>> load_model_dir("/no/such/model")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        twin_models.anomaly.errors.ModelArtifactError: no readable model in /no/such/model: ...
    """
    src = Path(directory)
    try:
        manifest = (src / MANIFEST_NAME).read_bytes()
        blob = (src / MODEL_NAME).read_bytes()
    except OSError as exc:
        raise ModelArtifactError(f"no readable model in {src}: {exc}") from exc
    return _from_files(manifest, blob, str(src))


def pack_model_tar(model: AnomalyModel, path: str | Path) -> Path:
    """Write ``model.tar.gz`` with ``model.pkl`` and ``manifest.json`` at its root, as SageMaker expects.

    Example:
        >>> import tempfile, pandas as pd
        >>> model = AnomalyModel.fit(pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0] * 5}))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = pack_model_tar(model, f"{tmp}/m.tar.gz")
        ...     sorted(tarfile.open(path).getnames())
        ['manifest.json', 'model.pkl']
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    manifest, blob = model_to_artifact(model)
    now = int(time.time())
    with tarfile.open(target, "w:gz") as tar:
        for name, data in ((MODEL_NAME, blob), (MANIFEST_NAME, _manifest_bytes(manifest))):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), now, 0o644
            tar.addfile(info, io.BytesIO(data))
    return target


def load_model_tar(path: str | Path) -> AnomalyModel:
    """Load a model from ``model.tar.gz`` (in memory, nothing unpacked to disk), checking its hash.

    Example:
        >>> load_model_tar("/no/such/model.tar.gz")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        twin_models.anomaly.errors.ModelArtifactError: cannot read model archive /no/such/model.tar.gz: ...
    """
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(Path(path), "r:gz") as tar:
            for name in (MODEL_NAME, MANIFEST_NAME):
                member = tar.extractfile(name)
                if member is None:
                    raise ModelArtifactError(f"{name} in {path} is not a file")
                files[name] = member.read()
    except (OSError, KeyError, tarfile.TarError) as exc:
        raise ModelArtifactError(f"cannot read model archive {path}: {exc}") from exc
    return _from_files(files[MANIFEST_NAME], files[MODEL_NAME], str(path))


def read_sensor_csv(path: str | Path) -> SensorTable:
    """Read a CSV file of sensor columns (``,`` ``;`` tab or ``|`` separated, optional UTF-8 BOM); the
    parsing is :func:`twin_models.anomaly.parse_sensor_csv`'s.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = Path(tmp, "s.csv").write_text("time;a\\n2026-01-01T00:00:00Z;1\\n", encoding="utf-8")
        ...     read_sensor_csv(Path(tmp, "s.csv")).timestamp_column
        'time'
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FeatureError(f"cannot read {path}: {exc}") from exc
    return parse_sensor_csv(text)
