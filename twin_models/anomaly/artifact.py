"""Persist a model as a directory (``model.pkl`` + ``manifest.json``) or as SageMaker's ``model.tar.gz``.

The manifest carries the SHA-256 of the pickle, checked before unpickling, so a truncated or swapped
file is refused. Only load artifacts you produced: a pickle can run code.

Example:
    >>> import tempfile, numpy as np, pandas as pd
    >>> from twin_models.anomaly.model import AnomalyModel
    >>> model = AnomalyModel.fit(pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) % 7}))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pack_model_tar(model, f"{tmp}/model.tar.gz")
    ...     load_model_tar(path).feature_names
    ('a', 'b')
"""

from __future__ import annotations

import hashlib
import json
import pickle
import tarfile
import tempfile
from pathlib import Path

from twin_models.anomaly.errors import ModelArtifactError
from twin_models.anomaly.model import AnomalyModel

__all__ = ["MANIFEST_NAME", "MODEL_NAME", "load_model_dir", "load_model_tar", "pack_model_tar", "save_model_dir"]

MODEL_NAME = "model.pkl"
MANIFEST_NAME = "manifest.json"


def save_model_dir(model: AnomalyModel, directory: str | Path) -> Path:
    """Write ``model.pkl`` and ``manifest.json`` into ``directory`` (created if needed)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    blob = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    (out / MODEL_NAME).write_bytes(blob)
    manifest = {**model.manifest(), "sha256": hashlib.sha256(blob).hexdigest()}
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    return out


def load_model_dir(directory: str | Path) -> AnomalyModel:
    """Load a model written by :func:`save_model_dir`, checking its hash."""
    src = Path(directory)
    try:
        manifest = json.loads((src / MANIFEST_NAME).read_text(encoding="utf-8"))
        blob = (src / MODEL_NAME).read_bytes()
    except (OSError, ValueError) as exc:
        raise ModelArtifactError(f"no readable model in {src}: {exc}") from exc
    if not str(manifest.get("format", "")).startswith("twinledger-anomaly/"):
        raise ModelArtifactError(f"unknown model format {manifest.get('format')!r}")
    if hashlib.sha256(blob).hexdigest() != manifest.get("sha256"):
        raise ModelArtifactError("model.pkl does not match the hash in manifest.json")
    model = pickle.loads(blob)
    if not isinstance(model, AnomalyModel):
        raise ModelArtifactError("model.pkl does not hold an AnomalyModel")
    return model


def pack_model_tar(model: AnomalyModel, path: str | Path) -> Path:
    """Write ``model.tar.gz`` with the two files at its root, as SageMaker expects."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        save_model_dir(model, tmp)
        with tarfile.open(target, "w:gz") as tar:
            for name in (MODEL_NAME, MANIFEST_NAME):
                tar.add(Path(tmp) / name, arcname=name)
    return target


def load_model_tar(path: str | Path) -> AnomalyModel:
    """Load a model from ``model.tar.gz`` without unpacking it to disk."""
    try:
        with tarfile.open(Path(path), "r:gz") as tar:
            files = {}
            for name in (MODEL_NAME, MANIFEST_NAME):
                member = tar.extractfile(name)
                if member is None:
                    raise ModelArtifactError(f"{name} in {path} is not a file")
                files[name] = member.read()
    except (OSError, KeyError, tarfile.TarError) as exc:
        raise ModelArtifactError(f"cannot read model archive {path}: {exc}") from exc
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            with open(Path(tmp) / name, "wb") as fh:
                fh.write(data)
        return load_model_dir(tmp)
