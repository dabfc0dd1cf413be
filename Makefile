# civledger: the two commands that always work on a fresh machine are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint check bench bench-large clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m cli.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q --ignore=tests/faults/test_automatic_failover.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

check: lint test

# Read-model rebuild throughput, memory and verify latency on PostgreSQL (docs/benchmarks.md).
.PHONY: bench-projections
bench: bench-projections

bench-projections: $(STAMP)
	$(BIN)/python -m bench.rebuild

# Import throughput against raw COPY and the library's save(), clerk-act and cold-start latency,
# and the scale curve (import, then rebuild) at 100k and 1M people on PostgreSQL (docs/benchmarks.md).
.PHONY: bench-import
bench: bench-import

bench-import: $(STAMP)
	$(BIN)/python -m bench.import_bench
	$(BIN)/python -m bench.latency_bench
	$(BIN)/python -m bench.scale_bench --people 100000,1000000 --backend postgres

# 10M people: run it against a server set up for a migration, named by CIVLEDGER_BENCH_POSTGRES
# (docs/benchmarks.md, ## Scale); on PostgreSQL's default settings the import bends past 25M events.
bench-large: $(STAMP)
	$(BIN)/python -m bench.scale_bench --people 10000000 --backend postgres

# The earlier code and this one in the same run, alternating: import (PostgreSQL, SQLite),
# rebuild and a clerk's act (docs/benchmarks.md, ## One decision per act: old and new code).
# OLD must be a checkout of the earlier commit with its own .venv, for example:
#   git worktree add ../civledger-old d3a18d5 && cd ../civledger-old \
#     && python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]'
# NEW is this checkout by default; each version runs with its own .venv only.
OLD ?= ../civledger-old
NEW ?= .
.PHONY: bench-compare

bench-compare: $(STAMP)
	$(BIN)/python -m bench.compare_versions --old $(OLD) --new $(NEW)

# Soak on a throwaway primary + synchronous standby: 8 clerks, a follower on the standby, a
# verify reader (docs/benchmarks.md, ## Soak). `make soak SOAK_SECONDS=600` runs longer.
SOAK_SECONDS ?= 60
.PHONY: soak faults

soak: $(STAMP)
	$(BIN)/python -m bench.soak --seconds $(SOAK_SECONDS)

# The fault-injection suite alone (real process faults on a local cluster; docs/operations.md),
# with the automatic-failover faults on a Patroni cluster that `make test` leaves out
# (they need the `patroni` and `etcd-server` packages; .ci/run installs them).
faults: $(STAMP)
	$(BIN)/python -m pytest tests/faults -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# `cards due` from the index on the due day against a full scan of the same query, on a cards
# model of 1M people built straight into PostgreSQL (docs/benchmarks.md, ## Cards due from an
# index). 10M: `make bench-cards CARDS_PEOPLE=10000000`.
CARDS_PEOPLE ?= 1000000
.PHONY: bench-cards
bench: bench-cards

bench-cards: $(STAMP)
	$(BIN)/python -m bench.cards_due --people $(CARDS_PEOPLE)

# The verification service against a bare ASGI baseline doing the same query, wrk with 64
# connections posting /v1/verify (docs/benchmarks.md, ## The verification service).
.PHONY: bench-service
bench: bench-service

bench-service: $(STAMP)
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } \
		|| { sudo apt-get update -qq && sudo apt-get install -y -qq wrk; }
	$(BIN)/python -m bench.service_bench

# Importing card issuances against births in the same run, on PostgreSQL (docs/benchmarks.md,
# ## Importing card issuances). `make bench-card-import CARD_PEOPLE=200000` for a smaller run.
CARD_PEOPLE ?= 1000000
.PHONY: bench-card-import
bench: bench-card-import

bench-card-import: $(STAMP)
	$(BIN)/python -m bench.card_import_bench --people $(CARD_PEOPLE)

# Failover soak on a fresh Patroni cluster (scripts/ha-cluster): 8 clerks, a follower, the
# primary killed every 2 minutes (docs/benchmarks.md, ## Failover).
SOAK_FAILOVER_SECONDS ?= 600
.PHONY: soak-failover

soak-failover: $(STAMP)
	$(BIN)/python -m bench.soak_failover --seconds $(SOAK_FAILOVER_SECONDS) --every 120
