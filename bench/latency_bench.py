"""Latency of one clerk's act in-process, and of whole `civledger` processes (cold start).

Anchors, measured in the same run: a one-row insert-and-commit into a table of the event
table's shape on the same store (for the act), and `python -c pass` (for cold starts).

    python -m bench.latency_bench [--acts N] [--starts N]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from application.register import CivilRegister
from bench.bulk_support import create_database, drop_database, machine, save_results
from domain.commands import Clerking, RegisterBirth

CIVLEDGER = str(Path(sys.executable).with_name("civledger"))


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "min_ms": ordered[0] * 1000,
        "max_ms": ordered[-1] * 1000,
        "samples": len(ordered),
    }


def timed(action: Callable[[], object], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def clerk_acts(register: CivilRegister, acts: int) -> tuple[list[float], str]:
    counter = iter(range(10**9))
    clerking = Clerking.parse(
        clerk="Trần Thị Hoa", office="UBND phường Cửa Nam, Hà Nội", reference="x"
    )
    last: list[str] = []

    def act() -> None:
        n = next(counter)
        outcome = register.register_birth(
            RegisterBirth.parse(
                name="Nguyễn Văn An",
                sex="male",
                born="1990-05-01",
                province="001",
                registered_on="1990-05-20",
            ),
            clerking.model_copy(update={"reference": f"KS-{n}"}),
        )
        last[:] = [outcome.person.id_number or str(outcome.person.id)]

    timed(act, 20)  # warm up
    return timed(act, acts), last[0]


def raw_insert_sqlite(path: str, times: int) -> list[float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE anchor (originator_id TEXT, originator_version INTEGER, "
        "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
    )

    def insert() -> None:
        conn.execute("BEGIN")
        conn.execute("INSERT INTO anchor VALUES (?,?,?,?)", (uuid.uuid4().hex, 1, "t", b"x" * 300))
        conn.execute("COMMIT")

    try:
        return timed(insert, times)
    finally:
        conn.close()


def raw_insert_postgres(url: str, times: int) -> list[float]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE anchor (originator_id uuid, originator_version bigint, "
            "topic text, state bytea, notification_id bigserial, "
            "PRIMARY KEY (originator_id, originator_version))"
        )

        def insert() -> None:
            with conn.transaction():
                conn.execute(
                    "INSERT INTO anchor (originator_id, originator_version, topic, "
                    "state) VALUES (%s, 1, 't', %s)",
                    (uuid.uuid4(), b"x" * 300),
                )

        return timed(insert, times)


def process(args: list[str], times: int) -> list[float]:
    def run() -> None:
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    run()  # warm the page cache
    return timed(run, times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--acts", type=int, default=300)
    parser.add_argument("--starts", type=int, default=15)
    args = parser.parse_args()
    details = machine()
    print(f"machine: {details}")
    results: dict[str, Any] = {"machine": details}
    workdir = Path(tempfile.mkdtemp(prefix="civledger-latency-"))

    sqlite_url = f"sqlite:///{workdir / 'ledger.sqlite'}"
    pg_url = create_database()
    try:
        shown: dict[str, str] = {}
        for backend, url in (("sqlite", sqlite_url), ("postgres", pg_url)):
            register = CivilRegister(url)
            samples, shown[backend] = clerk_acts(register, args.acts)
            register.close()
            if backend == "sqlite":
                anchor = raw_insert_sqlite(str(workdir / "anchor.sqlite"), args.acts)
            else:
                anchor = raw_insert_postgres(pg_url, args.acts)
            act, raw = percentiles(samples), percentiles(anchor)
            results[f"act_{backend}"] = {
                "register_birth": act,
                "one_row_insert": raw,
                "p50_ratio": act["p50_ms"] / raw["p50_ms"],
                "p99_ratio": act["p99_ms"] / raw["p99_ms"],
            }
            print(
                f"{backend}: register-birth in-process p50 {act['p50_ms']:.2f} ms, "
                f"p99 {act['p99_ms']:.2f} ms; one-row insert p50 {raw['p50_ms']:.2f} ms, "
                f"p99 {raw['p99_ms']:.2f} ms; ratio p50 {act['p50_ms'] / raw['p50_ms']:.1f}x"
            )

        python = percentiles(process([sys.executable, "-c", "pass"], args.starts))
        results["python_c_pass"] = python
        commands = {
            "help": [CIVLEDGER, "--help"],
            "show_sqlite": [CIVLEDGER, "show", shown["sqlite"], "--store", sqlite_url],
            "show_postgres": [CIVLEDGER, "show", shown["postgres"], "--store", pg_url],
        }
        for name, command in commands.items():
            cold = percentiles(process(command, args.starts))
            results[f"process_{name}"] = {**cold, "p50_ratio": cold["p50_ms"] / python["p50_ms"]}
            print(
                f"civledger {name}: p50 {cold['p50_ms']:.0f} ms, p99 {cold['p99_ms']:.0f} ms "
                f"({cold['p50_ms'] / python['p50_ms']:.1f}x python -c pass, "
                f"{python['p50_ms']:.0f} ms)"
            )
    finally:
        drop_database(pg_url)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"written {save_results('latency', results)}")


if __name__ == "__main__":
    main()
