"""Compliance wins and the engine fails safe: behaviour through StrategyEngine.decide.

Each test writes a small strategy inline, loads it the way production does
(YAML file -> load_strategy -> StrategyEngine) and decides a snapshot.
"""

from __future__ import annotations

import logging
import tempfile
import textwrap
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import engine.engine as engine_module
from engine.engine import StrategyEngine
from engine.errors import PolicyError
from engine.matching import MatcherFault
from engine.policy.ir import Policy
from engine.policy.loader import load_strategy
from engine.snapshot import CaseSnapshot, parse_snapshot
from engine.vocabulary import Action, Channel

UTC = timezone.utc
WARSAW = ZoneInfo("Europe/Warsaw")
AS_OF = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Warsaw: inside contact hours

STOP_FLAGS = {
    "gdpr.objection": "gdpr-objection",
    "gdpr.restriction": "gdpr-restriction",
    "gdpr.erasure_requested": "gdpr-erasure",
    "legal.cease_and_desist": "cease-and-desist",
    "legal.attorney_represented": "attorney-represented",
    "legal.bankruptcy": "bankruptcy",
    "legal.deceased": "deceased",
    "legal.dispute": "dispute",
}
CONTACTING = ("SEND_REMINDER", "CONFIRM_ARRANGEMENT", "SEND_NOTICE", "CALL", "OFFER_PAYMENT_PLAN", "OFFER_SETTLEMENT", "FINAL_NOTICE")
CHANNELS = ("sms", "email", "phone", "letter", "push")
ELECTRONIC = frozenset({"sms", "email", "push"})
ALL_CONSENTS = {name: True for name in CHANNELS}


# --- helpers ---------------------------------------------------------------------


def write_policy(root: Path, text: str) -> Policy:
    strategies = root / "strategies"
    strategies.mkdir(parents=True, exist_ok=True)
    (strategies / "x.yaml").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return load_strategy(strategies)


def make_engine(root: Path, text: str, backend: str = "durable") -> StrategyEngine:
    return StrategyEngine(write_policy(root, text), backend=backend)


def policy_of(rules: str) -> str:
    return 'policy: guardrail-test\nversion: "1"\nrules:\n' + textwrap.indent(textwrap.dedent(rules).strip("\n"), "  ") + "\n"


def case(as_of: datetime = AS_OF, flags: tuple[str, ...] = (), **overrides: Any) -> CaseSnapshot:
    data: dict[str, Any] = {
        "case_id": "case-42",
        "country": "PL",
        "time_zone": "Europe/Warsaw",
        "amount_due": "500.00",
        "currency": "PLN",
        "days_past_due": 20,
        "segment": "retail",
        "consents": dict(ALL_CONSENTS),
        "gdpr": {},
        "legal": {},
    }
    for flag in flags:
        group, name = flag.split(".")
        data[group][name] = True
    data.update(overrides)
    return parse_snapshot(data, as_of)


def assert_no_contact(decision, code: str | None = None) -> None:
    assert decision.action == "NO_CONTACT"
    assert decision.channel is None
    assert decision.window is None
    assert decision.offer is None
    if code is not None:
        assert decision.reasons[0].code == code


def contacting_rule(action: str, priority: int = 100, rule_id: str = "contact") -> str:
    return f"""
    - id: {rule_id}
      priority: {priority}
      then: {{action: {action}, channel: [preferred, sms, email, phone, letter, push]}}
      reason: contact them
    """


# --- stops: objection, restriction, erasure, cease and desist, attorney, bankruptcy, death, dispute ----------


@pytest.mark.parametrize("action", CONTACTING)
@pytest.mark.parametrize("flag", STOP_FLAGS)
def test_a_stop_flag_vetoes_every_contacting_action(tmp_path: Path, flag: str, action: str):
    engine = make_engine(tmp_path, policy_of(contacting_rule(action)))
    allowed = engine.decide(case(preferred_channel="sms"), AS_OF)
    assert allowed.action == action and allowed.channel is Channel.SMS and allowed.window is not None

    decision = engine.decide(case(flags=(flag,), preferred_channel="sms"), AS_OF)
    assert_no_contact(decision, "ALL_CANDIDATES_VETOED")
    assert decision.fired_rules == ("contact",)
    assert [(veto.rule_id, veto.guardrail, veto.channel) for veto in decision.vetoes] == [("contact", STOP_FLAGS[flag], None)]
    assert decision.vetoes[0].reason


@pytest.mark.parametrize("flag", STOP_FLAGS)
def test_a_stop_flag_falls_through_to_a_lower_non_contacting_rule(tmp_path: Path, flag: str):
    rules = contacting_rule("CALL", 100) + """
    - id: review
      priority: 10
      then: {action: HUMAN_REVIEW}
      reason: a person looks at it
    """
    decision = make_engine(tmp_path, policy_of(rules)).decide(case(flags=(flag,)), AS_OF)
    assert decision.action == "HUMAN_REVIEW"
    assert decision.channel is None and decision.window is None
    assert decision.reasons[0].code == "review"
    assert decision.fired_rules == ("contact", "review")
    assert [(veto.rule_id, veto.guardrail) for veto in decision.vetoes] == [("contact", STOP_FLAGS[flag])]


@pytest.mark.parametrize("flag", STOP_FLAGS)
def test_legal_review_is_vetoed_too_and_human_review_survives(tmp_path: Path, flag: str):
    rules = """
    - id: sue
      priority: 100
      then: {action: LEGAL_REVIEW}
      reason: escalate
    - id: review
      priority: 50
      then: {action: HUMAN_REVIEW}
      reason: a person looks at it
    """
    engine = make_engine(tmp_path, policy_of(rules))
    assert engine.decide(case(), AS_OF).action == "LEGAL_REVIEW"
    decision = engine.decide(case(flags=(flag,)), AS_OF)
    assert decision.action == "HUMAN_REVIEW"
    assert decision.channel is None and decision.window is None
    assert [(veto.rule_id, veto.guardrail) for veto in decision.vetoes] == [("sue", STOP_FLAGS[flag])]


@pytest.mark.parametrize("flag", STOP_FLAGS)
def test_legal_review_alone_under_a_stop_gives_no_contact(tmp_path: Path, flag: str):
    rules = """
    - id: sue
      priority: 100
      then: {action: LEGAL_REVIEW}
      reason: escalate
    """
    decision = make_engine(tmp_path, policy_of(rules)).decide(case(flags=(flag,)), AS_OF)
    assert_no_contact(decision, "ALL_CANDIDATES_VETOED")
    assert [veto.guardrail for veto in decision.vetoes] == [STOP_FLAGS[flag]]


@pytest.mark.parametrize("flag", STOP_FLAGS)
def test_a_strategy_aimed_at_the_flag_itself_cannot_override_it(tmp_path: Path, flag: str):
    rules = f"""
    - id: target-flagged
      priority: 10000
      when: {{{flag}: true}}
      then: {{action: FINAL_NOTICE, channel: letter}}
      reason: hostile
    """
    decision = make_engine(tmp_path, policy_of(rules)).decide(case(flags=(flag,)), AS_OF)
    assert decision.fired_rules == ("target-flagged",)
    assert_no_contact(decision, "ALL_CANDIDATES_VETOED")


def test_every_set_stop_flag_is_named(tmp_path: Path):
    decision = make_engine(tmp_path, policy_of(contacting_rule("CALL"))).decide(case(flags=tuple(STOP_FLAGS)), AS_OF)
    assert_no_contact(decision, "ALL_CANDIDATES_VETOED")
    assert sorted(veto.guardrail for veto in decision.vetoes) == sorted(STOP_FLAGS.values())


# --- channel guardrails ------------------------------------------------------------------


def test_channel_fallback_skips_the_preferred_channel_without_consent(tmp_path: Path):
    rules = """
    - id: remind
      priority: 100
      then: {action: SEND_REMINDER, channel: [preferred, sms, email]}
      reason: remind
    """
    consents = dict(ALL_CONSENTS, email=False)
    decision = make_engine(tmp_path, policy_of(rules)).decide(case(consents=consents, preferred_channel="email"), AS_OF)
    assert decision.action == "SEND_REMINDER"
    assert decision.channel is Channel.SMS
    assert decision.window is not None
    assert [(veto.rule_id, veto.guardrail, veto.channel) for veto in decision.vetoes] == [("remind", "consent", Channel.EMAIL)]


def test_electronic_opt_out_removes_sms_email_and_push_but_not_phone_or_letter(tmp_path: Path):
    rules = """
    - id: remind
      priority: 100
      then: {action: SEND_REMINDER, channel: [sms, email, push, letter]}
      reason: remind
    """
    consents = dict(ALL_CONSENTS, electronic_opt_out=True)
    decision = make_engine(tmp_path, policy_of(rules)).decide(case(consents=consents), AS_OF)
    assert decision.channel is Channel.LETTER
    assert [(veto.guardrail, veto.channel) for veto in decision.vetoes] == [
        ("electronic-opt-out", Channel.SMS),
        ("electronic-opt-out", Channel.EMAIL),
        ("electronic-opt-out", Channel.PUSH),
    ]


# --- no contact, with its reason ---------------------------------------------------------


def test_no_rule_matched(tmp_path: Path):
    rules = """
    - id: very-late
      priority: 100
      when: {days_past_due: {gt: 1000}}
      then: {action: CALL, channel: phone}
      reason: late
    """
    decision = make_engine(tmp_path, policy_of(rules)).decide(case(), AS_OF)
    assert_no_contact(decision, "NO_RULE_MATCHED")
    assert decision.fired_rules == () and decision.vetoes == ()
    assert decision.case_id == "case-42"
    assert decision.as_of == AS_OF
    assert decision.policy.name == "guardrail-test" and decision.policy.version == "1"


def test_all_candidates_vetoed_lists_every_veto(tmp_path: Path):
    rules = """
    - id: text-them
      priority: 100
      then: {action: SEND_REMINDER, channel: [sms, email]}
      reason: text
    - id: ring-them
      priority: 50
      then: {action: CALL, channel: phone}
      reason: ring
    """
    consents = {"sms": False, "email": False, "phone": False, "letter": True, "push": True}
    decision = make_engine(tmp_path, policy_of(rules)).decide(case(consents=consents), AS_OF)
    assert_no_contact(decision, "ALL_CANDIDATES_VETOED")
    assert decision.fired_rules == ("text-them", "ring-them")
    assert [(veto.rule_id, veto.guardrail, veto.channel) for veto in decision.vetoes] == [
        ("text-them", "consent", Channel.SMS),
        ("text-them", "consent", Channel.EMAIL),
        ("ring-them", "consent", Channel.PHONE),
    ]


def test_a_candidate_with_no_usable_channel_is_vetoed_by_name(tmp_path: Path):
    rules = """
    - id: preferred-only
      priority: 100
      then: {action: SEND_REMINDER, channel: preferred}
      reason: their way
    """
    decision = make_engine(tmp_path, policy_of(rules)).decide(case(), AS_OF)  # no preferred_channel
    assert_no_contact(decision, "ALL_CANDIDATES_VETOED")
    assert decision.fired_rules == ("preferred-only",)
    assert [veto.rule_id for veto in decision.vetoes] == ["preferred-only"]  # explainable: which rule, and why


def test_a_case_with_no_known_time_zone_is_not_contacted(tmp_path: Path):
    # Bouvet Island has no IANA zone: no lawful window can be computed, so nobody is contacted.
    engine = make_engine(tmp_path, policy_of(contacting_rule("CALL")))
    snapshot = case(country="BV", time_zone=None, currency="NOK")
    decision = engine.decide(snapshot, AS_OF)
    assert_no_contact(decision, "ALL_CANDIDATES_VETOED")
    assert {veto.guardrail for veto in decision.vetoes} == {"contact-hours"}


def test_outside_contact_hours_the_contact_is_scheduled_not_refused(tmp_path: Path):
    as_of = datetime(2026, 11, 14, 20, 0, tzinfo=UTC)  # Saturday 21:00 in Warsaw
    decision = make_engine(tmp_path, policy_of(contacting_rule("CALL"))).decide(case(as_of=as_of), as_of)
    assert decision.action == "CALL"
    assert decision.window is not None
    assert decision.window.start == datetime(2026, 11, 16, 7, 0, tzinfo=UTC)  # Monday 08:00 in Warsaw


# --- engine faults -----------------------------------------------------------------------------

SECRET_CASE = {
    "amount_due": "98765.43",
    "segment": "zebra-segment",
    "product": "unicorn_loan",
    "attributes": {"employer": "acme-secret-employer", "nickname": "jdoe-private"},
    "preferred_channel": "sms",
}
SECRET_VALUES = ("98765", "zebra-segment", "unicorn_loan", "acme-secret-employer", "jdoe-private", "employer", "nickname")


def _raise_matcher_fault(facts: dict[str, Any]) -> list[str]:
    raise MatcherFault("durable_rules failed: error code 302")


def _raise_runtime_error(facts: dict[str, Any]) -> list[str]:
    raise RuntimeError("the matcher broke")


@pytest.mark.parametrize("backend", ["durable", "python"])
@pytest.mark.parametrize("raiser", [_raise_matcher_fault, _raise_runtime_error], ids=["MatcherFault", "RuntimeError"])
def test_an_engine_fault_gives_no_contact_and_logs_nothing_of_the_case(tmp_path: Path, monkeypatch, caplog, backend: str, raiser):
    engine = make_engine(tmp_path, policy_of(contacting_rule("CALL")), backend=backend)
    snapshot = case(**SECRET_CASE)
    assert engine.decide(snapshot, AS_OF).action == "CALL"

    monkeypatch.setattr(engine._matcher, "matching", raiser)
    caplog.set_level(logging.DEBUG)
    decision = engine.decide(snapshot, AS_OF)
    assert_no_contact(decision, "ENGINE_FAULT")
    assert decision.fired_rules == () and decision.vetoes == ()
    assert decision.case_id == "case-42"
    assert decision.next_review_at > AS_OF

    records = [record for record in caplog.records if record.name.startswith("engine")]
    assert records, "the fault was not logged"
    assert any(record.levelno >= logging.ERROR for record in records)
    assert "case-42" not in caplog.text  # not even its id: the caller has the decision, with ENGINE_FAULT
    for value in SECRET_VALUES:
        assert value not in caplog.text, f"{value!r} leaked into the log"


@pytest.mark.parametrize("target", ["next_window", "offer_bounds", "derive"])
def test_a_fault_in_any_stage_gives_no_contact(tmp_path: Path, monkeypatch, caplog, target: str):
    rules = """
    - id: plan
      priority: 100
      then: {action: OFFER_PAYMENT_PLAN, channel: phone, offer: {instalments: [2, 12]}}
      reason: plan
    """
    engine = make_engine(tmp_path, policy_of(rules))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("stage broke")

    monkeypatch.setattr(engine_module, target, broken)
    caplog.set_level(logging.DEBUG)
    decision = engine.decide(case(**SECRET_CASE), AS_OF)
    assert_no_contact(decision, "ENGINE_FAULT")
    assert "stage broke" in caplog.text and "case-42" not in caplog.text
    for value in SECRET_VALUES:
        assert value not in caplog.text


def test_a_naive_as_of_never_contacts(tmp_path: Path):
    engine = make_engine(tmp_path, policy_of(contacting_rule("CALL")))
    decision = engine.decide(case(), AS_OF.replace(tzinfo=None))
    assert decision.action not in CONTACTING
    assert decision.channel is None and decision.window is None


def test_an_offer_the_engine_cannot_compute_never_contacts(tmp_path: Path):
    # A minimum instalment too large for decimal arithmetic at the currency's precision.
    text = policy_of("""
    - id: plan
      priority: 100
      then: {action: OFFER_PAYMENT_PLAN, channel: phone, offer: {instalments: [2, 12], min_instalment: 1e30}}
      reason: plan
    """)
    try:
        engine = make_engine(tmp_path, text)
    except PolicyError:
        return  # refusing the policy is fine too
    decision = engine.decide(case(), AS_OF)
    assert decision.action not in CONTACTING
    assert decision.channel is None and decision.window is None


# --- offers ---------------------------------------------------------------------------------------


def _plan_engine(root: Path, offer: str, backend: str = "durable") -> StrategyEngine:
    return make_engine(
        root,
        policy_of(f"""
        - id: plan
          priority: 100
          then: {{action: OFFER_PAYMENT_PLAN, channel: phone, offer: {offer}}}
          reason: plan
        """),
        backend,
    )


def test_instalments_are_capped_so_none_falls_under_the_minimum(tmp_path: Path):
    engine = _plan_engine(tmp_path, "{instalments: [2, 12], min_instalment: 50}")
    decision = engine.decide(case(amount_due="300.00"), AS_OF)
    assert decision.action == "OFFER_PAYMENT_PLAN"
    assert decision.offer is not None
    assert decision.offer.instalments == (2, 6)
    assert decision.offer.min_instalment == Decimal("50")
    assert decision.offer.currency == "PLN"
    assert [reason.code for reason in decision.reasons] == ["plan"]


def test_instalments_that_cannot_be_honoured_are_dropped_with_a_reason(tmp_path: Path):
    engine = _plan_engine(tmp_path, "{instalments: [2, 12], min_instalment: 50}")
    decision = engine.decide(case(amount_due="80.00"), AS_OF)
    assert decision.action == "OFFER_PAYMENT_PLAN"
    assert decision.offer is None
    assert [reason.code for reason in decision.reasons] == ["plan", "OFFER_ADJUSTED"]
    assert "50" in decision.reasons[1].text


def test_dropped_instalments_keep_the_rest_of_the_offer(tmp_path: Path):
    engine = _plan_engine(tmp_path, "{instalments: [2, 12], min_instalment: 50, discount_pct: [0, 10]}")
    decision = engine.decide(case(amount_due="80.00"), AS_OF)
    assert decision.offer is not None
    assert decision.offer.instalments is None
    assert decision.offer.min_instalment is None
    assert decision.offer.discount_pct == (Decimal(0), Decimal(10))
    assert "OFFER_ADJUSTED" in [reason.code for reason in decision.reasons]


def test_exactly_the_minimum_times_the_count_is_allowed(tmp_path: Path):
    engine = _plan_engine(tmp_path, "{instalments: [2, 12], min_instalment: 50}")
    assert engine.decide(case(amount_due="100.00"), AS_OF).offer.instalments == (2, 2)
    assert engine.decide(case(amount_due="99.99"), AS_OF).offer is None


@pytest.mark.parametrize(
    "currency, amount, minimum, expected_minimum, expected_instalments",
    [
        ("JPY", "300", "50.5", Decimal("51"), (2, 5)),  # 0 decimals: 50.5 rounds up to 51; 300 // 51 = 5
        ("JPY", "100", "50.1", Decimal("51"), None),  # 100 // 51 = 1 < 2: dropped
        ("EUR", "300.00", "33.333", Decimal("33.34"), (2, 8)),  # 2 decimals, rounded up, never down
        ("KWD", "300.000", "33.3333", Decimal("33.334"), (2, 8)),  # 3 decimals
    ],
)
def test_min_instalment_is_quantized_up_to_the_currency_minor_unit(
    tmp_path: Path, currency: str, amount: str, minimum: str, expected_minimum: Decimal, expected_instalments
):
    engine = _plan_engine(tmp_path, f"{{instalments: [2, 12], min_instalment: {minimum}}}")
    decision = engine.decide(case(currency=currency, amount_due=amount), AS_OF)
    if expected_instalments is None:
        assert decision.offer is None
        assert "OFFER_ADJUSTED" in [reason.code for reason in decision.reasons]
        return
    assert decision.offer is not None
    assert decision.offer.instalments == expected_instalments
    assert decision.offer.min_instalment == expected_minimum
    assert decision.offer.min_instalment.as_tuple().exponent >= -{"JPY": 0, "EUR": 2, "KWD": 3}[currency]
    # No instalment falls under the minimum at the largest count allowed.
    assert Decimal(amount) / decision.offer.instalments[1] >= decision.offer.min_instalment


# --- determinism --------------------------------------------------------------------------------

DETERMINISM_RULES = """
- id: early
  priority: 100
  when: {days_past_due: {between: [1, 14]}, consent.sms: true}
  then: {action: SEND_REMINDER, channel: [preferred, sms]}
  reason: early
- id: plan
  priority: 80
  when: {days_past_due: {between: [15, 90]}, amount_due: {gte: 200}}
  then: {action: OFFER_PAYMENT_PLAN, channel: [phone, letter], offer: {instalments: [2, 12], min_instalment: 50, discount_pct: [0, 10]}}
  reason: plan
- id: sue
  priority: 60
  when: {days_past_due: {gt: 90}}
  then: {action: LEGAL_REVIEW}
  reason: sue
- id: review
  priority: 1
  then: {action: HUMAN_REVIEW}
  reason: fallback
"""


def _determinism_cases() -> list[tuple[CaseSnapshot, datetime]]:
    cases = []
    for index, (days, amount, flags, consents, as_of) in enumerate(
        [
            (5, "120.00", (), ALL_CONSENTS, AS_OF),
            (5, "120.00", (), dict(ALL_CONSENTS, sms=False), AS_OF),
            (30, "300.00", (), ALL_CONSENTS, datetime(2026, 12, 23, 20, 0, tzinfo=UTC)),
            (30, "300.00", (), dict(ALL_CONSENTS, phone=False, letter=False), AS_OF),
            (30, "80.00", (), ALL_CONSENTS, AS_OF),
            (120, "5000.00", (), ALL_CONSENTS, AS_OF),
            (120, "5000.00", ("legal.bankruptcy",), ALL_CONSENTS, AS_OF),
            (30, "300.00", ("gdpr.objection",), ALL_CONSENTS, AS_OF),
        ]
    ):
        snapshot = case(
            as_of=as_of, flags=flags, days_past_due=days, amount_due=amount, consents=consents, case_id=f"case-{index}", preferred_channel="sms"
        )
        cases.append((snapshot, as_of))
    return cases


def test_the_same_snapshot_and_as_of_give_the_same_decision(tmp_path: Path):
    engine = make_engine(tmp_path, policy_of(DETERMINISM_RULES))
    for snapshot, as_of in _determinism_cases():
        first = engine.decide(snapshot, as_of)
        second = engine.decide(snapshot, as_of)
        assert first == second
        assert first.trace is None


def test_python_and_durable_backends_decide_alike(tmp_path: Path):
    durable = make_engine(tmp_path, policy_of(DETERMINISM_RULES), backend="durable")
    python = StrategyEngine(durable.policy, backend="python")
    actions = set()
    for snapshot, as_of in _determinism_cases():
        assert durable.decide(snapshot, as_of) == python.decide(snapshot, as_of)
        actions.add(durable.decide(snapshot, as_of).action)
    assert actions == {"SEND_REMINDER", "OFFER_PAYMENT_PLAN", "LEGAL_REVIEW", "HUMAN_REVIEW"}


def test_a_fresh_engine_on_the_same_policy_decides_alike(tmp_path: Path):
    one = make_engine(tmp_path / "a", policy_of(DETERMINISM_RULES))
    two = make_engine(tmp_path / "b", policy_of(DETERMINISM_RULES))
    for snapshot, as_of in _determinism_cases():
        assert one.decide(snapshot, as_of) == two.decide(snapshot, as_of)


# --- a hostile strategy ----------------------------------------------------------------------------

_CONDITIONS = [
    {},
    {},
    {},
    {},
    {"gdpr.objection": True},
    {"legal.deceased": True},
    {"legal.bankruptcy": True},
    {"consent.sms": False},
    {"consent.electronic_opt_out": True},
    {"legal.vulnerable": True},
]


@st.composite
def hostile_rules(draw) -> list[dict[str, Any]]:
    count = draw(st.integers(min_value=1, max_value=6))
    rules = []
    for index in range(count):
        action = draw(st.sampled_from([action.value for action in Action]))
        then: dict[str, Any] = {"action": action}
        if Action(action).contacts:
            then["channel"] = draw(st.lists(st.sampled_from([*CHANNELS, "preferred"]), min_size=1, max_size=4))
        rules.append(
            {
                "id": f"r-{index}",
                "priority": draw(st.sampled_from([0, 1, 5, 100, 5000, 10000])),
                "when": dict(draw(st.sampled_from(_CONDITIONS))),
                "then": then,
                "reason": "hostile",
            }
        )
    return rules


@st.composite
def hostile_cases(draw) -> tuple[dict[str, Any], datetime]:
    flags = draw(st.one_of(st.just(()), st.lists(st.sampled_from(list(STOP_FLAGS)), min_size=1, max_size=3, unique=True)))
    as_of = draw(
        st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))
    )
    data: dict[str, Any] = {
        "case_id": "hostile-1",
        "country": "PL",
        "time_zone": draw(st.sampled_from(["Europe/Warsaw", None])),
        "amount_due": draw(st.sampled_from(["0.00", "80.00", "500.00", "12345.67"])),
        "currency": "PLN",
        "days_past_due": draw(st.integers(min_value=-30, max_value=400)),
        "segment": "retail",
        "consents": {
            **{name: draw(st.sampled_from([True, True, True, False])) for name in CHANNELS},
            "electronic_opt_out": draw(st.sampled_from([False, False, False, True])),
        },
        "gdpr": {},
        "legal": {"vulnerable": draw(st.booleans()), "hardship": draw(st.booleans())},
        "preferred_channel": draw(st.sampled_from([None, *CHANNELS])),
    }
    for flag in flags:
        group, name = flag.split(".")
        data[group][name] = True
    return data, as_of


def _fact(data: dict[str, Any], path: str) -> bool:
    group, name = path.split(".")
    key = "consents" if group == "consent" else group
    return bool(data[key].get(name, False))


def _expected(rules: list[dict[str, Any]], data: dict[str, Any]) -> tuple[list[str], str | None, str, str | None]:
    """An independent oracle: (fired best first, chosen rule id, action, channel)."""
    ranked = sorted(rules, key=lambda rule: (-rule["priority"], rule["id"]))
    fired = [rule for rule in ranked if all(_fact(data, path) == value for path, value in rule["when"].items())]
    stopped = any(_fact(data, flag) for flag in STOP_FLAGS)
    for rule in fired:
        action = rule["then"]["action"]
        if stopped and (action in CONTACTING or action == "LEGAL_REVIEW"):
            continue
        if action not in CONTACTING:
            return [r["id"] for r in fired], rule["id"], action, None
        for name in rule["then"]["channel"]:
            channel = data["preferred_channel"] if name == "preferred" else name
            if channel is None:
                continue
            if data["consents"][channel] and not (channel in ELECTRONIC and data["consents"]["electronic_opt_out"]):
                return [r["id"] for r in fired], rule["id"], action, channel
    return [r["id"] for r in fired], None, "NO_CONTACT", None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=hostile_rules(), drawn=hostile_cases())
def test_no_strategy_can_break_the_guardrails(rules: list[dict[str, Any]], drawn: tuple[dict[str, Any], datetime]):
    data, as_of = drawn
    with tempfile.TemporaryDirectory() as root:
        text = yaml.safe_dump({"policy": "hostile", "version": "1", "rules": rules}, sort_keys=False)
        policy = write_policy(Path(root), text)
    durable = StrategyEngine(policy, backend="durable")
    snapshot = parse_snapshot(data, as_of)
    decision = durable.decide(snapshot, as_of)
    event(f"action {decision.action}")
    event(f"reason {decision.reasons[0].code if decision.reasons[0].code.isupper() else 'a rule'}")

    consents = data["consents"]
    stopped = any(_fact(data, flag) for flag in STOP_FLAGS)
    # Never a channel without consent, nor an electronic one under an opt-out.
    if decision.channel is not None:
        assert consents[decision.channel.value], decision
        assert not (decision.channel.value in ELECTRONIC and consents["electronic_opt_out"]), decision
    # Never contact (nor escalate to legal) a stopped case.
    if stopped:
        assert decision.action not in CONTACTING and decision.action != "LEGAL_REVIEW", decision
    # A contacting decision has a channel and a lawful window; any other has neither.
    if decision.action in CONTACTING:
        assert decision.channel is not None
        assert decision.window is not None
        assert as_of <= decision.window.start < decision.window.end
        local = decision.window.start.astimezone(WARSAW)
        assert 8 <= local.hour < 20 and local.weekday() != 6
    else:
        assert decision.channel is None and decision.window is None
    assert decision.reasons[0].code != "ENGINE_FAULT"

    # The decision is the best candidate that survives the guardrails.
    fired, chosen, action, channel = _expected(rules, data)
    assert list(decision.fired_rules) == fired
    assert decision.action == action
    assert (decision.channel.value if decision.channel else None) == channel
    if chosen is not None:
        assert decision.reasons[0].code == chosen
    else:
        assert decision.reasons[0].code == ("ALL_CANDIDATES_VETOED" if fired else "NO_RULE_MATCHED")
    # Every candidate ranked ahead of the chosen one was vetoed by name (explainable).
    ahead = fired[: fired.index(chosen)] if chosen is not None else fired
    for rule_id in ahead:
        assert any(veto.rule_id == rule_id for veto in decision.vetoes), (rule_id, decision.vetoes)
    for veto in decision.vetoes:
        assert veto.rule_id in fired

    # Deterministic, and the same with the plain-Python matcher.
    assert durable.decide(snapshot, as_of) == decision
    assert StrategyEngine(policy, backend="python").decide(snapshot, as_of) == decision
