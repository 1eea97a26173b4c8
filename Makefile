# Two entry points on a fresh Debian machine with Python >= 3.11 and git:
#   make demo   -> .venv, install, offline demo report
#   make test   -> .venv, install with test extras, ruff + mypy + pytest
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

CHROMIUM ?= /usr/bin/chromium

.PHONY: demo test lint bench clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: on Debian run 'apt-get install python3-venv'"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lore-digest demo --out demo-report

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

# The browser tests drive Debian's chromium (never a downloaded browser build).
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else SUDO=none; fi; \
	  if [ "$$SUDO" = none ]; then echo "chromium is not installed and apt-get needs root: browser tests will be skipped"; \
	  else echo "installing Debian's chromium for the browser tests"; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; fi; \
	fi

test: lint browser
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/report.py
	$(BIN)/python benchmarks/llm_cost.py
	$(BIN)/python benchmarks/site.py

clean:
	rm -rf $(VENV) demo-report .pytest_cache .mypy_cache .ruff_cache
