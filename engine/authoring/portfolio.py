"""A realistic synthetic portfolio of case snapshots, for benchmarks and `simulate`.

Deterministic for a seed. Shares follow a typical consumer book: most cases are
early and small, few are late and large; consents and flags are drawn with
plausible frequencies; contact histories follow a collection ladder stage by
stage (engine/authoring/portfolio_contacts.py) and a share of debtors agreed to a promise
or a plan, kept or not (engine/authoring/portfolio_arrangements.py). Every case is valid
for parse_snapshot at the `as_of` it was drawn for. docs/simulate.md lists the
calibration. Persons with several accounts are drawn from the same parts
(`Reach`, `add_history`) in engine/authoring/portfolio_debtors.py.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Iterator
from zoneinfo import ZoneInfo

from engine.authoring import portfolio_arrangements
from engine.authoring.portfolio_contacts import Clock, Contacts, inbound, ladder
from engine.snapshot import currency_exponent
from engine.vocabulary import Channel

COUNTRIES = [("PL", "Europe/Warsaw", "PLN", 0.35), ("GB", "Europe/London", "GBP", 0.2), ("DE", "Europe/Berlin", "EUR", 0.15), ("IE", "Europe/Dublin", "EUR", 0.05), ("US", "America/New_York", "USD", 0.15), ("US", None, "USD", 0.05), ("FR", "Europe/Paris", "EUR", 0.05)]
SEGMENTS = [("retail", 0.6), ("premium", 0.15), ("business", 0.15), ("student", 0.1)]
PRODUCTS = ["credit_card", "personal_loan", "utility", "telecom", "bnpl"]
DPD_BUCKETS = [((-7, -1), 0.1), ((0, 14), 0.3), ((15, 30), 0.2), ((31, 60), 0.15), ((61, 90), 0.1), ((91, 180), 0.1), ((181, 720), 0.05)]
CHANNELS = ["sms", "email", "phone", "letter", "push"]
FLAGS = {"legal.vulnerable": 0.03, "legal.hardship": 0.04, "legal.dispute": 0.02, "legal.bankruptcy": 0.005, "legal.deceased": 0.003, "legal.cease_and_desist": 0.005, "legal.attorney_represented": 0.005, "gdpr.objection": 0.005, "gdpr.restriction": 0.002, "gdpr.erasure_requested": 0.002}


def pick(rng: random.Random, weighted: list[Any]) -> Any:
    """One item, by the weight each carries last."""
    return rng.choices(weighted, weights=[item[-1] for item in weighted])[0]


def draw_consents(rng: random.Random) -> dict[str, bool]:
    consents = {channel: rng.random() < share for channel, share in zip(CHANNELS, (0.8, 0.85, 0.7, 0.95, 0.3))}
    consents["electronic_opt_out"] = rng.random() < 0.02
    return consents


THIRD_PARTY_SHARE = 0.3  # US cases collected by a third-party debt collector
LEGACY_PROMISE_SHARE = 0.05  # cases without arrangements whose caller still sends payment.promise_to_pay_date
HOME_ZONE = {"US": "America/New_York"}  # where the contacts of a case without a zone were timed


def synthetic_case(rng: random.Random, index: int, as_of: datetime) -> dict[str, Any]:
    country, zone, currency, _ = pick(rng, COUNTRIES)
    (low, high), _ = pick(rng, DPD_BUCKETS)
    days_past_due = rng.randint(low, high)
    places = Decimal(1).scaleb(-currency_exponent(currency))
    balance = Decimal(rng.lognormvariate(5.5, 1.1)).quantize(places)
    consents = draw_consents(rng)
    case: dict[str, Any] = {
        "case_id": f"case-{index:08d}",
        "country": country,
        "amount_due": str(balance),
        "currency": currency,
        "days_past_due": days_past_due,
        "segment": pick(rng, SEGMENTS)[0],
        "product": rng.choice(PRODUCTS),
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
        case["preferred_channel"] = rng.choice(CHANNELS)
    for flag, share in FLAGS.items():
        if rng.random() < share:
            group, name = flag.split(".")
            case[group][name] = True
    third_party = country == "US" and rng.random() < THIRD_PARTY_SHARE
    if third_party:
        case["third_party_collector"] = True
    add_history(rng, case, case["case_id"], as_of, Reach(country, zone, consents, case.get("preferred_channel"), third_party), balance, places)
    return case


@dataclass(frozen=True)
class Reach:
    """How a debtor is reached: where they live, what they consented to, who collects."""

    country: str
    zone: str | None
    consents: dict[str, bool]
    preferred_channel: str | None
    third_party: bool
    bad: frozenset[Channel] | None = None  # contact data that never works; None: drawn for the case


def add_history(rng: random.Random, case: dict[str, Any], case_id: str, as_of: datetime, reach: Reach, balance: Decimal, places: Decimal) -> None:
    """The case's (or an account's) contacts, arrangements, payments and attributes up to as_of."""
    days_past_due, currency = case["days_past_due"], case["currency"]
    contacts = Contacts.draw(rng, Clock(as_of, ZoneInfo(reach.zone or HOME_ZONE[reach.country])), reach.consents, reach.preferred_channel)
    if reach.bad is not None:  # the person's contact data, the same for every account
        contacts.bad = reach.bad
    agreed = portfolio_arrangements.draw(rng, contacts, case_id, days_past_due, balance, currency, places)
    ladder(contacts, days_past_due, reach.country, reach.third_party, agreed.paused)
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
    scores = behaviour_scores(case, case_id, as_of)
    if scores:
        case["inputs"] = scores


SCORED_SHARE = 0.9  # cases the caller's model scored; the others come without scores


def behaviour_scores(case: dict[str, Any], case_id: str, as_of: datetime) -> dict[str, Any]:
    """The score a caller's model would send for this case (or account), as the shipped
    strategy declares it (docs/inputs.md): `self_cure_score`, an integer 0-100, the
    chance in percent of paying unaided. It follows the case's behaviour: fewer days
    past due, a recent payment, fewer broken promises and no broken plan make it
    higher; hardship and vulnerability lower. A tenth of the cases are not scored.

    The noise comes from the case's own drawn data, not from the portfolio's random
    stream, so adding the scores left every other draw of a seed as it was."""
    noise = random.Random(hashlib.sha256(f"{case_id}|{case['amount_due']}|{case['days_past_due']}|{len(case['prior_contacts'])}".encode()).digest())
    if noise.random() >= SCORED_SHARE:
        return {}
    payment = case["payment"]
    paid_at = payment.get("last_payment_at")
    days_since_paid = (as_of - datetime.fromisoformat(paid_at)).days if paid_at else None
    missed = sum(1 for arrangement in case.get("arrangements", []) if arrangement.get("status") == "cancelled")
    legal = case.get("legal", {})
    logit = 2.2 - 0.05 * max(case["days_past_due"], 0) - 0.8 * payment.get("broken_promises", 0) - 0.5 * missed
    logit += 1.0 if days_since_paid is not None and days_since_paid <= 45 else -0.3 if days_since_paid is None else 0.0
    logit -= 1.2 if legal.get("hardship") or legal.get("vulnerable") else 0.0
    return {"self_cure_score": round(100 / (1 + math.exp(-(logit + noise.gauss(0, 0.7)))))}


def synthetic_portfolio(count: int, as_of: datetime, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for index in range(count):
        yield synthetic_case(rng, index, as_of)
