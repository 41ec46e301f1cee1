"""The compiled contracts the Lambda bundle carries (written by ``node contracts/compile.js``)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.ports.chain import ChainConfigurationError

__all__ = ["ARTIFACTS_DIR", "Artifact", "load_artifact"]

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"

Artifact = dict[str, Any]


@cache
def load_artifact(name: str) -> Artifact:
    """The artifact (``abi``, ``bytecode``, ``deployedBytecode``, ``compiler``) of contract ``name``.

    Example:
        >>> load_artifact("AnchorRegistry")["compiler"]["settings"]["evmVersion"]
        'shanghai'
    """
    path = ARTIFACTS_DIR / f"{name}.json"
    if not path.is_file():
        raise ChainConfigurationError(f"no compiled artifact for {name!r} at {path} (run: npm run compile)")
    artifact: Artifact = json.loads(path.read_text(encoding="utf-8"))
    return artifact
