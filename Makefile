# The two commands of the README: `make demo` and `make test`.
#
# Both install from hash-pinned lock files made by uv from pyproject.toml:
# requirements.lock (what upseg needs to run) and requirements-dev.lock (that
# plus the test tools, with the same pins). `make lock` remakes them after a
# change to pyproject.toml; tests/test_packaging.py fails when they disagree.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# uv is bootstrapped with pip into the user's site when it is not on the PATH.
UV := $(shell command -v uv 2>/dev/null || echo $(PYTHON) -m uv)
LOCK_FLAGS := --universal --generate-hashes --custom-compile-command "make lock" --quiet

.PHONY: demo test lint format typecheck bench lock clean uv

uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --user uv

$(VENV)/.installed: requirements.lock pyproject.toml | uv
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(PY) requirements.lock
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	touch $@

$(VENV)/.dev-installed: requirements-dev.lock $(VENV)/.installed | uv
	$(UV) pip sync --quiet --python $(PY) requirements-dev.lock
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	touch $@

## demo: create .venv, install upseg from the lock, run the whole monthly loop on a synthetic world
demo: $(VENV)/.installed
	$(VENV)/bin/upseg demo --out demo-output

## test: install the dev lock, check formatting and lint, then run the whole suite
## (which type-checks the package with mypy and checks the lock against pyproject.toml)
test: lint
	$(PY) -m pytest

lint: $(VENV)/.dev-installed
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

format: $(VENV)/.dev-installed
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

typecheck: $(VENV)/.dev-installed
	$(PY) -m pytest -q tests/test_typecheck.py

## lock: remake both lock files from pyproject.toml, keeping every pin that still fits
lock: | uv
	$(UV) pip compile pyproject.toml --extra dev $(LOCK_FLAGS) -o requirements-dev.lock
	cp requirements-dev.lock requirements.lock
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) -o requirements.lock

## bench: the features benchmark on 1,000,000 customers (several minutes)
bench: $(VENV)/.dev-installed
	$(PY) -m benchmarks.bench_features --customers 1000000

clean:
	rm -rf demo-output upseg-work benchmarks/output .pytest_cache .mypy_cache .typecheck
