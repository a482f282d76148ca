"""The service's logs: one JSON object per line, or text for a person at a terminal.

Every JSON line has `timestamp` (UTC, ISO 8601), `level`, `event`, `message`,
`logger` and `worker` (the process id; the supervisor has role "supervisor").
`event` is the message's template, before its values are filled in: a stable
name to count and alert on ("refused new rules from %s; ..."), unless the call
names one with `extra={"event": ...}`. Fields a call adds with `extra`
(`policy_version`, `latency_ms`, `method`, `code`, ...) are added as they are.
A traceback goes in `exc_info` as one string, so a line is always one object.

Nothing from a request is logged: the calls that log name methods, codes,
policy versions and latencies, never a case, an amount or a case id.

With several workers the supervisor checks each version of the rules once and
writes the one `policy_refused` event. An event that several processes may
still find (a worker's own start on the last good version, say) passes
`extra={"once": key}`: it is written only by the first process to claim the key
(`claim_once`: a file created with O_EXCL in a directory the supervisor shares
with its workers); its siblings drop it.

python-json-logger (maintained, typed) does the JSON; it is imported only when
JSON is asked for.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

FORMATS = ("json", "text")
TEXT_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
# Claimed events in a directory the supervisor makes and shares (env, so that spawned workers see it).
ONCE_DIR_ENV = "CSE_LOG_ONCE_DIR"


def default_format() -> str:
    """JSON when stderr is collected (a container, a file, a pipe); text at a terminal."""
    return "text" if sys.stderr.isatty() else "json"


class _Fields(logging.Filter):
    """Adds `worker`, `role` and `event` (the template, unless the call named one) to each record,
    and drops one whose `once` key a sibling claimed first."""

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def filter(self, record: logging.LogRecord) -> bool:
        once = record.__dict__.pop("once", None)
        if isinstance(once, str) and not claim_once(once):
            return False
        record.worker = record.process
        record.role = self.role
        if not isinstance(getattr(record, "event", None), str):
            record.event = str(record.msg)
        return True


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "{levelname}{event}{message}{name}{worker}{role}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,  # "timestamp": UTC, ISO 8601
        # Everything LogRecord carries (pathname, thread, args with a request's values...) stays out;
        # only the fields named above and those a call adds with `extra` are written.
        reserved_attrs=[*_RECORD_ATTRIBUTES, "taskName"],
    )


_RECORD_ATTRIBUTES = tuple(logging.LogRecord("", 0, "", 0, "", (), None).__dict__)


def setup_logging(log_format: str | None = None, role: str = "worker", level: str | None = None) -> None:
    """Configure the root logger of this process: `log_format` json or text (None: `default_format`)."""
    log_format = log_format or default_format()
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(_Fields(role))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level or os.environ.get("CSE_LOG_LEVEL", "INFO"))


def claim_once(key: str, directory: Path | None = None) -> bool:
    """True for the first process to claim `key` (log the event), False for every later one.

    Without a shared directory (one process, or a test) every claim is the first."""
    if directory is None:
        shared = os.environ.get(ONCE_DIR_ENV)
        if not shared:
            return True
        directory = Path(shared)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)[:200]
    try:
        os.close(os.open(directory / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        return False
    except OSError:  # a directory gone or full: log twice rather than never
        return True
    return True


def fields(**values: Any) -> dict[str, Any]:
    """`extra` for a log call, with None values left out."""
    return {name: value for name, value in values.items() if value is not None}
