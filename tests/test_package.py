"""A package people can install: the wheel, the release lock and the image.

- The wheel carries what `pip install` users need (code, shipped rules and
  compliance packs, JSON Schemas, the proto, py.typed, LICENSE, both console
  scripts), and the server installed from it serves the shipped rules from a
  directory with no rules/: built, installed into a fresh virtualenv from the
  release lock, started, asked for its health and a decision, stopped.
- requirements.lock pins every runtime dependency, within pyproject's ranges,
  each with hashes: holidays and tzdata change decisions, so a release pins them.
- The Dockerfile builds wheels in one stage and installs only wheels in the next.

Everything that could hang runs in a subprocess with a timeout.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from setuptools import find_packages

from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
LOCK = REPO / "requirements.lock"
DOCKERFILE = REPO / "Dockerfile"
# https://www.apache.org/licenses/LICENSE-2.0.txt, byte for byte.
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
DECIDE_REQUEST = json.loads((REPO / "client_examples" / "cases" / "decide_request.json").read_text(encoding="utf-8"))
SERVICE = "collection_strategy.v1.CollectionStrategyService"
BUILD_SECONDS = 300
INSTALL_SECONDS = 900  # a cold pip cache downloads every dependency and compiles durable_rules
START_SECONDS = 120


# --- the licence and the package list ------------------------------------------------


def test_the_licence_file_is_the_apache_2_text_the_metadata_declares() -> None:
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    assert hashlib.sha256((REPO / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256, "LICENSE is not the unmodified Apache License 2.0"


def test_every_package_of_the_checkout_is_in_the_wheel() -> None:
    """The package list is explicit (rules/ and proto/ are mapped into it), so a new package must be added by hand."""
    setuptools = PYPROJECT["tool"]["setuptools"]
    on_disk = set(find_packages(where=str(REPO), include=["engine*", "transport*", "collection_strategy*"]))
    listed = set(setuptools["packages"])
    assert on_disk <= listed, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(on_disk - listed)}"
    mapped = setuptools["package-dir"]
    assert mapped == {"engine.shipped_rules": "rules", "collection_strategy.proto": "proto"}
    assert listed - on_disk == set(mapped), f"listed packages that are not in the checkout: {sorted(listed - on_disk - set(mapped))}"


# --- the release lock ------------------------------------------------------------------


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: tuple[str, ...]


def read_lock(text: str) -> dict[str, Pin]:
    """The pins of a `--generate-hashes` requirements file, by canonical name."""
    pins: dict[str, Pin] = {}
    for entry in re.sub(r"\\\n", " ", text).splitlines():
        entry = entry.split("#", 1)[0].strip()
        if not entry:
            continue
        requirement, *options = entry.split(" --")
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([^\s;]+)(\s*;.*)?", requirement.strip())
        assert match, f"requirements.lock: `{requirement}` is not an exact pin"
        hashes = tuple(option.split("=", 1)[1] for option in (o.strip() for o in options) if option.startswith("hash="))
        pins[canonicalize_name(match[1])] = Pin(canonicalize_name(match[1]), match[2], hashes)
    return pins


def test_the_lock_pins_every_runtime_dependency_within_its_range_with_hashes() -> None:
    pins = read_lock(LOCK.read_text(encoding="utf-8"))
    for line in PYPROJECT["project"]["dependencies"]:
        wanted = Requirement(line)
        pin = pins.get(canonicalize_name(wanted.name))
        assert pin is not None, f"requirements.lock does not pin {wanted.name}: run `make lock`"
        assert wanted.specifier.contains(pin.version, prereleases=True), f"requirements.lock pins {pin.name}=={pin.version}, outside pyproject's `{wanted}`: run `make lock`"
    unhashed = [pin.name for pin in pins.values() if not pin.hashes or not all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in pin.hashes)]
    assert not unhashed, f"requirements.lock pins without sha256 hashes: {unhashed}"


def test_the_lock_pins_the_data_that_changes_decisions() -> None:
    """Holidays and time zones decide when a debtor may be contacted: a release fixes their versions."""
    pins = read_lock(LOCK.read_text(encoding="utf-8"))
    for name in ("holidays", "tzdata"):
        assert name in pins and pins[name].hashes, f"requirements.lock must pin {name} with hashes"


def test_the_lock_reader_refuses_what_is_not_a_pin() -> None:
    assert read_lock("a==1 \\\n    --hash=sha256:" + "0" * 64 + "\n")["a"].hashes == ("sha256:" + "0" * 64,)
    with pytest.raises(AssertionError, match="not an exact pin"):
        read_lock("holidays>=0.60\n")


# --- the image -------------------------------------------------------------------------


def dockerfile_stages(text: str) -> dict[str, list[str]]:
    """The instructions of each named stage, continuation lines joined, comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    instructions = re.sub(r"\\\n", " ", "\n".join(lines)).splitlines()
    stages: dict[str, list[str]] = {}
    current: list[str] | None = None
    for instruction in (i.strip() for i in instructions):
        if match := re.match(r"FROM\s+\S+\s+AS\s+(\S+)", instruction, re.IGNORECASE):
            current = stages.setdefault(match[1], [])
        elif instruction and current is not None:
            current.append(instruction)
    return stages


def test_the_dockerfile_builds_wheels_once_and_the_runtime_installs_only_wheels() -> None:
    stages = dockerfile_stages(DOCKERFILE.read_text(encoding="utf-8"))
    assert set(stages) == {"builder", "runtime"}
    builder, runtime = " \n".join(stages["builder"]), " \n".join(stages["runtime"])
    assert "build-essential" in builder, "the builder needs a C compiler for durable_rules"
    assert re.search(r"pip wheel --require-hashes .*-r requirements\.lock", builder), "the builder must fetch dependencies from the lock, checking hashes"
    assert re.search(r"pip wheel --no-deps \. ", builder), "the builder must build the project's wheel"
    assert not re.search(r"gcc|build-essential|apt-get", runtime), "the runtime stage must have no compiler"
    installs = [i for i in stages["runtime"] if "pip install" in i]
    assert installs and all("--no-index" in i and "--only-binary=:all:" in i and "/wheels/" in i for i in installs), installs
    assert "from=builder" in " ".join(installs) and "pip check" in " ".join(installs)
    assert re.search(r"^COPY rules/ rules/", runtime, re.MULTILINE)
    exposed = {port for i in stages["runtime"] if i.startswith("EXPOSE") for port in i.split()[1:]}
    env = " ".join(i for i in stages["runtime"] if i.startswith("ENV"))
    for variable in ("CSE_PORT", "CSE_HTTP_PORT", "CSE_METRICS_PORT"):
        port = re.search(rf"{variable}=(\d+)", env)
        assert port and port[1] in exposed, f"{variable} must be set and its port exposed"
    assert stages["runtime"][-1] == 'CMD ["collection-strategy-server"]'
    assert "collection-strategy-server" in PYPROJECT["project"]["scripts"]


def test_the_dockerfile_reader_sees_a_compiler_in_the_runtime() -> None:
    stages = dockerfile_stages("FROM a AS builder\nRUN pip wheel x\nFROM a AS runtime\nRUN apt-get install \\\n  gcc\n# gcc in a comment\n")
    assert stages == {"builder": ["RUN pip wheel x"], "runtime": ["RUN apt-get install    gcc"]}


# --- the wheel, installed and serving ----------------------------------------------------


@dataclass(frozen=True)
class Built:
    wheel: Path
    names: frozenset[str]
    seconds: float


def run(command: list[str], timeout: float, **options: Any) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **options)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"`{' '.join(command)}` did not finish in {timeout} s:\n{expired.stdout or ''}{expired.stderr or ''}")
    assert done.returncode == 0, f"`{' '.join(command)}` failed:\n{done.stdout}{done.stderr}"
    return done


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("wheel")
    started = time.monotonic()
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), str(REPO)], BUILD_SECONDS)
    (wheel,) = out.glob("collection_strategy_engine-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = frozenset(archive.namelist())
    return Built(wheel, names, time.monotonic() - started)


def test_the_wheel_carries_rules_packs_schemas_proto_types_and_licence(built: Built) -> None:
    print(f"wheel built in {built.seconds:.1f} s, {built.wheel.stat().st_size} bytes, {len(built.names)} files")
    shipped = {path.relative_to(REPO / "rules").as_posix() for path in (REPO / "rules").rglob("*") if path.is_file()}
    assert {"strategies/default.yaml", "schema/policy.schema.json", "schema/pack.schema.json", "compliance/gb/gb.yaml"} <= shipped
    missing = sorted({f"engine/shipped_rules/{name}" for name in shipped} - built.names)
    assert not missing, f"the wheel lacks shipped rules: {missing}"
    proto = {f"collection_strategy/proto/{path.relative_to(REPO / 'proto').as_posix()}" for path in (REPO / "proto").rglob("*") if path.is_file()}
    assert "collection_strategy/proto/collection_strategy/v1/collection_strategy.proto" in proto and proto <= built.names, sorted(proto - built.names)
    assert {"engine/py.typed", "transport/py.typed", "collection_strategy/py.typed", "server.py", "engine/shipped.py"} <= built.names
    modules = {path.relative_to(REPO).as_posix() for top in ("engine", "transport", "collection_strategy") for path in (REPO / top).rglob("*.py")}
    assert modules <= built.names, f"the wheel lacks modules: {sorted(modules - built.names)}"
    dist_info = next(name.split("/")[0] for name in built.names if name.endswith(".dist-info/METADATA"))
    assert f"{dist_info}/licenses/LICENSE" in built.names
    with zipfile.ZipFile(built.wheel) as archive:
        metadata = archive.read(f"{dist_info}/METADATA").decode()
        scripts = archive.read(f"{dist_info}/entry_points.txt").decode()
    assert "License-Expression: Apache-2.0" in metadata and "License-File: LICENSE" in metadata
    assert re.search(r"^collection-strategy-server = server:main$", scripts, re.MULTILINE), scripts
    assert re.search(r"^collection-strategy = engine\.authoring\.cli:main$", scripts, re.MULTILINE), scripts
    assert not any(name.startswith(("tests/", "rules/", "proto/", "bench/", "scripts/")) for name in built.names), "the wheel must not carry top-level test or source trees"


def _cached_wheels() -> list[str]:
    """pip's wheel cache holds durable_rules compiled once; offer it so the install compiles nothing."""
    cache = Path(os.environ.get("PIP_CACHE_DIR") or Path.home() / ".cache" / "pip") / "wheels"
    return sorted({str(path.parent) for path in cache.rglob("durable_rules-*.whl")}) if cache.is_dir() else []


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the release lock (hashes checked) and the wheel: what the image installs."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    started = time.monotonic()
    run([sys.executable, "-m", "venv", str(venv)], 120)
    python = venv / "bin" / "python"
    links = [option for directory in _cached_wheels() for option in ("--find-links", directory)]
    run([str(python), "-m", "pip", "install", "--quiet", "--require-hashes", "-r", str(LOCK), *links], INSTALL_SECONDS)
    run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(built.wheel)], INSTALL_SECONDS)
    run([str(python), "-m", "pip", "check"], 120)
    print(f"installed in {time.monotonic() - started:.1f} s")
    return venv


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _post(base: str, method: str, body: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{base}/{SERVICE}/{method}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture(scope="module")
def serving(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """The installed console script, started where there is no rules/, two workers as in production."""
    elsewhere = tmp_path_factory.mktemp("no-rules-here")
    port, http_port = _free_port(), _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CSE_", "PYTHON"))}
    server = shutil.which("collection-strategy-server", path=str(installed / "bin"))
    assert server, "the wheel installs no collection-strategy-server script"
    process = subprocess.Popen(
        [server, "--port", str(port), "--http-port", str(http_port), "--workers", "2", "--metrics-port", "0", "--log-format", "text"],
        cwd=elsewhere, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{http_port}"
    started = time.monotonic()
    try:
        while True:
            try:
                if _post(base, "GetPolicy", {})[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() - started > START_SECONDS:
                ended = f"exited with code {process.returncode}" if process.returncode is not None else f"did not serve within {START_SECONDS} s"
                process.kill()
                pytest.fail(f"the installed server {ended}:\n{process.communicate(timeout=30)[1]}")
            time.sleep(0.3)
        print(f"installed server serving in {time.monotonic() - started:.1f} s")
        yield port, base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_installed_server_decides_on_the_shipped_rules(serving: tuple[int, str]) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    port, base = serving
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=30)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    status, policy = _post(base, "GetPolicy", {})
    shipped = (REPO / "rules" / "strategies" / "default.yaml").read_text(encoding="utf-8")
    name = re.search(r"^policy: (\S+)$", shipped, re.MULTILINE)
    assert status == 200 and name and name[1] in json.dumps(policy), policy
    status, decided = _post(base, "Decide", DECIDE_REQUEST)
    assert status == 200 and decided["decision"]["action"], decided


def test_the_installed_cli_reads_the_shipped_rules(installed: Path, tmp_path: Path) -> None:
    python = installed / "bin" / "python"
    code = "from engine.shipped import rules_dir; print(rules_dir())"
    where = Path(run([str(python), "-c", code], 60, cwd=tmp_path).stdout.strip())
    assert where.is_dir() and "site-packages" in where.parts and (where / "schema" / "policy.schema.json").is_file()
    run([str(installed / "bin" / "collection-strategy"), "check", "--rules", str(where)], 300, cwd=tmp_path)
