# Two commands matter: `make run` and `make test`. Both set up everything they
# need in .venv/ and .tools/ first, and do nothing more on a second run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
BUF_VERSION := 1.75.0
BUF := .tools/node_modules/.bin/buf

.PHONY: install tools run test lint-proto generate bench soak clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

$(BUF):
	npm install --silent --no-audit --no-fund --prefix .tools @bufbuild/buf@$(BUF_VERSION)

install: $(INSTALLED)

tools: $(BUF)

run: $(INSTALLED)
	$(PY) server.py

test: $(INSTALLED) $(BUF)
	BUF=$(abspath $(BUF)) $(PY) -m pytest

lint-proto: $(BUF)
	$(BUF) lint proto

generate: $(INSTALLED)
	$(PY) scripts/generate.py

bench: $(INSTALLED)
	$(PY) bench/run.py

# The compliance properties and the proto fuzz tests at 10,000 examples each
# (make test runs about 100; the soak takes over 30 minutes).
soak: $(INSTALLED)
	HYPOTHESIS_PROFILE=soak $(PY) -m pytest tests/test_compliance_properties.py tests/test_proto_fuzz.py -q

clean:
	rm -rf $(VENV) .tools
