r"""Policy patterns (`matches`): RE2 syntax, the whole value must match, linear time.

Python's `re` backtracks: `(a+)+$` against 41 characters holds a worker (and
the GIL) for minutes. RE2 (google-re2) never backtracks: matching takes time
linear in the text whatever the pattern, so no rule an analyst writes can stall
a decision. What RE2 cannot do in linear time it does not have, and a pattern
using it is refused when the policy loads, naming the construct:
back-references (`\1`, `(?P=name)`), look-ahead and look-behind, possessive
quantifiers (`a*+`), atomic groups, conditionals, comments, the `x` flag,
`\Z` (leave it out: the whole value must match anyway) and `\uXXXX` (write
`\x{XXXX}`).

Limits, checked at load: a pattern is at most MAX_PATTERN_LENGTH characters,
and must compile within MAX_PATTERN_MEMORY bytes (RE2's `max_mem`, which also
caps the matching cache of the pattern); RE2 itself refuses repeat counts above
1,000, nested ones included.

RE2 reads some things differently from Python's `re`: `\d`, `\w`, `\s` and `\b`
are ASCII, `a{,3}` is the literal text "a{,3}", `[[:alpha:]]` is a POSIX class.
Every place that runs a pattern (the loader, both matchers, lint) gets it from
`compile_pattern`, so they all read it the same way, as RE2 does. A text that is
not valid Unicode (a lone surrogate) matches no pattern.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

MAX_PATTERN_LENGTH = 1_000  # characters
MAX_PATTERN_MEMORY = 1 << 20  # bytes: RE2's max_mem for one compiled pattern (its default is 8 MiB)

_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_PATTERN_MEMORY
_OPTIONS.log_errors = False  # RE2 would print every refused pattern to stderr

# Constructs RE2 refuses, as (prefix at a position outside a class, words for the analyst).
_GROUPS = (
    ("(?=", "a look-ahead `(?=...)`"),
    ("(?!", "a negative look-ahead `(?!...)`"),
    ("(?<=", "a look-behind `(?<=...)`"),
    ("(?<!", "a negative look-behind `(?<!...)`"),
    ("(?>", "an atomic group `(?>...)`"),
    ("(?P=", "a back-reference `(?P=name)`"),
    ("(?P>", "a recursion `(?P>name)`"),
    ("(?#", "a comment `(?#...)`"),
    ("(?(", "a conditional `(?(...)...)`"),
    ("(?R", "a recursion `(?R)`"),
    ("(?&", "a recursion `(?&name)`"),
)
_ESCAPES = {  # escape letter -> (the construct, what to write instead)
    "Z": ("`\\Z`", "the whole value must match anyway: leave it out"),
    "u": ("`\\uXXXX`", "write `\\x{XXXX}`"),
    "U": ("`\\UXXXXXXXX`", "write `\\x{XXXXXX}`"),
    "N": ("`\\N{...}` (a character by name)", "write `\\x{XXXX}`"),
    "k": ("a back-reference `\\k<name>`", ""),
    "g": ("a back-reference `\\g...`", ""),
    "G": ("`\\G`", ""),
    "K": ("`\\K`", ""),
    "R": ("`\\R`", "write `(\\r\\n|\\n|\\r)`"),
    "X": ("`\\X`", ""),
}
_RE2_FLAGS = frozenset("imsU")


class PatternError(ValueError):
    """A `matches` pattern that cannot be used; the message says why, in the analyst's words."""


class Pattern:
    """A compiled policy pattern: `fullmatch(text)` tells whether the whole text matches."""

    __slots__ = ("text", "_regexp")

    def __init__(self, text: str, regexp: Any):  # re2's compiled pattern (the module has no types)
        self.text = text
        self._regexp = regexp

    def fullmatch(self, value: str) -> bool:
        try:
            encoded = value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no text a pattern describes
            return False
        # Given bytes, re2 skips mapping byte offsets back to characters: half the cost.
        return self._regexp.fullmatch(encoded) is not None

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (compile_pattern, (self.text,))  # worker processes compile their own copy

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"


@functools.lru_cache(maxsize=1024)
def compile_pattern(text: str) -> Pattern:
    """The pattern compiled by RE2; PatternError names what is wrong.

    Cached: the loader, both matchers and lint share one compiled object per text
    (each holds at most MAX_PATTERN_MEMORY; a policy has a few, durable_rules
    takes at most ~200), and a hot reload compiles only the patterns that changed.
    """
    if len(text) > MAX_PATTERN_LENGTH:
        raise PatternError(f"the pattern is {len(text):,} characters long; at most {MAX_PATTERN_LENGTH:,} are allowed")
    try:
        return Pattern(text, re2.compile(text, _OPTIONS))
    except re2.error as error:
        raise PatternError(_explain(text, _reason(error))) from None
    except UnicodeEncodeError:
        raise PatternError("the pattern is not valid Unicode text") from None


def _reason(error: Exception) -> str:
    reason = error.args[0] if error.args else str(error)
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def _explain(text: str, reason: str) -> str:
    unsupported = unsupported_construct(text)
    if unsupported:
        construct, instead = unsupported
        return f"{construct} is not supported: patterns are matched by RE2, in time linear in the text, which has no such construct" + (f"; {instead}" if instead else "")
    if reason.startswith("pattern too large"):
        return f"the pattern is too large to compile within {MAX_PATTERN_MEMORY // 1024:,} KiB; simplify it (fewer or smaller repeats, narrower classes)"
    if reason.startswith("invalid repetition size"):
        return f"not a valid regular expression ({reason}): RE2 allows repeat counts up to 1,000, nested repeats multiplied together"
    return f"not a valid regular expression (RE2 syntax): {reason}"


def unsupported_construct(text: str) -> tuple[str, str] | None:
    """The first construct of Python's `re` or PCRE in `text` that RE2 does not have,
    in words, and what to write instead ("" if nothing); None if there is none."""
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char == "\\" and index + 1 < length:
            following = text[index + 1]
            if following in "123456789":
                return f"a back-reference `\\{following}`", ""
            if following in _ESCAPES:
                return _ESCAPES[following]
            index += 2
            continue
        if char == "[":
            index = _class_end(text, index)
            continue
        if char == "(" and text.startswith("(?", index):
            for prefix, words in _GROUPS:
                if text.startswith(prefix, index):
                    return words, ""
            unknown = _unknown_flag(text, index + 2)
            if unknown:
                return f"the flag `{unknown}`", "RE2 knows only the flags i, m, s and U"
            index += 2  # past `(?`: its `?` quantifies nothing
            continue
        if text.startswith("+", index + 1) and (char in "*+?" or (char == "}" and _closes_count(text, index))):
            return f"a possessive quantifier `{'{n}' if char == '}' else char}+`", f"write `{'{n}' if char == '}' else char}`"
        index += 1
    return None


def _unknown_flag(text: str, index: int) -> str | None:
    """In `(?flags)` or `(?flags-flags:...)` starting at `index`, a flag RE2 does not know."""
    end = index
    while end < len(text) and (text[end].isascii() and text[end].isalpha() or text[end] == "-"):
        end += 1
    if end == index or not text.startswith((":", ")"), end):
        return None
    return next((flag for flag in text[index:end] if flag != "-" and flag not in _RE2_FLAGS), None)


def _closes_count(text: str, index: int) -> bool:
    """Whether the `}` at `index` closes a repeat count such as `{2}` or `{2,5}`."""
    start = text.rfind("{", 0, index)
    inside = text[start + 1 : index]
    return start >= 0 and bool(inside) and inside.replace(",", "", 1).isdigit() and inside[0].isdigit()


def _class_end(text: str, start: int) -> int:
    """The index just past the character class opening at `start` (the end of the text if unclosed)."""
    index = start + 1
    if text.startswith("^", index):
        index += 1
    if text.startswith("]", index):  # a `]` first is a character
        index += 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
        elif text.startswith("[:", index) and text.find(":]", index + 2) > 0:
            index = text.find(":]", index + 2) + 2
        elif text[index] == "]":
            return index + 1
        else:
            index += 1
    return index
