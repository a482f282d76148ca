"""Refusals that fit: INVALID_ARGUMENT with a google.rpc.BadRequest small enough to reach the caller.

The status message and its details travel in trailing metadata, which grpc
clients cap (8 KiB by default); past the cap the client gets RESOURCE_EXHAUSTED
and loses every field violation. A refusal therefore carries at most
MAX_FIELD_VIOLATIONS violations, each field name cut to MAX_FIELD_BYTES and each
description to MAX_DESCRIPTION_BYTES (UTF-8), the violations together at most
MAX_DETAIL_BYTES (when more are left out, a last violation says how many), and
a message of at most MAX_MESSAGE_BYTES: about 4 KiB on the wire at worst
(base64 and percent-encoding included). A CaseError in a batch or stream answer
is bounded the same way, so that one bad case cannot swell the answer.

Requests are parsed here rather than by grpc: grpc answers an undecodable
message with INTERNAL and a logged traceback, and a stream whose first message
does not decode leaves its handler waiting forever (the worker then never exits
on SIGTERM).
"""

from __future__ import annotations

from typing import NoReturn, TypeVar

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from engine.errors import FieldProblem

MAX_FIELD_VIOLATIONS = 20
MAX_FIELD_BYTES = 100
MAX_DESCRIPTION_BYTES = 200
MAX_DETAIL_BYTES = 2048
MAX_MESSAGE_BYTES = 300

RequestT = TypeVar("RequestT", bound=Message)


def cut(text: str, limit: int) -> str:
    """`text` within `limit` UTF-8 bytes, an ellipsis marking a cut (never mid-character)."""
    encoded = text.encode("utf-8", "replace")
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode("utf-8", "ignore") + "…"


def bounded(problems: list[FieldProblem], root: str) -> list[FieldProblem]:
    """The problems to send: the first ones, cut, then `root` saying how many more there were."""
    kept: list[FieldProblem] = []
    size = 0
    for problem in problems[:MAX_FIELD_VIOLATIONS]:
        short = FieldProblem(cut(problem.field, MAX_FIELD_BYTES), cut(problem.description, MAX_DESCRIPTION_BYTES))
        size += len(short.field.encode()) + len(short.description.encode()) + 8  # tags and lengths
        if size > MAX_DETAIL_BYTES:
            break
        kept.append(short)
    if len(kept) < len(problems):
        more = len(problems) - len(kept)
        kept.append(FieldProblem(root, f"and {more} more invalid field{'s' if more > 1 else ''} not listed: fix these and send again"))
    return kept


def summary(lead: str, problems: list[FieldProblem]) -> str:
    """One line naming the problems, for a status message or a CaseError message."""
    return cut(lead + "; ".join(f"{p.field}: {p.description}" for p in problems), MAX_MESSAGE_BYTES)


def invalid_argument(context: grpc.ServicerContext, message: str, problems: list[FieldProblem], root: str = "request") -> NoReturn:
    """Abort with INVALID_ARGUMENT and a google.rpc.BadRequest naming each bad field (bounded)."""
    detail = any_pb2.Any()
    detail.Pack(
        error_details_pb2.BadRequest(
            field_violations=[error_details_pb2.BadRequest.FieldViolation(field=p.field, description=p.description) for p in bounded(problems, root)]
        )
    )
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=cut(message, MAX_MESSAGE_BYTES), details=[detail])
    context.abort_with_status(rpc_status.to_status(status))
    raise AssertionError("abort_with_status raises")  # for type checkers


def parse_request(request_type: type[RequestT], data: bytes, context: grpc.ServicerContext, what: str = "request") -> RequestT:
    """The request parsed from its bytes; INVALID_ARGUMENT naming `what` when they do not decode."""
    try:
        return request_type.FromString(data)
    except DecodeError as error:
        # protobuf says "Error parsing message with type '<name>': <why>"; keep the why.
        why = str(error).rpartition("': ")[2] or "the bytes do not decode"
        problem = f"not a valid {request_type.DESCRIPTOR.name}: {why}"
        invalid_argument(context, f"{what}: {problem}", [FieldProblem(what, problem)], what)
