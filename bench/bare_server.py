"""The baseline for gRPC benchmarks: the same service, answering constants.

Same worker processes, threads, port sharing and message options as server.py,
so the difference to the real server is the engine and its mapping alone.
Usage: python bench/bare_server.py PORT WORKERS
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from concurrent import futures
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc  # noqa: E402

from collection_strategy.v1 import collection_strategy_pb2 as pb  # noqa: E402
from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc  # noqa: E402
from transport.grpc_server import MAX_MESSAGE_BYTES  # noqa: E402

DECISION = pb.Decision(
    case_id="constant", action="SEND_REMINDER", channel=pb.CHANNEL_SMS, template="friendly-reminder",
    reasons=[pb.Reason(code="early-soft-reminder", text="A friendly reminder: most late payers simply forgot.")],
    fired_rules=["early-soft-reminder"], policy=pb.PolicyRef(name="default-strategy", version="2026.11.1", hash="0123456789abcdef"),
)
DECISION.window.time_zone = "Europe/Warsaw"
DECISION.window.local_start = "2026-11-24T10:00:00+01:00"
DECISION.window.local_end = "2026-11-24T20:00:00+01:00"


class BareServicer(pb_grpc.CollectionStrategyServiceServicer):
    def Decide(self, request, context):  # noqa: N802
        return pb.DecideResponse(decision=DECISION)

    def DecideBatch(self, request, context):  # noqa: N802
        return pb.DecideBatchResponse(results=[pb.CaseResult(case_id=case.case_id, decision=DECISION) for case in request.cases])

    def DecideStream(self, request_iterator, context):  # noqa: N802
        for request in request_iterator:
            yield pb.DecideStreamResponse(result=pb.CaseResult(case_id=request.case.case_id, decision=DECISION))


def serve(port: int, threads: int = 8) -> None:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads),
        options=[("grpc.so_reuseport", 1), ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES), ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)],
    )
    pb_grpc.add_CollectionStrategyServiceServicer_to_server(BareServicer(), server)
    server.add_insecure_port(f"[::]:{port}")
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()


if __name__ == "__main__":
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=serve, args=(port,)) for _ in range(workers)]
    for process in processes:
        process.start()
    signal.signal(signal.SIGTERM, lambda *_: [p.terminate() for p in processes])
    for process in processes:
        process.join()
