"""Nothing an analyst writes can stop the service: hostile patterns and hostile YAML.

Whatever could hang or eat memory runs in a child process with a time limit (and,
for YAML, an address-space limit), so a regression fails here instead of freezing
the test run or swapping the machine.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.errors import PolicyError
from engine.matching import make_matcher
from engine.policy.loader import load_strategy
from engine.policy.patterns import MAX_PATTERN_LENGTH, compile_pattern
from engine.policy.yaml_source import MAX_FILE_BYTES, MAX_VALUES, load_yaml
from tests.conftest import REPO, load_policy, write_policy

CHILD_SECONDS = 60  # far above what the work takes; far below what a regression takes
CHILD_MEMORY = 1 << 30  # 1 GiB of address space


def run_child(code: str, memory: int | None = None) -> str:
    """Run `code` in a fresh interpreter; its stdout, or a test failure if it hangs or dies."""

    def limit() -> None:
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    try:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True, timeout=CHILD_SECONDS, preexec_fn=limit
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {CHILD_SECONDS} s")
    assert done.returncode == 0, done.stderr[-2_000:]
    return done.stdout


def pattern_policy(tmp_path: Path, pattern: str, extra: str = "") -> Path:
    write_policy(tmp_path, f"""
        policy: hostile
        version: "1"
        rules:
          - id: coded
            priority: 10
            when: {{attributes.code: {{matches: {json.dumps(pattern)}}}}}
            then: {{action: NO_CONTACT}}
            reason: x
        {extra}""")
    return tmp_path / "strategies"


# --- patterns: matched in linear time -----------------------------------------------------


@pytest.mark.parametrize("backend", ["durable", "python"])
@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|aa)*b", "(.*a){12}"])
def test_a_catastrophic_pattern_decides_at_once(tmp_path: Path, backend: str, pattern: str) -> None:
    # With Python's re, `(a+)+$` against 41 characters holds the worker (and the GIL) for minutes.
    strategies = pattern_policy(tmp_path, pattern)
    out = run_child(f"""
        from pathlib import Path
        from engine.matching import make_matcher
        from engine.policy.loader import load_strategy
        matcher = make_matcher(load_strategy(Path({str(strategies)!r})), {backend!r})
        print(matcher.matching({{"attributes.code": "a" * 250 + "!"}}))
    """)
    assert out.strip() == "[]"


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|aa)*b"])
def test_lint_finishes_beside_long_literals(tmp_path: Path, pattern: str) -> None:
    # lint applies a pattern to the literals other rules compare the same fact with.
    literal = "a" * 60 + "!"
    rules_dir = pattern_policy(tmp_path, pattern, f"""
          - id: literal
            priority: 10
            when: {{attributes.code: {json.dumps(literal)}}}
            then: {{action: HUMAN_REVIEW}}
            reason: x
        """).parent
    out = run_child(f"""
        from pathlib import Path
        from engine.authoring.lint import lint_files
        print(sorted({{finding.code for finding in lint_files(Path({str(rules_dir)!r}))}}))
    """)
    assert "load" not in out


def test_lint_folds_a_long_not_in_list_in_linear_work(tmp_path: Path) -> None:
    values = [f"v{index}" for index in range(50_000)]  # folded one value at a time: hours
    write_policy(tmp_path, f"""
        policy: long-list
        version: "1"
        rules:
          - id: unlisted
            priority: 10
            when: {{attributes.code: {{not_in: {json.dumps(values)}}}}}
            then: {{action: NO_CONTACT}}
            reason: x
        """)
    out = run_child(f"""
        from pathlib import Path
        from engine.authoring.lint import lint_files
        print([finding.code for finding in lint_files(Path({str(tmp_path)!r}))])
    """)
    assert "too-complex" not in out and "load" not in out


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("(a)\\1", "a back-reference `\\1`"),
        ("(?P<x>a)(?P=x)", "a back-reference `(?P=name)`"),
        ("a(?=b)", "a look-ahead"),
        ("a(?!b)", "a negative look-ahead"),
        ("(?<=a)b", "a look-behind"),
        ("(?<!a)b", "a negative look-behind"),
        ("a*+", "a possessive quantifier `*+`"),
        ("(?>a+)", "an atomic group"),
        ("(?#note)a", "a comment"),
        ("(?x) a", "the flag `x`"),
        ("a\\Z", "`\\Z`"),
        ("\\u0041", "`\\uXXXX`"),
        ("a{1001}", "repeat counts up to 1,000"),
        ("\\pL{1000}", "too large to compile within 1,024 KiB"),
        ("a" * (MAX_PATTERN_LENGTH + 1), f"at most {MAX_PATTERN_LENGTH:,} are allowed"),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused_at_load_naming_the_construct(tmp_path: Path, pattern: str, words: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_strategy(pattern_policy(tmp_path, pattern))
    [problem] = caught.value.problems
    assert (problem.line, problem.rule_id) == (6, "coded")  # the `when` line
    assert words in problem.message and "`matches`" in problem.message


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("\\d+", "\u0663", False),  # an Arabic-Indic three: a digit to Python's re, not to RE2
        ("\\d+", "42", True),
        ("a{,3}", "a{,3}", True),  # text to RE2, a repeat to Python's re
        ("a{,3}", "aa", False),
        ("[[:alpha:]]+", "Abc", True),  # a POSIX class to RE2
        ("a$", "a\n", False),
        ("x*", "\ud800", False),  # a lone surrogate matches nothing, and crashes nothing
    ],
)
def test_both_matchers_read_a_pattern_as_re2_does(tmp_path: Path, pattern: str, value: str, matches: bool) -> None:
    policy = load_strategy(pattern_policy(tmp_path, pattern))
    for backend in ("durable", "python"):
        assert (make_matcher(policy, backend).matching({"attributes.code": value}) == ["coded"]) is matches, backend
    assert compile_pattern(pattern).fullmatch(value) is matches


# --- YAML: bounded before anything is built ------------------------------------------------

BILLION_LAUGHS = "".join(
    f"{name}: &{name} [{', '.join([repr('lol')] * 9) if index == 0 else ', '.join(['*' + previous] * 9)}]\n"
    for index, (name, previous) in enumerate(zip("abcdefghi", " abcdefgh"))
)  # 9**9 = 387,420,489 values in about 430 bytes


def test_billion_laughs_is_refused_at_the_alias_in_every_reader(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, 'policy: bomb\nversion: "1"\nrules: []\n' + BILLION_LAUGHS)
    pack = tmp_path / "compliance" / "bomb.yaml"
    pack.parent.mkdir()
    pack.write_text("policy: bomb\n" + BILLION_LAUGHS)
    tests = tmp_path / "strategies" / "tests" / "bomb.yaml"
    tests.parent.mkdir()
    tests.write_text("tests: []\n" + BILLION_LAUGHS)
    out = run_child(f"""
        from pathlib import Path
        from engine.errors import PolicyError
        from engine.policy.loader import load_strategy
        from engine.policy.packs import load_pack
        from engine.authoring.policy_tests import load_test_file
        for read, path in ((load_strategy, {str(policy.parent)!r}), (load_pack, {str(pack)!r}), (load_test_file, {str(tests)!r})):
            try:
                read(Path(path))
                print("loaded", path)
            except PolicyError as error:
                print(*error.problems, sep="\\n")
    """, memory=CHILD_MEMORY)
    lines = out.strip().splitlines()
    assert len(lines) == 3 and all("more than 100,000 values (aliases expanded)" in line for line in lines), out
    # The alias that passes the limit: the first *e, on the sixth line of the bomb.
    assert all(line.split(": ", 1)[0].endswith(f":{offset + 6}:8") for line, offset in zip(lines, (3, 1, 1))), out


def test_the_value_limit_counts_what_aliases_repeat() -> None:
    fits = "a: &a [" + ", ".join(["x"] * 999) + "]\n" + "".join(f"k{index}: *a\n" for index in range(90))
    data, _ = load_yaml(fits, "fits.yaml")
    assert len(data) == 91
    with pytest.raises(PolicyError) as caught:
        load_yaml(fits + "".join(f"m{index}: *a\n" for index in range(20)), "over.yaml")
    [problem] = caught.value.problems
    assert (problem.line, problem.column) == (100, 5) and f"more than {MAX_VALUES:,} values" in problem.message


def test_a_file_above_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    padding = "# " + "x" * 98 + "\n"
    policy = """
        policy: big
        version: "1"
        rules:
          - id: fine
            priority: 10
            then: {action: NO_CONTACT}
            reason: x
        """
    write_policy(tmp_path, policy + padding * (MAX_FILE_BYTES // len(padding) + 1))
    with pytest.raises(PolicyError) as caught:
        load_strategy(tmp_path / "strategies")
    [problem] = caught.value.problems
    assert (problem.line, problem.column) == (1, 1) and f"at most {MAX_FILE_BYTES:,} are read" in problem.message
    assert load_policy(tmp_path, policy).rules  # the same policy without the padding loads


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("a: 1\nb: &b [*b]\n", 2, "the alias *b stands inside the block it names"),
        ("a: " + "[" * 80 + "]" * 80 + "\n", 1, "blocks nest more than 64 deep"),
        ("a: 1\nb: !pwn x\n", 2, "could not determine a constructor for the tag '!pwn'"),
        ("a: 1\nb: !!python/object/apply:os.system [ls]\n", 2, "the tag `tag:yaml.org,2002:python/object/apply:os.system` is not supported"),
        ("a: 1\nb: 2024-13-45\n", 2, "cannot be read as a date: month must be in 1..12; quote it"),
        ("a: 1\nb: " + "9" * 5_000 + "\n", 2, "cannot be read as a whole number"),
        ("a: &a {x: 1}\nb:\n  <<: *a\n", 3, "`<<` (merging a block into another) is not supported"),
    ],
)
def test_yaml_that_cannot_be_built_is_refused_with_its_line(text: str, line: int, words: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_yaml(text, "odd.yaml")
    [problem] = caught.value.problems
    assert problem.line == line and words in problem.message, problem
