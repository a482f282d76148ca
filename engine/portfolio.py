"""A realistic synthetic portfolio of case snapshots, for benchmarks and `simulate`.

Deterministic for a seed. Shares follow a typical consumer book: most cases are
early and small, few are late and large; consents and flags are drawn with
plausible frequencies; contact histories follow a collection ladder stage by
stage (engine/portfolio_contacts.py) and a share of debtors agreed to a promise
or a plan, kept or not (engine/portfolio_arrangements.py). Every case is valid
for parse_snapshot at the `as_of` it was drawn for. docs/simulate.md lists the
calibration.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Iterator
from zoneinfo import ZoneInfo

from engine import portfolio_arrangements
from engine.portfolio_contacts import Clock, Contacts, inbound, ladder
from engine.snapshot import currency_exponent

_COUNTRIES = [("PL", "Europe/Warsaw", "PLN", 0.35), ("GB", "Europe/London", "GBP", 0.2), ("DE", "Europe/Berlin", "EUR", 0.15), ("IE", "Europe/Dublin", "EUR", 0.05), ("US", "America/New_York", "USD", 0.15), ("US", None, "USD", 0.05), ("FR", "Europe/Paris", "EUR", 0.05)]
_SEGMENTS = [("retail", 0.6), ("premium", 0.15), ("business", 0.15), ("student", 0.1)]
_PRODUCTS = ["credit_card", "personal_loan", "utility", "telecom", "bnpl"]
_DPD_BUCKETS = [((-7, -1), 0.1), ((0, 14), 0.3), ((15, 30), 0.2), ((31, 60), 0.15), ((61, 90), 0.1), ((91, 180), 0.1), ((181, 720), 0.05)]
_CHANNELS = ["sms", "email", "phone", "letter", "push"]
_FLAGS = {"legal.vulnerable": 0.03, "legal.hardship": 0.04, "legal.dispute": 0.02, "legal.bankruptcy": 0.005, "legal.deceased": 0.003, "legal.cease_and_desist": 0.005, "legal.attorney_represented": 0.005, "gdpr.objection": 0.005, "gdpr.restriction": 0.002, "gdpr.erasure_requested": 0.002}


def _pick(rng: random.Random, weighted: list[Any]) -> Any:
    return rng.choices(weighted, weights=[item[-1] for item in weighted])[0]


THIRD_PARTY_SHARE = 0.3  # US cases collected by a third-party debt collector
LEGACY_PROMISE_SHARE = 0.05  # cases without arrangements whose caller still sends payment.promise_to_pay_date
HOME_ZONE = {"US": "America/New_York"}  # where the contacts of a case without a zone were timed


def synthetic_case(rng: random.Random, index: int, as_of: datetime) -> dict[str, Any]:
    country, zone, currency, _ = _pick(rng, _COUNTRIES)
    (low, high), _ = _pick(rng, _DPD_BUCKETS)
    days_past_due = rng.randint(low, high)
    places = Decimal(1).scaleb(-currency_exponent(currency))
    balance = Decimal(rng.lognormvariate(5.5, 1.1)).quantize(places)
    consents = {channel: rng.random() < share for channel, share in zip(_CHANNELS, (0.8, 0.85, 0.7, 0.95, 0.3))}
    consents["electronic_opt_out"] = rng.random() < 0.02
    case: dict[str, Any] = {
        "case_id": f"case-{index:08d}",
        "country": country,
        "amount_due": str(balance),
        "currency": currency,
        "days_past_due": days_past_due,
        "segment": _pick(rng, _SEGMENTS)[0],
        "product": rng.choice(_PRODUCTS),
        "consents": consents,
        "gdpr": {},
        "legal": {},
        "payment": {"broken_promises": rng.choices([0, 1, 2, 3], weights=[80, 12, 5, 3])[0]},
        "prior_contacts": [],
        "language": "pl" if country == "PL" and rng.random() < 0.7 else "en",
    }
    if zone:
        case["time_zone"] = zone
    if rng.random() < 0.5:
        case["preferred_channel"] = rng.choice(_CHANNELS)
    for flag, share in _FLAGS.items():
        if rng.random() < share:
            group, name = flag.split(".")
            case[group][name] = True
    third_party = country == "US" and rng.random() < THIRD_PARTY_SHARE
    if third_party:
        case["third_party_collector"] = True
    contacts = Contacts.draw(rng, Clock(as_of, ZoneInfo(zone or HOME_ZONE[country])), consents, case.get("preferred_channel"))
    agreed = portfolio_arrangements.draw(rng, contacts, case["case_id"], days_past_due, balance, currency, places)
    ladder(contacts, days_past_due, country, third_party, agreed.paused)
    inbound(contacts, days_past_due)
    case["prior_contacts"] = sorted(contacts.made, key=lambda contact: datetime.fromisoformat(contact["at"]))
    if agreed.arrangements:
        case["arrangements"] = agreed.arrangements
        case["payment"]["broken_promises"] = agreed.broken
        case["amount_due"] = str(Decimal(0).quantize(places) if agreed.settled else balance - agreed.paid)
        if agreed.promise_date and rng.random() < 0.5:
            case["payment"]["promise_to_pay_date"] = agreed.promise_date.isoformat()
    elif rng.random() < LEGACY_PROMISE_SHARE:
        case["payment"]["promise_to_pay_date"] = (as_of + timedelta(days=rng.randint(-3, 20))).date().isoformat()
    if agreed.last_paid_at:
        case["payment"]["last_payment_at"] = agreed.last_paid_at.isoformat()
    elif rng.random() < 0.6:
        case["payment"]["last_payment_at"] = (as_of - timedelta(days=rng.randint(1, 400))).isoformat()
    if rng.random() < 0.3:
        case["attributes"] = {"risk_band": rng.choice(["a", "b", "c", "d"]), "branch": rng.choice(["north", "south", "online"])}
    return case


def synthetic_portfolio(count: int, as_of: datetime, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for index in range(count):
        yield synthetic_case(rng, index, as_of)
