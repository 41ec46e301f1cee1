"""A local stand-in for AWS IoT Core: mosquitto with mutual TLS, one certificate per thing.

The broker trusts a local CA, takes the certificate's common name as the MQTT username
(``use_identity_as_username``) and applies an ACL that lets a thing publish only under its own
telemetry and shadow topics. Two service identities mirror what IoT Core does in AWS:
``twinledger-bridge`` (the topic rule: may read all telemetry) and ``twinledger-iot`` (the shadow
service: may read and write every ``$aws/things/...`` topic).

Example:
    >>> import tempfile, pathlib
    >>> broker = MosquittoBroker(pathlib.Path(tempfile.mkdtemp()), port=free_port())
    >>> creds = broker.client_credentials("cnc-001")   # key + certificate signed by the local CA
    >>> with broker:                              # doctest: +SKIP
    ...     ...                                   # connect with creds.certificate / creds.private_key
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from edge_greengrass.pki import DeviceCredentials, LocalCertificateAuthority, provision_device

__all__ = [
    "BRIDGE_IDENTITY",
    "SHADOW_SERVICE_IDENTITY",
    "BrokerError",
    "MosquittoBroker",
    "find_mosquitto",
    "free_port",
]

BRIDGE_IDENTITY = "twinledger-bridge"
SHADOW_SERVICE_IDENTITY = "twinledger-iot"

_ACL = f"""\
# Service identities (what IoT Core itself does in AWS).
user {BRIDGE_IDENTITY}
topic read dt/twinledger/#

user {SHADOW_SERVICE_IDENTITY}
topic readwrite $aws/things/#

# Every thing (certificate CN = thing name): its own telemetry and shadow topics only.
pattern write dt/twinledger/+/%u/telemetry
pattern readwrite $aws/things/%u/shadow/#
"""


class BrokerError(RuntimeError):
    """The local broker could not be configured, started or stopped."""


def find_mosquitto() -> Path | None:
    """The mosquitto binary (``PATH``, then ``/usr/sbin``), or ``None`` if it is not installed."""
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    return Path(found) if found else None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class MosquittoBroker:
    """Runs mosquitto on ``host:port`` with mTLS, an ACL and on-disk persistence under ``workdir``.

    ``start``/``stop`` (SIGTERM, the broker saves its sessions) and ``kill`` (SIGKILL) may be called any
    number of times; the certificates, configuration and persistence file survive restarts.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 8883,
        binary: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.host = host
        self.port = port
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self.pki_dir = workdir / "pki"
        self.ca = LocalCertificateAuthority.create(self.pki_dir / "ca")
        self.server = provision_device(
            self.pki_dir / "server", "localhost", ca=self.ca, server_names=("localhost", host)
        )
        self.config_path = self._write_config()

    # -- identities -------------------------------------------------------------------------------
    def client_credentials(self, name: str) -> DeviceCredentials:
        """A client key and certificate with ``CN=name`` (a thing name or a service identity)."""
        return provision_device(self.pki_dir / "clients", name, ca=self.ca)

    @property
    def ca_certificate(self) -> Path:
        """The CA certificate clients must trust."""
        return self.ca.certificate

    # -- process ----------------------------------------------------------------------------------
    def _write_config(self) -> Path:
        data_dir = self.workdir / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        acl = self.workdir / "acl"
        acl.write_text(_ACL)
        user = getpass.getuser()
        config = f"""\
per_listener_settings false
allow_anonymous false
user {user}
listener {self.port} {self.host}
cafile {self.ca.certificate}
certfile {self.server.certificate}
keyfile {self.server.private_key}
require_certificate true
use_identity_as_username true
tls_version tlsv1.2
acl_file {acl}
persistence true
persistence_location {data_dir}/
autosave_interval 1
autosave_on_changes true
max_queued_messages 1000000
max_queued_bytes 0
max_inflight_messages 100
log_dest file {self.workdir / "mosquitto.log"}
log_type error
log_type warning
log_type notice
connection_messages true
"""
        path = self.workdir / "mosquitto.conf"
        path.write_text(config)
        return path

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._process.pid if self.running and self._process else None

    def start(self, timeout: float = 10.0) -> None:
        """Start mosquitto and wait until it accepts TCP connections."""
        if self.running:
            return
        binary = self._binary or find_mosquitto()
        if binary is None:
            raise BrokerError("mosquitto is not installed (apt-get install -y mosquitto)")
        self._process = subprocess.Popen(
            [str(binary), "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
                raise BrokerError(f"mosquitto exited with {self._process.returncode}: {err.strip()}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), timeout=0.2):
                return
            time.sleep(0.05)
        self.kill()
        raise BrokerError(f"mosquitto did not listen on {self.host}:{self.port} within {timeout} s")

    def _signal(self, signum: int, timeout: float) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            os.kill(process.pid, signum)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout)
        if process.stderr:
            process.stderr.close()
        self._process = None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop gracefully (SIGTERM): mosquitto writes its persistence file before exiting."""
        self._signal(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """Kill hard (SIGKILL), as a power cut or an OOM kill would."""
        self._signal(signal.SIGKILL, 5.0)

    def restart(self, *, hard: bool = True) -> None:
        """Kill (or stop) and start again on the same port."""
        if hard:
            self.kill()
        else:
            self.stop()
        self.start()

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
