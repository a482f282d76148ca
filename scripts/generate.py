"""Regenerate what is derived and committed: the API's Python code, the policy
JSON Schemas (rules/schema/), the facts reference (docs/facts.md) and the golden
compiled form of the shipped rules (tests/golden/) and the OpenAPI documents of the
HTTP/JSON API (proto/openapi/, by scripts/openapi.py).

Usage: python scripts/generate.py [OUT_DIR]   (default: the repository root)
The staleness test calls generate() into a temporary directory and compares.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from grpc_tools import protoc

import grpc_tools

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
WELL_KNOWN = Path(grpc_tools.__file__).parent / "_proto"


def proto_files() -> list[Path]:
    return sorted(PROTO_DIR.rglob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Write *_pb2.py, *_pb2.pyi and *_pb2_grpc.py for every proto; return them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for proto in proto_files():
        args = [
            "protoc",
            f"-I{PROTO_DIR}",
            f"-I{WELL_KNOWN}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            str(proto.relative_to(PROTO_DIR)),
        ]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc failed on {proto}")
    written = []
    for proto in proto_files():
        package_dir = out_dir / proto.relative_to(PROTO_DIR).parent
        for parent in [package_dir, *package_dir.relative_to(out_dir).parents]:
            init = out_dir / parent / "__init__.py" if parent != package_dir else package_dir / "__init__.py"
            if str(parent) != ".":
                init.touch()
        stem = proto.stem
        written += [package_dir / f"{stem}_pb2.py", package_dir / f"{stem}_pb2.pyi", package_dir / f"{stem}_pb2_grpc.py"]
    return written


def generate_docs(out_dir: Path) -> list[Path]:
    """The policy JSON Schema and the facts reference, both derived from the engine."""
    sys.path.insert(0, str(ROOT))
    from engine.matching.durable_form import ruleset_definition
    from engine.policy.facts_doc import facts_markdown
    from engine.authoring.outcomes import outcome_schema
    from engine.authoring.policy_test_model import policy_test_schema
    from engine.policy.json_schema import pack_schema, policy_schema
    from engine.registry import build_engine

    schemas = out_dir / "rules" / "schema"
    outputs = {
        schemas / "policy.schema.json": json.dumps(policy_schema(), indent=2) + "\n",
        schemas / "pack.schema.json": json.dumps(pack_schema(), indent=2) + "\n",
        schemas / "policy-test.schema.json": json.dumps(policy_test_schema(), indent=2) + "\n",
        schemas / "outcome.schema.json": json.dumps(outcome_schema(), indent=2) + "\n",
        out_dir / "docs" / "facts.md": facts_markdown(),
        # Golden: the shipped rules as durable_rules receives them, so that a
        # compiler change shows up in review as a readable diff.
        out_dir / "tests" / "golden" / "shipped-rules.durable.json": json.dumps(ruleset_definition(build_engine(ROOT / "rules").matched_rules.rules), indent=1, sort_keys=True) + "\n",
    }
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(outputs)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    from openapi import generate_openapi

    for path in [*generate(target), *generate_docs(target), *generate_openapi(target)]:
        print(path.relative_to(target))
