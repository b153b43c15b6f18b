# Quick start: `make demo` then `make test`. Every target creates .venv and installs when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# uv installs exactly the versions uv.lock pins (what CI tested), several times faster than pip;
# pip only bootstraps uv. `make lock` after editing the dependencies, `make upgrade` to move the pins.
UV := $(BIN)/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: demo test test-fast bench ui lint format clean help chromium java lock upgrade

help:
	@echo "make demo   simulate a day of checkouts through the reference service, reconcile it, score it"
	@echo "make test   the whole test suite (slow end-to-end tests included)"
	@echo "make ui     the Dagster UI (dagster dev) on workspace.yaml"
	@echo "make bench  benchmarks under bench/"
	@echo "make lint   ruff check, ruff format --check, and lint-imports (the layering contracts)"
	@echo "make lock   update uv.lock after editing pyproject.toml's dependencies"
	@echo "make upgrade  move uv.lock to the newest versions pyproject.toml allows"

$(UV):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

# --locked: a uv.lock older than pyproject.toml's dependencies is an error naming `uv lock`, not
# a silent resolve; --inexact keeps uv itself, which the lock does not list.
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --extra dev --inexact --compile-bytecode --quiet
	touch $(STAMP)

lock: | $(UV)
	$(UV) lock

upgrade: | $(UV)
	$(UV) lock --upgrade
	@echo "uv.lock moved to the newest versions pyproject.toml allows: run make test, then commit it"

# One Dagster instance for `make demo` and `make ui`: the UI then shows the demo's run, its
# materialisations and its check results. Only these two targets use it (the tests' runs stay
# in ephemeral instances of their own).
DAGSTER_HOME := $(CURDIR)/.dagster
INSTANCE := $(DAGSTER_HOME)/dagster.yaml

$(INSTANCE): dagster_instance.yaml
	mkdir -p $(DAGSTER_HOME) && cp dagster_instance.yaml $(INSTANCE)

demo: $(STAMP) $(INSTANCE)
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/recon demo --dir data

# The report browser test needs Chromium: Debian's package, installed here when missing.
CHROMIUM := $(shell command -v chromium || command -v chromium-browser)

# Whole files per worker (module fixtures are built once), one worker more than the cores: much
# of the suite waits on subprocesses, servers and JVMs starting, and a third worker on two cores
# kept them busy (the suite: 615 s with two workers, 560 s with three). --no-loadscope-reorder:
# xdist hands out files in the order tests/conftest.py sorts them (the longest first), not by
# their number of tests, which had the Spark engine's few long tests start last.
WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 1)')

test: $(STAMP) chromium java
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder

chromium:
	@if [ -z "$(CHROMIUM)" ]; then \
	  echo "installing Debian's chromium for the report browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	    >/dev/null || echo "could not install chromium: the browser test will skip (fail under CI)"; \
	fi

# The Spark engine's tests run Spark in a JVM: Debian's JRE 17, installed here when `java` is missing.
JAVA := $(shell command -v java)

java:
	@if [ -z "$(JAVA)" ] && [ -z "$$JAVA_HOME" ]; then \
	  echo "installing Debian's openjdk-17-jre-headless for the Spark engine's tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    openjdk-17-jre-headless) >/dev/null || echo "could not install java: the Spark tests will skip (fail under CI)"; \
	fi

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# About 15 minutes on 2 cores, 25 GB of scratch space under bench/work. BENCH_SIZES=... to choose;
# PG_URL=postgresql://... adds the service benchmark on PostgreSQL.
BENCH_SIZES ?= 100000 1000000 10000000
bench: $(STAMP)
	$(BIN)/python bench/reconcile.py --checkouts $(BENCH_SIZES) --json bench/results/latest.json
	$(BIN)/python bench/service.py
	@if [ -n "$(PG_URL)" ]; then $(BIN)/python bench/service.py --pg-url "$(PG_URL)"; fi

ui: $(STAMP) $(INSTANCE)
	DAGSTER_HOME=$(DAGSTER_HOME) $(BIN)/dagster dev -w workspace.yaml

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) data .dagster .pytest_cache
