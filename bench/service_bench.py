"""Throughput and latency of `POST /v1/verify`: `civledger serve` (key, policy, validation,
durable access log with group commit) against a bare ASGI baseline doing the same prepared
primary-key query (bench/service_baseline.py), both on PostgreSQL, one worker each, loaded by
wrk with 64 connections posting random known people (bench/verify.lua). The two alternate,
`--rounds` times each, in the same run; medians are reported, and the ratios. Each server is
loaded for `--warmup` seconds before it is measured (its connections opened, its code warm).

    python -m bench.service_bench [--people N] [--seconds S] [--rounds R] [--warmup S]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.bulk_support import create_database, drop_database, machine, save_results
from infrastructure.access_log import ACCESS_LOG_TABLE

HERE = Path(__file__).resolve().parent
CIVLEDGER = str(Path(sys.executable).with_name("civledger"))
CONNECTIONS = 64
THREADS = 2


def civledger(*args: str, store: str | None = None) -> str:
    where = ["--store", store] if store else []
    done = subprocess.run([CIVLEDGER, *args, *where], check=True, capture_output=True, text=True)
    return done.stdout


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"{command} did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(port: int, seconds: int, bodies: Path, key: str | None) -> dict[str, float]:
    env = {**os.environ, "BODIES": str(bodies), "KEY": key or ""}
    target = f"http://127.0.0.1:{port}"
    script = str(HERE / "verify.lua")
    done = subprocess.run(
        [
            "wrk",
            f"-t{THREADS}",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script,
            target,
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    out = done.stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
        "p99_ms": _ms(re.search(r"\s99%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
        "non_2xx": float(errors.group(1)) if errors else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured seconds first")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `make bench-service` installs it (apt-get install wrk)")
    store = create_database("civledger_bench_service")
    work = Path(tempfile.mkdtemp(prefix="civledger-bench-service-"))
    try:
        acts = work / "people.jsonl"
        civledger("generate", "--people", str(options.people), "--seed", "16", "--out", str(acts))
        civledger("import", str(acts), store=store)
        civledger("projections", "catch-up", store=store)
        with psycopg.connect(store) as connection:
            rows = connection.execute(
                "SELECT id_number, name, born FROM view_people "
                "WHERE id_number IS NOT NULL ORDER BY random() LIMIT 5000"
            ).fetchall()
        bodies = work / "bodies.jsonl"
        bodies.write_text(
            "".join(
                json.dumps(
                    {"id_number": n, "name": name, "born": born, "purpose": "benchmark"},
                    ensure_ascii=False,
                )
                + "\n"
                for n, name, born in rows
            )
        )
        key = json.loads(civledger("admin", "partner", "add", "bench", "--scopes", "verify",
                                   store=store))["key"]  # fmt: skip
        results: dict[str, list[dict[str, float]]] = {"baseline": [], "service": []}
        for _ in range(options.rounds):
            for name in ("baseline", "service"):
                port = free_port()
                if name == "baseline":
                    command = [
                        sys.executable, "-m", "uvicorn", "--factory",
                        "bench.service_baseline:create", "--port", str(port),
                        "--log-level", "warning", "--no-access-log",
                    ]  # fmt: skip
                    env = {**os.environ, "BASELINE_VIEWS": store}
                else:
                    command = [CIVLEDGER, "serve", "--port", str(port), "--store", store]
                    env = dict(os.environ)
                process = start(command, env, port)
                given = key if name == "service" else None
                try:
                    if options.warmup:  # connections opened, caches filled: not measured
                        wrk(port, options.warmup, bodies, given)
                    results[name].append(wrk(port, options.seconds, bodies, given))
                finally:
                    stop(process)
                print(name, results[name][-1], flush=True)
        with psycopg.connect(store) as connection:
            logged = connection.execute(f"SELECT count(*) FROM {ACCESS_LOG_TABLE}").fetchone()
        median = {
            name: {measure: statistics.median(run[measure] for run in runs) for measure in runs[0]}
            for name, runs in results.items()
        }
        document: dict[str, Any] = {
            "machine": machine(),
            "people": options.people,
            "connections": CONNECTIONS,
            "seconds": options.seconds,
            "rounds": options.rounds,
            "warmup_seconds": options.warmup,
            "runs": results,
            "median": median,
            "throughput_ratio": median["service"]["requests_per_s"]
            / median["baseline"]["requests_per_s"],
            "p99_ratio": median["service"]["p99_ms"] / median["baseline"]["p99_ms"],
            "access_log_entries": int(logged[0]) if logged else 0,
        }
        path = save_results("service", document)
        print(json.dumps({k: document[k] for k in ("median", "throughput_ratio", "p99_ratio",
                                                  "access_log_entries")}, indent=2))  # fmt: skip
        print(f"saved {path}")
    finally:
        drop_database(store)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
