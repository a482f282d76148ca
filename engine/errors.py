"""Errors the engine raises for bad input, each naming what is wrong and where."""

from __future__ import annotations

import reprlib
from dataclasses import dataclass

ECHO_CHARACTERS = 40  # of a caller's value quoted in an error
MAX_FIELD_CHARACTERS = 120
MAX_DESCRIPTION_CHARACTERS = 240


def shown(value: object) -> str:
    """A caller's value as an error quotes it: its repr, cut short past
    ECHO_CHARACTERS with the full length said (`'AAAA…' (100000 characters)`),
    so that no input can swell an error past what its caller can receive."""
    if isinstance(value, str):
        if len(value) <= ECHO_CHARACTERS:
            return repr(value)
        quoted = repr(value[:ECHO_CHARACTERS])
        return f"{quoted[:-1]}…{quoted[-1]} ({len(value)} characters)"
    text = _SHORT.repr(value)  # never walks all of a large or deeply nested value
    return text if len(text) <= ECHO_CHARACTERS else text[:ECHO_CHARACTERS] + "…"


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 2, ECHO_CHARACTERS, ECHO_CHARACTERS


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class FieldProblem:
    """One bad field; both texts are bounded, whatever the input was."""

    field: str  # dotted path into the snapshot, e.g. "prior_contacts[2].at"
    description: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "field", _cut(self.field, MAX_FIELD_CHARACTERS))
        object.__setattr__(self, "description", _cut(self.description, MAX_DESCRIPTION_CHARACTERS))


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
