"""A realistic synthetic portfolio of case snapshots, for benchmarks and `simulate`.

Deterministic for a seed. Shares follow a typical consumer book: most cases are
early and small, few are late and large; consents, flags and contact histories
are drawn with plausible frequencies.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any, Iterator

_COUNTRIES = [("PL", "Europe/Warsaw", "PLN", 0.35), ("GB", "Europe/London", "GBP", 0.2), ("DE", "Europe/Berlin", "EUR", 0.15), ("IE", "Europe/Dublin", "EUR", 0.05), ("US", "America/New_York", "USD", 0.15), ("US", None, "USD", 0.05), ("FR", "Europe/Paris", "EUR", 0.05)]
_SEGMENTS = [("retail", 0.6), ("premium", 0.15), ("business", 0.15), ("student", 0.1)]
_PRODUCTS = ["credit_card", "personal_loan", "utility", "telecom", "bnpl"]
_DPD_BUCKETS = [((-7, -1), 0.1), ((0, 14), 0.3), ((15, 30), 0.2), ((31, 60), 0.15), ((61, 90), 0.1), ((91, 180), 0.1), ((181, 720), 0.05)]
_CHANNELS = ["sms", "email", "phone", "letter", "push"]
_OUTCOMES = [("delivered", 0.45), ("no_answer", 0.25), ("right_party_contact", 0.1), ("promise_to_pay", 0.07), ("refused", 0.05), ("failed", 0.08)]
_FLAGS = {"legal.vulnerable": 0.03, "legal.hardship": 0.04, "legal.dispute": 0.02, "legal.bankruptcy": 0.005, "legal.deceased": 0.003, "legal.cease_and_desist": 0.005, "legal.attorney_represented": 0.005, "gdpr.objection": 0.005, "gdpr.restriction": 0.002, "gdpr.erasure_requested": 0.002}


def _pick(rng: random.Random, weighted: list[Any]) -> Any:
    return rng.choices(weighted, weights=[item[-1] for item in weighted])[0]


def synthetic_case(rng: random.Random, index: int, as_of: datetime) -> dict[str, Any]:
    country, zone, currency, _ = _pick(rng, _COUNTRIES)
    (low, high), _ = _pick(rng, _DPD_BUCKETS)
    days_past_due = rng.randint(low, high)
    amount = round(rng.lognormvariate(5.5, 1.1), 2) if currency != "JPY" else rng.randint(1000, 90000)
    consents = {channel: rng.random() < share for channel, share in zip(_CHANNELS, (0.8, 0.85, 0.7, 0.95, 0.3))}
    consents["electronic_opt_out"] = rng.random() < 0.02
    case: dict[str, Any] = {
        "case_id": f"case-{index:08d}",
        "country": country,
        "amount_due": f"{amount:.2f}",
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
    if rng.random() < 0.08:
        case["payment"]["promise_to_pay_date"] = (as_of + timedelta(days=rng.randint(-3, 20))).date().isoformat()
    if rng.random() < 0.6:
        case["payment"]["last_payment_at"] = (as_of - timedelta(days=rng.randint(1, 400))).isoformat()
    if days_past_due > 0:
        for _ in range(min(rng.randint(0, days_past_due // 5 + 1), 40)):
            case["prior_contacts"].append(
                {"channel": rng.choice(_CHANNELS), "at": (as_of - timedelta(minutes=rng.randint(30, 60 * 24 * 45))).isoformat(), "outcome": _pick(rng, _OUTCOMES)[0]}
            )
    if rng.random() < 0.3:
        case["attributes"] = {"risk_band": rng.choice(["a", "b", "c", "d"]), "branch": rng.choice(["north", "south", "online"])}
    return case


def synthetic_portfolio(count: int, as_of: datetime, seed: int = 7) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for index in range(count):
        yield synthetic_case(rng, index, as_of)
