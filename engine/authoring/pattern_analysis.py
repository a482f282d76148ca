"""What lint can decide about `matches` patterns: whether any text fits them.

Patterns are turned into finite automata (`interegular`), but only those that
RE2 (which matches them, engine/policy/patterns.py), Python's `re` (whose parser
reads them here) and the automata read alike, and whose automata are quick to
build (`analysable`); every other pattern stays opaque, taken as matching
something. Each question builds at most STEPS automaton transitions.
No pattern is ever run by Python's `re` (it backtracks).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Callable

import interegular
import interegular.fsm
from interegular.fsm import anything_else

from engine.policy.patterns import compile_pattern


class _TooLarge(Exception):
    pass


STEPS = 10_000  # automaton transitions built per question; past it the patterns stay opaque
_steps = threading.local()
_crawl = interegular.fsm.crawl


def _counted_crawl(alphabet: Any, initial: Any, final: Any, follow: Callable[[Any, Any], Any]) -> Any:
    # Every automaton interegular builds goes through `crawl`: counting the
    # transitions it follows bounds the work of one question, whatever the patterns.
    def counted(state: Any, transition: Any) -> Any:
        _steps.left = getattr(_steps, "left", STEPS) - 1  # set per question; a stray caller gets a budget too
        if _steps.left < 0:
            raise _TooLarge
        return follow(state, transition)

    return _crawl(alphabet, initial, final, counted)


interegular.fsm.crawl = _counted_crawl


def admits_text_outside(patterns: frozenset[str], excluded: frozenset[str | bool]) -> tuple[bool, int]:
    """Whether some text fully matches every pattern and is not one of `excluded`
    (True when unsure), and the automaton transitions it took to tell."""
    if not all(analysable(pattern) for pattern in patterns):
        return True, 0
    _steps.left = STEPS
    answer = _automata_admit_text_outside(patterns, excluded)
    return answer, STEPS - max(_steps.left, 0)


def _automata_admit_text_outside(patterns: frozenset[str], excluded: frozenset[str | bool]) -> bool:
    try:
        parsed = [interegular.parse_pattern(pattern) for pattern in sorted(patterns)]
        alphabet = parsed[0].get_alphabet(interegular.REFlags(0))
        for pattern in parsed[1:]:
            alphabet = alphabet.union(pattern.get_alphabet(interegular.REFlags(0)))[0]
        automaton = parsed[0].to_fsm(alphabet)
        for pattern in parsed[1:]:
            automaton = automaton.intersection(pattern.to_fsm(alphabet))
        if automaton.empty():
            return False
        if len(automaton.states) > 2_000 or automaton.cardinality() > len(excluded):  # OverflowError: infinitely many
            return True
    except Exception:  # whatever the automata cannot do, the pattern stays opaque
        return True
    # A few texts at most, each possibly standing for many (`anything_else` is
    # every character the patterns do not name).
    return any(anything_else in symbols or "".join(symbols) not in excluded for symbols in automaton.strings())


@dataclass(frozen=True)
class ReNode:
    """One item of a regular expression as Python's `re` reads it, in neutral terms.

    `kind` is "char" (one character, `.` or a negated one), "class" (`plain`:
    only characters, ranges and `^`), "branch" (`parts`: the alternatives),
    "group" (`plain`: no flags set; `parts`: its one sequence), "repeat" (`most`:
    None when open-ended; `parts`: the one sequence repeated), or the name of
    any other construct (an anchor, a back-reference, ...).
    """

    kind: str
    parts: tuple[tuple[ReNode, ...], ...] = ()
    plain: bool = True
    most: int | None = None


@dataclass(frozen=True)
class ReTree:
    flags: bool  # the pattern sets a flag of its own, e.g. (?i)
    items: tuple[ReNode, ...]


MAX_GROUP_DEPTH = 50  # groups inside groups; deeper patterns are not parsed here (the parsers recurse)


def python_re_tree(pattern: str) -> ReTree:
    """The parse tree of Python's own `re` for `pattern`; ValueError if it does not parse.

    The one use in this project of CPython's private `re._parser` and
    `re._constants` (their names since Python 3.11): if a Python release changes
    them, lint analyses no pattern (all stay opaque) and
    tests/test_lint.py::test_python_re_tree_reads_the_private_parser fails loudly.
    """
    import re._constants as sre  # type: ignore[import-not-found]  # noqa: PLC0415 - private; isolated here on purpose; typeshed has no stub for it
    import re._parser as sre_parser  # type: ignore[import-not-found]  # noqa: PLC0415 - likewise

    if _group_depth(pattern) > MAX_GROUP_DEPTH:
        raise ValueError("too deeply nested to parse")
    try:
        tree = sre_parser.parse(pattern)
    except (re.error, RecursionError, OverflowError) as error:
        raise ValueError(str(error)) from None
    simple_class_items = {sre.LITERAL, sre.RANGE, sre.NEGATE}

    def sequence(items: Any) -> tuple[ReNode, ...]:
        return tuple(node(op, argument) for op, argument in items)

    def node(op: Any, argument: Any) -> ReNode:
        if op in (sre.LITERAL, sre.NOT_LITERAL, sre.ANY):
            return ReNode("char")
        if op is sre.IN:
            return ReNode("class", plain=all(item_op in simple_class_items for item_op, _ in argument))
        if op is sre.BRANCH:
            return ReNode("branch", tuple(sequence(branch) for branch in argument[1]))
        if op is sre.SUBPATTERN:
            _, added, removed, inner = argument
            return ReNode("group", (sequence(inner),), plain=not added and not removed)
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            _, most, inner = argument
            return ReNode("repeat", (sequence(inner),), most=None if most == sre.MAXREPEAT else int(most))
        return ReNode(str(op).lower())

    return ReTree(bool(tree.state.flags & ~re.UNICODE), sequence(tree))


def _group_depth(pattern: str) -> int:
    depth = deepest = 0
    escaped = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest


def analysable(pattern: str) -> bool:
    """Whether the automata (interegular) read this pattern as RE2 and Python's
    `re` both do, and are quick to build. Left out: patterns RE2 refuses; flags
    (case folding differs); escapes of letters and digits (`\\d`, `\\w`, `\\s` are
    Unicode in `re`, ASCII in RE2 and the automata; `\\b`, `\\x..`, octal); a `{`
    that is not a repeat count `{n}`, `{n,}`, `{n,m}` (`a{,3}` is a repeat to `re`,
    text to RE2); `[` inside a class (`[[:alpha:]]` is a POSIX class to RE2 only)
    and classes starting with `]`; anchors and look-arounds; and repeats that make
    automata explode: counted repeats after an open-ended one (`.*a.{16}` needs
    2**17 states) or above 200 in all."""
    if not _reads_alike(pattern):
        return False
    try:
        compile_pattern(pattern)
        tree = python_re_tree(pattern)
    except Exception:  # refused by RE2 or by `re`, or `re`'s private parser changed: opaque
        return False
    if tree.flags:
        return False
    counted, open_ended = 0, False

    def walk(items: tuple[ReNode, ...], scale: int) -> bool:
        nonlocal counted, open_ended
        for item in items:
            if item.kind == "char":
                continue
            if item.kind == "class":
                if not item.plain:
                    return False
            elif item.kind == "branch":
                if not all(walk(branch, scale) for branch in item.parts):
                    return False
            elif item.kind == "group":
                if not item.plain or not walk(item.parts[0], scale):
                    return False
            elif item.kind == "repeat":
                most = item.most
                if most is None:
                    open_ended = True
                    most = 1
                else:
                    counted += most * scale
                if not walk(item.parts[0], scale * most):
                    return False
            else:
                return False
        return True

    return walk(tree.items, 1) and counted <= (8 if open_ended else 200)


def _reads_alike(pattern: str) -> bool:
    """The pattern's text keeps to what Python's `re`, RE2 and interegular read alike (see `analysable`)."""
    index, length, in_class = 0, len(pattern), False
    while index < length:
        char = pattern[index]
        if char == "\\":
            if index + 1 >= length or pattern[index + 1].isalnum():
                return False
            index += 2
            continue
        if in_class:
            if char == "[" or pattern.startswith(("&&", "--", "||", "~~"), index):
                return False
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern.startswith("^", index + 1):
                index += 1
            if pattern.startswith("]", index + 1):
                return False
        elif char == "{":
            close = pattern.find("}", index)
            low, _, high = pattern[index + 1 : close].partition(",")
            if close < 0 or not low.isdigit() or not (high == "" or high.isdigit()):
                return False
            index = close
        index += 1
    return True
