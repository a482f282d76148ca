"""A CRM-style client for a person with several accounts: one DecideDebtor call.

The debtor comes from a JSON file: a Debtor in the proto's JSON form (the
person's country, consents, flags and contacts once, then `accounts`, each
with its own amount, days past due, flags and contacts), or a whole
DecideDebtorRequest. The service answers with one contact for the person (the
accounts it covers, the channel and the window), what to do on each account,
and the offers summed per currency.

    python client_examples/crm_debtor.py --debtor client_examples/cases/sample_debtor.json
    python client_examples/crm_debtor.py --debtor client_examples/cases/sample_debtor.json --brief

The DebtorDecision is printed as JSON on stdout (--brief: a few lines for an
agent instead). Exit codes: 0 decided; 2 the debtor is invalid (each
google.rpc.BadRequest field violation is printed on stderr) or the command
line / debtor file is; 1 any other failure (server unreachable, deadline
exceeded, ...).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Run from anywhere: the generated stubs live at the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402

from collection_strategy.v1 import collection_strategy_pb2 as pb  # noqa: E402
from collection_strategy.v1 import collection_strategy_pb2_grpc  # noqa: E402
from client_examples.common import timestamp  # noqa: E402
from client_examples.crm_decide import EXIT_FAILED, EXIT_INVALID, EXIT_OK, UsageError, channel_to, field_violations, read_request  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Decide the next contact with a person who has several accounts (DecideDebtor).")
    parser.add_argument("--debtor", type=Path, required=True, help="a Debtor as JSON (proto JSON field names), or a whole DecideDebtorRequest")
    parser.add_argument("--target", default="localhost:50051", help="host:port of the service (default localhost:50051)")
    parser.add_argument("--timeout", type=float, default=2.0, help="deadline of the call in seconds (default 2)")
    parser.add_argument("--as-of", type=timestamp, help="the instant to decide for, e.g. 2026-11-24T09:00:00Z (default: the server clock)")
    parser.add_argument("--explain", action="store_true", help="ask for the trace: the person's (ranking, flags) and each account's")
    parser.add_argument("--brief", action="store_true", help="print a few lines for an agent instead of the JSON")
    parser.add_argument("--tls-ca", type=Path, help="PEM CA certificate: call over TLS, verifying the server against it")
    return parser.parse_args(argv)


def load_request(path: Path) -> pb.DecideDebtorRequest:
    """The file as a DecideDebtorRequest: a Debtor, or a whole request ({"debtor": ..., "as_of": ...})."""
    return read_request(path, pb.DecideDebtorRequest, "debtor", pb.Debtor)  # type: ignore[return-value]


def brief(decision: pb.DebtorDecision) -> str:
    """The contact, then one line per account in the policy's order, then the offers."""
    if decision.channel == pb.CHANNEL_UNSPECIFIED:
        lines = [f"{decision.debtor_id}: no contact now ({'; '.join(reason.code for reason in decision.reasons)})"]
    else:
        channel, window = pb.Channel.Name(decision.channel).removeprefix("CHANNEL_").lower(), decision.window
        lines = [f"{decision.debtor_id}: {decision.action} by {channel}, {window.local_start} to {window.local_end}, about {', '.join(decision.account_ids)}"]
    for account in decision.accounts:
        covered = "in this contact" if account.case_id in decision.account_ids else "not in this contact"
        lines.append(f"  {account.case_id}: {account.action}, {covered} ({account.reasons[0].code if account.reasons else 'no reason'})")
    for offer in decision.offers:
        lines.append(f"  offer: {offer.total_due} {offer.currency} on {', '.join(offer.allocation)} ({offer.allocation_rule}): {terms(offer.bounds)}")
    return "\n".join(lines)


def terms(bounds: pb.OfferBounds) -> str:
    """What may be offered, as an agent reads it; an empty bound is not offered."""
    parts = []
    if bounds.instalments_max:
        parts.append(f"{bounds.instalments_min}-{bounds.instalments_max} instalments of at least {bounds.min_instalment or 'any amount'}")
    if bounds.discount_pct_max:
        parts.append(f"a discount of {bounds.discount_pct_min}-{bounds.discount_pct_max}%")
    if bounds.settlement_floor:
        parts.append(f"settled for no less than {bounds.settlement_floor}")
    return ", ".join(parts) or "no terms in common"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        request = load_request(args.debtor)
        channel = channel_to(args.target, args.tls_ca)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    if args.as_of is not None:
        request.as_of.CopyFrom(args.as_of)
    if args.explain:
        request.explain = True
    with channel:
        stub = collection_strategy_pb2_grpc.CollectionStrategyServiceStub(channel)
        try:
            response = stub.DecideDebtor(request, timeout=args.timeout)
        except grpc.RpcError as error:
            code = error.code()
            print(f"{code.name}: {error.details()}", file=sys.stderr)
            if code is grpc.StatusCode.INVALID_ARGUMENT:
                for violation in field_violations(error):
                    print(f"  {violation.field}: {violation.description}", file=sys.stderr)
                return EXIT_INVALID
            return EXIT_FAILED
    if args.brief:
        print(brief(response.decision))
    else:
        print(json_format.MessageToJson(response.decision, preserving_proto_field_name=True, indent=2, ensure_ascii=False))
    return EXIT_OK


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
