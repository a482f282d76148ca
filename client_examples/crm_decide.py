"""A CRM-style client: ask the collection strategy service what to do next with one case.

The case comes from a JSON file (a CaseSnapshot in the proto's JSON form; both
`days_past_due` and `daysPastDue` spellings are accepted; a whole DecideRequest
such as cases/decide_request.json works too), from command-line flags, or from
both: flags override what the file says.

    python client_examples/crm_decide.py --case client_examples/cases/sample_case.json
    python client_examples/crm_decide.py --case-id C-1 --country PL --amount 1250.00 \\
        --currency PLN --days-past-due 12 --segment retail --consent sms,email \\
        --contact sms,2026-11-18T09:30:00Z,delivered --as-of 2026-11-23T09:00:00Z --explain

The decision is printed as JSON on stdout. Exit codes: 0 decided; 2 the case is
invalid (each google.rpc.BadRequest field violation is printed on stderr) or
the command line / case file is; 1 any other failure (server unreachable,
deadline exceeded, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# Run from anywhere: the generated stubs live at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc  # noqa: E402
from google.protobuf import json_format
from google.protobuf.message import Message  # noqa: E402
from google.rpc import error_details_pb2  # noqa: E402
from grpc_status import rpc_status  # noqa: E402

from collection_strategy.v1 import collection_strategy_pb2 as pb  # noqa: E402
from collection_strategy.v1 import collection_strategy_pb2_grpc  # noqa: E402
from client_examples.common import open_channel, timestamp  # noqa: E402

CHANNELS = ("sms", "email", "phone", "letter", "push")
OUTCOMES = ("delivered", "no_answer", "right_party_contact", "promise_to_pay", "refused", "failed")
CONSENTS = tuple(field.name for field in pb.Consents.DESCRIPTOR.fields)
LEGAL_FLAGS = tuple(field.name for field in pb.LegalFlags.DESCRIPTOR.fields)
GDPR_FLAGS = tuple(field.name for field in pb.GdprFlags.DESCRIPTOR.fields)
EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


class UsageError(Exception):
    """The command line or the case file is wrong; exit 2 like argparse does."""


def names(allowed: tuple[str, ...]):
    """An argparse type for a comma-separated list of names out of `allowed`."""

    def parse(text: str) -> list[str]:
        values = [part.strip() for part in text.split(",") if part.strip()]
        for value in values:
            if value not in allowed:
                raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(allowed)}")
        return values

    return parse


def channel_number(name: str) -> int:
    return pb.Channel.Value(f"CHANNEL_{name.upper()}")


def prior_contact(text: str) -> pb.PriorContact:
    """CHANNEL,AT[,OUTCOME], e.g. sms,2026-11-18T09:30:00Z,delivered."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) not in (2, 3) or parts[0] not in CHANNELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not CHANNEL,AT[,OUTCOME] with CHANNEL one of {', '.join(CHANNELS)}")
    outcome = parts[2] if len(parts) == 3 else "delivered"
    if outcome not in OUTCOMES:
        raise argparse.ArgumentTypeError(f"{outcome!r} is not one of {', '.join(OUTCOMES)}")
    return pb.PriorContact(
        channel=channel_number(parts[0]), at=timestamp(parts[1]), outcome=pb.ContactOutcome.Value(f"CONTACT_OUTCOME_{outcome.upper()}")
    )


def attribute(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Decide one debt-collection case with the collection strategy service.")
    call = parser.add_argument_group("call")
    call.add_argument("--target", default="localhost:50051", help="host:port of the service (default localhost:50051)")
    call.add_argument("--timeout", type=float, default=2.0, help="deadline of the call in seconds (default 2)")
    call.add_argument("--as-of", type=timestamp, help="the instant to decide for, e.g. 2026-11-23T09:00:00Z (default: the server clock)")
    call.add_argument("--explain", action="store_true", help="ask for the full trace (facts, rules considered, vetoes, window arithmetic)")
    call.add_argument("--tls-ca", type=Path, help="PEM CA certificate: call over TLS, verifying the server against it")

    case = parser.add_argument_group("case (flags override the --case file)")
    case.add_argument("--case", type=Path, help="a CaseSnapshot as JSON (proto JSON field names), or a whole DecideRequest")
    case.add_argument("--case-id")
    case.add_argument("--country", help="ISO 3166-1 alpha-2, e.g. PL")
    case.add_argument("--region", help="ISO 3166-2 subdivision without the country prefix, e.g. 14")
    case.add_argument("--time-zone", help="IANA zone, e.g. Europe/Warsaw (default: derived from the country)")
    case.add_argument("--amount", dest="amount_due", help="amount due as a decimal string, e.g. 1250.00")
    case.add_argument("--currency", help="ISO 4217, e.g. PLN")
    case.add_argument("--days-past-due", type=int, help="negative before the due date")
    case.add_argument("--segment", help="e.g. retail, premium, business, student")
    case.add_argument("--product", help="e.g. consumer-loan")
    case.add_argument("--language", help="language of the reasons: en or pl")
    case.add_argument("--preferred-channel", choices=CHANNELS)
    case.add_argument("--consent", type=names(CONSENTS), action="extend", default=[], help=f"consents given, comma-separated: {', '.join(CONSENTS)}")
    case.add_argument("--legal", type=names(LEGAL_FLAGS), action="extend", default=[], help=f"legal flags set: {', '.join(LEGAL_FLAGS)}")
    case.add_argument("--gdpr", type=names(GDPR_FLAGS), action="extend", default=[], help=f"GDPR requests made: {', '.join(GDPR_FLAGS)}")
    case.add_argument("--broken-promises", type=int)
    case.add_argument("--last-payment-at", type=timestamp, help="instant of the last payment")
    case.add_argument("--promise-to-pay-date", help="YYYY-MM-DD, debtor's local calendar")
    case.add_argument("--contact", type=prior_contact, action="append", default=[], help="a prior contact CHANNEL,AT[,OUTCOME]; repeat for more")
    case.add_argument("--attribute", type=attribute, action="append", default=[], help="KEY=VALUE for rules' attributes.<key>; repeat for more")
    return parser.parse_args(argv)


def load_request(path: Path) -> pb.DecideRequest:
    """The file as a DecideRequest: a CaseSnapshot, or a whole DecideRequest ({"case": ..., "as_of": ...})."""
    return read_request(path, pb.DecideRequest, "case", pb.CaseSnapshot)  # type: ignore[return-value]


def read_request(path: Path, request_type: type[Message], field: str, inner_type: type[Message]) -> Message:
    """A JSON file holding either the whole request, or only its `field` (the case, the debtor)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} holds a JSON {type(data).__name__}, not an object")
    whole_request = isinstance(data.get(field), dict)
    try:
        if whole_request:
            return json_format.ParseDict(data, request_type())
        return request_type(**{field: json_format.ParseDict(data, inner_type())})
    except json_format.ParseError as error:
        expected = request_type.DESCRIPTOR.name if whole_request else inner_type.DESCRIPTOR.name
        raise UsageError(f"{path} is not a {expected}: {error}") from None


def build_request(args: argparse.Namespace) -> pb.DecideRequest:
    request = load_request(args.case) if args.case else pb.DecideRequest(case=pb.CaseSnapshot())
    if args.as_of is not None:
        request.as_of.CopyFrom(args.as_of)
    if args.explain:
        request.explain = True
    case = request.case
    for field in ("case_id", "country", "region", "time_zone", "amount_due", "currency", "days_past_due", "segment", "product", "language"):
        value = getattr(args, field)
        if value is not None:
            setattr(case, field, value)
    if args.preferred_channel:
        case.preferred_channel = channel_number(args.preferred_channel)
    for name in args.consent:
        setattr(case.consents, name, True)
    for name in args.legal:
        setattr(case.legal, name, True)
    for name in args.gdpr:
        setattr(case.gdpr, name, True)
    if args.broken_promises is not None:
        case.payment.broken_promises = args.broken_promises
    if args.last_payment_at is not None:
        case.payment.last_payment_at.CopyFrom(args.last_payment_at)
    if args.promise_to_pay_date is not None:
        case.payment.promise_to_pay_date = args.promise_to_pay_date
    case.prior_contacts.extend(args.contact)
    for key, value in args.attribute:
        case.attributes[key] = value
    return request


def channel_to(target: str, tls_ca: Path | None) -> grpc.Channel:
    if tls_ca:
        try:
            root_certificates = tls_ca.read_bytes()
        except OSError as error:
            raise UsageError(f"cannot read {tls_ca}: {error}") from None
        return open_channel(target, root_certificates)
    return open_channel(target, None)


def field_violations(error: grpc.RpcError) -> list[error_details_pb2.BadRequest.FieldViolation]:
    """The google.rpc.BadRequest field violations in the call's rich status, if any."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    violations = []
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations.extend(bad_request.field_violations)
    return violations


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        request = build_request(args)
        channel = channel_to(args.target, args.tls_ca)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    with channel:
        stub = collection_strategy_pb2_grpc.CollectionStrategyServiceStub(channel)
        try:
            response = stub.Decide(request, timeout=args.timeout)
        except grpc.RpcError as error:
            code = error.code()  # type: ignore[attr-defined]
            print(f"{code.name}: {error.details()}", file=sys.stderr)  # type: ignore[attr-defined]
            if code is grpc.StatusCode.INVALID_ARGUMENT:
                for violation in field_violations(error):
                    print(f"  {violation.field}: {violation.description}", file=sys.stderr)
                return EXIT_INVALID
            return EXIT_FAILED
    print(json_format.MessageToJson(response.decision, preserving_proto_field_name=True, indent=2, ensure_ascii=False))
    return EXIT_OK


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
