"""What both example clients need: instants from the command line and a channel."""

from __future__ import annotations

import argparse
from datetime import datetime

import grpc
from google.protobuf import timestamp_pb2


def timestamp(text: str) -> timestamp_pb2.Timestamp:
    """An argparse type: an RFC 3339 instant with an offset, e.g. 2026-11-23T09:00:00Z."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 instant such as 2026-11-23T09:00:00Z") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no offset; add Z or e.g. +01:00")
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def open_channel(target: str, root_certificates: bytes | None) -> grpc.Channel:
    """TLS when a CA certificate is given, plaintext otherwise."""
    if root_certificates is not None:
        return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=root_certificates))
    return grpc.insecure_channel(target)
