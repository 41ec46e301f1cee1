"""A real Ganache devnet for integration tests (``twinledger.local.ganache``).

Fixtures:
    ``ganache``          one devnet for the whole session (deterministic wallet, shanghai, instamine)
    ``ganache_factory``  builds more devnets (for example one to stop and restart); all removed after the test
    ``ganache_w3``       a ``Web3`` connected to the session devnet
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator

import pytest
from web3 import Web3

from twinledger.local.ganache import DETERMINISTIC_KEYS, GANACHE_BIN, Ganache

__all__ = ["DETERMINISTIC_KEYS", "Ganache"]


def _require_ganache() -> None:
    if not GANACHE_BIN.exists():
        pytest.skip(f"{GANACHE_BIN} is missing: run `npm ci` to install the pinned Ganache")
    if shutil.which("node") is None:
        pytest.skip("node is not installed: Ganache needs Node.js 20")


@pytest.fixture
def ganache_factory() -> Iterator[Callable[..., Ganache]]:
    """Builds and starts devnets; every one is stopped and removed after the test."""
    _require_ganache()
    made: list[Ganache] = []

    def make(**kwargs: int) -> Ganache:
        node = Ganache(**kwargs)
        made.append(node)
        return node.start()

    yield make
    for node in made:
        node.close()


@pytest.fixture(scope="session")
def ganache() -> Iterator[Ganache]:
    """One deterministic devnet for the session."""
    _require_ganache()
    node = Ganache().start()
    yield node
    node.close()


#: How far the session devnet's clock may run ahead of the wall clock: tests that sign data "now" and
#: anchor it need the two to agree; a test that moves the clock uses ``ganache_factory`` instead.
CLOCK_SKEW_S = 120


@pytest.fixture
def ganache_w3(ganache: Ganache) -> Iterator[Web3]:
    """A ``Web3`` on the session devnet; the test fails if it moved the devnet's clock."""
    w3: Web3 = ganache.w3()
    yield w3
    ahead = int(w3.eth.get_block("latest")["timestamp"]) - int(time.time())
    assert ahead <= CLOCK_SKEW_S, f"the test moved the session devnet's clock {ahead} s ahead: use ganache_factory"
