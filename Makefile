# Two entry points on a fresh Debian machine with Python >= 3.11 and git:
#   make demo   -> .venv, install (runtime dependencies only), offline demo report and site
#   make test   -> .venv, install with the test extras, ruff + mypy + pytest
PYTHON  ?= python3
VENV    ?= .venv
BIN      = $(VENV)/bin
RUNTIME  = $(VENV)/.installed-runtime
TESTING  = $(VENV)/.installed-test

.PHONY: demo test lint bench clean test-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: on Debian run 'apt-get install python3-venv'"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip

# What `lore-digest` itself needs: no pytest, playwright, mypy or b4.
$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME)

# The runtime plus the test extras (pyproject.toml [project.optional-dependencies] test).
$(TESTING): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TESTING) $(RUNTIME)

demo: $(RUNTIME)
	$(BIN)/lore-digest demo --out demo-report

lint: $(TESTING)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

# Debian packages the tests run against: public-inbox (a real server on 127.0.0.1 for the
# lore HTTP source) and chromium (browser tests; never a downloaded browser build).
test-deps:
	@bash scripts/install-test-deps.sh

test: lint test-deps
	$(BIN)/pytest -q

bench: $(RUNTIME)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/report.py
	$(BIN)/python benchmarks/llm_cost.py
	$(BIN)/python benchmarks/guard.py
	$(BIN)/python benchmarks/guard_http.py
	$(BIN)/python benchmarks/site.py

clean:
	rm -rf $(VENV) demo-report .pytest_cache .mypy_cache .ruff_cache
