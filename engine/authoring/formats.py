"""What the analyst tools found, in the formats a person or a CI pipeline reads.

Every tool (`check`'s load problems, `lint`'s findings, `test`'s failures) turns
what it found into `Annotation`s: a place in a policy file (path, line, column),
a severity, a stable code and a message. `render` writes them as

  text    one line each, `path:line:column: severity [code] title: message`
  json    a list of objects, one per annotation, with the fields of `Annotation`
  junit   JUnit XML (one test case per annotation; errors and warnings are
          failures, notes pass), which CI servers show as test results
  sarif   SARIF 2.1.0, which code-scanning services show on the line
  github  GitHub Actions workflow commands (`::error file=...,line=...::message`),
          which annotate a pull request on the line

An annotation without a line (a whole directory was refused) names only its path.
A command keeps its own `text` output where it had one before these formats.
"""

from __future__ import annotations

import argparse
import json
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import PurePath
from typing import Any, Literal, Sequence
from urllib.parse import quote

Severity = Literal["error", "warning", "info"]
Format = Literal["text", "json", "junit", "sarif", "github"]
FORMATS: tuple[Format, ...] = ("text", "json", "junit", "sarif", "github")
ENGINE_PACKAGE = "collection-strategy-engine"
# The version of the YAML policy language (strategies, packs, policy tests): raised
# when a policy written for the previous version would be read differently or refused.
POLICY_LANGUAGE_VERSION = "1"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}
GITHUB_COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}
# XML 1.0 admits no other control characters, escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class Annotation:
    """One thing a tool found, at a place in a policy file."""

    path: str
    line: int | None  # 1-based; None: about the whole file or directory
    column: int | None  # 1-based; None: the whole line
    severity: Severity
    code: str  # stable, e.g. `shadowed`, `load`
    title: str  # short: the rule or test it is about, else the code
    message: str
    rule_id: str | None = None


@lru_cache(maxsize=1)  # installed packages do not change under a running process
def engine_version() -> str:
    """The installed version of the engine package, `unknown` when run from an uninstalled checkout."""
    try:
        return metadata.version(ENGINE_PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def add_format_option(parser: argparse.ArgumentParser) -> None:
    """`--format text|json|junit|sarif|github` on a command whose results are annotations."""
    parser.add_argument(
        "--format", choices=FORMATS, default="text",
        help="how to print what was found: text (default), json, junit (CI test results), sarif (code scanning), github (pull-request annotations)",
    )


def render(annotations: Sequence[Annotation], output_format: Format, tool: str = "collection-strategy") -> str:
    """The annotations as one document in `output_format`; `tool` names the command in junit and sarif."""
    if output_format == "text":
        return "\n".join(_text(annotation) for annotation in annotations)
    if output_format == "json":
        return json.dumps([asdict(annotation) for annotation in annotations], indent=2, ensure_ascii=False)
    if output_format == "junit":
        return _junit(annotations, tool)
    if output_format == "sarif":
        return json.dumps(_sarif(annotations, tool), indent=2, ensure_ascii=False)
    if output_format == "github":
        return "\n".join(_github(annotation) for annotation in annotations)
    raise ValueError(f"--format: unknown format {output_format!r}; one of {', '.join(FORMATS)}")


def _where(annotation: Annotation) -> str:
    parts = [annotation.path]
    if annotation.line is not None:
        parts.append(str(annotation.line))
        if annotation.column is not None:
            parts.append(str(annotation.column))
    return ":".join(parts)


def _text(annotation: Annotation) -> str:
    title = f" {annotation.title}:" if annotation.title and annotation.title != annotation.code else ""
    return f"{_where(annotation)}: {annotation.severity} [{annotation.code}]{title} {annotation.message}"


def _junit(annotations: Sequence[Annotation], tool: str) -> str:
    failures = sum(1 for annotation in annotations if annotation.severity != "info")
    cases = max(len(annotations), 1)  # a clean run is one passing case, so CI shows it ran
    suites = ElementTree.Element("testsuites", name=tool, tests=str(cases), failures=str(failures), errors="0")
    suite = ElementTree.SubElement(suites, "testsuite", name=tool, tests=str(cases), failures=str(failures), errors="0", skipped="0")
    if not annotations:
        ElementTree.SubElement(suite, "testcase", name=f"{tool}: nothing found", classname=tool)
    for annotation in annotations:
        case = ElementTree.SubElement(suite, "testcase", name=_xml(f"{_where(annotation)} [{annotation.code}] {annotation.title}"), classname=_xml(annotation.path))
        if annotation.severity == "info":
            ElementTree.SubElement(case, "system-out").text = _xml(annotation.message)
        else:
            failure = ElementTree.SubElement(case, "failure", message=_xml(annotation.message), type=annotation.severity)
            failure.text = _xml(f"{_where(annotation)}: {annotation.severity} [{annotation.code}] {annotation.message}")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\N{REPLACEMENT CHARACTER}", text)


def _sarif(annotations: Sequence[Annotation], tool: str) -> dict[str, Any]:
    codes = sorted({annotation.code for annotation in annotations})
    results = []
    for annotation in annotations:
        location: dict[str, Any] = {"artifactLocation": {"uri": _uri(annotation.path)}}
        if annotation.line is not None and annotation.line >= 1:
            region = {"startLine": annotation.line}
            if annotation.column is not None and annotation.column >= 1:
                region["startColumn"] = annotation.column
            location["region"] = region
        result: dict[str, Any] = {
            "ruleId": annotation.code,
            "ruleIndex": codes.index(annotation.code),
            "level": SARIF_LEVELS[annotation.severity],
            "message": {"text": annotation.message},
            "locations": [{"physicalLocation": location}],
        }
        if annotation.rule_id:
            result["properties"] = {"policyRule": annotation.rule_id}
        results.append(result)
    driver = {"name": tool, "version": engine_version(), "rules": [{"id": code} for code in codes]}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{"tool": {"driver": driver}, "results": results}]}


def _uri(path: str) -> str:
    """A relative path stays relative (code scanning resolves it from the checkout); an absolute one is a file URI."""
    pure = PurePath(path)
    if pure.is_absolute():
        return "file://" + quote(pure.as_posix())
    return quote(pure.as_posix())


def _github(annotation: Annotation) -> str:
    properties = [f"file={_property(annotation.path)}"]
    if annotation.line is not None:
        properties.append(f"line={annotation.line}")
        if annotation.column is not None:
            properties.append(f"col={annotation.column}")
    properties.append(f"title={_property(f'[{annotation.code}] {annotation.title}' if annotation.title != annotation.code else annotation.code)}")
    return f"::{GITHUB_COMMANDS[annotation.severity]} {','.join(properties)}::{_data(annotation.message)}"


def _data(text: str) -> str:
    # The escapes of GitHub's runner (toolkit/core `escapeData`): a newline would end the command.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
