# backend-builder: `make demo` and `make test` work on a fresh machine with Python >= 3.11.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint format clean examples bench-generate bench

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else "Python >= 3.11 is needed, found %d.%d: run make PYTHON=python3.11 ..." % v[:2])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## Create .venv and install backend-builder with its test tools

PORT ?= 8000

demo: $(STAMP)  ## Generate a demo backend on SQLite, seed it and serve it on :8000 (make demo PORT=8080)
	$(BIN)/backend-builder demo --port $(PORT)

test: $(STAMP)  ## Run the whole test suite, one worker per CPU (PostgreSQL tests skip if none is reachable)
	@# -v: a line per test as it ends, which names the backend and database of the long ones
	$(BIN)/python -m pytest -n auto --maxschedchunk 1 -v --durations=15

lint: $(STAMP)  ## ruff and black on backend-builder's own code
	$(BIN)/ruff check src tests examples/build.py bench
	$(BIN)/black --check src tests

format: $(STAMP)
	$(BIN)/ruff check --fix src tests
	$(BIN)/black src tests

clean:
	rm -rf $(VENV) demo .pytest_cache

examples: $(STAMP)  ## Rebuild examples/ from the current templates
	$(BIN)/python examples/build.py

bench-generate: $(STAMP)  ## Time generating a resource; writes bench/GENERATE.md
	$(BIN)/python bench/generate.py

bench: $(STAMP)  ## Benchmark a generated backend on PostgreSQL against reference servers; writes bench/RESULTS.md
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run.py $(BENCH_ARGS)
