"""A Ganache devnet process for the local stack, the integration tests and the anchoring benchmark.

Started from the pinned ``node_modules/.bin/ganache`` with a deterministic wallet, the shanghai hardfork,
instant mining (or a block time) on 127.0.0.1; the chain lives in a temporary directory, so ``stop()``
then ``start()`` resumes the same chain on the same port (an outage, not a reset).

Example:
    >>> node = Ganache().start()          # doctest: +SKIP
    >>> node.w3().eth.chain_id            # doctest: +SKIP
    1337
    >>> node.close()                      # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from twinledger.paths import REPO_ROOT

__all__ = ["DETERMINISTIC_KEYS", "GANACHE_BIN", "Ganache", "GanacheError", "free_port"]

GANACHE_BIN = REPO_ROOT / "node_modules" / ".bin" / "ganache"

# Private keys of the first accounts of `ganache --wallet.deterministic` (its published test mnemonic).
DETERMINISTIC_KEYS = (
    "0x4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d",
    "0x6cbed15c793ce57650b9877cf6fa156fbef513c4e6134f022a85b1ffdd59b2a1",
    "0x6370fd033278c143179d81c5526140625662b8daa446c22ee2d73db3707e620c",
)


class GanacheError(RuntimeError):
    """Ganache is missing, exited, or did not answer in time."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Ganache:
    """One Ganache process on 127.0.0.1 with its chain kept in ``db_path``."""

    def __init__(
        self,
        port: int | None = None,
        block_time: int = 0,
        startup_timeout: float = 60.0,
        gas_limit: int = 30_000_000,
    ) -> None:
        self.port = port or free_port()
        self.block_time = block_time
        self.gas_limit = gas_limit
        self.startup_timeout = startup_timeout
        self.db_path = Path(tempfile.mkdtemp(prefix="twinledger-ganache-"))
        self.log_path = self.db_path.parent / f"{self.db_path.name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The JSON-RPC endpoint."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    def w3(self, timeout: float = 10.0) -> Any:
        """A new ``web3.Web3`` on this devnet (no provider-level retries: the chain client retries itself)."""
        from web3 import Web3

        provider = Web3.HTTPProvider(self.url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
        return Web3(provider)

    def command(self) -> list[str]:
        """The command line that starts this devnet."""
        return [
            str(GANACHE_BIN),
            "--wallet.deterministic",
            "--chain.hardfork",
            "shanghai",
            "--server.host",
            "127.0.0.1",
            "--server.port",
            str(self.port),
            "--database.dbPath",
            str(self.db_path),
            "--miner.blockTime",
            str(self.block_time),
            "--miner.blockGasLimit",
            str(self.gas_limit),
            "--logging.quiet",
        ]

    def start(self) -> Ganache:
        """Starts (or restarts) the devnet and waits until it answers."""
        if self.running:
            return self
        if not GANACHE_BIN.exists():
            raise GanacheError(f"{GANACHE_BIN} is missing: run `npm ci`")
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        deadline = time.monotonic() + self.startup_timeout
        w3 = self.w3(timeout=2)
        while time.monotonic() < deadline:
            if not self.running:
                raise GanacheError(f"ganache exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(Exception):
                if w3.is_connected():
                    return self
            time.sleep(0.2)
        self.stop()
        raise GanacheError(f"ganache did not answer on {self.url} within {self.startup_timeout}s")

    def stop(self) -> None:
        """Stops the process (the chain stays in ``db_path``)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def close(self) -> None:
        """Stops the process and removes its chain."""
        self.stop()
        shutil.rmtree(self.db_path, ignore_errors=True)
        self.log_path.unlink(missing_ok=True)

    def mine(self, blocks: int = 1) -> None:
        """Mines ``blocks`` empty blocks (``evm_mine``)."""
        w3 = self.w3()
        for _ in range(blocks):
            w3.provider.make_request("evm_mine", [])

    def __enter__(self) -> Ganache:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
