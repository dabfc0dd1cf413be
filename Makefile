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

# Failover soak on a fresh Patroni cluster (scripts/ha-cluster): 8 clerks, a follower, the
# primary killed every 2 minutes (docs/benchmarks.md, ## Failover).
SOAK_FAILOVER_SECONDS ?= 600
.PHONY: soak-failover

soak-failover: $(STAMP)
	$(BIN)/python -m bench.soak_failover --seconds $(SOAK_FAILOVER_SECONDS) --every 120
