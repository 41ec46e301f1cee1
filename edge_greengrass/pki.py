"""Device keys, certificate signing requests and a local certificate authority.

In AWS a gateway's certificate comes from IoT Core (``CreateCertificateFromCsr``); locally the same CSR is
signed by a throw-away CA that mosquitto trusts. Keys are ECDSA P-256 and are written with mode ``0600``;
nothing here ever lands in the repository (fixtures and ``twinledger edge provision`` generate them).

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> ca = LocalCertificateAuthority.create(d / "ca")
    >>> device = provision_device(d / "m1", "m1", ca=ca)
    >>> device.certificate.exists() and device.private_key.exists() and device.csr.exists()
    True
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edge_greengrass.errors import ProvisioningError
from twin_models.signing import private_key_from_pem

__all__ = [
    "DeviceCredentials",
    "LocalCertificateAuthority",
    "create_csr",
    "generate_private_key",
    "load_private_key",
    "provision_device",
    "write_private_key",
]

_VALIDITY = dt.timedelta(days=825)


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    """A new ECDSA P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def write_private_key(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    """Write ``key`` as unencrypted PKCS#8 PEM readable by its owner only; refuse to overwrite."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise ProvisioningError(f"refusing to overwrite existing private key {path}") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return path


def load_private_key(path: str | Path, password: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    """Read the PEM P-256 private key in ``path`` (the gateway's device key); ``ValueError`` for any other key.

    Example:
        >>> import tempfile, pathlib
        >>> path = write_private_key(generate_private_key(), pathlib.Path(tempfile.mkdtemp()) / "gw.key")
        >>> load_private_key(path).curve.name
        'secp256r1'
    """
    data = Path(path).read_bytes()
    try:
        return private_key_from_pem(data, password)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ProvisioningError(f"{path} is not an EC private key")
    return key


def create_csr(key: ec.EllipticCurvePrivateKey, common_name: str) -> x509.CertificateSigningRequest:
    """A CSR with ``CN=<common_name>`` (the thing name), signed by ``key``."""
    if not common_name or "/" in common_name or "+" in common_name or "#" in common_name:
        raise ProvisioningError(f"invalid thing name for a certificate: {common_name!r}")
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )


@dataclass(frozen=True)
class LocalCertificateAuthority:
    """A local CA on disk (``ca.crt`` + ``ca.key``) that signs device and server certificates."""

    certificate: Path
    private_key: Path

    @classmethod
    def create(cls, directory: Path, name: str = "twinledger local CA") -> LocalCertificateAuthority:
        """Create a new CA in ``directory`` (or reuse the one already there)."""
        cert_path, key_path = directory / "ca.crt", directory / "ca.key"
        if cert_path.exists() and key_path.exists():
            return cls(cert_path, key_path)
        key = generate_private_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        write_private_key(key, key_path)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(cert_path, key_path)

    def sign_csr(
        self,
        csr: x509.CertificateSigningRequest,
        *,
        server_names: tuple[str, ...] = (),
        validity: dt.timedelta = _VALIDITY,
    ) -> x509.Certificate:
        """Sign a certificate for ``csr``; ``server_names`` (DNS names or IPs) make it a server certificate."""
        if not csr.is_signature_valid:
            raise ProvisioningError("the CSR signature does not verify")
        ca_key = _load_key(self.private_key)
        ca_cert = x509.load_pem_x509_certificate(self.certificate.read_bytes())
        now = dt.datetime.now(dt.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server_names else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(ca_cert.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if server_names:
            alt: list[x509.GeneralName] = []
            for name in server_names:
                try:
                    alt.append(x509.IPAddress(ipaddress.ip_address(name)))
                except ValueError:
                    alt.append(x509.DNSName(name))
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        return builder.sign(ca_key, hashes.SHA256())


@dataclass(frozen=True)
class DeviceCredentials:
    """Where one identity's key, CSR and (if signed locally) certificate live."""

    name: str
    private_key: Path
    csr: Path
    certificate: Path
    ca_certificate: Path | None


def provision_device(
    directory: Path,
    name: str,
    *,
    ca: LocalCertificateAuthority | None = None,
    server_names: tuple[str, ...] = (),
) -> DeviceCredentials:
    """Create ``<name>.key`` and ``<name>.csr`` in ``directory``; sign ``<name>.crt`` when a local CA is given.

    An existing key is reused (a device keeps its identity), so provisioning is idempotent.

    Example:
        >>> import tempfile, pathlib
        >>> creds = provision_device(pathlib.Path(tempfile.mkdtemp()), "cnc-001")
        >>> creds.certificate.exists()  # no CA: the CSR goes to IoT Core
        False
    """
    directory.mkdir(parents=True, exist_ok=True)
    key_path, csr_path, cert_path = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.crt"
    key = _load_key(key_path) if key_path.exists() else generate_private_key()
    if not key_path.exists():
        write_private_key(key, key_path)
    csr = create_csr(key, name)
    csr_path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    if ca is not None:
        cert = ca.sign_csr(csr, server_names=server_names)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return DeviceCredentials(name, key_path, csr_path, cert_path, ca.certificate if ca else None)
