# The two commands that matter: `make run` (the demo clinic) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Test processes for `make test` (pytest-xdist); CI has two cores.
TEST_WORKERS ?= 2

.PHONY: run test lint fmt typecheck install install-dev db-upgrade db-check pg clean

$(VENV)/.installed-run: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version))"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version))"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

## run: install, migrate the SQLite database under var/, seed the demo clinic, serve it
run: install
	$(BIN)/clinic migrate
	$(BIN)/clinic seed-demo
	CLINIC_BASE_URL=$${CLINIC_BASE_URL:-http://$(HOST):$(PORT)} $(BIN)/clinic serve --host $(HOST) --port $(PORT)

## test: install, lint, type-check, then the whole suite (SQLite, and PostgreSQL when it answers)
test: install-dev lint typecheck
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

## fuzz: Schemathesis against the JSON API at length (500 examples per operation, 200
## call sequences; SQLite, and PostgreSQL when it answers). Override with CLINIC_FUZZ_*.
.PHONY: fuzz
fuzz: install-dev
	CLINIC_FUZZ_EXAMPLES=$${CLINIC_FUZZ_EXAMPLES:-500} \
	CLINIC_FUZZ_SCENARIOS=$${CLINIC_FUZZ_SCENARIOS:-200} \
	CLINIC_FUZZ_STEPS=$${CLINIC_FUZZ_STEPS:-10} \
	CLINIC_FUZZ_BACKENDS=$${CLINIC_FUZZ_BACKENDS:-sqlite,postgresql} \
	$(BIN)/python -m pytest -n 0 tests/api/test_schemathesis.py

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install-dev
	$(BIN)/mypy

db-upgrade: install
	$(BIN)/clinic migrate

db-check: install-dev
	$(BIN)/alembic check

## pg: start the local PostgreSQL if needed and create the test role and database
pg:
	@url="$$(.ci/pg-setup)" && echo "PostgreSQL is ready. Tests find it on their own; or export:" && \
		echo "  export CLINIC_TEST_DATABASE_URL=$$url"

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

.PHONY: bench bench-quick bench-deps

## bench: load tests against same-run baselines on SQLite and PostgreSQL (bench/, about 10 min)
bench: install-dev
	@command -v wrk >/dev/null 2>&1 || { echo "wrk is not installed: run \`make bench-deps\`"; exit 1; }
	$(BIN)/python -m bench.run

## bench-quick: the desk's day page beside availability alone (about a minute)
bench-quick: install-dev
	@command -v wrk >/dev/null 2>&1 || { echo "wrk is not installed: run \`make bench-deps\`"; exit 1; }
	$(BIN)/python -m bench.run --quick

## bench-deps: install wrk (Debian package) for make bench
bench-deps:
	@if [ "$$(id -u)" = "0" ]; then apt-get update && apt-get install -y wrk; \
	else echo "Run as root: apt-get update && apt-get install -y wrk"; fi

.PHONY: browser-deps

## browser-deps: install Chromium (Debian package) for the browser tests (tests/browser)
browser-deps:
	@if [ "$$(id -u)" = "0" ]; then apt-get update && apt-get install -y chromium; \
	else echo "Run as root: apt-get update && apt-get install -y chromium"; fi

.PHONY: screenshots

## screenshots: README images of the running demo into docs/screenshots (start `make run` first)
screenshots: install-dev
	$(BIN)/python scripts/screenshots.py --url http://$(HOST):$(PORT) --out docs/screenshots
