"""The unary methods as Connect JSON over HTTP/1.1, against a real server on a loopback port.

Each answer over HTTP is compared with gRPC's for the same request, from the
same server (the same registry and servicer): the same decision, the same
field violations for a bad snapshot.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timezone
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collection_strategy.v1 import collection_strategy_pb2 as pb
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
from transport import proto_json
from transport.grpc_server import RunningServer, ServerConfig, start_server
from tests.conftest import write_policy, without_ids

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "client_examples"
DECIDE_REQUEST = json.loads((EXAMPLES / "cases" / "decide_request.json").read_text(encoding="utf-8"))
SAMPLE_DEBTOR = json.loads((EXAMPLES / "cases" / "sample_debtor.json").read_text(encoding="utf-8"))
SERVICE = "collection_strategy.v1.CollectionStrategyService"
AS_OF = "2026-11-24T09:00:00Z"

POLICY = """
policy: http-smoke
version: "1"
rules:
  - id: early-soft-reminder
    priority: 100
    when:
      days_past_due: {between: [1, 30]}
    then:
      action: SEND_REMINDER
      channel: [preferred, sms, email]
      template: friendly-reminder
    reason: Early and soft; most late payers simply forgot.
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    rules = tmp_path_factory.mktemp("rules")
    write_policy(rules, POLICY, "smoke.yaml")
    running = start_server(ServerConfig(port=0, rules_dir=rules, reuse_port=False, http_port=0, reload_seconds=0))
    yield running
    running.stop(0)


@pytest.fixture(scope="module")
def base(server: RunningServer) -> str:
    assert server.http is not None
    return f"http://127.0.0.1:{server.http.port}"


@pytest.fixture(scope="module")
def stub(server: RunningServer) -> Iterator[pb_grpc.CollectionStrategyServiceStub]:
    with grpc.insecure_channel(f"localhost:{server.port}") as channel:
        yield pb_grpc.CollectionStrategyServiceStub(channel)


def post(base: str, method: str, body: Any, content_type: str = "application/json", http_method: str = "POST") -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, JSON body and headers of one call; the body is sent as JSON unless already bytes."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}/{SERVICE}/{method}" if not method.startswith("/") else base + method, data=data, method=http_method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        raw = error.read()
        assert error.headers["Content-Type"] == "application/json", raw  # every refusal is Connect error JSON
        return error.code, json.loads(raw), dict(error.headers)


def violations(error_body: dict[str, Any]) -> list[tuple[str, str]]:
    """The BadRequest field violations of a Connect error, read from the binary value (and checked against debug)."""
    [detail] = [d for d in error_body.get("details", []) if d["type"] == "google.rpc.BadRequest"]
    value = detail["value"] + "=" * (-len(detail["value"]) % 4)
    bad = error_details_pb2.BadRequest.FromString(base64.b64decode(value))
    readable = [(v["field"], v["description"]) for v in detail["debug"]["fieldViolations"]]
    binary = [(v.field, v.description) for v in bad.field_violations]
    assert readable == binary
    return binary


def grpc_violations(error: grpc.RpcError) -> list[tuple[str, str]]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    bad = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad)
    return [(v.field, v.description) for v in bad.field_violations]


def bad_request() -> dict[str, Any]:
    request = json.loads(json.dumps(DECIDE_REQUEST))
    request["case"]["currency"] = "XXQ"
    request["case"]["amount_due"] = "lots"
    request["case"]["time_zone"] = "Mars/Olympus"
    return request


# --- answers equal to gRPC's ----------------------------------------------------


def test_decide_over_http_is_the_decision_grpc_gives(base: str, stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    status, body, headers = post(base, "Decide", DECIDE_REQUEST)
    over_grpc = stub.Decide(json_format.ParseDict(DECIDE_REQUEST, pb.DecideRequest()), timeout=30)

    assert status == 200 and headers["Content-Type"] == "application/json"
    assert body["decision"]["action"] == "SEND_REMINDER"
    assert without_ids(json_format.ParseDict(body, pb.DecideResponse())) == without_ids(over_grpc)


def test_a_bad_snapshot_is_400_with_the_field_violations_of_grpcs_bad_request(base: str, stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    status, body, _ = post(base, "Decide", bad_request())
    with pytest.raises(grpc.RpcError) as refused:
        stub.Decide(json_format.ParseDict(bad_request(), pb.DecideRequest()), timeout=30)

    assert status == 400 and body["code"] == "invalid_argument"
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert body["message"] == refused.value.details()
    assert violations(body) == grpc_violations(refused.value)
    assert {field for field, _ in violations(body)} >= {"case.currency", "case.amount_due", "case.time_zone"}


def test_a_missing_case_names_the_field(base: str) -> None:
    status, body, _ = post(base, "Decide", {"asOf": AS_OF})
    assert status == 400 and violations(body) == [("case", "is required")]


def test_decide_batch_answers_each_case_and_names_the_bad_one(base: str, stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    request = {"cases": [DECIDE_REQUEST["case"], bad_request()["case"]], "asOf": DECIDE_REQUEST["as_of"]}
    status, body, _ = post(base, "DecideBatch", request)
    over_grpc = stub.DecideBatch(json_format.ParseDict(request, pb.DecideBatchRequest()), timeout=30)

    assert status == 200
    assert without_ids(json_format.ParseDict(body, pb.DecideBatchResponse())) == without_ids(over_grpc)
    good, bad = body["results"]
    assert good["decision"]["action"] == "SEND_REMINDER"
    assert any(v["field"] == "cases[1].currency" for v in bad["error"]["fieldViolations"])


def test_decide_debtor_is_the_decision_grpc_gives(base: str, stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    request = {"debtor": SAMPLE_DEBTOR, "asOf": AS_OF}
    status, body, _ = post(base, "DecideDebtor", request)
    over_grpc = stub.DecideDebtor(json_format.ParseDict(request, pb.DecideDebtorRequest()), timeout=30)

    assert status == 200 and body["decision"]["debtorId"] == SAMPLE_DEBTOR["debtor_id"]
    assert without_ids(json_format.ParseDict(body, pb.DecideDebtorResponse())) == without_ids(over_grpc)


def test_decide_debtor_batch_over_the_account_limit_is_400_naming_debtors(base: str) -> None:
    debtor = {"debtor_id": "P-1", "country": "PL", "accounts": [{"account_id": f"A-{i}"} for i in range(1001)]}
    status, body, _ = post(base, "DecideDebtorBatch", {"debtors": [debtor], "asOf": AS_OF})
    assert status == 400 and [field for field, _ in violations(body)] == ["debtors"]


def test_get_policy_names_the_policy_in_force(base: str, stub: pb_grpc.CollectionStrategyServiceStub) -> None:
    status, body, _ = post(base, "GetPolicy", {})
    assert status == 200
    assert json_format.ParseDict(body, pb.GetPolicyResponse()) == stub.GetPolicy(pb.GetPolicyRequest(), timeout=30)
    assert body["policies"][0] == {**body["policies"][0], "name": "http-smoke", "kind": "strategy"}


def test_the_proto_encoding_is_served_too(base: str) -> None:
    data = json_format.ParseDict(DECIDE_REQUEST, pb.DecideRequest()).SerializeToString()
    request = urllib.request.Request(f"{base}/{SERVICE}/Decide", data=data, headers={"Content-Type": "application/proto"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Type"] == "application/proto"
        assert pb.DecideResponse.FromString(response.read()).decision.action == "SEND_REMINDER"


# --- what is not a call -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"{nope", "Failed to load JSON"),
        (b"", "the body is empty"),
        (b"[1, 2]", "DecideRequest"),
        (b'{"cas": {}}', 'no field named "cas"'),
        (b'{"case": {"days_past_due": "many"}}', "days_past_due"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_a_body_that_is_not_a_request_is_400_naming_the_problem(base: str, body: bytes, named: str) -> None:
    status, error, _ = post(base, "Decide", body)
    assert status == 400 and error["code"] == "invalid_argument"
    assert named in error["message"]
    assert violations(error)[0][0] == "request"


def test_an_unknown_method_is_404(base: str) -> None:
    status, body, _ = post(base, "Decid", {})
    assert status == 404 and body["code"] == "unimplemented" and "Decide, DecideBatch" in body["message"]
    status, _, _ = post(base, "/grpc.health.v1.Health/Check", {})
    assert status == 404


@pytest.mark.parametrize(("stream", "batch"), [("DecideStream", "DecideBatch"), ("DecideDebtorStream", "DecideDebtorBatch")])
def test_streams_are_not_offered_over_http_and_point_to_the_batch(base: str, stream: str, batch: str) -> None:
    status, body, _ = post(base, stream, {})
    assert status == 404 and body["code"] == "unimplemented"
    assert batch in body["message"]


def test_a_wrong_content_type_is_415_saying_which_to_send(base: str) -> None:
    status, body, headers = post(base, "Decide", DECIDE_REQUEST, content_type="text/plain")
    assert status == 415 and "application/json" in body["message"]
    assert "application/json" in headers["Accept-Post"]


def test_get_is_405(base: str) -> None:
    request = urllib.request.Request(f"{base}/{SERVICE}/GetPolicy", method="GET")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 405 and refused.value.headers["Allow"] == "POST"


def test_a_bad_timeout_header_is_400_naming_it(base: str) -> None:
    request = urllib.request.Request(
        f"{base}/{SERVICE}/GetPolicy", data=b"{}", headers={"Content-Type": "application/json", "Connect-Timeout-Ms": "soon"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400
    assert violations(json.loads(refused.value.read()))[0][0] == "Connect-Timeout-Ms"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["case", "cases", "debtor", "asOf", "as_of", "explain", "x", "country", "days_past_due", "amount_due", "consents", "prior_contacts"]) | st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["Decide", "DecideBatch", "DecideDebtor", "DecideDebtorBatch", "GetPolicy"]), body=JSON)
def test_random_json_is_answered_never_with_a_500(base: str, method: str, body: Any) -> None:
    status, answer, _ = post(base, method, body)
    assert status in (200, 400), answer
    if status == 400:
        assert answer["code"] == "invalid_argument" and answer["message"]


# --- the real process, and the client examples ----------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def process_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """server.py with --http-port, as `make run` starts it (two workers sharing both ports)."""
    rules = tmp_path_factory.mktemp("process-rules")
    (rules / "strategies").mkdir()
    (rules / "strategies" / "smoke.yaml").write_text(textwrap.dedent(POLICY).lstrip(), encoding="utf-8")
    port, http_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "server.py", "--rules", str(rules), "--port", str(port), "--http-port", str(http_port), "--workers", "2", "--metrics-port", "0"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if post(base, "GetPolicy", {})[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.stderr else ""
            time.sleep(0.3)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_server_py_serves_http_beside_grpc(process_base: str) -> None:
    status, body, _ = post(process_base, "Decide", DECIDE_REQUEST)
    assert status == 200 and body["decision"]["action"] == "SEND_REMINDER"
    status, body, _ = post(process_base, "Decide", bad_request())
    assert status == 400 and "case.currency" in dict(violations(body))


def run_example(command: list[str], base: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60, cwd="/", env={"PATH": "/usr/bin:/bin", "CSE_HTTP": base})


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_example_decides_and_shows_a_refusal(process_base: str, tmp_path: Path) -> None:
    done = run_example([str(EXAMPLES / "curl_decide.sh")], process_base)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["decision"]["action"] == "SEND_REMINDER"

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bad_request()), encoding="utf-8")
    done = run_example([str(EXAMPLES / "curl_decide.sh")], process_base, str(bad))
    assert done.returncode == 22
    assert json.loads(done.stdout)["code"] == "invalid_argument"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_example_decides_and_prints_each_violation(process_base: str, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node is not None
    done = run_example([node, str(EXAMPLES / "node" / "decide.mjs")], process_base)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["action"] == "SEND_REMINDER"

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bad_request()), encoding="utf-8")
    done = run_example([node, str(EXAMPLES / "node" / "decide.mjs")], process_base, str(bad))
    assert done.returncode == 2, done.stderr
    assert "case.currency: 'XXQ' is not an ISO 4217 currency code" in done.stderr


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_example_fails_with_1_when_the_server_is_unreachable() -> None:
    node = shutil.which("node")
    assert node is not None
    done = run_example([node, str(EXAMPLES / "node" / "decide.mjs")], f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 1 and "failed" in done.stderr


# --- the quick JSON path reads what json_format reads -------------------------------------


def outcome(parse: Any, request_type: type[Any], text: str) -> tuple[str, Any]:
    try:
        return "parsed", parse(request_type, text)
    except Exception:  # noqa: BLE001 - any refusal; which one is json_format's to say
        return "refused", None


def by_json_format(request_type: type[Any], text: str) -> Any:
    return json_format.Parse(text, request_type(), max_recursion_depth=64)


def field_names() -> list[str]:
    names: set[str] = set()
    for message in pb.DESCRIPTOR.message_types_by_name.values():
        for field in message.fields:
            names |= {field.name, field.json_name}
    return sorted(names)


TIMES = ["2026-11-24T09:00:00Z", "2026-11-24T09:00:00.5Z", "2026-02-30T09:00:00Z", "2026-11-24T09:00:00+01:00", "2026-11-24T24:00:00Z", "0001-01-01T00:00:00Z", "1969-12-31T23:59:59.999999999Z"]
SCALARS = (
    st.none() | st.booleans() | st.integers(min_value=-(2**65), max_value=2**65) | st.floats() | st.text(max_size=6)
    | st.sampled_from([*TIMES, "CHANNEL_SMS", "CONTACT_OUTCOME_DELIVERED", "12", "1e3", "NaN"])
)
REQUEST_JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(field_names()), inner, max_size=5), max_leaves=16)
REQUEST_TYPES = [pb.DecideRequest, pb.DecideBatchRequest, pb.DecideDebtorRequest, pb.DecideDebtorBatchRequest, pb.GetPolicyRequest]


@settings(max_examples=400, deadline=None)
@given(request_type=st.sampled_from(REQUEST_TYPES), body=st.dictionaries(st.sampled_from(field_names()), REQUEST_JSON, max_size=4))
def test_the_quick_json_path_agrees_with_json_format(request_type: type[Any], body: dict[str, Any]) -> None:
    text = json.dumps(body)
    assert outcome(proto_json.parse, request_type, text) == outcome(by_json_format, request_type, text)


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(DECIDE_REQUEST),
        json.dumps({"debtor": SAMPLE_DEBTOR, "asOf": AS_OF}),
        '{"case": {"case_id": "a", "caseId": "b"}}',  # one field twice, by both names
        '{"case": {"caseId": "a"}, "case": {"caseId": "b"}}',  # one key twice
        '{"case": {"priorContacts": [{"at": "2026-11-24T09:00:00.123Z", "channel": 2}]}}',
        '{"case": {"daysPastDue": "12", "attributes": {"a": 1}}}',
        '{"case": {"inputs": {"s": {"integer": "87"}, "n": {"number": 0.25}, "m": {"number": 3}, "d": {"date": "2026-12-01"}, "b": {"boolean": true}}}}',
        '{"case": {"inputs": {"s": {"integer": "87", "number": 1}}}}',  # two fields of one oneof
        '{"case": {"inputs": {"s": null, "n": {"number": 1e400}, "i": {"integer": "1_000"}}}}',
        '{"case": {"inputs": {"n": {"number": 123456789012345678901234567890}, "i": {"integer": "99999999999999999999"}}}}',
    ],
)
def test_the_quick_json_path_agrees_on_samples_and_corners(text: str) -> None:
    request_type = pb.DecideDebtorRequest if "debtor" in text else pb.DecideRequest
    assert outcome(proto_json.parse, request_type, text) == outcome(by_json_format, request_type, text)


def test_the_portfolio_takes_the_quick_path() -> None:
    """The bench's cases are read without json_format (else the HTTP cost figure is not the usual one)."""
    from engine.authoring.portfolio import synthetic_portfolio
    from transport.mapping import case_from_data

    for case in synthetic_portfolio(50, datetime(2026, 11, 24, 9, tzinfo=timezone.utc), seed=3):
        text = json_format.MessageToJson(pb.DecideRequest(case=case_from_data(case)), indent=None)
        quick = pb.DecideRequest()
        proto_json._fill(quick, json.loads(text), 0)  # raises _StepAside if it would fall back
        assert quick == by_json_format(pb.DecideRequest, text)


# --- a real Connect client ------------------------------------------------------------------


def buf_path() -> str | None:
    candidates = [os.environ.get("BUF"), shutil.which("buf"), str(REPO / ".tools/node_modules/.bin/buf")]
    return next((path for path in candidates if path and Path(path).exists()), None)


def test_buf_curl_speaking_connect_decides_and_reads_the_bad_request(base: str) -> None:
    """buf curl, a Connect client (it sends application/proto), reads our answers and errors."""
    buf = buf_path()
    if buf is None:
        pytest.skip("buf is not installed; `make test` installs it")
    command = [buf, "curl", "--protocol", "connect", "--schema", str(REPO / "proto"), f"{base}/{SERVICE}/Decide"]
    done = subprocess.run([*command, "-d", json.dumps(DECIDE_REQUEST)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["decision"]["action"] == "SEND_REMINDER"

    done = subprocess.run([*command, "-d", json.dumps(bad_request())], capture_output=True, text=True, timeout=60)
    error = json.loads(done.stderr)  # buf curl prints the Connect error it decoded
    assert error["code"] == "invalid_argument"
    assert "case.currency" in dict(violations(error))
