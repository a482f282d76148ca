"""Synthetic debtors: persons with one or more accounts, in the DecideDebtor data form.

Deterministic for a seed, valid for parse_debtor at the `as_of` drawn for, and
drawn like the cases of engine/authoring/portfolio.py, with what only a person has:

- Accounts per person: 1 for 55%, 2 for 20%, 3 for 11%, 4 for 5%, 5 for 3%,
  6 for 2%, then 1.5%, 1%, 0.8% and 0.7% for 7 to 10 (2.1 on average).
- The person's data is given once: country, zone, language, consents, preferred
  channel, segment, branch; so is their contact data (an address that bounces
  bounces for every account). Accounts have their own amount, days past due,
  product, arrangements and contact history (the ladder of each product).
- A person in arrears on one product is often behind on the others: 60% of the
  further accounts are within 30 days past due of the first one's; the rest are
  drawn afresh.
- 10% of the US persons live in Massachusetts (region MA), whose pack caps
  calls and texts together at 2 in 7 days.
- One currency for all of a person's accounts, but 5% of the persons with two
  or more accounts hold one account in another currency (EUR; USD for a
  person living in the euro area).
- Person flags (vulnerable, bankruptcy, deceased, cease and desist, attorney,
  GDPR requests) at the case shares, half of them recorded on one account only,
  as that product's system had them (the packs say whether they hold the
  person); disputes and hardship are recorded on their account.
- Contacts that span accounts: of a multi-account person's ladder contacts
  (reminders, calls, plan and settlement offers), 30% are recorded once for the
  person with `account_ids` naming the account and one or more of the others;
  half of the debtor's own contacts are recorded for the person, about all the
  accounts (empty `account_ids`) or, for a promise, about its account.
"""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterator

from engine.authoring.portfolio import CHANNELS, COUNTRIES, DPD_BUCKETS, FLAGS, PRODUCTS, SEGMENTS, THIRD_PARTY_SHARE, Reach, add_history, draw_consents, pick
from engine.authoring.portfolio_contacts import BAD_CONTACT_DATA
from engine.snapshot import currency_exponent
from engine.vocabulary import Action, Direction, Outcome

ACCOUNTS_PER_PERSON = [(1, 55), (2, 20), (3, 11), (4, 5), (5, 3), (6, 2), (7, 1.5), (8, 1), (9, 0.8), (10, 0.7)]
SECOND_CURRENCY_SHARE = 0.05  # of the persons with two or more accounts
SECOND_CURRENCY = {"PLN": "EUR", "GBP": "EUR", "USD": "EUR", "EUR": "USD"}
MASSACHUSETTS_SHARE = 0.1  # of US persons: a state with a stricter cap on calls and texts
NEAR_FIRST_SHARE = 0.6  # further accounts whose arrears are close to the first account's
NEAR_DAYS = 30
ACCOUNT_FLAGS = ("legal.dispute", "legal.hardship")  # recorded on their account
ON_ONE_ACCOUNT_SHARE = 0.5  # person flags recorded on one account only
SPANNING_SHARE = 0.3  # ladder contacts of a multi-account person recorded once, about several accounts
PERSON_INBOUND_SHARE = 0.5  # the debtor's own contacts recorded for the person
# Contacts that may be about several accounts: the ladder's steps, not an arrangement's.
SPANNING_ACTIONS = frozenset({Action.SEND_REMINDER.value, Action.CALL.value, Action.OFFER_PAYMENT_PLAN.value, Action.OFFER_SETTLEMENT.value, None})
ARRANGEMENT_TEMPLATES = frozenset({"arrangement-confirmation", "instalment-due-soon", "missed-instalment-replan"})


def synthetic_debtor(rng: random.Random, index: int, as_of: datetime) -> dict[str, Any]:
    """One person and their accounts, as a DecideDebtor request carries them."""
    country, zone, currency, _ = pick(rng, COUNTRIES)
    consents = draw_consents(rng)
    debtor: dict[str, Any] = {
        "debtor_id": f"debtor-{index:08d}",
        "country": country,
        "language": "pl" if country == "PL" and rng.random() < 0.7 else "en",
        "consents": consents,
        "gdpr": {},
        "legal": {},
    }
    if zone:
        debtor["time_zone"] = zone
    if country == "US" and rng.random() < MASSACHUSETTS_SHARE:
        debtor["region"] = "MA"
    if rng.random() < 0.5:
        debtor["preferred_channel"] = rng.choice(CHANNELS)
    third_party = country == "US" and rng.random() < THIRD_PARTY_SHARE
    if third_party:
        debtor["third_party_collector"] = True
    if rng.random() < 0.3:
        debtor["attributes"] = {"branch": rng.choice(["north", "south", "online"])}
    bad = frozenset(channel for channel, share in BAD_CONTACT_DATA.items() if rng.random() < share)
    reach = Reach(country, zone, consents, debtor.get("preferred_channel"), third_party, bad)
    segment = pick(rng, SEGMENTS)[0]
    count = pick(rng, ACCOUNTS_PER_PERSON)[0]
    currencies = [currency] * count
    if count > 1 and rng.random() < SECOND_CURRENCY_SHARE:
        currencies[-1] = SECOND_CURRENCY[currency]
    accounts: list[dict[str, Any]] = []
    for number, account_currency in enumerate(currencies, start=1):
        first = accounts[0]["days_past_due"] if accounts else None
        accounts.append(_account(rng, f"acct-{index:08d}-{number}", as_of, reach, segment, account_currency, first))
    _person_flags(rng, debtor, accounts)
    debtor["contacts"] = _spanning(rng, accounts) if count > 1 else []
    debtor["accounts"] = accounts
    return debtor


def _account(rng: random.Random, account_id: str, as_of: datetime, reach: Reach, segment: str, currency: str, first: int | None) -> dict[str, Any]:
    if first is not None and rng.random() < NEAR_FIRST_SHARE:
        days_past_due = max(-7, first + rng.randint(-NEAR_DAYS, NEAR_DAYS))
    else:
        (low, high), _ = pick(rng, DPD_BUCKETS)
        days_past_due = rng.randint(low, high)
    places = Decimal(1).scaleb(-currency_exponent(currency))
    balance = Decimal(rng.lognormvariate(5.5, 1.1)).quantize(places)
    account: dict[str, Any] = {
        "account_id": account_id,
        "amount_due": str(balance),
        "currency": currency,
        "days_past_due": days_past_due,
        "segment": segment,
        "product": rng.choice(PRODUCTS),
        "legal": {},
        "payment": {"broken_promises": rng.choices([0, 1, 2, 3], weights=[80, 12, 5, 3])[0]},
    }
    for flag in ACCOUNT_FLAGS:
        if rng.random() < FLAGS[flag]:
            account["legal"][flag.split(".")[1]] = True
    add_history(rng, account, account_id, as_of, reach, balance, places)
    if "attributes" in account:  # the branch is the person's
        account["attributes"].pop("branch", None)
    return account


def _person_flags(rng: random.Random, debtor: dict[str, Any], accounts: list[dict[str, Any]]) -> None:
    for flag, share in FLAGS.items():
        if flag in ACCOUNT_FLAGS or rng.random() >= share:
            continue
        group, name = flag.split(".")
        holder = rng.choice(accounts) if rng.random() < ON_ONE_ACCOUNT_SHARE else debtor
        holder.setdefault(group, {})[name] = True


def _spanning(rng: random.Random, accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Move some of the accounts' contacts to the person: ladder contacts about
    several accounts, and the debtor's own contacts; each listed once."""
    person: list[dict[str, Any]] = []
    ids = [account["account_id"] for account in accounts]
    for account in accounts:
        kept = []
        others = [account_id for account_id in ids if account_id != account["account_id"]]
        for contact in account["prior_contacts"]:
            inbound = contact.get("direction") == Direction.INBOUND.value
            promise = contact["outcome"] == Outcome.PROMISE_TO_PAY.value
            if inbound and rng.random() < PERSON_INBOUND_SHARE:
                person.append({**contact, "account_ids": [account["account_id"]] if promise else []})
            elif not inbound and not promise and _may_span(contact) and rng.random() < SPANNING_SHARE:
                person.append({**contact, "account_ids": [account["account_id"], *rng.sample(others, rng.randint(1, len(others)))]})
            else:
                kept.append(contact)
        account["prior_contacts"] = kept
    return sorted(person, key=lambda contact: datetime.fromisoformat(contact["at"]))


def _may_span(contact: dict[str, Any]) -> bool:
    return contact.get("action") in SPANNING_ACTIONS and contact.get("template") not in ARRANGEMENT_TEMPLATES


def synthetic_debtors(count: int, as_of: datetime, seed: int = 7) -> Iterator[dict[str, Any]]:
    """`count` persons; the same seed gives the same persons."""
    rng = random.Random(f"debtors-{seed}")  # not the cases' stream: a debtor is not a case with more accounts
    for index in range(count):
        yield synthetic_debtor(rng, index, as_of)
