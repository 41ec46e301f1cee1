"""Where the repository's parts are, for the command line and the local stack."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["FUNCTIONS_DIR", "REPO_ROOT", "ensure_functions_importable"]

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = REPO_ROOT / "functions"


def ensure_functions_importable() -> None:
    """Put the Chalice project on ``sys.path`` so ``app`` and ``chalicelib`` import as in Lambda."""
    if not (FUNCTIONS_DIR / "app.py").is_file():
        raise RuntimeError(f"the Chalice project is not at {FUNCTIONS_DIR}; run from a source checkout")
    if str(FUNCTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS_DIR))
