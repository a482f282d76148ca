# syntax=docker/dockerfile:1
# (BuildKit: the runtime stage mounts the builder's wheels instead of copying them into a layer.)
# The collection strategy service in a container.
#
#   docker build -t collection-strategy .
#   docker run --rm -p 50051:50051 -p 8080:8080 -p 9464:9464 collection-strategy
#   docker run --rm -p 50051:50051 -v "$PWD/rules:/app/rules:ro" -e CSE_WORKERS=2 collection-strategy
#
# Dependencies come from requirements.lock, every file checked against its hash
# (`make lock` writes it). durable_rules is published only as a source
# distribution with a C extension: the builder stage compiles its wheel once,
# beside the project's wheel; the runtime stage installs those wheels with no
# compiler and no network index.
#
# Every server option is an environment variable (CSE_PORT, CSE_BIND, CSE_RULES,
# CSE_HTTP_PORT, CSE_HTTP_PLAINTEXT, CSE_METRICS_PORT, CSE_METRICS_BIND, CSE_WORKERS,
# CSE_THREADS, CSE_GRACE_SECONDS, CSE_TLS_CERT, CSE_TLS_KEY, CSE_TLS_CLIENT_CA,
# CSE_REFLECTION, CSE_SHARE_PORT, CSE_WATCHDOG_SECONDS, CSE_LOG_FORMAT,
# CSE_DECISION_LOG, CSE_DECISION_LOG_SNAPSHOTS, CSE_DECISION_LOG_KEEP,
# CSE_REQUIRE_APPROVED, CSE_TRUSTED_KEYS, CSE_LOG_LEVEL; see `collection-strategy-server --help`). CSE_WORKERS defaults to the
# container's CPU quota (cgroup), else the CPUs the process may use. With
# CSE_WORKERS=1 no supervisor runs, so nothing replaces a frozen worker: rely on
# the orchestrator's liveness probe, or run 2 workers.
# Outside a container the server listens on 127.0.0.1 only; in one it must
# listen on the container's interface (CSE_BIND, CSE_METRICS_BIND below) for
# `-p` to reach it.
# On SIGTERM the server drains calls for up to CSE_GRACE_SECONDS (default 15),
# longer than `docker stop`'s default 10 s: use `docker stop -t 20` or lower it.

ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: every wheel the service needs, in /wheels ----------------------
FROM ${PYTHON_IMAGE} AS builder

# durable_rules ships as a source distribution with a C extension: a C compiler
# and the Python headers (the python image has them) build its wheel.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# The locked dependencies first: this layer is rebuilt only when the lock changes.
COPY requirements.lock ./
RUN pip wheel --require-hashes --no-deps -r requirements.lock --wheel-dir /wheels
COPY pyproject.toml README.md LICENSE ./
COPY engine/ engine/
COPY transport/ transport/
COPY collection_strategy/ collection_strategy/
COPY rules/ rules/
COPY proto/ proto/
COPY server.py ./
RUN pip wheel --no-deps . --wheel-dir /wheels

# ---- runtime: slim, wheels only, no compiler, not root -----------------------
FROM ${PYTHON_IMAGE} AS runtime

RUN groupadd --gid 10001 cse \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin cse

ENV PATH=/opt/venv/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CSE_PORT=50051 \
    CSE_BIND=0.0.0.0 \
    CSE_HTTP_PORT=8080 \
    CSE_METRICS_PORT=9464 \
    CSE_METRICS_BIND=0.0.0.0 \
    CSE_RULES=/app/rules

# The wheels are checked by the builder (hashes of what it downloaded); here only
# they are installed: no index, no source distribution, nothing to compile.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
 && pip install --no-index --no-deps --only-binary=:all: /wheels/*.whl \
 && pip check
WORKDIR /app
# The shipped rules are inside the package too; /app/rules is where a mounted
# or ConfigMap rules directory replaces them.
COPY rules/ rules/

USER 10001:10001
EXPOSE 50051 8080 9464

# Healthy when the gRPC health service reports the strategy service SERVING
# (plaintext: with CSE_TLS_CERT set, replace or drop this check).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os,sys,grpc;from grpc_health.v1 import health_pb2 as h,health_pb2_grpc as g;r=g.HealthStub(grpc.insecure_channel('127.0.0.1:'+os.environ.get('CSE_PORT','50051'))).Check(h.HealthCheckRequest(service='collection_strategy.v1.CollectionStrategyService'),timeout=3);sys.exit(r.status!=h.HealthCheckResponse.SERVING)"

CMD ["collection-strategy-server"]
