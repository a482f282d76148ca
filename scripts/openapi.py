"""The OpenAPI documents of the HTTP/JSON API, derived from the proto.

The HTTP transport speaks the Connect protocol's unary JSON form: every unary
method is `POST /<package>.<Service>/<Method>` with a proto3 JSON body, and an
error is Connect error JSON (https://connectrpc.com/docs/protocol). Streaming
methods are not offered over HTTP, so they have no path.

Two documents, one walk over the descriptors:
- OpenAPI 3.0.3 (`collection_strategy.v1.openapi.json`): what Salesforce
  External Services imports (OpenAPI 2.0 and 3.0 JSON since Spring '22; 3.1 is
  not listed). 3.0, not 3.1, for that reason.
- Swagger 2.0 (`collection_strategy.v1.swagger.json`): Power Automate / Power
  Apps custom connectors import OpenAPI 2.0 only; a 3.0 file has to be
  converted first, so we ship the conversion.
Neither uses oneOf/anyOf (custom connectors do not support them): a proto
oneof is documented in the message's description instead.

Structure comes from the compiled descriptors (`collection_strategy_pb2.DESCRIPTOR`);
the comments come from a descriptor set that protoc rebuilds here with
`--include_source_info`, because the compiled module drops source info.

Usage: python scripts/openapi.py [OUT_DIR]   (default: the repository root)
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import grpc_tools
from google.protobuf import descriptor, descriptor_pb2
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
WELL_KNOWN = Path(grpc_tools.__file__).parent / "_proto"
PROTO = "collection_strategy/v1/collection_strategy.proto"
OPENAPI_PATH = Path("proto/openapi/collection_strategy.v1.openapi.json")
SWAGGER_PATH = Path("proto/openapi/collection_strategy.v1.swagger.json")
# Where `make run` serves HTTP by default; importers replace it with their host.
DEFAULT_SERVER = "http://localhost:8080"

Schema = dict[str, Any]
FD = descriptor.FieldDescriptor

# FileDescriptorProto / DescriptorProto field numbers used in SourceCodeInfo paths.
_MESSAGE, _ENUM, _SERVICE = 4, 5, 6
_FIELD, _ENUM_VALUE, _METHOD = 2, 2, 2

# proto3 JSON: 64-bit integers are strings, other scalars are JSON scalars.
_SCALARS: dict[int, Schema] = {
    FD.TYPE_STRING: {"type": "string"},
    FD.TYPE_BOOL: {"type": "boolean"},
    FD.TYPE_BYTES: {"type": "string", "format": "byte"},
    FD.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FD.TYPE_FLOAT: {"type": "number", "format": "float"},
    FD.TYPE_INT32: {"type": "integer", "format": "int32"},
    FD.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FD.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FD.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0},
    FD.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0},
    FD.TYPE_INT64: {"type": "string", "format": "int64"},
    FD.TYPE_SINT64: {"type": "string", "format": "int64"},
    FD.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    FD.TYPE_UINT64: {"type": "string", "format": "uint64"},
    FD.TYPE_FIXED64: {"type": "string", "format": "uint64"},
}

# Well-known types have their own JSON forms; any other is refused by name.
_WELL_KNOWN: dict[str, Schema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time", "description": "RFC 3339, e.g. 2026-11-24T08:00:00Z."},
    "google.protobuf.Duration": {"type": "string", "description": "Seconds with an s suffix, e.g. 1.5s."},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {"description": "Any JSON value."},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object"},
}

# The Connect error codes and the HTTP status each maps to (connectrpc.com/docs/protocol#error-codes).
CONNECT_CODES = {
    "canceled": 499, "unknown": 500, "invalid_argument": 400, "deadline_exceeded": 504,
    "not_found": 404, "already_exists": 409, "permission_denied": 403, "resource_exhausted": 429,
    "failed_precondition": 400, "aborted": 409, "out_of_range": 400, "unimplemented": 501,
    "internal": 500, "unavailable": 503, "data_loss": 500, "unauthenticated": 401,
}
ERROR_RESPONSES = {
    "400": "invalid_argument: the body is not valid proto3 JSON or the snapshot failed validation; "
    "details carry a google.rpc.BadRequest with the same field violations as over gRPC.",
    "429": "resource_exhausted: a limit was reached, e.g. the body is larger than the server takes; split the batch.",
    "503": "unavailable: the server, or a proxy in front of it, cannot take the call now (e.g. while it stops); retry with backoff.",
}


def source_comments() -> dict[str, str]:
    """The proto's comments by name within the package ("CaseSnapshot", "CaseSnapshot.amount_due",
    "Channel.CHANNEL_SMS", "CollectionStrategyService.Decide"), from a descriptor set protoc builds now."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "api.binpb"
        args = ["protoc", f"-I{PROTO_DIR}", f"-I{WELL_KNOWN}", "--include_source_info", f"--descriptor_set_out={out}", PROTO]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed on {PROTO}")
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    (proto,) = [f for f in files if f.name == PROTO]
    names: dict[tuple[int, ...], str] = {}
    for i, message in enumerate(proto.message_type):
        names[(_MESSAGE, i)] = message.name
        names.update({(_MESSAGE, i, _FIELD, j): f"{message.name}.{f.name}" for j, f in enumerate(message.field)})
    for i, enum in enumerate(proto.enum_type):
        names[(_ENUM, i)] = enum.name
        names.update({(_ENUM, i, _ENUM_VALUE, j): f"{enum.name}.{v.name}" for j, v in enumerate(enum.value)})
    for i, service in enumerate(proto.service):
        names[(_SERVICE, i)] = service.name
        names.update({(_SERVICE, i, _METHOD, j): f"{service.name}.{m.name}" for j, m in enumerate(service.method)})
    comments = {}
    for location in proto.source_code_info.location:
        text = location.leading_comments or location.trailing_comments
        if text.strip() and (name := names.get(tuple(location.path))):
            comments[name] = _prose(text)
    return comments


def _prose(comment: str) -> str:
    """A proto comment as text: wrapped lines joined, blank lines kept as paragraph breaks."""
    paragraphs = re.split(r"\n\s*\n", comment.strip())
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


class _Builder:
    """Walks the service from its unary methods and collects a schema per message and enum reached."""

    def __init__(self, file: descriptor.FileDescriptor, comments: dict[str, str]) -> None:
        self.file = file
        self.comments = comments
        self.schemas: dict[str, Schema] = {}

    def ref(self, name: str) -> Schema:
        return {"$ref": f"#/components/schemas/{name}"}

    def _own(self, full_name: str) -> str:
        package = self.file.package + "."
        if not full_name.startswith(package) or "." in full_name[len(package):]:
            raise SystemExit(f"{full_name}: only top-level types of {self.file.package} and the well-known types {sorted(_WELL_KNOWN)} can be mapped")
        return full_name[len(package):]

    def field_schema(self, field: descriptor.FieldDescriptor) -> Schema:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            return {"type": "object", "additionalProperties": self.value_schema(field.message_type.fields_by_name["value"])}
        schema = self.value_schema(field)
        return {"type": "array", "items": schema} if field.is_repeated else schema

    def value_schema(self, field: descriptor.FieldDescriptor) -> Schema:
        if field.type == FD.TYPE_ENUM:
            return self.ref(self.enum(field.enum_type))
        if field.type == FD.TYPE_MESSAGE:
            full_name = field.message_type.full_name
            if full_name.startswith("google.protobuf."):
                if full_name not in _WELL_KNOWN:
                    raise SystemExit(f"{field.full_name}: {full_name} has no JSON mapping here; add it to _WELL_KNOWN")
                return dict(_WELL_KNOWN[full_name])
            return self.ref(self.message(field.message_type))
        return dict(_SCALARS[field.type])

    def enum(self, enum: descriptor.EnumDescriptor) -> str:
        name = self._own(enum.full_name)
        if name not in self.schemas:
            notes = [f"- {v.name}: {note}" for v in enum.values if (note := self.comments.get(f"{name}.{v.name}"))]
            text = "\n\n".join(x for x in [self.comments.get(name, ""), "\n".join(notes)] if x)
            self.schemas[name] = {"type": "string", "description": text, "enum": [v.name for v in enum.values]}
        return name

    def message(self, message: descriptor.Descriptor) -> str:
        name = self._own(message.full_name)
        if name in self.schemas:
            return name
        schema: Schema = {"type": "object", "description": self.comments.get(name, "")}
        self.schemas[name] = schema  # before the fields, so that a recursive message ends
        properties = {}
        for field in message.fields:
            prop = self.field_schema(field)
            if note := self.comments.get(f"{name}.{field.name}"):
                # Beside a $ref the text is documentation only (strict tools ignore it);
                # wrapping the $ref in allOf would keep it but custom connectors handle allOf poorly.
                prop = {**prop, "description": note}
            properties[field.json_name] = prop
        oneofs = [o for o in message.oneofs if not (len(o.fields) == 1 and o.fields[0].has_presence and o.name.startswith("_"))]
        for oneof in oneofs:
            members = ", ".join(f.json_name for f in oneof.fields)
            schema["description"] += f"\n\nAt most one of {members} is set (oneof {oneof.name})."
        schema["description"] = schema["description"].strip()
        schema["properties"] = properties
        return name


def _summary(method: str, comment: str) -> str:
    """The operation's title in a CRM's action list: the comment's first clause without the method name."""
    first = re.split(r"[.(,;:]", comment, maxsplit=1)[0].strip()
    if not first.startswith(method + " "):
        raise SystemExit(f"rpc {method}: its comment must start with '{method} <verb>' to give the operation a summary")
    text = first[len(method) + 1 :]
    return text[0].upper() + text[1:]


def _error_schema() -> Schema:
    return {
        "type": "object",
        "description": "A Connect error. The HTTP status follows from the code (invalid_argument 400, resource_exhausted 429, unavailable 503, internal 500...).",
        "properties": {
            "code": {"type": "string", "enum": list(CONNECT_CODES), "description": "The Connect error code, the gRPC status name in snake case."},
            "message": {"type": "string", "description": "For people; never personal data."},
            "details": {"type": "array", "items": {"$ref": "#/components/schemas/ConnectErrorDetail"}},
        },
        "required": ["code"],
    }


def _error_detail_schema() -> Schema:
    return {
        "type": "object",
        "description": "One error detail: a protobuf message, e.g. google.rpc.BadRequest with the field violations.",
        "properties": {
            "type": {"type": "string", "description": "The message's fully qualified name, e.g. google.rpc.BadRequest."},
            "value": {"type": "string", "format": "byte", "description": "The message in the protobuf binary encoding, base64 (padding may be left off)."},
            "debug": {"type": "object", "additionalProperties": True, "description": "The same message as proto3 JSON, when the server adds it."},
        },
        "required": ["type", "value"],
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.0.3 document: one POST path per unary method, a schema per message reached."""
    sys.path.insert(0, str(ROOT))
    from collection_strategy.v1 import collection_strategy_pb2

    file = collection_strategy_pb2.DESCRIPTOR
    comments = source_comments()
    builder = _Builder(file, comments)
    (service,) = file.services_by_name.values()
    paths: dict[str, Any] = {}
    for method in service.methods:
        if method.client_streaming or method.server_streaming:
            continue
        comment = comments.get(f"{service.name}.{method.name}", "")
        responses: dict[str, Any] = {
            "200": {"description": "The response message as proto3 JSON.", "content": {"application/json": {"schema": builder.ref(builder.message(method.output_type))}}},
        }
        for status, text in ERROR_RESPONSES.items():
            responses[status] = {"description": text, "content": {"application/json": {"schema": builder.ref("ConnectError")}}}
        responses["default"] = {"description": "Any other Connect error, e.g. 500 internal.", "content": {"application/json": {"schema": builder.ref("ConnectError")}}}
        paths[f"/{service.full_name}/{method.name}"] = {
            "post": {
                "operationId": method.name,
                "summary": _summary(method.name, comment),
                "description": comment,
                "tags": [service.name],
                "requestBody": {"required": True, "content": {"application/json": {"schema": builder.ref(builder.message(method.input_type))}}},
                "responses": responses,
            }
        }
    schemas = {**builder.schemas, "ConnectError": _error_schema(), "ConnectErrorDetail": _error_detail_schema()}
    schemas = dict(sorted(schemas.items()))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Collection strategy engine",
            "version": file.package.rsplit(".", 1)[-1],
            "description": comments.get(service.name, "")
            + "\n\nHTTP/JSON over the Connect protocol's unary form: POST with Content-Type application/json, bodies in proto3 JSON "
            "(lowerCamelCase names, enums by name, timestamps RFC 3339, 64-bit integers as strings); an optional Connect-Protocol-Version: 1 header. "
            "Streaming methods are gRPC only. Generated from the proto by scripts/openapi.py; do not edit.",
        },
        "servers": [{"url": DEFAULT_SERVER, "description": "`make run` on this machine; replace with your host."}],
        "tags": [{"name": service.name}],
        "paths": paths,
        "components": {"schemas": schemas},
    }


def swagger_document(openapi: dict[str, Any]) -> dict[str, Any]:
    """The same API as Swagger 2.0, for importers that take only 2.0 (Power Automate custom connectors)."""
    text = json.dumps(openapi).replace("#/components/schemas/", "#/definitions/")
    doc = json.loads(text)
    server = doc["servers"][0]["url"]
    scheme, host = server.split("://", 1)
    paths = {}
    for path, item in doc["paths"].items():
        op = item["post"]
        body = op.pop("requestBody")
        op["parameters"] = [{"name": "body", "in": "body", "required": True, "schema": body["content"]["application/json"]["schema"]}]
        op["consumes"] = op["produces"] = ["application/json"]
        op["responses"] = {code: {"description": r["description"], "schema": r["content"]["application/json"]["schema"]} for code, r in op["responses"].items()}
        paths[path] = {"post": op}
    return {
        "swagger": "2.0",
        "info": doc["info"],
        "host": host,
        "basePath": "/",
        "schemes": [scheme],
        "tags": doc["tags"],
        "paths": paths,
        "definitions": doc["components"]["schemas"],
    }


def generate_openapi(out_dir: Path) -> list[Path]:
    """Write both documents under out_dir; return their paths."""
    openapi = openapi_document()
    outputs = {out_dir / OPENAPI_PATH: openapi, out_dir / SWAGGER_PATH: swagger_document(openapi)}
    for path, doc in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return list(outputs)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    for written in generate_openapi(target):
        print(written.relative_to(target))
