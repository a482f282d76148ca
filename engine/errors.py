"""Errors the engine raises for bad input, each naming what is wrong and where."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    field: str  # dotted path into the snapshot, e.g. "prior_contacts[2].at"
    description: str


class InvalidSnapshot(ValueError):
    """A case snapshot failed validation; `problems` names every bad field."""

    def __init__(self, problems: list[FieldProblem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.description}" for p in problems))


@dataclass(frozen=True)
class PolicyProblem:
    file: str
    line: int
    column: int
    message: str
    rule_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        rule = f" (rule {self.rule_id})" if self.rule_id else ""
        return f"{where}{rule}: {self.message}"


class PolicyError(ValueError):
    """A policy file or directory was refused; `problems` lists every reason."""

    def __init__(self, problems: list[PolicyProblem], message: str | None = None):
        self.problems = problems
        super().__init__(message or "\n".join(str(p) for p in problems))

    @classmethod
    def plain(cls, message: str) -> PolicyError:
        """A refusal that is not about one place in a file (e.g. failing policy tests)."""
        return cls([], message)
