"""Proto3 JSON to a request message: a quick path for the usual forms, json_format for the rest.

protobuf's json_format parses in Python and builds an error path for every
field it reads: about 0.6 ms for a case with ten prior contacts, as much as the
decision itself. Most callers send the plain forms (numbers as numbers, enums
by name, timestamps in UTC with a Z); those are read here from json.loads'
dicts, and so are a map of messages (typed inputs), an integer written as a
string of digits (as json_format writes an int64) and a finite double. Anything
else (null, other numbers in strings, enum numbers, offsets in timestamps,
floats other than doubles, bytes, other well-known types, unknown or repeated fields)
makes the quick path step aside, and json_format parses the whole body, with its
own error messages: the quick path never refuses and never accepts what
json_format would not (tests/test_http_api.py checks both on random bodies).
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

MessageT = TypeVar("MessageT", bound=Message)
MAX_DEPTH = 64
_EPOCH, _SECOND = datetime(1970, 1, 1), timedelta(seconds=1)
# RFC 3339 in UTC, as json_format writes it: 0, 3, 6 or 9 fraction digits, but any 1-9 is read.
_UTC = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z\Z")
_DIGITS = re.compile(r"-?[0-9]{1,20}\Z")  # int(text) reads it as json_format does (which also takes "+1", "1_0")
_INTEGERS = {
    FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED32, FieldDescriptor.TYPE_SFIXED64,
}


class _StepAside(Exception):
    """Not a plain form: json_format reads the body instead."""


def parse(request_type: type[MessageT], text: str) -> MessageT:
    """The message `text` encodes; json_format.ParseError (or what json_format raises) when it is not one."""
    try:
        data = json.loads(text, object_pairs_hook=_object)
        message = request_type()
        _fill(message, data, 0)
        return message
    except (_StepAside, ValueError, TypeError, RecursionError):
        return json_format.Parse(text, request_type(), max_recursion_depth=MAX_DEPTH)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object; one naming a key twice is json_format's to refuse."""
    data = dict(pairs)
    if len(data) != len(pairs):
        raise _StepAside
    return data


# How each field is read, worked out once per message type.
_MAP, _REPEATED_MESSAGE, _REPEATED, _TIMESTAMP, _MESSAGE, _SCALAR, _MAP_MESSAGE = range(7)


def _kind(field: FieldDescriptor) -> int | None:
    """How the quick path reads `field`; None: it does not."""
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        key, value = message.fields_by_name["key"], message.fields_by_name["value"]
        if key.type != FieldDescriptor.TYPE_STRING:
            return None
        if value.type == FieldDescriptor.TYPE_STRING:
            return _MAP
        plain = value.message_type is not None and not value.message_type.full_name.startswith("google.protobuf.")
        return _MAP_MESSAGE if plain else None
    if message is not None and message.full_name.startswith("google.protobuf."):
        return _TIMESTAMP if message.full_name == "google.protobuf.Timestamp" and not field.is_repeated else None
    if field.is_repeated:
        return _REPEATED_MESSAGE if message is not None else _REPEATED
    return _MESSAGE if message is not None else _SCALAR


@cache
def _fields(descriptor: Descriptor) -> dict[str, tuple[FieldDescriptor, int | None, str | None]]:
    """Each field by its JSON name and by its proto name: the field, how it is read, its oneof."""
    plan = {}
    for field in descriptor.fields:
        entry = (field, _kind(field), field.containing_oneof.name if field.containing_oneof is not None else None)
        plan[field.name] = plan[field.json_name] = entry
    return plan


def _fill(message: Message, data: Any, depth: int) -> None:
    if type(data) is not dict or depth > MAX_DEPTH:
        raise _StepAside
    fields = _fields(message.DESCRIPTOR)
    seen: set[int] = set()
    oneofs: set[str] = set()
    for key, value in data.items():
        entry = fields.get(key)
        if entry is None or value is None:
            raise _StepAside
        field, kind, oneof = entry
        if field.number in seen or kind is None:
            raise _StepAside
        seen.add(field.number)
        if oneof is not None:
            if oneof in oneofs:
                raise _StepAside
            oneofs.add(oneof)
        if kind == _SCALAR:
            setattr(message, field.name, _scalar(field, value))
        elif kind == _MESSAGE:
            target = getattr(message, field.name)
            target.SetInParent()
            _fill(target, value, depth + 1)
        elif kind == _TIMESTAMP:
            target = getattr(message, field.name)
            target.seconds, target.nanos = _timestamp(value)
        elif kind == _REPEATED_MESSAGE:
            if type(value) is not list:
                raise _StepAside
            items = getattr(message, field.name)
            for item in value:
                _fill(items.add(), item, depth + 1)
        elif kind == _REPEATED:
            if type(value) is not list:
                raise _StepAside
            getattr(message, field.name).extend([_scalar(field, item) for item in value])
        elif kind == _MAP_MESSAGE:
            if type(value) is not dict:
                raise _StepAside
            entries = getattr(message, field.name)
            for name, item in value.items():
                _fill(entries[name], item, depth + 1)
        else:  # _MAP of strings
            if type(value) is not dict or not all(type(item) is str for item in value.values()):
                raise _StepAside
            getattr(message, field.name).update(value)


def _timestamp(value: Any) -> tuple[int, int]:
    found = _UTC.match(value) if type(value) is str else None
    if found is None:
        raise _StepAside
    year, month, day, hour, minute, second, fraction = found.groups()
    # datetime refuses a day or an hour that does not exist (ValueError: json_format decides).
    seconds = (datetime(int(year), int(month), int(day), int(hour), int(minute), int(second)) - _EPOCH) // _SECOND
    return seconds, int(fraction.ljust(9, "0")) if fraction else 0


def _scalar(field: FieldDescriptor, value: Any) -> Any:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING and type(value) is str:
        return value
    if kind == FieldDescriptor.TYPE_BOOL and type(value) is bool:
        return value
    if kind in _INTEGERS and type(value) is int:
        return value  # out of range: setattr raises ValueError, and json_format decides
    if kind in _INTEGERS and type(value) is str and _DIGITS.match(value):
        return int(value)
    if kind == FieldDescriptor.TYPE_DOUBLE and ((type(value) is float and math.isfinite(value)) or (type(value) is int and abs(value) <= 2**53)):
        return float(value)  # an int beyond 2**53 (or 10**400, which float() refuses) is json_format's
    if kind == FieldDescriptor.TYPE_ENUM and type(value) is str:
        named = field.enum_type.values_by_name.get(value)
        if named is not None:
            return named.number
    raise _StepAside
