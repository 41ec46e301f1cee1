"""Fixtures shared by every test tier."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run of the suite (``derandomize``), so that a result does not
# depend on the luck of the draw: ``HYPOTHESIS_PROFILE=explore`` draws new ones each run (with ten times as
# many examples where a test leaves the number to the profile), which is how new failing cases are looked for.
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = REPO_ROOT / "functions"
# The Chalice project is not an installed package: make ``app`` and ``chalicelib`` importable.
if str(FUNCTIONS_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS_DIR))


def _shared_data_dir() -> Path:
    configured = os.environ.get("TWINLEDGER_DATA")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The third-party evaluation datasets (``../shared/data``); skips the test where they are absent."""
    path = _shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"third-party datasets not found at {path} (set TWINLEDGER_DATA to their folder)")
    return path


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and a region, so no test can reach a real AWS account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_REGION": "eu-central-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield
