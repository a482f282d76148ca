"""The decision log: records, masking, sinks that never block a decision, and replay."""

from __future__ import annotations

import gzip
import io
import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.authoring import cli
from engine.authoring.portfolio import synthetic_portfolio
from engine.authoring.portfolio_debtors import synthetic_debtors
from engine.debtor import decide_debtor
from engine.debtor_snapshot import parse_debtor
from engine.authoring.replay import replay
from engine.bulk import decide_one
from engine.decision_record import keep_paths, new_decision_id, record
from engine.registry import build_engine
from transport import decision_log
from transport.decision_log import DecisionLog, FileSink, HttpSink, StreamSink, sink_from

REPO = Path(__file__).resolve().parent.parent
AS_OF = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def engine():
    return build_engine(REPO / "rules")


def decided(engine, count: int, seed: int = 7):
    return [decide_one(engine, case, AS_OF) for case in synthetic_portfolio(count, AS_OF, seed)]


def logged(engine, pairs, keep=None) -> list[str]:
    stream = io.StringIO()
    log = DecisionLog(StreamSink(stream), keep=keep)
    for snapshot, decision in pairs:
        log.add(new_decision_id(), "Decide", snapshot, decision)
    log.close()
    return stream.getvalue().splitlines()


def test_decision_ids_are_unique_and_sorted_by_time():
    ids = [new_decision_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_a_record_names_the_policy_the_data_versions_and_the_decision(engine):
    (snapshot, decision), = decided(engine, 1)
    made = json.loads(record("id-1", "Decide", snapshot, decision, None))
    assert made["policy"] == {"name": decision.policy.name, "version": decision.policy.version, "hash": decision.policy.hash}
    assert set(made["data_versions"]) == {"holidays", "tzdata"}
    assert made["decision"]["action"] == decision.action and made["kind"] == "case"
    assert made["as_of"] == "2026-12-01T10:00:00Z"
    assert made["snapshot"]["case_id"] == snapshot.case_id and made["snapshot_masked"] is False


def test_masking_keeps_only_the_listed_paths_and_names_what_it_left_out(engine):
    case = {"case_id": "c-1", "country": "PL", "time_zone": "Europe/Warsaw", "amount_due": "10.00", "currency": "PLN", "days_past_due": 3,
            "segment": "retail", "attributes": {"employer": "Acme"}, "legal": {"dispute": True},
            "prior_contacts": [{"channel": "sms", "at": "2026-11-30T10:00:00Z", "outcome": "delivered"}]}
    snapshot, decision = decide_one(engine, case, AS_OF)
    made = json.loads(record("id-1", "Decide", snapshot, decision, keep_paths(["case_id", "country", "legal.*", "prior_contacts.*.channel"])))
    assert made["snapshot_masked"] is True
    assert made["snapshot"] == {"case_id": "c-1", "country": "PL", "legal": {"dispute": True}, "prior_contacts": [{"channel": "sms"}],
                                "masked": ["amount_due", "attributes", "currency", "days_past_due", "segment", "time_zone"]}


def test_the_default_log_holds_no_time_zone_attribute_or_contact(engine):
    pairs = [pair for pair in decided(engine, 300) if pair[0].prior_contacts and pair[0].attributes]
    assert pairs, "the portfolio has cases with contacts and attributes"
    for line in logged(engine, pairs, keep=decision_log.DEFAULT_KEEP):
        made = json.loads(line)
        snapshot = made["snapshot"]
        assert made["snapshot_masked"] is True
        assert {"attributes", "prior_contacts"} <= set(snapshot["masked"])
        assert not {"attributes", "prior_contacts", "time_zone", "preferred_hours", "region"} & set(snapshot)
        assert isinstance(snapshot["days_past_due"], int) and snapshot["country"]


def test_replay_of_thousands_of_logged_decisions_is_identical(engine, tmp_path):
    log_file = tmp_path / "decisions.jsonl"
    log_file.write_text("\n".join(logged(engine, decided(engine, 2000))) + "\n", encoding="utf-8")
    result = replay(log_file, REPO / "rules")
    assert (result.identical, result.different, result.changed, result.not_replayable) == (2000, 0, 0, [])


def test_replay_of_logged_debtor_decisions_is_identical(engine, tmp_path):
    debtors = [parse_debtor(data, AS_OF) for data in synthetic_debtors(150, AS_OF)]
    pairs = [(debtor, decide_debtor(engine, debtor, AS_OF)) for debtor in debtors]
    lines = logged(engine, pairs)
    assert {json.loads(line)["kind"] for line in lines} == {"debtor"}
    log_file = tmp_path / "debtors.jsonl"
    log_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = replay(log_file, REPO / "rules")
    assert (result.identical, result.different, result.not_replayable) == (150, 0, [])


def test_replay_reports_a_changed_decision_and_masked_records(engine, tmp_path, capsys):
    lines = logged(engine, decided(engine, 3))
    tampered = json.loads(lines[0])
    tampered["decision"]["action"] = "LEGAL_REVIEW"  # as if the policy of that hash had decided otherwise
    masked_line = logged(engine, decided(engine, 1), keep=decision_log.DEFAULT_KEEP)[0]
    log_file = tmp_path / "log.jsonl"
    log_file.write_text("\n".join([json.dumps(tampered), *lines[1:], masked_line, "not json"]) + "\n", encoding="utf-8")
    assert cli.main(["replay", str(log_file), "--rules", str(REPO / "rules")]) == 1
    out = capsys.readouterr().out
    assert "identical: 2; different under the same policy: 1" in out and "not replayable: 2" in out
    assert "action 'LEGAL_REVIEW' ->" in out and "replay needs whole snapshots" in out


def test_replay_compares_only_the_columns_an_older_record_has(engine, tmp_path):
    lines = [json.loads(line) for line in logged(engine, decided(engine, 400))]
    reviews = [made for made in lines if made["decision"]["work_queue"]]
    assert reviews, "the portfolio has review decisions with a work queue"
    for made in lines:  # as an engine before work queues and these columns wrote it
        for name in ("work_queue", "work_priority", "work_due_utc", "segment", "days_past_due"):
            made["decision"].pop(name)
    log_file = tmp_path / "older.jsonl"
    log_file.write_text("\n".join(json.dumps(made) for made in lines) + "\n", encoding="utf-8")
    result = replay(log_file, REPO / "rules")
    assert (result.identical, result.different) == (400, 0)


class _Stuck:
    """A sink that hangs until released: the log must drop, never wait."""

    def __init__(self):
        self.release = threading.Event()

    def write(self, lines):
        self.release.wait(10)


def test_a_stuck_sink_drops_and_counts_instead_of_blocking(engine):
    pairs = decided(engine, 1)
    sink = _Stuck()
    log = DecisionLog(sink, capacity=10)
    before = log.dropped._value.get()
    for _ in range(100):
        log.add(new_decision_id(), "Decide", *pairs[0])  # returns at once although nothing is written
    assert log.dropped._value.get() - before >= 100 - 10 - 10  # the queue holds 10; the writer took at most a batch, then hung
    sink.release.set()
    log.close()


def test_a_failing_sink_is_counted_and_the_log_goes_on(engine):
    class Broken:
        def write(self, lines):
            raise OSError("disk gone")

    log = DecisionLog(Broken())
    before = log.failed._value.get()
    pairs = decided(engine, 5)
    for snapshot, decision in pairs:
        log.add(new_decision_id(), "Decide", snapshot, decision)
    log.close()
    assert log.failed._value.get() - before == 5
    assert log.writer.is_alive() is False


def test_the_file_sink_writes_one_file_per_process(engine, tmp_path):
    sink = FileSink(tmp_path / "decisions.jsonl")
    log = DecisionLog(sink)
    for snapshot, decision in decided(engine, 4):
        log.add(new_decision_id(), "Decide", snapshot, decision)
    log.close()
    assert sink.path.parent == tmp_path and str(sink.path.name).startswith("decisions-")
    assert len(sink.path.read_text(encoding="utf-8").splitlines()) == 4


def test_a_file_sink_checked_but_never_written_leaves_no_empty_file(tmp_path):
    """The supervisor checks --decision-log as every worker does; only the workers write."""
    sink_from(f"file:{tmp_path / 'decisions.jsonl'}")
    assert list(tmp_path.iterdir()) == []


def test_the_http_sink_posts_gzip_batches_and_retries_a_busy_server(engine):
    received: list[list[dict]] = []
    answers = [503, 200, 200]

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = answers.pop(0) if answers else 200
            if status == 200:
                assert self.headers["Content-Encoding"] == "gzip"
                received.append(json.loads(gzip.decompress(body)))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        log = DecisionLog(HttpSink(f"http://127.0.0.1:{server.server_port}/logs", backoff=0.01))
        for snapshot, decision in decided(engine, 7):
            log.add(new_decision_id(), "Decide", snapshot, decision)
        log.close()
    finally:
        server.shutdown()
    records = [record for batch in received for record in batch]
    assert len(records) == 7 and len({record["decision_id"] for record in records}) == 7


def test_a_sink_spec_that_names_nothing_known_is_refused():
    assert isinstance(sink_from("stdout"), StreamSink)
    with pytest.raises(ValueError, match="--decision-log must be"):
        sink_from("syslog")


def test_every_method_answers_with_ids_and_logs_each_decision(tmp_path):
    """Decide, DecideBatch, DecideStream and DecideDebtor through a real server with a file log:
    each decision has its own id, and the log holds exactly those ids, with the method."""
    import grpc
    from google.protobuf import json_format

    from collection_strategy.v1 import collection_strategy_pb2 as pb
    from collection_strategy.v1 import collection_strategy_pb2_grpc as pb_grpc
    from transport.grpc_server import ServerConfig, start_server

    examples = REPO / "client_examples" / "cases"
    case = json_format.ParseDict(json.loads((examples / "sample_case.json").read_text(encoding="utf-8")), pb.CaseSnapshot())
    debtor = json_format.ParseDict(json.loads((examples / "sample_debtor.json").read_text(encoding="utf-8")), pb.Debtor())
    log_path = tmp_path / "decisions.jsonl"
    running = start_server(ServerConfig(port=0, rules_dir=REPO / "rules", reuse_port=False, reload_seconds=0, decision_log=f"file:{log_path}",
                                        decision_log_keep=("case_id",)))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            stub = pb_grpc.CollectionStrategyServiceStub(channel)
            ids = {"Decide": [stub.Decide(pb.DecideRequest(case=case)).decision.decision_id]}
            ids["DecideBatch"] = [result.decision.decision_id for result in stub.DecideBatch(pb.DecideBatchRequest(cases=[case, case])).results]
            ids["DecideStream"] = [answer.result.decision.decision_id for answer in stub.DecideStream(iter([pb.DecideStreamRequest(case=case)] * 3))]
            person = stub.DecideDebtor(pb.DecideDebtorRequest(debtor=debtor)).decision
            ids["DecideDebtor"] = [person.decision_id]
    finally:
        running.stop(0)
    every = [decision_id for found in ids.values() for decision_id in found]
    assert all(every) and len(set(every)) == len(every) == 7
    assert all(account.decision_id for account in person.accounts)
    records = [json.loads(line) for path in tmp_path.glob("decisions-*.jsonl") for line in path.read_text(encoding="utf-8").splitlines()]
    assert {method: sorted(r["decision_id"] for r in records if r["method"] == method) for method in ids} == {m: sorted(found) for m, found in ids.items()}
    debtor_record = next(r for r in records if r["method"] == "DecideDebtor")
    assert debtor_record["kind"] == "debtor" and len(debtor_record["decision"]["accounts"]) == len(person.accounts)
    assert all(r["snapshot_masked"] and set(r["snapshot"]) == {"case_id", "masked"} for r in records if r["kind"] == "case")


def test_time_zone_rules_come_from_the_pinned_tzdata_package():
    """The data versions a record names are the data the windows were computed with:
    no zone is read from the machine's /usr/share/zoneinfo."""
    import zoneinfo

    import engine  # noqa: F401 (sets the path)

    assert zoneinfo.TZPATH == ()
    assert str(zoneinfo.ZoneInfo("Europe/Warsaw")) == "Europe/Warsaw"  # found in the package
