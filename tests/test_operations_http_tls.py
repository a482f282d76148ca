"""The HTTP/JSON port never serves plain HTTP silently beside TLS on gRPC: waitress has no TLS,
so the pair is refused unless the operator says TLS ends before the server (--http-plaintext)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import grpc
import pytest

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from server import parse_args
from tests.conftest import write_policy
from tests.test_operations_tls import Pki, install, make_pki
from tests.test_server import POLICY
from transport.grpc_server import ServerConfig, start_server

SERVICE = "collection_strategy.v1.CollectionStrategyService"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    (tmp_path / "tls").mkdir()
    pki = make_pki("http")
    install(tmp_path / "tls", pki)
    write_policy(tmp_path / "rules", POLICY)
    return pki


def config(tmp_path: Path, **settings: object) -> ServerConfig:
    tls = tmp_path / "tls"
    return ServerConfig(
        port=0, rules_dir=tmp_path / "rules", reuse_port=False, reload_seconds=0, http_port=0,
        tls_cert=tls / "server.crt", tls_key=tls / "server.key", tls_client_ca=tls / "clients-ca.crt", **settings,  # type: ignore[arg-type]
    )


def test_plain_http_beside_tls_grpc_is_refused_at_start(tmp_path: Path, pki: Pki) -> None:
    with pytest.raises(ValueError, match="http_plaintext"):  # grpc_server.PlaintextBesideTls
        start_server(config(tmp_path)).stop(0)


def test_the_command_line_refuses_it_naming_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tls = ["--tls-cert", str(tmp_path / "c.pem"), "--tls-key", str(tmp_path / "k.pem")]
    with pytest.raises(SystemExit):
        parse_args([*tls, "--http-port", "8080"])
    error = capsys.readouterr().err
    assert "--http-plaintext" in error and "--http-port" in error and "--tls-cert" in error
    assert parse_args([*tls, "--http-port", "8080", "--http-plaintext"]).http_plaintext
    assert parse_args(tls).http_port == 0  # TLS without HTTP: nothing to refuse


def test_with_http_plaintext_grpc_keeps_mtls_and_http_serves_behind_the_ingress(tmp_path: Path, pki: Pki) -> None:
    running = start_server(config(tmp_path, http_plaintext=True))
    try:
        assert running.http is not None
        request = urllib.request.Request(
            f"http://127.0.0.1:{running.http.port}/{SERVICE}/GetPolicy", data=b"{}", method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200 and json.loads(response.read())["policies"]
        credentials = grpc.ssl_channel_credentials(pki.ca.cert)  # no client certificate: still refused on gRPC
        with grpc.secure_channel(f"localhost:{running.port}", credentials) as channel:
            with pytest.raises(grpc.RpcError) as refused:
                pb_grpc.CollectionStrategyServiceStub(channel).GetPolicy(pb.GetPolicyRequest(), timeout=5)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        running.stop(0)
