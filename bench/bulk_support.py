"""What the import, latency and scale benchmarks share: stores, machine details, statistics."""

from __future__ import annotations

import json
import os
import platform
import secrets
import sqlite3
import statistics
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from infrastructure.store_url import StoreURL

ADMIN_URL = os.environ.get(
    "CIVLEDGER_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RESULTS = Path(__file__).resolve().parent / "results"


def create_database(prefix: str = "civledger_bench") -> str:
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin = StoreURL.parse(ADMIN_URL)
    auth = admin.user + (f":{admin.password}" if admin.password else "")
    return f"postgresql://{auth}@{admin.host}:{admin.port}/{name}"


def drop_database(url: str) -> None:
    name = StoreURL.parse(url).dbname
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def database_size(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def machine() -> dict[str, Any]:
    """The machine's details, to print beside every figure."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        memory = "unknown"
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            postgres = str(row[0]) if row else "unknown"
    except psycopg.Error:
        postgres = "not reachable"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres,
        "eventsourcing": metadata.version("eventsourcing"),
        "psycopg": metadata.version("psycopg"),
    }


def machine_busy_seconds() -> float:
    """CPU seconds all processes of this machine have spent busy since boot (Linux
    /proc/stat: user, nice, system, irq and softirq time over every core), so that the
    difference across a run counts the importing process, its workers and the database
    server alike. 0.0 where /proc/stat cannot be read."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of repeated measurements."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": len(values),
    }


def show(label: str, values: Sequence[float], unit: str = "", digits: int = 0) -> str:
    s = spread(values)
    return (
        f"{label}: median {s['median']:,.{digits}f}{unit} "
        f"(min {s['min']:,.{digits}f}, max {s['max']:,.{digits}f}, {len(values)} runs)"
    )


def save_results(name: str, document: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
