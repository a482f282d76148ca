"""Load YAML while remembering where every value came from (line and column)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.errors import PolicyError, PolicyProblem

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


def load_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    source = SourceMap(file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = getattr(error, "problem", None) or str(error)
        raise PolicyError([PolicyProblem(file, line, column, f"not valid YAML: {reason}")]) from None
    if node is None:
        raise PolicyError([PolicyProblem(file, 1, 1, "the file is empty")])
    problems: list[PolicyProblem] = []
    # A constructor per file: it remembers every node it built, for YAML anchors.
    data = _build(node, (), source, problems, yaml.constructor.SafeConstructor())
    if problems:
        raise PolicyError(problems)
    return data, source


def _build(node: yaml.Node, path: Path, source: SourceMap, problems: list[PolicyProblem], scalars: yaml.constructor.SafeConstructor) -> Any:
    source.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = scalars.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, (str, int, bool)):
                problems.append(PolicyProblem(source.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1, "a key must be a plain word"))
                continue
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                line = key_node.start_mark.line + 1
                problems.append(PolicyProblem(source.file, line, key_node.start_mark.column + 1, f"`{key}` appears twice in the same block; keep one"))
                continue
            result[key] = _build(value_node, (*path, key), source, problems, scalars)
            source.positions[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, index), source, problems, scalars) for index, item in enumerate(node.value)]
    return scalars.construct_object(node)
