"""Map a Debtor message to the plain data engine.debtor_snapshot.parse_debtor takes,
and a DebtorDecision back to protobuf.

A person's parts and each account's parts are read with the case's helpers
(transport.mapping), so an enum, an instant or a flag means the same in Decide
and DecideDebtor. Nothing is dropped on the way: a field an account may not
carry (a Breathing Space date, a contact naming accounts) reaches validation,
which refuses it by name.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from collection_strategy.v1 import collection_strategy_pb2 as pb
from engine.debtor import ConsolidatedOffer, DebtorDecision
from engine.debtor_snapshot import MAX_DEBTOR_CONTACTS
from engine.errors import FieldProblem
from engine.snapshot import MAX_ACCOUNTS, MAX_ARRANGEMENTS, MAX_INSTALMENTS, MAX_PAYMENTS
from transport.mapping import (
    arrangement_data,
    arrangements_from_data,
    channel_name,
    channel_to_proto,
    contact_data,
    contacts_from_data,
    decision_to_proto,
    flags_data,
    inputs_data,
    inputs_to_json,
    hours_data,
    offer_bounds_to_proto,
    payment_data,
    policy_to_proto,
    reasons_to_proto,
    timestamp,
    trace_to_proto,
    window_to_proto,
)


def debtor_weight(debtor: pb.Debtor) -> int:
    """A debtor's share of a batch's limit and work: its accounts, at least one (one with none is still answered)."""
    return max(1, len(debtor.accounts))


def oversized(debtor: pb.Debtor) -> list[FieldProblem]:
    """The lists longer than validation would take, counted before anything is read:
    reading is what costs (about 15 µs a contact), so a message of 16 MiB of contacts
    is refused at once rather than read for seconds and then refused."""
    problems = []
    if len(debtor.accounts) > MAX_ACCOUNTS:
        problems.append(FieldProblem("accounts", f"has {len(debtor.accounts)} accounts; at most {MAX_ACCOUNTS} per debtor"))
    total = len(debtor.contacts) + sum(len(account.prior_contacts) for account in debtor.accounts)
    if total > MAX_DEBTOR_CONTACTS:
        problems.append(FieldProblem("contacts", f"the debtor and the accounts list {total} contacts; at most {MAX_DEBTOR_CONTACTS} in all"))
    for index, account in enumerate(debtor.accounts):
        if len(account.arrangements) > MAX_ARRANGEMENTS:
            problems.append(FieldProblem(f"accounts[{index}].arrangements", f"has {len(account.arrangements)}; at most {MAX_ARRANGEMENTS}"))
            continue
        for number, arrangement in enumerate(account.arrangements):
            for name, most in (("schedule", MAX_INSTALMENTS), ("payments", MAX_PAYMENTS)):
                if len(getattr(arrangement, name)) > most:
                    problems.append(FieldProblem(f"accounts[{index}].arrangements[{number}].{name}", f"has {len(getattr(arrangement, name))}; at most {most}"))
    return problems


def debtor_data(debtor: pb.Debtor) -> dict[str, Any]:
    """The debtor as plain data for engine.debtor_snapshot.parse_debtor; unset enums
    become None and proto3's empty strings for optional fields None, as for a case."""
    return {
        "debtor_id": debtor.debtor_id,
        "country": debtor.country,
        "region": debtor.region or None,
        "time_zone": debtor.time_zone or None,
        "language": debtor.language or "en",
        "consents": flags_data(debtor.consents),
        "gdpr": flags_data(debtor.gdpr),
        "legal": flags_data(debtor.legal),
        "preferred_channel": channel_name(debtor.preferred_channel),
        "preferred_hours": hours_data(debtor),
        "third_party_collector": debtor.third_party_collector,
        "attributes": dict(debtor.attributes),
        "inputs": inputs_data(debtor.inputs),
        "contacts": [contact_data(contact) for contact in debtor.contacts],
        "accounts": [account_data(account) for account in debtor.accounts],
    }


def account_data(account: pb.Account) -> dict[str, Any]:
    return {
        "account_id": account.account_id,
        "debtor_id": account.debtor_id or None,
        "country": account.country or None,
        "amount_due": account.amount_due,
        "currency": account.currency,
        "days_past_due": account.days_past_due,
        "segment": account.segment,
        "product": account.product or None,
        "legal": flags_data(account.legal),  # with a breathing_space_start, which is the person's: refused by name
        "gdpr": flags_data(account.gdpr),
        "payment": payment_data(account.payment),
        "prior_contacts": [contact_data(contact) for contact in account.prior_contacts],
        "arrangements": [arrangement_data(arrangement) for arrangement in account.arrangements],
        "attributes": dict(account.attributes),
        "inputs": inputs_data(account.inputs),
    }


def debtor_decision_to_proto(decision: DebtorDecision) -> pb.DebtorDecision:
    message = pb.DebtorDecision(
        debtor_id=decision.debtor_id,
        action=decision.action,
        channel=channel_to_proto(decision.channel),
        template=decision.template or "",
        account_ids=decision.account_ids,
        reasons=reasons_to_proto(decision.reasons),
        required_disclosures=reasons_to_proto(decision.required_disclosures),
        window_constraints=reasons_to_proto(decision.window_constraints),
        accounts=[decision_to_proto(account) for account in decision.accounts],
        offers=[offer_to_proto(offer) for offer in decision.offers],
        policy=policy_to_proto(decision.policy),
        as_of=timestamp(decision.as_of),
        next_review_at=timestamp(decision.next_review_at),
        data_warnings=reasons_to_proto(decision.data_warnings),
    )
    if decision.window:
        message.window.CopyFrom(window_to_proto(decision.window))
    if decision.trace is not None:
        message.trace.CopyFrom(trace_to_proto(decision.trace))
    return message


def offer_to_proto(offer: ConsolidatedOffer) -> pb.ConsolidatedOffer:
    return pb.ConsolidatedOffer(
        currency=offer.currency,
        allocation=offer.allocation,
        allocation_rule=offer.allocation_rule,
        total_due=str(offer.total_due),
        bounds=offer_bounds_to_proto(offer.bounds),
    )


def debtor_from_data(data: dict[str, Any]) -> pb.Debtor:
    """A Debtor message from the engine's plain form (channel "sms", outcome "delivered")."""
    message = dict(data)
    if message.get("preferred_channel"):
        message["preferred_channel"] = f"CHANNEL_{message['preferred_channel'].upper()}"
    message["contacts"] = contacts_from_data(data.get("contacts", []))
    message["inputs"] = inputs_to_json(data.get("inputs", {}))
    message["accounts"] = [
        {
            **account,
            "prior_contacts": contacts_from_data(account.get("prior_contacts", [])),
            "arrangements": arrangements_from_data(account.get("arrangements", [])),
            "inputs": inputs_to_json(account.get("inputs", {})),
        }
        for account in data.get("accounts", [])
    ]
    return json_format.ParseDict(message, pb.Debtor())
