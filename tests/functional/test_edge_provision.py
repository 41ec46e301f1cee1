"""Device credentials: keys, CSRs and the local CA, through the library and ``twinledger edge provision``."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from edge_greengrass.errors import ProvisioningError
from edge_greengrass.pki import LocalCertificateAuthority, create_csr, generate_private_key, provision_device
from twinledger.cli import main


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


def test_invalid_thing_name_is_refused() -> None:
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
