"""Where the Chalice project is, and what the CDK app reads from it: table and bucket specs, stage settings.

The specs are the single source of truth shared with the local stack (``functions/chalicelib/tables.py``);
the CDK app builds every table and bucket from them and never names one itself.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "FUNCTIONS_DIR",
    "REPO_ROOT",
    "StageSettings",
    "bucket_specs",
    "stage_settings",
    "table_specs",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"

#: The Chalice stage whose settings (memory, timeouts, per-function overrides) the deployment uses.
SOURCE_STAGE = "dev"


def _functions_importable() -> None:
    if str(FUNCTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS_DIR))


def table_specs() -> dict[str, Any]:
    """``chalicelib.adapters.tables.TABLE_SPECS``: key -> ``TableSpec``."""
    _functions_importable()
    from chalicelib.adapters.tables import TABLE_SPECS

    return dict(TABLE_SPECS)


def bucket_specs() -> dict[str, Any]:
    """``chalicelib.adapters.tables.BUCKET_SPECS``: key -> ``BucketSpec``."""
    _functions_importable()
    from chalicelib.adapters.tables import BUCKET_SPECS

    return dict(BUCKET_SPECS)


@dataclass(frozen=True)
class StageSettings:
    """Lambda sizing of one Chalice stage: defaults and per-function overrides (by Chalice name)."""

    api_gateway_stage: str = "api"
    memory_size: int = 512
    timeout: int = 60
    functions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def timeout_of(self, name: str) -> int:
        """The timeout (s) of Chalice function ``name``."""
        return int(self.functions.get(name, {}).get("lambda_timeout", self.timeout))

    def memory_of(self, name: str) -> int:
        """The memory (MB) of Chalice function ``name``."""
        return int(self.functions.get(name, {}).get("lambda_memory_size", self.memory_size))


def stage_settings(stage: str = SOURCE_STAGE) -> StageSettings:
    """The sizing of ``stage`` in ``functions/.chalice/config.json``.

    The CDK construct packages the app under its own stage name, so the file's stage settings do
    not apply by themselves; the app passes them on explicitly.
    """
    config = json.loads((FUNCTIONS_DIR / ".chalice" / "config.json").read_text())
    merged = {**config, **config.get("stages", {}).get(stage, {})}
    return StageSettings(
        api_gateway_stage=str(merged.get("api_gateway_stage", "api")),
        memory_size=int(merged.get("lambda_memory_size", 512)),
        timeout=int(merged.get("lambda_timeout", 60)),
        functions={
            **config.get("lambda_functions", {}),
            **config.get("stages", {}).get(stage, {}).get("lambda_functions", {}),
        },
    )
