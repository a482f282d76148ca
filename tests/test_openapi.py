"""The OpenAPI documents of the HTTP/JSON API: committed and current, valid under a
real validator, one path per unary method, and schemas that accept exactly what
google.protobuf.json_format writes for the client examples."""

from __future__ import annotations

import base64
import copy
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2
from openapi_spec_validator import OpenAPIV2SpecValidator, OpenAPIV30SpecValidator

from collection_strategy.v1 import collection_strategy_pb2 as pb
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
from openapi import OPENAPI_PATH, SWAGGER_PATH, generate_openapi  # noqa: E402

CASES = REPO / "client_examples" / "cases"
SERVICE = pb.DESCRIPTOR.services_by_name["CollectionStrategyService"]
UNARY = [m for m in SERVICE.methods if not (m.client_streaming or m.server_streaming)]
LOWER_CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return json.loads((REPO / OPENAPI_PATH).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def swagger() -> dict[str, Any]:
    return json.loads((REPO / SWAGGER_PATH).read_text(encoding="utf-8"))


def test_committed_documents_are_current(tmp_path: Path) -> None:
    for fresh in generate_openapi(tmp_path):
        committed = REPO / fresh.relative_to(tmp_path)
        assert committed.exists(), f"{committed} is missing: run `make generate`"
        assert committed.read_text(encoding="utf-8") == fresh.read_text(encoding="utf-8"), f"{committed} is stale: run `make generate` and commit"


def test_documents_are_valid_openapi_3_0_and_swagger_2_0(openapi: dict[str, Any], swagger: dict[str, Any]) -> None:
    # 3.0, not 3.1: what Salesforce External Services imports; 2.0 for Power Automate.
    assert openapi["openapi"] == "3.0.3"
    assert swagger["swagger"] == "2.0"
    errors = [str(e).splitlines()[0] for e in OpenAPIV30SpecValidator(openapi).iter_errors()]
    errors += [str(e).splitlines()[0] for e in OpenAPIV2SpecValidator(swagger).iter_errors()]
    assert not errors, errors


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_reference_resolves(openapi: dict[str, Any], swagger: dict[str, Any]) -> None:
    """The validator does not follow $refs it never reaches; a dangling one breaks an import."""
    for doc, prefix, table in ((openapi, "#/components/schemas/", openapi["components"]["schemas"]), (swagger, "#/definitions/", swagger["definitions"])):
        for ref in _refs(doc):
            assert ref.startswith(prefix) and ref[len(prefix):] in table, f"dangling $ref {ref}"
    # Importers show oneOf/anyOf poorly or not at all: a proto oneof is text instead.
    assert '"oneOf"' not in json.dumps(openapi) and '"anyOf"' not in json.dumps(openapi)


def test_every_unary_method_has_a_post_path_and_streams_none(openapi: dict[str, Any], swagger: dict[str, Any]) -> None:
    expected = {f"/{SERVICE.full_name}/{m.name}" for m in UNARY}
    assert set(openapi["paths"]) == expected
    assert set(swagger["paths"]) == expected
    assert {m.name for m in SERVICE.methods} - {m.name for m in UNARY} == {"DecideStream", "DecideDebtorStream"}
    for method in UNARY:
        operation = openapi["paths"][f"/{SERVICE.full_name}/{method.name}"]["post"]
        assert operation["operationId"] == method.name
        # Power Automate shows the summary as the action's title: short, plain words.
        assert re.fullmatch(r"[A-Z][A-Za-z0-9 ]{5,79}", operation["summary"]), operation["summary"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{method.input_type.name}"}
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer == {"$ref": f"#/components/schemas/{method.output_type.name}"}
        for status in ("400", "429", "503"):
            assert operation["responses"][status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ConnectError"}
    assert openapi["servers"][0]["url"] == "http://localhost:8080"


def test_field_names_are_the_lower_camel_case_json_names(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    for name, message in pb.DESCRIPTOR.message_types_by_name.items():
        if name not in schemas:
            assert "Stream" in name, f"{name} is used by a unary method but has no schema"
            continue
        properties = schemas[name]["properties"]
        assert list(properties) == [f.json_name for f in message.fields], name
        assert all(LOWER_CAMEL.match(p) for p in properties), (name, list(properties))


def _strict(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with unknown properties refused, as the HTTP transport refuses unknown fields:
    so a name json_format writes and the schema lacks (a snake_case one) fails the test."""
    strict = copy.deepcopy(doc)
    for schema in strict["components"]["schemas"].values():
        if "properties" in schema:
            schema["additionalProperties"] = False
    return strict


def _validator(doc: dict[str, Any], schema_name: str) -> jsonschema.Draft4Validator:
    # OpenAPI 3.0 schemas are a JSON Schema draft 4/5 dialect; refs resolve inside the document.
    root = {**_strict(doc), "$ref": f"#/components/schemas/{schema_name}"}
    return jsonschema.Draft4Validator(root, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def _errors(validator: jsonschema.Draft4Validator, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


def test_the_example_decide_request_as_json_format_writes_it_is_valid(openapi: dict[str, Any]) -> None:
    request = json_format.ParseDict(json.loads((CASES / "decide_request.json").read_text()), pb.DecideRequest())
    as_json = json.loads(json_format.MessageToJson(request))
    assert "caseId" in as_json["case"] and "asOf" in as_json  # camelCase, as the server reads and writes
    validator = _validator(openapi, "DecideRequest")
    assert not _errors(validator, as_json)
    # The schema is strict enough to tell: the snake_case file itself is not proto3 JSON as emitted.
    assert _errors(validator, json.loads((CASES / "decide_request.json").read_text()))
    assert _errors(validator, {**as_json, "asOf": "yesterday"})
    assert _errors(validator, {**as_json, "case": {**as_json["case"], "preferredChannel": "SMS"}})


def test_the_example_debtor_and_batch_requests_are_valid(openapi: dict[str, Any]) -> None:
    debtor = json_format.ParseDict(json.loads((CASES / "sample_debtor.json").read_text()), pb.Debtor())
    request = pb.DecideDebtorRequest(debtor=debtor, explain=True)
    request.as_of.FromJsonString("2026-11-24T08:00:00Z")
    assert not _errors(_validator(openapi, "DecideDebtorRequest"), json.loads(json_format.MessageToJson(request)))
    cases = [json_format.ParseDict(json.loads(line), pb.CaseSnapshot()) for line in (CASES / "sample_cases.jsonl").read_text().splitlines() if line.strip()]
    batch = pb.DecideBatchRequest(cases=cases)
    assert not _errors(_validator(openapi, "DecideBatchRequest"), json.loads(json_format.MessageToJson(batch)))


def test_a_decision_with_trace_timestamps_enums_and_an_error_result_is_valid(openapi: dict[str, Any]) -> None:
    """Response side: Struct as an object, Timestamp as RFC 3339, enums by name, a oneof member."""
    decision = pb.Decision(case_id="PL-1", action="SEND_REMINDER", channel=pb.CHANNEL_SMS, fired_rules=["r1"])
    decision.as_of.FromJsonString("2026-11-24T08:00:00Z")
    decision.window.start.FromJsonString("2026-11-24T08:00:00Z")
    decision.window.intersected_time_zones.append("Europe/Warsaw")
    decision.offer.instalments_max = 6
    decision.offer.clamps.add(limit_id="pl/cap", bound="discount_pct_max", before="30", after="20")
    decision.trace.update({"facts": {"days_past_due": 12}, "rules": ["r1"]})
    decision.vetoes.add(rule_id="r2", guardrail="consent", channel=pb.CHANNEL_EMAIL)
    assert not _errors(_validator(openapi, "DecideResponse"), json.loads(json_format.MessageToJson(pb.DecideResponse(decision=decision))))
    batch = pb.DecideBatchResponse(results=[pb.CaseResult(case_id="PL-1", decision=decision),
                                            pb.CaseResult(case_id="PL-2", error=pb.CaseError(message="bad", field_violations=[pb.FieldViolation(field="case.country", description="unknown")]))])
    assert not _errors(_validator(openapi, "DecideBatchResponse"), json.loads(json_format.MessageToJson(batch)))
    policy = pb.GetPolicyResponse(policies=[pb.PolicyInfo(name="default", rule_count=3, applies_to=["PL"])])
    policy.policies[0].loaded_at.FromJsonString("2026-11-24T08:00:00Z")
    assert not _errors(_validator(openapi, "GetPolicyResponse"), json.loads(json_format.MessageToJson(policy)))


def test_a_connect_invalid_argument_error_is_valid(openapi: dict[str, Any]) -> None:
    bad_request = error_details_pb2.BadRequest(field_violations=[error_details_pb2.BadRequest.FieldViolation(field="case.currency", description="not ISO 4217")])
    error = {
        "code": "invalid_argument",
        "message": "case.currency: not ISO 4217",
        "details": [{"type": "google.rpc.BadRequest", "value": base64.b64encode(bad_request.SerializeToString()).decode().rstrip("="),
                     "debug": json_format.MessageToDict(bad_request)}],
    }
    validator = _validator(openapi, "ConnectError")
    assert not _errors(validator, error)
    assert _errors(validator, {**error, "code": "INVALID_ARGUMENT"})  # Connect codes are snake case


def test_schemas_carry_the_proto_comments(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    assert schemas["CaseSnapshot"]["description"].startswith("CaseSnapshot is everything the engine knows")
    assert schemas["CaseSnapshot"]["properties"]["amountDue"]["description"] == 'Decimal string, never a float, e.g. "1250.00".'
    assert "oneof outcome" in schemas["CaseResult"]["description"]
    assert schemas["Channel"]["enum"][0] == "CHANNEL_UNSPECIFIED"
    assert schemas["CaseSnapshot"]["properties"]["attributes"]["additionalProperties"] == {"type": "string"}
    assert schemas["Decision"]["properties"]["trace"]["type"] == "object"
    assert schemas["CaseSnapshot"]["properties"]["daysPastDue"]["format"] == "int32"
