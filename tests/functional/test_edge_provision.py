"""Device credentials: keys, CSRs and the local CA, through the library and ``twinledger edge provision``."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from edge_greengrass.cli import main as edge_main
from edge_greengrass.errors import ProvisioningError
from edge_greengrass.pki import (
    LocalCertificateAuthority,
    create_csr,
    generate_private_key,
    load_private_key,
    provision_device,
    write_private_key,
)
from twin_models.signing import private_key_from_pem
from twinledger.cli import main


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that masks nothing: file modes then come from the code alone."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_provision_with_local_ca_issues_a_client_certificate(tmp_path: Path) -> None:
    ca = LocalCertificateAuthority.create(tmp_path / "ca")
    creds = provision_device(tmp_path / "things", "cnc-01", ca=ca)
    cert = x509.load_pem_x509_certificate(creds.certificate.read_bytes())
    ca_cert = x509.load_pem_x509_certificate(ca.certificate.read_bytes())
    cert.verify_directly_issued_by(ca_cert)
    assert cert.subject.rfc4514_string() == "CN=cnc-01"
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH in usage
    assert stat.S_IMODE(creds.private_key.stat().st_mode) == 0o600
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)


def test_provisioning_again_keeps_the_device_key(tmp_path: Path) -> None:
    first = provision_device(tmp_path, "cnc-01")
    key_before = first.private_key.read_bytes()
    provision_device(tmp_path, "cnc-01")
    assert first.private_key.read_bytes() == key_before


def test_server_certificate_names_localhost_and_the_ip(tmp_path: Path) -> None:
    ca = LocalCertificateAuthority.create(tmp_path / "ca")
    server = provision_device(tmp_path, "localhost", ca=ca, server_names=("localhost", "127.0.0.1"))
    cert = x509.load_pem_x509_certificate(server.certificate.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_invalid_machine_id_is_refused() -> None:
    with pytest.raises(ProvisioningError, match="invalid thing name"):
        create_csr(generate_private_key(), "plant/cnc-01")


def test_cli_provision_prints_the_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pki"
    code = main(["edge", "provision", "--thing", "cnc-01", "--thing", "cnc-02", "--out", str(out)])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["thing"] for line in lines] == ["cnc-01", "cnc-02"]
    assert lines[0]["certificate"] is None and Path(lines[0]["csr"]).exists()
    csr = x509.load_pem_x509_csr(Path(lines[1]["csr"]).read_bytes())
    assert csr.is_signature_valid and csr.subject.rfc4514_string() == "CN=cnc-02"


def test_cli_run_with_a_bad_configuration_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "gw.yaml"
    config.write_text("site: plant-a\nsource: {type: simulator}\n")
    assert main(["edge", "run", "--config", str(config)]) == 2
    assert "signing" in capsys.readouterr().err


def test_every_private_key_is_created_mode_0600_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    ca = LocalCertificateAuthority.create(tmp_path / "ca")
    device = provision_device(tmp_path / "things", "cnc-01", ca=ca)
    written = write_private_key(generate_private_key(), tmp_path / "other" / "gw.key")
    for key in (ca.private_key, device.private_key, written):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert stat.S_IMODE(device.certificate.stat().st_mode) == 0o666  # public material: the umask decides


def test_load_private_key_reads_the_file_and_the_domain_parses_the_pem(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    key = generate_private_key()
    path = write_private_key(key, tmp_path / "gw.key")
    assert load_private_key(path).public_key() == key.public_key()
    assert private_key_from_pem(path.read_bytes()).public_key() == key.public_key()
    other = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="not a P-256 EC private key"):
        private_key_from_pem(other)
    (tmp_path / "p384.key").write_bytes(other)
    with pytest.raises(ValueError, match=r"p384\.key: not a P-256"):
        load_private_key(tmp_path / "p384.key")


def test_python_m_edge_greengrass_and_twinledger_edge_print_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["provision", "--thing", "cnc-01", "--out", str(tmp_path / "pki"), "--local-ca", str(tmp_path / "ca")]
    assert main(["edge", *args]) == 0
    via_twinledger = capsys.readouterr().out
    assert edge_main(args) == 0  # the key and CA are reused: the same paths
    assert capsys.readouterr().out == via_twinledger
    assert json.loads(via_twinledger)["certificate"] == str(tmp_path / "pki" / "cnc-01.crt")
