"""GetPolicy's answer: the policy in force and its packs as the API describes them.

What a caller (or an operator) reads to know which rules decide: the strategy's name,
version and content hash, its dated rules, declared inputs and work queues; the
built-in guardrails; each compliance pack with where it applies and when; the holiday
and time-zone data versions; and the last refused change, until a newer version is in.
"""

from __future__ import annotations

from collections.abc import Iterable

from collection_strategy.v1 import collection_strategy_pb2 as pb
from engine.policy.ir import Effective, GuardRule, Input, Rule
from engine.policy.work import Queue
from engine.registry import PolicyRegistry
from transport import metrics


def policy_to_proto(registry: PolicyRegistry) -> pb.GetPolicyResponse:
    """The version `registry` serves now, as GetPolicy answers it."""
    active = registry.current
    ref = active.engine.ref
    strategy = pb.PolicyInfo(
        name=ref.name, version=ref.version, hash=ref.hash, kind="strategy", rule_count=len(active.engine.policy.rules),
        dated_rules=_dated(active.engine.policy.rules), inputs=_declared_inputs(active.engine.policy.inputs),
        queues=_queues(active.engine.policy.work.queues),
    )
    strategy.loaded_at.FromDatetime(active.loaded_at)
    name, version = registry.guardrail_pack()
    built_in = pb.PolicyInfo(name=name, version=version, hash="", kind="guardrails", applies_to=["*"])
    packs = [
        pb.PolicyInfo(
            name=pack.name, version=pack.version, hash=pack.content_hash, kind="compliance", rule_count=len(pack.rules),
            applies_to=_places(pack.countries, pack.regions), effective=_period(pack.effective), dated_rules=_dated(pack.rules),
        )
        for pack in active.engine.compliance.packs
    ]
    for info in [built_in, *packs]:
        info.loaded_at.FromDatetime(active.loaded_at)
    holidays, tzdata = metrics.data_versions()
    response = pb.GetPolicyResponse(policies=[strategy, built_in, *packs], holidays_version=holidays, tzdata_version=tzdata)
    refusal = registry.last_refusal
    if refusal:  # the registry forgets a refusal once a newer version is swapped in
        response.last_refusal.reason = refusal.reason
        response.last_refusal.at.FromDatetime(refusal.at)
    return response


def _period(effective: Effective | None) -> pb.EffectivePeriod | None:
    if effective is None:
        return None
    return pb.EffectivePeriod(
        effective_from=effective.start.isoformat() if effective.start else "", effective_until=effective.end.isoformat() if effective.end else ""
    )


def _dated(rules: Iterable[Rule | GuardRule]) -> list[pb.DatedRule]:
    return [pb.DatedRule(rule_id=rule.id, period=_period(rule.effective)) for rule in rules if rule.effective]


def _declared_inputs(inputs: Iterable[Input]) -> list[pb.DeclaredInput]:
    return [
        pb.DeclaredInput(
            name=item.name, type=item.type, description=item.description, required=item.required,
            min=_bound(item.minimum), max=_bound(item.maximum), values=item.values,
        )
        for item in inputs
    ]


def _bound(value: object) -> str:
    """A declared bound as text: an int or a Decimal as written, a date as YYYY-MM-DD; none: empty."""
    return "" if value is None else str(value)


def _queues(queues: Iterable[Queue]) -> list[pb.WorkQueue]:
    return [
        pb.WorkQueue(
            name=queue.name, description=queue.description or "", capacity_per_day=queue.capacity_per_day or 0,
            priority=pb.WorkPriority.Value(f"WORK_PRIORITY_{queue.priority.upper()}"), due_in=queue.due.amount, due_unit=queue.due.unit,
            default_for=sorted(action.value for action in queue.default_for),
        )
        for queue in queues
    ]


def _places(countries: frozenset[str] | None, regions: frozenset[str] | None) -> list[str]:
    if countries is None:
        return ["*"]
    if regions is None:
        return sorted(countries)
    return sorted(f"{country}-{region}" for country in countries for region in regions)
