"""Many cases at one instant with one policy version: the bulk entry point.

Every path that decides more than one case goes through here: gRPC's
DecideBatch and DecideStream, `simulate`, the `decide` command and the Spark
job. They therefore agree on what a row becomes: a case refused by validation
(with its field and reason, never dropped), or a decision, which
`decision_row` flattens into the columns a dialer list or a table holds.

The caller builds the engine once and keeps it for the whole run: a reload in
the middle of a batch must not split it across two policy versions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from engine.decision import Decision
from engine.engine import StrategyEngine
from engine.errors import FieldProblem, InvalidSnapshot
from engine.policy.inputs import check_inputs
from engine.snapshot import CaseSnapshot, parse_snapshot


@dataclass(frozen=True)
class Refusal:
    """A row that is not a valid case: where it was, and why (the first problem found)."""

    row: int  # the row's number in its input, as the caller counts them (a file's line)
    case_id: str | None  # as the row gave it, when it is text
    field: str
    problem: str

    def to_row(self) -> dict[str, Any]:
        return {"row": self.row, "case_id": self.case_id, "field": self.field, "problem": self.problem}


def decide_one(engine: StrategyEngine, data: Mapping[str, Any], as_of: datetime, explain: bool = False) -> tuple[CaseSnapshot, Decision]:
    """Validate one snapshot and decide it. Raises InvalidSnapshot naming every bad field;
    a shape validation did not foresee is still one bad case, named `case`."""
    try:
        snapshot = parse_snapshot(dict(data), as_of)
    except InvalidSnapshot:  # a ValueError too: keep the field it names
        raise
    except (ValueError, TypeError) as error:
        raise InvalidSnapshot([FieldProblem("case", str(error))]) from None
    return decide_snapshot(engine, snapshot, as_of, explain)


def decide_snapshot(engine: StrategyEngine, snapshot: CaseSnapshot, as_of: datetime, explain: bool = False) -> tuple[CaseSnapshot, Decision]:
    """Decide a snapshot already valid (parse_snapshot, or a reader that agrees with it, as
    transport/case_reader.py does) after the policy's check of its inputs (check_inputs):
    the snapshot with its inputs typed, and its decision. Raises InvalidSnapshot as decide_one."""
    try:
        snapshot = check_inputs(snapshot, engine.policy.inputs)
    except InvalidSnapshot:
        raise
    except (ValueError, TypeError) as error:
        raise InvalidSnapshot([FieldProblem("case", str(error))]) from None
    return snapshot, engine.decide(snapshot, as_of, explain=explain)


def decide_row(engine: StrategyEngine, number: int, data: Any, as_of: datetime) -> Decision | Refusal:
    """Row `number` decided at `as_of`: a Decision, or the Refusal of a row that is not a
    valid case (a row that is not a JSON object included)."""
    if not isinstance(data, Mapping):
        return Refusal(number, None, "case", "is not an object (one case per row)")
    try:
        return decide_one(engine, data, as_of)[1]
    except InvalidSnapshot as error:
        return refusal(number, data, error)


def decided_row(engine: StrategyEngine, number: int, data: Any, as_of: datetime) -> dict[str, Any] | Refusal:
    """Row `number` decided at `as_of` as its flat row (decision_row, with the case's segment
    and days past due), or the Refusal of a row that is not a valid case."""
    if not isinstance(data, Mapping):
        return Refusal(number, None, "case", "is not an object (one case per row)")
    try:
        snapshot, decision = decide_one(engine, data, as_of)
    except InvalidSnapshot as error:
        return refusal(number, data, error)
    return decision_row(decision, snapshot)


def decide_many(engine: StrategyEngine, rows: Iterable[tuple[int, Any]], as_of: datetime) -> Iterator[Decision | Refusal]:
    """Each numbered row decided at `as_of`, in order (decide_row)."""
    for number, data in rows:
        yield decide_row(engine, number, data, as_of)


def refusal(number: int, data: Mapping[str, Any], error: InvalidSnapshot) -> Refusal:
    case_id = data.get("case_id")
    first = error.problems[0]
    return Refusal(number, case_id if isinstance(case_id, str) else None, first.field, first.description)


# The flat form of a decision, in this column order. Lists are joined with LIST_SEPARATOR
# (codes and rule ids never hold it), money stays exact text, instants are UTC ISO 8601.
DECISION_COLUMNS = (
    "case_id", "action", "channel", "template",
    "window_start_utc", "window_end_utc", "window_time_zone", "window_start_local", "window_end_local",
    "offer_currency", "offer_discount_pct_min", "offer_discount_pct_max", "offer_instalments_min", "offer_instalments_max",
    "offer_min_instalment", "offer_max_deferral_days", "offer_settlement_floor", "offer_payment_holiday", "offer_review_above_discount_pct",
    "reason_codes", "fired_rules", "vetoes", "experiment_arm",
    "policy_name", "policy_version", "policy_hash", "as_of", "next_review_at",
    "work_queue", "work_priority", "work_due_utc",  # a review's work item (engine/work_items.py); empty for other actions
    "segment", "days_past_due",  # the case's, as decided: what `evaluate` groups outcomes by
)
REFUSAL_COLUMNS = ("row", "case_id", "field", "problem")
LIST_SEPARATOR = ";"
# The type of every column, for a table's schema (Parquet, Spark): text unless named
# here; any column may be empty (None), e.g. the offer's of a decision without an offer.
INTEGER_COLUMNS = frozenset({"offer_instalments_min", "offer_instalments_max", "offer_max_deferral_days", "days_past_due", "row"})
BOOLEAN_COLUMNS = frozenset({"offer_payment_holiday"})


def utc_text(value: datetime | None) -> str | None:
    """An instant as UTC ISO 8601 with Z, the form of every instant in a flat row or a record."""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def decision_row(decision: Decision, snapshot: CaseSnapshot | None = None) -> dict[str, Any]:
    """One decision as one flat row (DECISION_COLUMNS): what a dialer list or a table holds.
    The case's segment and days past due come from its snapshot, empty without one."""
    window, offer = decision.window, decision.offer
    discount = offer.discount_pct if offer else None
    instalments = offer.instalments if offer else None
    return {
        "case_id": decision.case_id,
        "action": decision.action,
        "channel": decision.channel.value if decision.channel else None,
        "template": decision.template,
        "window_start_utc": utc_text(window.start) if window else None,
        "window_end_utc": utc_text(window.end) if window else None,
        "window_time_zone": window.time_zone if window else None,
        "window_start_local": window.local_start if window else None,
        "window_end_local": window.local_end if window else None,
        "offer_currency": offer.currency if offer else None,
        "offer_discount_pct_min": _text(discount[0]) if discount else None,
        "offer_discount_pct_max": _text(discount[1]) if discount else None,
        "offer_instalments_min": instalments[0] if instalments else None,
        "offer_instalments_max": instalments[1] if instalments else None,
        "offer_min_instalment": _text(offer.min_instalment) if offer else None,
        "offer_max_deferral_days": offer.max_deferral_days if offer else None,
        "offer_settlement_floor": _text(offer.settlement_floor) if offer else None,
        "offer_payment_holiday": offer.payment_holiday if offer else None,
        "offer_review_above_discount_pct": _text(offer.review_above_discount_pct) if offer else None,
        "reason_codes": LIST_SEPARATOR.join(reason.code for reason in decision.reasons),
        "fired_rules": LIST_SEPARATOR.join(decision.fired_rules),
        # guardrail:rule[:channel], the channel only when one channel (not the candidate) was removed
        "vetoes": LIST_SEPARATOR.join(
            ":".join((veto.guardrail, veto.rule_id, *((veto.channel.value,) if veto.channel else ()))) for veto in decision.vetoes
        ),
        "experiment_arm": decision.experiment_arm,
        "policy_name": decision.policy.name,
        "policy_version": decision.policy.version,
        "policy_hash": decision.policy.hash,
        "as_of": utc_text(decision.as_of),
        "next_review_at": utc_text(decision.next_review_at),
        "work_queue": decision.work.queue if decision.work else None,
        "work_priority": decision.work.priority if decision.work else None,
        "work_due_utc": utc_text(decision.work.due) if decision.work else None,
        "segment": snapshot.segment if snapshot else None,
        "days_past_due": snapshot.days_past_due if snapshot else None,
    }
