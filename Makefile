# stockbridge — every target creates .venv and installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint typecheck clean chaos conformance

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/stockbridge demo

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest

# Every connector against its simulator on the same cases (tests/conformance, about 20 s).
conformance: $(STAMP)
	$(BIN)/pytest -q tests/conformance

# The full chaos day on SQLite, then on a throwaway PostgreSQL with two worker processes (about 25
# minutes in all); fails if anything was lost, doubled, stale or drifted (docs/reliability.md).
# CHAOS=quick makes `make test` run the short version (CI sets it).
chaos: $(STAMP)
	$(BIN)/stockbridge chaos --db sqlite; sqlite=$$?; \
	$(BIN)/stockbridge chaos --db postgresql --workers 2; postgresql=$$?; \
	test $$sqlite -eq 0 -a $$postgresql -eq 0

bench: $(STAMP)
	$(BIN)/python bench/inventory_burst.py --record
	$(BIN)/python bench/inventory_burst.py --channel shopify --record
	$(BIN)/python bench/inventory_burst.py --channel shopify --deliver snapshot --record
	$(BIN)/python bench/ingest.py --record
	$(BIN)/python bench/latency.py --record
	$(BIN)/python bench/peer.py --record
	$(BIN)/python bench/workers.py --record
	$(BIN)/python bench/million.py --skus 1000000 --push-wait 120 --record

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
