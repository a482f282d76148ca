"""mTLS: a client CA makes client certificates required; certificate, key and CA are
re-read when rotated, without a restart. Certificates are made here with `cryptography`."""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from tests.conftest import REPO, write_policy
from tests.test_server import POLICY
from transport.grpc_server import RunningServer, ServerConfig, start_server
from transport.tls import CertificateError, CertificateFiles


@dataclass
class Issued:
    cert: bytes
    key: bytes


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def make_ca(common: str) -> tuple[Issued, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(_name(common)).issuer_name(_name(common)).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)), key


def issue(ca: Issued, ca_key: ec.EllipticCurvePrivateKey, common: str, server: bool) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    issuer = x509.load_pem_x509_certificate(ca.cert).subject
    builder = (
        x509.CertificateBuilder().subject_name(_name(common)).issuer_name(issuer).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH if server else x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return Issued(builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM), _pem_key(key))


@dataclass
class Pki:
    ca: Issued
    server: Issued
    client: Issued


def make_pki(name: str) -> Pki:
    ca, ca_key = make_ca(f"{name} CA")
    return Pki(ca, issue(ca, ca_key, "localhost", server=True), issue(ca, ca_key, f"{name} client", server=False))


def install(directory: Path, pki: Pki) -> None:
    """Write the server's files as a rotation would: each replaced whole (rename), key before certificate."""
    for name, data in (("server.key", pki.server.key), ("server.crt", pki.server.cert), ("clients-ca.crt", pki.ca.cert)):
        temporary = directory / f".{name}.tmp"
        temporary.write_bytes(data)
        temporary.replace(directory / name)


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "tls"
    directory.mkdir()
    return directory


@pytest.fixture
def server(tmp_path: Path, tls_dir: Path) -> Iterator[tuple[RunningServer, Pki]]:
    pki = make_pki("first")
    install(tls_dir, pki)
    write_policy(tmp_path / "rules", POLICY)
    config = ServerConfig(
        port=0, rules_dir=tmp_path / "rules", reuse_port=False, reload_seconds=0,
        tls_cert=tls_dir / "server.crt", tls_key=tls_dir / "server.key", tls_client_ca=tls_dir / "clients-ca.crt",
    )
    running = start_server(config)
    yield running, pki
    running.stop(0)


def ask(port: int, trust: Issued, client: Issued | None) -> grpc.StatusCode:
    """GetPolicy on a fresh connection (a new TLS handshake); the status code it ends with."""
    credentials = grpc.ssl_channel_credentials(trust.cert, client.key if client else None, client.cert if client else None)
    options = [("grpc.use_local_subchannel_pool", 1)]  # never reuse another test's connection
    with grpc.secure_channel(f"localhost:{port}", credentials, options=options) as channel:
        try:
            pb_grpc.CollectionStrategyServiceStub(channel).GetPolicy(pb.GetPolicyRequest(), timeout=5)
        except grpc.RpcError as error:
            return error.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_a_client_certificate_is_required(server: tuple[RunningServer, Pki]) -> None:
    running, pki = server
    assert ask(running.port, pki.ca, pki.client) == grpc.StatusCode.OK
    assert ask(running.port, pki.ca, None) == grpc.StatusCode.UNAVAILABLE
    stranger = make_pki("stranger")
    assert ask(running.port, pki.ca, stranger.client) == grpc.StatusCode.UNAVAILABLE


def test_rotated_certificates_serve_new_connections_without_a_restart(server: tuple[RunningServer, Pki], tls_dir: Path) -> None:
    running, first = server
    assert ask(running.port, first.ca, first.client) == grpc.StatusCode.OK
    second = make_pki("second")
    install(tls_dir, second)
    assert ask(running.port, second.ca, second.client) == grpc.StatusCode.OK  # the new server certificate and client CA
    assert ask(running.port, second.ca, first.client) == grpc.StatusCode.UNAVAILABLE  # the old client CA is gone
    assert ask(running.port, first.ca, first.client) == grpc.StatusCode.UNAVAILABLE  # the old server certificate is gone


def test_a_half_rotated_set_keeps_the_last_good_one(server: tuple[RunningServer, Pki], tls_dir: Path) -> None:
    running, first = server
    second = make_pki("second")
    (tls_dir / "server.key").write_bytes(second.server.key)  # the key is new, the certificate not yet
    assert ask(running.port, first.ca, first.client) == grpc.StatusCode.OK
    install(tls_dir, second)  # the rest arrives
    assert ask(running.port, second.ca, second.client) == grpc.StatusCode.OK


def test_files_that_do_not_match_are_refused_naming_the_flag(tmp_path: Path) -> None:
    first, second = make_pki("first"), make_pki("second")
    (tmp_path / "a.crt").write_bytes(first.server.cert)
    (tmp_path / "b.key").write_bytes(second.server.key)
    (tmp_path / "ca.crt").write_bytes(b"not a certificate")
    with pytest.raises(CertificateError, match="--tls-cert"):
        CertificateFiles(tmp_path / "a.crt", tmp_path / "b.key")
    (tmp_path / "a.key").write_bytes(first.server.key)
    with pytest.raises(CertificateError, match="--tls-client-ca"):
        CertificateFiles(tmp_path / "a.crt", tmp_path / "a.key", tmp_path / "ca.crt")
    done = subprocess.run(
        [sys.executable, "server.py", "--rules", str(tmp_path), "--tls-cert", str(tmp_path / "a.crt"), "--tls-key", str(tmp_path / "b.key"), "--metrics-port", "0", "--port", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2 and "--tls-cert" in done.stderr and "Traceback" not in done.stderr


def test_a_client_ca_needs_a_server_certificate(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "server.py", "--tls-client-ca", str(tmp_path / "ca.crt")], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "--tls-client-ca needs --tls-cert" in done.stderr
