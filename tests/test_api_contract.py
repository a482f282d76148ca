"""The API contract: buf lint clean, generated code committed and current."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
from generate import generate, generate_docs  # noqa: E402


def test_generated_code_is_current(tmp_path: Path) -> None:
    for fresh in generate(tmp_path):
        committed = REPO / fresh.relative_to(tmp_path)
        assert committed.exists(), f"{committed} is missing: run `make generate`"
        assert committed.read_bytes() == fresh.read_bytes(), f"{committed} is stale: run `make generate` and commit"


def _buf() -> str | None:
    return os.environ.get("BUF") or shutil.which("buf") or next((str(p) for p in [REPO / ".tools/node_modules/.bin/buf"] if p.exists()), None)


def test_buf_lint_passes_with_default_rules() -> None:
    buf = _buf()
    if buf is None:
        if os.environ.get("CI"):
            pytest.fail("buf is not installed; `make test` installs it")
        pytest.skip("buf is not installed; `make test` installs it")
    result = subprocess.run([buf, "lint"], cwd=REPO / "proto", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_api_only_grows_against_the_last_release() -> None:
    # proto/released/ holds the released API as a buf image (`buf build -o`); a new
    # release adds its own image there.
    buf = _buf()
    if buf is None:
        if os.environ.get("CI"):
            pytest.fail("buf is not installed; `make test` installs it")
        pytest.skip("buf is not installed; `make test` installs it")
    released = sorted((REPO / "proto" / "released").glob("*.binpb"))
    assert released, "proto/released/ holds no released API image"
    result = subprocess.run([buf, "breaking", "proto", "--against", str(released[-1])], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def last_release_tag() -> str | None:
    """The newest release tag (vX.Y.Z) reachable from HEAD, or None in a clone without tags."""
    if not (REPO / ".git").exists():
        return None
    result = subprocess.run(["git", "describe", "--tags", "--abbrev=0", "--match", "v[0-9]*"], cwd=REPO, capture_output=True, text=True, timeout=60)
    return result.stdout.strip() or None if result.returncode == 0 else None


def test_the_api_only_grows_against_the_last_release_tag() -> None:
    """The proto as tagged, read from git: the check holds even if proto/released/ was forgotten."""
    buf = _buf()
    if buf is None:
        if os.environ.get("CI"):
            pytest.fail("buf is not installed; `make test` installs it")
        pytest.skip("buf is not installed; `make test` installs it")
    tag = last_release_tag()
    if tag is None:
        pytest.skip("no release tag in this checkout (a CI clone may lack tags: fetch them with `git fetch --tags`)")
    against = f".git#tag={tag},subdir=proto"
    result = subprocess.run([buf, "breaking", "proto", "--against", against], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"buf breaking against {tag}:\n{result.stdout}{result.stderr}"


def test_policy_schemas_facts_reference_and_golden_compiled_rules_are_current(tmp_path: Path) -> None:
    for fresh in generate_docs(tmp_path):
        committed = REPO / fresh.relative_to(tmp_path)
        assert committed.read_text(encoding="utf-8") == fresh.read_text(encoding="utf-8"), f"{committed} is stale: run `make generate`"


def test_shipped_policies_validate_against_the_editor_schema() -> None:
    import json

    import jsonschema
    import yaml

    def validator(name: str) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator(json.loads((REPO / "rules/schema" / name).read_text(encoding="utf-8")))

    validator_for = {"strategies": validator("policy.schema.json"), "compliance": validator("pack.schema.json")}
    files = [path for path in sorted((REPO / "rules").rglob("*.yaml")) if "tests" not in path.parts]
    assert len(files) >= 8
    for path in files:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        errors = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator_for[path.relative_to(REPO / "rules").parts[0]].iter_errors(document)]
        assert not errors, f"{path}: {errors[:3]}"
    validator = validator_for["strategies"]
    typo = yaml.safe_load("policy: p\nversion: '1'\nrules:\n- {id: a, priority: 1, when: {days_past_du: 3}, then: {action: NO_CONTACT}, reason: x}\n")
    assert any("days_past_du" in error.message for error in validator.iter_errors(typo))


def test_every_rpc_of_the_proto_is_served_with_its_own_parsing() -> None:
    """The service is registered by transport.servicer.add_to_server, not by the generated
    code: an rpc added to the proto must be added there too, with the request left as
    bytes (the handler parses it) and the response serialized as the proto says."""
    import grpc

    from collection_strategy.v1 import collection_strategy_pb2 as pb
    from transport.servicer import SERVICE_NAME, CollectionStrategyServicer, add_to_server

    registered: dict[str, grpc.RpcMethodHandler] = {}

    class Server:  # records what add_to_server registers
        def add_generic_rpc_handlers(self, generic: object) -> None:
            pass

        def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
            assert service == SERVICE_NAME
            registered.update(handlers)

    add_to_server(CollectionStrategyServicer(registry=None, streams=None), Server())  # type: ignore[arg-type]
    methods = pb.DESCRIPTOR.services_by_name["CollectionStrategyService"].methods
    assert set(registered) == {method.name for method in methods}
    for method in methods:
        handler = registered[method.name]
        assert (handler.request_streaming, handler.response_streaming) == (method.client_streaming, method.server_streaming), method.name
        assert handler.request_deserializer is None, method.name
        assert handler.response_serializer == getattr(pb, method.output_type.name).SerializeToString, method.name
