"""A dialer-style client: decide a list of cases and write one JSON line per result.

The input is JSON Lines: one CaseSnapshot per line in the proto's JSON form
(blank lines and lines starting with # are skipped). By default the cases go
through one DecideStream call, read lazily, so a list of any length runs in
constant memory; with --batch they go through DecideBatch in calls of up to
1000 cases.

    python client_examples/dialer_stream.py client_examples/cases/sample_cases.jsonl
    python client_examples/dialer_stream.py --batch --out results.jsonl cases.jsonl
    cat cases.jsonl | python client_examples/dialer_stream.py -

Every output line has case_id and line (the input line number) and either the
decision (action, channel, template, window_start, window_end in UTC,
window_local_start, window_local_end, time_zone, the reason codes and
next_review_at; channel, template and window fields are null when the decision
contacts nobody) or error and field_violations. A summary
goes to stderr. Exit codes: 0 every line was answered (some possibly with a
per-case error); 1 the call itself failed; 2 bad command line.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Iterator

# Run from anywhere: the generated stubs live at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402

from collection_strategy.v1 import collection_strategy_pb2 as pb  # noqa: E402
from collection_strategy.v1 import collection_strategy_pb2_grpc  # noqa: E402
from client_examples.common import open_channel, timestamp  # noqa: E402

MAX_BATCH_CASES = 1000  # the service refuses larger DecideBatch calls


def batch_size(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_BATCH_CASES:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_BATCH_CASES}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Decide a JSON Lines file of cases with DecideStream (or DecideBatch).")
    parser.add_argument("cases", help="JSON Lines file of CaseSnapshots, or - for stdin")
    parser.add_argument("--out", type=Path, help="write the results here instead of stdout")
    parser.add_argument("--target", default="localhost:50051", help="host:port of the service (default localhost:50051)")
    parser.add_argument("--as-of", type=timestamp, help="the instant to decide every case for (default: the server clock)")
    parser.add_argument("--batch", action="store_true", help="use DecideBatch instead of DecideStream")
    parser.add_argument("--batch-size", type=batch_size, default=MAX_BATCH_CASES, help=f"cases per DecideBatch call (default and maximum {MAX_BATCH_CASES})")
    parser.add_argument("--timeout", type=float, help="deadline in seconds of the whole stream, or of each batch call (default: none for a stream, 30 per batch)")
    parser.add_argument("--tls-ca", type=Path, help="PEM CA certificate: call over TLS, verifying the server against it")
    return parser.parse_args(argv)


class Input:
    """Reads cases line by line; a line that is not a CaseSnapshot becomes a local error."""

    def __init__(self, stream: IO[str]):
        self._stream = stream

    def __iter__(self) -> Iterator[tuple[int, pb.CaseSnapshot | None, dict[str, Any] | None]]:
        """Yield (line number, case, None) or (line number, None, error record)."""
        for number, text in enumerate(self._stream, start=1):
            text = text.strip()
            if not text or text.startswith("#"):
                continue
            data: Any = None
            try:
                data = json.loads(text)
                if not isinstance(data, dict):
                    raise ValueError(f"expected a JSON object, got {type(data).__name__}")
                case = json_format.ParseDict(data, pb.CaseSnapshot())
            except (ValueError, json_format.ParseError) as error:  # JSONDecodeError is a ValueError
                case_id = str(data.get("case_id", data.get("caseId", ""))) if isinstance(data, dict) else ""
                yield number, None, {"case_id": case_id, "line": number, "error": f"line {number} is not a CaseSnapshot: {error}", "field_violations": []}
                continue
            yield number, case, None


def channel_name(number: int) -> str | None:
    """CHANNEL_SMS etc.; None for a decision that contacts nobody; the number for a channel newer than these stubs."""
    if number == pb.CHANNEL_UNSPECIFIED:
        return None
    return pb.Channel.Name(number) if number in pb.Channel.values() else str(number)


def record(result: pb.CaseResult, line: int | None) -> dict[str, Any]:
    """One output line for one CaseResult."""
    out: dict[str, Any] = {"case_id": result.case_id, "line": line}
    if result.WhichOneof("outcome") == "error":
        out["error"] = result.error.message
        out["field_violations"] = [{"field": v.field, "description": v.description} for v in result.error.field_violations]
        return out
    decision = result.decision
    window = decision.window if decision.HasField("window") else None
    out.update(
        action=decision.action,
        channel=channel_name(decision.channel),
        template=decision.template or None,
        window_start=window.start.ToJsonString() if window else None,
        window_end=window.end.ToJsonString() if window else None,
        window_local_start=window.local_start if window else None,
        window_local_end=window.local_end if window else None,
        time_zone=window.time_zone if window else None,
        reasons=[reason.code for reason in decision.reasons],
        next_review_at=decision.next_review_at.ToJsonString() if decision.HasField("next_review_at") else None,
    )
    return out


class Output:
    """Writes result lines (from any thread) and counts them for the summary."""

    def __init__(self, stream: IO[str]):
        self._stream = stream
        self._lock = threading.Lock()
        self.decided = 0
        self.errors = 0

    def write(self, item: dict[str, Any]) -> None:
        with self._lock:
            if "error" in item:
                self.errors += 1
            else:
                self.decided += 1
            self._stream.write(json.dumps(item, ensure_ascii=False) + "\n")


def run_stream(stub: Any, cases: Input, args: argparse.Namespace, output: Output) -> None:
    # The service answers a stream in request order, one response per request.
    # `pending` holds, in input order, the lines sent and not yet answered and
    # the local errors between them, so the output keeps the input's order and
    # each answer gets its input line. gRPC reads the request iterator in a
    # thread of its own; deque appends and pops are thread-safe.
    pending: collections.deque[tuple[int, str] | dict[str, Any]] = collections.deque()

    def requests() -> Iterator[pb.DecideStreamRequest]:
        for line, case, error in cases:
            if error is not None:
                pending.append(error)
                continue
            pending.append((line, case.case_id))
            request = pb.DecideStreamRequest(case=case)
            if args.as_of is not None:
                request.as_of.CopyFrom(args.as_of)
            yield request

    def flush_errors() -> None:
        while pending and isinstance(pending[0], dict):
            output.write(pending.popleft())  # type: ignore[arg-type]

    for response in stub.DecideStream(requests(), timeout=args.timeout):
        flush_errors()
        line, case_id = pending.popleft() if pending else (None, None)  # type: ignore[misc]
        output.write(record(response.result, line if case_id == response.result.case_id else None))
    flush_errors()


def run_batches(stub: Any, cases: Input, args: argparse.Namespace, output: Output) -> None:
    # Local errors wait in `held` with the chunk so that the output keeps the input's order.
    chunk: list[tuple[int, pb.CaseSnapshot]] = []
    held: list[tuple[int, dict[str, Any] | None]] = []  # per input line: its local error, or None for a case in chunk

    def send() -> None:
        results: collections.deque[dict[str, Any]] = collections.deque()
        if chunk:
            request = pb.DecideBatchRequest(cases=[case for _, case in chunk])
            if args.as_of is not None:
                request.as_of.CopyFrom(args.as_of)
            response = stub.DecideBatch(request, timeout=args.timeout or 30.0)
            results.extend(record(result, line) for (line, _), result in zip(chunk, response.results, strict=True))
        for _, error in held:
            output.write(error if error is not None else results.popleft())
        chunk.clear()
        held.clear()

    for line, case, error in cases:
        if error is not None:
            held.append((line, error))
            continue
        chunk.append((line, case))  # type: ignore[arg-type]
        held.append((line, None))
        if len(chunk) == args.batch_size:
            send()
    send()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        root_certificates = args.tls_ca.read_bytes() if args.tls_ca else None
        source = sys.stdin if args.cases == "-" else open(args.cases, encoding="utf-8")
        sink = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    output = Output(sink)
    channel = open_channel(args.target, root_certificates)
    started = time.perf_counter()
    failed = None
    with channel, source:
        stub = collection_strategy_pb2_grpc.CollectionStrategyServiceStub(channel)
        try:
            (run_batches if args.batch else run_stream)(stub, Input(source), args, output)
        except grpc.RpcError as error:
            failed = f"{error.code().name}: {error.details()}"  # type: ignore[attr-defined]
        except KeyboardInterrupt:
            failed = "interrupted"
    elapsed = time.perf_counter() - started
    sink.flush()
    if sink is not sys.stdout:
        sink.close()
    cases = output.decided + output.errors
    rate = output.decided / elapsed if elapsed > 0 else 0.0
    method = "DecideBatch" if args.batch else "DecideStream"
    print(f"{method}: {cases} cases, {output.decided} decided, {output.errors} errors in {elapsed:.2f} s ({rate:.0f} decisions/s)", file=sys.stderr)
    if failed:
        print(f"{method} failed: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
