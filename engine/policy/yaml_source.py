"""Load YAML while remembering where every value came from (line and column).

Every YAML file the engine reads (policies, compliance packs, policy tests) goes
through `load_yaml`, which bounds what a file can cost before anything is built:
- a file is at most MAX_FILE_BYTES (checked before it is read, and again on text);
- a document holds at most MAX_VALUES values, counting every value an alias
  (`*name`) repeats: nine nested lists of nine aliases ("billion laughs") are
  427 bytes and 387 million values, and are refused at the alias that passes the
  limit, before a single value is built;
- blocks nest at most MAX_DEPTH deep, and an alias cannot stand inside the block
  it names (the document would be infinite);
- tags beyond YAML's plain types, merge keys (`<<`) and values YAML cannot build
  (a 13th month, a 5,000-digit number) are refused with their line and column.
The text is parsed and composed by libyaml when PyYAML has it (an order of
magnitude faster than in Python); the nodes are then counted against the limits
above. A file past a limit, or one libyaml refuses, is composed again here, one
node at a time, which refuses it at the node that passes the limit: so every
error names the same line and column either way (load_yaml_reference composes
every file that way, for the tests). Without libyaml, PyYAML's pure-Python parser
reads the text and the same composer counts as it goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.resolver import Resolver
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.scanner import Scanner

from engine.errors import PolicyError, PolicyProblem


class _PythonParser(Reader, Scanner, Parser):
    """PyYAML's pure-Python parser, where PyYAML was built without libyaml."""

    def __init__(self, stream: str):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)

    def dispose(self) -> None:
        pass


try:
    from yaml.cyaml import CParser as _Parser  # libyaml
    from yaml.cyaml import CSafeLoader as _CLoader
except ImportError:  # PyYAML built without libyaml
    _Parser = _PythonParser
    _CLoader = None


MAX_FILE_BYTES = 1 << 20  # 1 MiB; the shipped strategy is 32 KB
MAX_VALUES = 100_000  # values in one file, aliases expanded; the shipped strategy has about 1,500
MAX_DEPTH = 64  # blocks inside blocks; a policy needs about 10

Path = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Line and column (1-based) of every value, keyed by its path in the document."""

    file: str
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path) -> tuple[int, int]:
        """The position of the deepest part of `path` that exists in the document."""
        for end in range(len(path), -1, -1):
            position = self.positions.get(tuple(path[:end]))
            if position:
                return position
        return (1, 1)

    def problem(self, path: Path, message: str, rule_id: str | None = None) -> PolicyProblem:
        line, column = self.where(path)
        return PolicyProblem(self.file, line, column, message, rule_id)


def read_yaml_file(path: FilePath) -> str:
    """The text of a YAML file, refused (PolicyError) when unreadable or above MAX_FILE_BYTES."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise PolicyError([_too_large(str(path), size)])
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError([PolicyProblem(str(path), 1, 1, f"cannot be read: {error}")]) from None


def load_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """The one document in `text` and where each of its values is; PolicyError with
    file, line and column for every problem, and for a file past the limits above."""
    return _load(text, file, _compose)


def load_yaml_reference(text: str, file: str, parser: type | None = None) -> tuple[Any, SourceMap]:
    """load_yaml with every node composed in Python, counted as it goes (by `parser`'s
    events; default: libyaml's where PyYAML has it): the behaviour load_yaml must equal."""
    return _load(text, file, lambda text: _compose_counting(text, parser or _Parser))


def _load(text: str, file: str, compose: Any) -> tuple[Any, SourceMap]:
    if len(text) * 4 > MAX_FILE_BYTES:  # a character is at most 4 bytes: only then count them
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_FILE_BYTES:
            raise PolicyError([_too_large(file, size)])
    source = SourceMap(file)
    try:
        node = compose(text)
    except _Refused as refused:
        raise PolicyError([PolicyProblem(file, refused.mark.line + 1, refused.mark.column + 1, refused.message)]) from None
    except yaml.YAMLError as error:
        raise PolicyError([_yaml_problem(file, error)]) from None
    if node is None:
        raise PolicyError([PolicyProblem(file, 1, 1, "the file is empty")])
    problems: list[PolicyProblem] = []
    # A constructor per file: it remembers every node it built, for YAML anchors.
    data = _build(node, (), source, problems, yaml.constructor.SafeConstructor())
    if problems:
        raise PolicyError(problems)
    return data, source


def _too_large(file: str, size: int) -> PolicyProblem:
    return PolicyProblem(file, 1, 1, f"the file is {size:,} bytes; at most {MAX_FILE_BYTES:,} are read (split it into several files)")


def _yaml_problem(file: str, error: yaml.YAMLError) -> PolicyProblem:
    mark = getattr(error, "problem_mark", None)
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    reason = getattr(error, "problem", None) or str(error)
    return PolicyProblem(file, line, column, f"not valid YAML: {reason}")


class _Refused(Exception):
    def __init__(self, mark: Any, message: str):
        self.mark = mark
        self.message = message


class _BoundedComposer(Composer, Resolver):
    """PyYAML's composer, counting the values each node stands for as it goes
    (mixed with a parser by _compose_counting)."""

    def __init__(self, text: str):
        self._parser.__init__(self, text)
        Composer.__init__(self)
        Resolver.__init__(self)
        self.values = 0  # values composed so far, each alias counting what it repeats
        self.depth = 0
        self.sizes: dict[int, int] = {}  # id(node) -> values it stands for, once complete

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = self.anchors.get(event.anchor)
            if node is not None:  # an unknown alias is PyYAML's error to report
                size = self.sizes.get(id(node))
                if size is None:
                    raise _Refused(event.start_mark, f"the alias *{event.anchor} stands inside the block it names, which would never end")
                self._count(size, event.start_mark, f"the alias *{event.anchor} repeats {size:,} values")
            return Composer.compose_node(self, parent, index)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Refused(event.start_mark, f"blocks nest more than {MAX_DEPTH} deep here")
        before = self.values
        self._count(1, event.start_mark, "")
        node = Composer.compose_node(self, parent, index)
        self.sizes[id(node)] = self.values - before
        self.depth -= 1
        return node

    def _count(self, size: int, mark: Any, what: str) -> None:
        self.values += size
        if self.values > MAX_VALUES:
            because = f"{what}, and " if what else ""
            raise _Refused(mark, f"{because}the file would hold more than {MAX_VALUES:,} values (aliases expanded); split it, or write fewer aliases")


_COMPOSERS: dict[type, type] = {}


def _compose_counting(text: str, parser: type) -> yaml.Node | None:
    kind = _COMPOSERS.get(parser)
    if kind is None:
        kind = _COMPOSERS[parser] = type(f"_Bounded{parser.__name__}", (parser, _BoundedComposer), {"_parser": parser, "__init__": _BoundedComposer.__init__})
    composer = kind(text)
    try:
        return Composer.get_single_node(composer)
    finally:
        composer.dispose()


def _compose(text: str) -> yaml.Node | None:
    """The document's nodes: composed by libyaml when it is there and the file is
    within the limits, else by _compose_counting (which says where a limit is passed)."""
    if _CLoader is not None:
        loader = _CLoader(text)
        try:
            node = loader.get_single_node()
        except Exception:  # noqa: BLE001 - whatever libyaml refuses is composed again below, for the same error as always
            node = _UNCHECKED
        finally:
            loader.dispose()
        if node is None or (node is not _UNCHECKED and _within_limits(node)):
            return node
    return _compose_counting(text, _Parser)


_UNCHECKED: Any = object()


class _PastLimits(Exception):
    pass


def _within_limits(root: yaml.Node) -> bool:
    """Whether the composed document stays within MAX_VALUES (each alias counting the
    values it repeats) and MAX_DEPTH, with no alias inside the block it names: the
    checks _BoundedComposer makes as it composes, made on the finished nodes."""
    try:
        return _values(root, 1, {}) <= MAX_VALUES
    except _PastLimits:
        return False


def _values(node: yaml.Node, depth: int, sizes: dict[int, int]) -> int:
    """The values a node stands for. Nodes are met in the order they were composed,
    so one met again is an alias of it (-1: met inside itself)."""
    known = sizes.get(id(node))
    if known is not None:
        if known < 0:
            raise _PastLimits  # an alias inside the block it names
        return known
    if depth > MAX_DEPTH:
        raise _PastLimits
    sizes[id(node)] = -1
    total = 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            total += _values(key, depth + 1, sizes) + _values(value, depth + 1, sizes)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            total += _values(item, depth + 1, sizes)
    sizes[id(node)] = total
    return total


def _build(node: yaml.Node, path: Path, source: SourceMap, problems: list[PolicyProblem], scalars: yaml.constructor.SafeConstructor) -> Any:
    mark = node.start_mark
    source.positions[path] = (mark.line + 1, mark.column + 1)
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _TEXT:
            return node.value  # what SafeConstructor builds of text, without its bookkeeping
        value = _scalar(node, source, problems, scalars)
        return None if value is _UNBUILT else value
    if node.tag not in _BLOCK_TAGS:
        problems.append(_at(source, node, f"the tag `{node.tag}` is not supported here; remove it"))
        return None
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                problems.append(_at(source, key_node, "`<<` (merging a block into another) is not supported; write the keys out"))
                continue
            if key_node.tag == _TEXT and isinstance(key_node, yaml.ScalarNode):
                key = key_node.value
            else:
                key = _scalar(key_node, source, problems, scalars) if isinstance(key_node, yaml.ScalarNode) else None
            if key is _UNBUILT:
                continue
            if not isinstance(key, (str, int, bool)):
                problems.append(_at(source, key_node, "a key must be a plain word"))
                continue
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                problems.append(_at(source, key_node, f"`{key}` appears twice in the same block; keep one"))
                continue
            inside = (*path, key)
            result[key] = _build(value_node, inside, source, problems, scalars)
            source.positions[inside] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return result
    return [_build(item, (*path, index), source, problems, scalars) for index, item in enumerate(node.value)]


_UNBUILT = object()
_TEXT = "tag:yaml.org,2002:str"
_BLOCK_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")  # plain mappings and lists: no !!set, !!omap, !custom
_KINDS = {"int": "a whole number", "float": "a number", "timestamp": "a date", "bool": "true or false"}


def _scalar(node: yaml.Node, source: SourceMap, problems: list[PolicyProblem], scalars: yaml.constructor.SafeConstructor) -> Any:
    """A plain value, or _UNBUILT (with a problem) when YAML cannot build it."""
    try:
        return scalars.construct_object(node)
    except yaml.constructor.ConstructorError as error:  # an unknown tag (`!foo`, `!!python/...`), bad base64
        problems.append(_at(source, node, f"not valid YAML: {error.problem}"))
    except (ValueError, OverflowError) as error:  # a date that does not exist, a number past Python's limits
        kind = _KINDS.get(node.tag.rsplit(":", 1)[-1], "a value")
        problems.append(_at(source, node, f"`{_excerpt(node.value)}` cannot be read as {kind}: {error}; quote it to keep it as text"))
    return _UNBUILT


def _excerpt(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _at(source: SourceMap, node: yaml.Node, message: str) -> PolicyProblem:
    return PolicyProblem(source.file, node.start_mark.line + 1, node.start_mark.column + 1, message)
