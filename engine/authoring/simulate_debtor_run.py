"""Simulate debtors over days: each day every person is decided (DecideDebtor) and
the contact chosen is recorded, as a dialer would, so the next day's decision
sees it. Then what the person went through is measured against the caps of the
packs in force for them.

The run of one person, day by day:

- Day d is decided at as_of + d days, with every account's days past due d
  days older and every contact recorded so far. (With `at_review`, a person is
  decided only when the last decision's next_review_at falls due, at that
  instant, as a dialer that honours it would.) Nothing else changes (nobody
  pays or agrees to anything during the run: it measures the pressure, not the
  recovery).
- A contact is made when the decision has a channel and its window opens before
  the next day's decision: at the window's start, recorded as a person-level
  contact naming the accounts it covers. A window that opens later is left to
  the next day's decision. What became of the contact (answered, unanswered,
  delivered, bounced) is drawn from the debtor id and the day with the
  calibration of the synthetic portfolio, so two runs agree.

What is measured for the person:

- contacts per week: the most contacts the run made in any 7 consecutive days
  (a rolling window, (t - 7 days, t]);
- per channel: the most outbound contacts on that channel in 7 days ending at a
  contact the run made on it, counting every earlier contact with the person
  (the history the file gave, on any account) as the law counts them;
- per cap of the packs in force for the person: the same count over the cap's
  channels and period, and how many of the run's contacts took the person over
  the cap. An earlier history already over a cap is not the run's doing and is
  not counted as an overrun; a contact the run makes on top of it is.
"""

from __future__ import annotations

import bisect
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple, Sequence

from engine.debtor import decide_debtor
from engine.debtor_snapshot import DebtorSnapshot, once, parse_debtor
from engine.engine import StrategyEngine
from engine.policy.inputs import check_debtor_inputs
from engine.errors import InvalidSnapshot
from engine.history import is_outbound
from engine.authoring.portfolio_contacts import attempt_result
from engine.registry import build_engine
from engine.authoring.simulate_input import Invalid, Payload
from engine.authoring.simulate_debtor_report import DebtorTally
from engine.authoring.simulate_report import NO_CHANNEL
from engine.snapshot import PriorContact
from engine.vocabulary import Action, Channel, Direction

DAY = timedelta(days=1)
WEEK = timedelta(days=7)


class CapSeen(NamedTuple):
    """One cap in force for one person, as the run left it."""

    cap: str  # the cap's id, e.g. "pl/draft-act-calls"
    contacts: int  # contacts the run made on the cap's channels
    most: int  # the most contacts on its channels in one of its periods ending at such a contact
    over: int  # of those contacts, how many took the person over the cap
    first_over: str | None  # when the first of them was made (ISO 8601), if any


class PersonRun(NamedTuple):
    """What the run did to one person (picklable: it comes back from a worker)."""

    line: int
    debtor_id: str
    accounts: int
    currencies: int
    actions: tuple[str, ...]  # each day's action
    channels: tuple[str, ...]  # each day's channel, NO_CHANNEL when none
    reasons: tuple[str, ...]  # each day's first reason code
    contacts: int  # contacts the run made
    covering_several: int  # of them, those about more than one account
    week_most: int  # the most contacts the run made in any 7 consecutive days
    channel_most: tuple[tuple[str, int, int], ...]  # (channel, contacts the run made on it, the most in 7 days counting earlier ones)
    caps: tuple[CapSeen, ...]


@dataclass(frozen=True)
class Made:
    at: datetime
    channel: Channel
    accounts: int


def on_day(first: DebtorSnapshot, day: int, made: Sequence[PriorContact]) -> DebtorSnapshot:
    """The debtor `day` days on: accounts that much older, with the run's contacts."""
    if not day:
        return first
    accounts = [account.model_copy(update={"days_past_due": account.days_past_due + day}) for account in first.accounts]
    return first.model_copy(update={"accounts": accounts, "contacts": [*first.contacts, *made]})


def run_person(engine: StrategyEngine, first: DebtorSnapshot, as_of: datetime, days: int, line: int = 0, at_review: bool = False) -> PersonRun:
    """Decide the person on each of `days` days from `as_of` (with `at_review`, only on
    the days a decision's next_review_at falls due, at that instant), recording each contact made."""
    made: list[PriorContact] = []
    actions, channels, reasons = [], [], []
    due = as_of
    for day in range(days):
        now = as_of + day * DAY
        if at_review and due >= now + DAY:
            continue
        decision = decide_debtor(engine, on_day(first, day, made), max(now, due) if at_review else now)
        due = decision.next_review_at
        actions.append(decision.action)
        channels.append(decision.channel.value if decision.channel else NO_CHANNEL)
        reasons.append(decision.reasons[0].code if decision.reasons else "")
        if decision.channel is None or decision.window is None or decision.window.start >= now + DAY:
            continue
        outcome, delivery = attempt_result(random.Random(f"{first.debtor_id}/{day}"), decision.channel)
        made.append(PriorContact(
            channel=decision.channel, at=max(decision.window.start, decision.as_of), outcome=outcome, action=Action(decision.action), template=decision.template,
            direction=Direction.OUTBOUND, delivery=delivery, account_ids=decision.account_ids,
        ))
    return measure(engine, first, made, line, tuple(actions), tuple(channels), tuple(reasons))


def measure(
    engine: StrategyEngine, first: DebtorSnapshot, made: Sequence[PriorContact], line: int = 0,
    actions: tuple[str, ...] = (), channels: tuple[str, ...] = (), reasons: tuple[str, ...] = (),
) -> PersonRun:
    """What the contacts `made` (after the history of `first`) did to the person."""
    earlier = [*first.contacts, *(contact for account in first.accounts for contact in account.prior_contacts)]
    outbound = [contact for contact in once([*earlier, *made]) if is_outbound(contact)]
    ours = sorted(contact.at for contact in made)
    channel_most = []
    for channel in Channel:
        at = [contact.at for contact in made if contact.channel is channel]
        if at:
            channel_most.append((channel.value, len(at), most_in(outbound, {channel}, at, WEEK)))
    caps = []
    for pack in engine.compliance.in_force(first.country, first.region):
        for cap in pack.caps:
            at = [contact.at for contact in made if contact.channel in cap.channels]
            counts = [_count(outbound, cap.channels, moment - cap.period, moment) for moment in at]
            over = [moment for moment, count in zip(at, counts, strict=True) if count > cap.max]
            caps.append(CapSeen(cap.id, len(at), max(counts, default=0), len(over), min(over).isoformat() if over else None))
    return PersonRun(
        line, first.debtor_id, len(first.accounts), len({account.currency for account in first.accounts}), actions, channels, reasons,
        len(made), sum(1 for contact in made if len(contact.account_ids) > 1),
        max((bisect.bisect_right(ours, moment) - bisect.bisect_right(ours, moment - WEEK) for moment in ours), default=0),
        tuple(channel_most), tuple(caps),
    )


def most_in(contacts: Iterable[PriorContact], channels: set[Channel] | frozenset[Channel], ends: Iterable[datetime], period: timedelta) -> int:
    """The most `contacts` on `channels` in a period (end - period, end], over the given ends."""
    listed = list(contacts)
    return max((_count(listed, channels, end - period, end) for end in ends), default=0)


def _count(contacts: Iterable[PriorContact], channels: set[Channel] | frozenset[Channel], after: datetime, until: datetime) -> int:
    # (after, until]: the rolling period the engine's caps count (engine.compliance.cap_release).
    return sum(1 for contact in contacts if contact.channel in channels and after < contact.at <= until)


# --- in the workers -----------------------------------------------------------------------------


class DebtorRunner:
    """Runs the persons of a chunk of lines, one engine per process."""

    def __init__(self, rules_dir: Path, as_of: datetime, days: int, at_review: bool = False, engine: StrategyEngine | None = None):
        self.engine = engine or build_engine(rules_dir)
        self.as_of, self.days, self.at_review = as_of, days, at_review

    def chunk(self, items: list[tuple[int, Payload]]) -> DebtorTally:
        """A chunk's persons run and tallied here, in the worker: the reader only merges."""
        tally = DebtorTally()
        tally.add([self.one(line, payload) for line, payload in items])
        return tally

    def one(self, line: int, payload: Payload) -> PersonRun | Invalid:
        if isinstance(payload, Invalid):
            return payload
        try:
            data: Any = json.loads(payload) if isinstance(payload, str) else payload
        except json.JSONDecodeError as error:
            return Invalid(line, None, "line", f"not valid JSON: {error.msg} (column {error.colno})")
        if not isinstance(data, dict):
            return Invalid(line, None, "line", "is not a JSON object (one debtor per line)")
        debtor_id = data.get("debtor_id") if isinstance(data.get("debtor_id"), str) else None
        if "accounts" not in data and "case_id" in data:
            case_id = data["case_id"] if isinstance(data["case_id"], str) else None
            return Invalid(line, case_id, "line", "is a case (it has case_id), but this file holds debtors (its first object has accounts): one form per file")
        try:
            first = check_debtor_inputs(parse_debtor(data, self.as_of), self.engine.policy.inputs)
        except InvalidSnapshot as error:
            problem = error.problems[0]
            return Invalid(line, debtor_id, problem.field, problem.description)
        except (ValueError, TypeError) as error:  # a shape validation did not foresee: one bad debtor, not a dead worker
            return Invalid(line, debtor_id, "debtor", str(error))
        return run_person(self.engine, first, self.as_of, self.days, line, self.at_review)


def runner(rules_dir: Path, as_of: datetime, days: int, at_review: bool) -> Callable[[list[tuple[int, Payload]]], DebtorTally]:
    """A spawned helper's work: its chunks' persons run and tallied with an engine it builds."""
    return DebtorRunner(rules_dir, as_of, days, at_review).chunk
