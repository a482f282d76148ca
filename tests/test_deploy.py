"""The Kubernetes deployment (deploy/): the Helm chart rendered by a real helm,
every manifest checked against the Kubernetes schemas (kubernetes-validate,
strict: an unknown field is an error), the pod's own configuration run as a
real server on its rules laid out as the kubelet lays out a ConfigMap, and the
dashboard's and alerts' queries checked against what that server exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jsonschema
import kubernetes_validate
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from engine.last_good import fingerprint
from engine.registry import PolicyRegistry
from tests.conftest import REPO
from tests.test_server import free_port
from transport.servicer import SERVICE_NAME

CHART = REPO / "deploy" / "helm" / "collection-strategy"
DASHBOARD = REPO / "deploy" / "grafana" / "collection-strategy.json"
NAMESPACE = "cse"
# The oldest Kubernetes the chart declares (Chart.yaml kubeVersion: the preStop
# sleep action) and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
EVERY_OPTION = (
    "serviceMonitor.enabled=true", "prometheusRule.enabled=true", "gitSync.enabled=true", "gitSync.repo=https://git.example/rules.git",
    "gitSync.credentialsSecret=rules-repo", "autoscaling.enabled=false", "server.httpPort=0", "podDisruptionBudget.enabled=false",
)
MONITORING = ("serviceMonitor.enabled=true", "prometheusRule.enabled=true")

# Metrics the dashboard or alerts may read that the server does not export:
# made by Prometheus itself, or by kube-state-metrics (README "Kubernetes").
EXTERNAL_METRICS = {"up", "kube_deployment_status_replicas_available"}
# Being added to the server now (issue 12, Operations). Tolerated while absent,
# but only as long as none of them is exported: once they land, all are checked.
PENDING_METRICS = {"collection_build_info", "collection_last_reload_success", "collection_last_reload_timestamp_seconds"}


# --- rendering ----------------------------------------------------------------------------------


def _helm() -> str:
    helm = os.environ.get("HELM") or shutil.which("helm") or next((str(p) for p in [REPO / ".tools/bin/helm"] if p.exists()), None)
    if helm is None:
        if os.environ.get("CI"):
            pytest.fail("helm is not installed; `make test` installs it (make tools)")
        pytest.skip("helm is not installed; `make test` installs it (make tools)")
    return helm


def helm_template(*sets: str) -> subprocess.CompletedProcess[str]:
    command = [_helm(), "template", "cse", str(CHART), "--namespace", NAMESPACE]
    for option in sets:
        command += ["--set", option]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)


def render(*sets: str) -> list[dict[str, Any]]:
    result = helm_template(*sets)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def one(docs: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    [found] = [doc for doc in docs if doc["kind"] == kind and doc["metadata"]["name"].endswith(name_suffix)]
    return found


def engine_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    [container] = [c for c in one(docs, "Deployment")["spec"]["template"]["spec"]["containers"] if c["name"] == "engine"]
    return container


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container["env"]}


# --- the CRDs: the prometheus-operator's kinds, the fields this chart writes -------------------------

_DURATION = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA = {"type": "object", "required": ["name", "labels"], "properties": {"name": {"type": "string"}, "labels": _STRINGS}, "additionalProperties": False}
CRD_SCHEMAS: dict[str, dict[str, Any]] = {
    "ServiceMonitor": {
        "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "ServiceMonitor"}, "metadata": _METADATA,
            "spec": {
                "type": "object", "required": ["selector", "endpoints"], "additionalProperties": False,
                "properties": {
                    "selector": {"type": "object", "properties": {"matchLabels": _STRINGS}, "additionalProperties": False},
                    "endpoints": {"type": "array", "minItems": 1, "items": {
                        "type": "object", "required": ["port"], "additionalProperties": False,
                        "properties": {"port": {"type": "string"}, "path": {"type": "string"}, "interval": _DURATION},
                    }},
                },
            },
        },
    },
    "PrometheusRule": {
        "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "PrometheusRule"}, "metadata": _METADATA,
            "spec": {
                "type": "object", "required": ["groups"], "additionalProperties": False,
                "properties": {"groups": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["name", "rules"], "additionalProperties": False,
                    "properties": {"name": {"type": "string", "minLength": 1}, "interval": _DURATION, "rules": {"type": "array", "minItems": 1, "items": {
                        "type": "object", "required": ["alert", "expr"], "additionalProperties": False,
                        "properties": {"alert": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}, "expr": {"type": "string", "minLength": 1},
                                       "for": _DURATION, "labels": _STRINGS, "annotations": _STRINGS},
                    }}},
                }}},
            },
        },
    },
}


def validate(doc: dict[str, Any], version: str) -> None:
    """Core kinds against the Kubernetes schemas, strictly; the operator's kinds against CRD_SCHEMAS."""
    if doc["kind"] in CRD_SCHEMAS:
        jsonschema.validate(doc, CRD_SCHEMAS[doc["kind"]])
    else:
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("sets", [(), EVERY_OPTION, MONITORING], ids=["defaults", "every-option", "monitoring"])
def test_every_manifest_is_valid_against_the_kubernetes_schemas(sets: tuple[str, ...], version: str) -> None:
    docs = render(*sets)
    assert len(docs) >= 4
    for doc in docs:
        try:
            validate(doc, version)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as error:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']} is invalid for Kubernetes {version}: {error}")


def test_the_validation_is_strict() -> None:
    """A misspelt field is an error, in a core kind and in a CRD: the check is not a formality."""
    docs = render(*MONITORING)
    deployment = one(docs, "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["grcp"] = {"port": 50051}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment, KUBERNETES_VERSIONS[0])
    rule = one(docs, "PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["fro"] = "5m"
    with pytest.raises(jsonschema.ValidationError):
        validate(rule, KUBERNETES_VERSIONS[0])


# --- what the pod is --------------------------------------------------------------------------------


def test_one_engine_process_per_pod_with_native_grpc_probes_on_the_health_service() -> None:
    docs = render()
    engine = engine_container(docs)
    env = env_of(engine)
    assert env["CSE_WORKERS"] == "1"
    ports = {port["name"]: port["containerPort"] for port in engine["ports"]}
    assert ports["grpc"] == int(env["CSE_PORT"]) and ports["http"] == int(env["CSE_HTTP_PORT"]) and ports["metrics"] == int(env["CSE_METRICS_PORT"])
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert engine[probe]["grpc"] == {"port": ports["grpc"], "service": SERVICE_NAME}, probe
    resources = engine["resources"]
    assert resources["requests"]["cpu"] and resources["limits"]["cpu"] == resources["requests"]["cpu"]
    assert resources["limits"]["memory"]
    security = engine["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["runAsNonRoot"] is True
    assert security["allowPrivilegeEscalation"] is False and security["capabilities"]["drop"] == ["ALL"]
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    # The read-only root leaves the server /tmp for its scratch files, and nothing else writable.
    mounts = {mount["mountPath"]: mount for mount in engine["volumeMounts"]}
    assert env["TMPDIR"] == "/tmp" and "/tmp" in mounts
    assert all(mount.get("readOnly") for path, mount in mounts.items() if path != "/tmp")


def test_termination_grace_outlasts_the_prestop_pause_and_the_drain() -> None:
    docs = render()
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    engine = engine_container(docs)
    pause = engine["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = float(env_of(engine)["CSE_GRACE_SECONDS"])
    assert pod["terminationGracePeriodSeconds"] > pause + drain
    refused = helm_template("terminationGracePeriodSeconds=20")  # 5 s pause + 15 s drain: no margin left
    assert refused.returncode != 0 and "terminationGracePeriodSeconds (20) must exceed" in refused.stderr


def test_the_autoscaler_budget_services_and_monitor_all_point_at_the_engine_pods() -> None:
    docs = render(*MONITORING)
    deployment = one(docs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert "replicas" not in deployment["spec"], "with the autoscaler on, the Deployment must not fight it over replicas"
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]["name"]}
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"
    assert hpa["spec"]["minReplicas"] >= 2, "one pod alone cannot be drained without an outage"
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items() and pdb["spec"]["maxUnavailable"] >= 1
    container_ports = {port["name"] for port in engine_container(docs)["ports"]}
    services = {doc["metadata"]["name"].rsplit("-", 1)[1]: doc for doc in docs if doc["kind"] == "Service"}
    assert set(services) == {"grpc", "http"}
    for service in services.values():
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= container_ports
    assert services["grpc"]["spec"]["ports"][0]["appProtocol"] == "kubernetes.io/h2c"
    monitor = one(docs, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= services["grpc"]["metadata"]["labels"].items()
    assert {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]} <= {port["name"] for port in services["grpc"]["spec"]["ports"]}
    alerts = {rule["alert"] for group in one(docs, "PrometheusRule")["spec"]["groups"] for rule in group["rules"]}
    assert alerts == {"CollectionStrategyReloadRefused", "CollectionStrategyErrors", "CollectionStrategySlow", "CollectionStrategyNoHealthyPods"}


def test_git_sync_clones_before_the_engine_starts_and_pulls_beside_it() -> None:
    docs = render(*EVERY_OPTION)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    [clone] = pod["initContainers"]
    sidecar = next(c for c in pod["containers"] if c["name"] == "git-sync")
    assert env_of(clone)["GITSYNC_ONE_TIME"] == "true" and env_of(sidecar)["GITSYNC_ONE_TIME"] == "false"
    assert env_of(sidecar)["GITSYNC_LINK"] == "current" and sidecar["envFrom"] == [{"secretRef": {"name": "rules-repo"}}]
    engine = engine_container(docs)
    assert env_of(engine)["CSE_RULES"] == "/git/current/rules"
    assert {"name": "git", "mountPath": "/git", "readOnly": True} in engine["volumeMounts"]
    assert not [doc for doc in docs if doc["kind"] == "ConfigMap"], "with git-sync the chart ships no rules ConfigMap"
    refused = helm_template("gitSync.enabled=true")
    assert refused.returncode != 0 and "gitSync.repo" in refused.stderr


# --- the rules as the kubelet lays out a ConfigMap volume ---------------------------------------------


def configmap_files(docs: list[dict[str, Any]]) -> dict[str, str]:
    """The files the pod sees: each ConfigMap key at the path the volume's items give it."""
    data = one(docs, "ConfigMap", "-rules")["data"]
    volume = next(v for v in one(docs, "Deployment")["spec"]["template"]["spec"]["volumes"] if v["name"] == "rules")
    return {item["path"]: data[item["key"]] for item in volume["configMap"]["items"]}


@dataclass
class KubeletVolume:
    """A ConfigMap volume as the kubelet's atomic writer keeps it: the files in a
    hidden timestamped folder, `..data` a link to it, and each top-level name a
    link through `..data`. An update writes a new folder, renames a new link over
    `..data` (the atomic step), then removes the old folder."""

    mount: Path
    serial: int = 0

    def write(self, files: dict[str, str]) -> None:
        self.serial += 1
        folder = f"..2026_12_01_10_00_{self.serial:02d}.{1000 + self.serial}"
        for path, text in files.items():
            target = self.mount / folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        data = self.mount / "..data"
        old = os.readlink(data) if data.is_symlink() else None
        os.symlink(folder, self.mount / "..data_tmp")
        os.rename(self.mount / "..data_tmp", data)
        for top in {path.split("/", 1)[0] for path in files}:
            if not (self.mount / top).is_symlink():
                os.symlink(f"..data/{top}", self.mount / top)
        if old:
            shutil.rmtree(self.mount / old)


def rules_volume(docs: list[dict[str, Any]], root: Path) -> tuple[KubeletVolume, Path]:
    """The rules volume as the kubelet lays it out under `root`, and the --rules directory the chart gives the server there."""
    engine = engine_container(docs)
    [mount] = [m["mountPath"] for m in engine["volumeMounts"] if m["name"] == "rules"]
    volume = KubeletVolume(root / Path(mount).relative_to("/"))
    volume.write(configmap_files(docs))
    return volume, root / Path(env_of(engine)["CSE_RULES"]).relative_to("/")


def with_new_strategy_version(files: dict[str, str], version: str) -> dict[str, str]:
    changed = dict(files)
    changed["strategies/default.yaml"], count = re.subn(r'(?m)^version: .*$', f'version: "{version}"', files["strategies/default.yaml"], count=1)
    assert count == 1
    return changed


def test_the_rules_configmap_holds_every_shipped_rules_file_at_its_path() -> None:
    files = configmap_files(render())
    shipped = {str(p.relative_to(REPO / "rules")): p.read_text(encoding="utf-8") for p in (REPO / "rules").rglob("*") if p.suffix in (".yaml", ".yml")}
    assert files == shipped


def test_a_kubelet_update_reloads_through_the_data_link_and_a_rewrite_does_not(tmp_path: Path) -> None:
    """The chart points --rules at `..data`: the server sees strategies/ and
    compliance/ under their own names, one version at a time. (Walked from the
    mount itself, the fingerprint would name the timestamped folder and change
    on every rewrite, and list both folders between the swap and the cleanup.)"""
    docs = render()
    files = configmap_files(docs)
    volume, rules_dir = rules_volume(docs, tmp_path)
    registry = PolicyRegistry(rules_dir, isolate=False)
    plain = tmp_path / "plain"
    for path, text in files.items():
        (plain / path).parent.mkdir(parents=True, exist_ok=True)
        (plain / path).write_text(text, encoding="utf-8")
    assert registry.current.fingerprint == fingerprint(plain), "the server must see the files under their own names"
    volume.write(files)  # the same content in a new timestamped folder
    assert registry.reload_if_changed() is None
    volume.write(with_new_strategy_version(files, "2099.1.1"))
    assert registry.reload_if_changed() is True
    assert registry.current.engine.policy.version == "2099.1.1"


# --- the pod's configuration as a real server ---------------------------------------------------------


@dataclass
class Pod:
    process: subprocess.Popen[bytes]
    grpc_port: int
    metrics_port: int
    volume: KubeletVolume
    files: dict[str, str]
    reload_seconds: str

    def scrape(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            return response.read().decode()


@pytest.fixture(scope="module")
def pod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pod]:
    """server.py with the environment the chart gives the engine container, on
    the chart's rules laid out as the kubelet does; ports and addresses local."""
    tmp = tmp_path_factory.mktemp("pod")
    docs = render()
    files = configmap_files(docs)
    env = env_of(engine_container(docs))
    volume, rules_dir = rules_volume(docs, tmp)
    grpc_port, metrics_port, http_port = free_port(), free_port(), free_port()
    env |= {
        "CSE_BIND": "127.0.0.1", "CSE_METRICS_BIND": "127.0.0.1", "CSE_PORT": str(grpc_port), "CSE_METRICS_PORT": str(metrics_port),
        "CSE_HTTP_PORT": str(http_port), "CSE_RULES": str(rules_dir), "TMPDIR": str(tmp),
    }
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CSE_") and k != "PROMETHEUS_MULTIPROC_DIR"} | env
    log = tmp / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen([sys.executable, "server.py"], cwd=REPO, env=environment, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while True:  # what the kubelet's startup probe asks
                assert process.poll() is None, f"the server exited with {process.returncode}:\n{log.read_text()[-3000:]}"
                try:
                    if health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=1).status == health_pb2.HealthCheckResponse.SERVING:
                        break
                except grpc.RpcError:
                    pass
                assert time.monotonic() < deadline, f"not SERVING after 90 s:\n{log.read_text()[-3000:]}"
                time.sleep(0.3)
        yield Pod(process, grpc_port, metrics_port, volume, files, env["CSE_RELOAD_SECONDS"])
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana label_values query) reads."""
    names = set(re.findall(r"label_values\(\s*([A-Za-z_:][\w:]*)", expr))
    expr = re.sub(r"label_values\([^)]*\)", " ", expr)
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    for match in re.finditer(r"(?<![\w:$.])([A-Za-z_:][\w:]*)\s*(\()?", expr):
        if not match.group(2) and match.group(1) not in KEYWORDS:
            names.add(match.group(1))
    return names


def exported_series(exposition: str) -> set[str]:
    """Every series name a Prometheus text exposition can hold, from its TYPE lines
    (present for a labelled metric before its first sample)."""
    suffixes = {"counter": ("", "_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"), "summary": ("", "_sum", "_count", "_created"), "info": ("_info",)}
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            base = name.removesuffix("_total") if kind == "counter" else name
            names |= {base + suffix for suffix in suffixes.get(kind, ("",))} | {name}
    return names


def queries() -> dict[str, str]:
    """Every query of the dashboard and the alerts, by where it is."""
    found: dict[str, str] = {}
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            found[f"dashboard panel {panel['title']!r} {target['refId']}"] = target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found[f"dashboard variable {variable['name']}"] = variable["query"]
    for group in one(render(*MONITORING), "PrometheusRule")["spec"]["groups"]:
        for rule in group["rules"]:
            found[f"alert {rule['alert']}"] = rule["expr"]
    return found


def test_metric_names_are_read_from_queries() -> None:
    assert metric_names('sum by (grpc_method, le) (rate(grpc_server_handling_seconds_bucket{job=~"$job",grpc_type="unary"}[$__rate_interval]))') == {"grpc_server_handling_seconds_bucket"}
    assert metric_names('label_values(grpc_server_handled_total{namespace="$namespace"}, job)') == {"grpc_server_handled_total"}
    assert metric_names('sum(rate(a_total{code=~"5.."}[5m]) or rate(b_seconds_count[5m]))') == {"a_total", "b_seconds_count"}
    assert metric_names("max by (pod) (a_gauge == 0) or sum(increase(b_total[15m])) > 0.5") == {"a_gauge", "b_total"}


def not_exported(names: set[str], exported: set[str]) -> set[str]:
    """The names no scrape can show: neither exported, nor made outside the server,
    nor pending while none of the pending metrics is exported yet."""
    pending_tolerated = PENDING_METRICS if not PENDING_METRICS & exported else set()
    return names - exported - EXTERNAL_METRICS - pending_tolerated


def test_pending_metrics_are_tolerated_only_until_the_first_of_them_is_exported() -> None:
    pending = {"collection_last_reload_success", "collection_build_info"}
    assert not_exported(pending | {"up", "a_total"}, {"a_total"}) == set()
    assert not_exported(pending, {"collection_build_info"}) == {"collection_last_reload_success"}
    assert not_exported({"a_totl"}, {"a_total"}) == {"a_totl"}


def test_the_dashboard_and_alerts_read_only_metrics_the_server_exports(pod: Pod) -> None:
    exported = exported_series(pod.scrape())
    assert {"grpc_server_handled_total", "grpc_server_handling_seconds_bucket", "http_server_request_duration_seconds_bucket"} <= exported
    assert not {"collection_requests_total", "collection_request_seconds_bucket"} & exported  # replaced by the grpc_server_* names
    unknown = {where: sorted(names) for where, expr in queries().items() if (names := not_exported(metric_names(expr), exported))}
    assert not unknown, f"metrics the server does not export (exported: {sorted(exported)}): {unknown}"


def test_the_dashboard_is_grafana_json_with_a_query_in_every_panel() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"] and {v["name"] for v in dashboard["templating"]["list"]} >= {"datasource", "namespace", "job"}
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["targets"] and all(target["expr"].strip() for target in panel["targets"]), panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        assert all('namespace="$namespace"' in target["expr"] for target in panel["targets"]), f"{panel['title']}: not scoped to the chosen namespace"


def test_an_update_of_the_configmap_swaps_the_policy_in_the_running_server(pod: Pod) -> None:
    """Hot reload through the kubelet's symlink swap, end to end: the metric that
    names the policy in force shows the new version, without a restart."""
    pod.volume.write(with_new_strategy_version(pod.files, "2099.2.1"))
    deadline = time.monotonic() + 60
    while 'version="2099.2.1"' not in pod.scrape():
        assert pod.process.poll() is None and time.monotonic() < deadline, "the new version was not swapped in within 60 s"
        time.sleep(0.5)
    time.sleep(3 * float(pod.reload_seconds))  # a few more looks: long enough to see a second reload, were there one
    reloads = {line.split("}")[0] + "}": float(line.split()[-1]) for line in pod.scrape().splitlines() if line.startswith("collection_policy_reloads_total{")}
    # Once: not again for the old folder's removal, and no refusal on the way.
    assert reloads.get('collection_policy_reloads_total{result="swapped"}') == 1.0, reloads
    assert reloads.get('collection_policy_reloads_total{result="refused"}', 0.0) == 0.0, reloads
