# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check --quiet

.PHONY: demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(PIP) install -e ".[dev]"
	touch $@

## demo: create .venv, install upseg, run the main job on a synthetic world
demo: $(VENV)/.installed
	$(VENV)/bin/upseg demo --out demo-output

## test: install the dev dependencies and run the linter and the whole suite
test: $(VENV)/.dev-installed
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

## bench: the features benchmark on 1,000,000 customers (several minutes)
bench: $(VENV)/.dev-installed
	$(PY) -m benchmarks.bench_features --customers 1000000

clean:
	rm -rf demo-output upseg-work benchmarks/output .pytest_cache
