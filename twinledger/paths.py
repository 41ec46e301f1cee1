"""Where the repository's parts are, for the command line and the local stack."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["FUNCTIONS_DIR", "REPO_ROOT", "CheckoutRequiredError", "ensure_functions_importable", "require_checkout"]

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = REPO_ROOT / "functions"


class CheckoutRequiredError(RuntimeError):
    """The command needs a source checkout (the Chalice project, contracts, node tools), not only the wheel."""


def require_checkout(what: str = "functions/app.py") -> Path:
    """``REPO_ROOT / what``, or :class:`CheckoutRequiredError` when the package runs from an installed wheel.

    Example:
        >>> require_checkout().name
        'app.py'
    """
    path = REPO_ROOT / what
    if not path.exists():
        raise CheckoutRequiredError(
            f"this command needs a source checkout of twinledger ({what} is not next to {Path(__file__).parent}); "
            "run it from a clone of the repository"
        )
    return path


def ensure_functions_importable() -> None:
    """Put the Chalice project on ``sys.path`` so ``app`` and ``chalicelib`` import as in Lambda.

    Raises :class:`CheckoutRequiredError` outside a source checkout (the wheel does not ship ``functions/``).
    """
    require_checkout("functions/app.py")
    if str(FUNCTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS_DIR))
