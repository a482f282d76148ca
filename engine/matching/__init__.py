"""Rule matching: given a case's facts, which rules of a policy match.

Two interchangeable matchers read the same intermediate form: `durable` (the
production engine) and `python` (plain predicates: the baseline in benchmarks
and the oracle in tests). Nothing outside this package knows durable_rules exists.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

from engine.policy.ir import Condition


class MatchableRule(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def condition(self) -> Condition: ...


class RuleSet(Protocol):
    """What a matcher needs: a name and version, and rules with ids and conditions."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def rules(self) -> Sequence[MatchableRule]: ...


class RuleMatcher(Protocol):
    def matching(self, facts: dict[str, Any]) -> list[str]:
        """Ids of every rule whose condition holds for these facts (any order)."""
        ...


class MatcherFault(RuntimeError):
    """The rule engine failed; the caller must not contact on this decision."""


def make_matcher(policy: RuleSet, backend: str = "durable") -> RuleMatcher:
    if backend == "durable":
        from engine.matching.durable_matcher import DurableMatcher

        return DurableMatcher(policy)
    if backend == "python":
        from engine.matching.python_matcher import PythonMatcher

        return PythonMatcher(policy)
    raise ValueError(f"unknown matcher backend {backend!r}")
