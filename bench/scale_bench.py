"""The scale curve: `civledger import` of N generated people, as a whole process.

For each N: generate the file, import it into a fresh store with `civledger import --json`,
and record the import's wall time, events/s, the process's peak memory (max RSS), and the
store's size per person; then rebuild the three read models from zero with
`civledger projections rebuild --json` and record its wall time, events/s and peak memory.
Throughput should stay flat and memory bounded as N grows.

    python -m bench.scale_bench [--people 100000,1000000] [--backend postgres|sqlite]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.bulk_support import (
    create_database,
    database_size,
    drop_database,
    machine,
    save_results,
)

CIVLEDGER = str(Path(sys.executable).with_name("civledger"))


def position_of(url: str) -> int:
    """How far the log has grown (0 before the table exists)."""
    try:
        if url.startswith("sqlite:///"):
            with contextlib.closing(sqlite3.connect(url[len("sqlite:///") :])) as conn:
                row = conn.execute("SELECT max(rowid) FROM stored_events").fetchone()
        else:
            with psycopg.connect(url) as pg:
                row = pg.execute("SELECT max(notification_id) FROM civledger_events").fetchone()
    except (sqlite3.Error, psycopg.Error):
        return 0
    return int(row[0] or 0) if row else 0


def sample_positions(url: str, done: threading.Event, samples: list[tuple[float, int]]) -> None:
    started = time.perf_counter()
    while not done.wait(5.0):
        samples.append((time.perf_counter() - started, position_of(url)))


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants now (Linux /proc), 0 if gone."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
        pending.extend(int(child) for child in children)
    return total


def sample_tree_rss(pid: int, done: threading.Event, peak: list[int]) -> None:
    while not done.wait(0.5):
        peak[0] = max(peak[0], tree_rss(pid))


#: The peak of the last `run_child`'s process tree's summed resident memory (sampled).
LAST_TREE_RSS = [0]


def run_child(
    args: list[str], url: str = ""
) -> tuple[str, float, int, list[tuple[float, int]], float]:
    """Run a process: its stdout, wall seconds, peak resident memory (bytes) and, given a
    store URL, the log's position every 5 seconds. The peak of the resident memory of the
    process and its children together (a parse worker), sampled twice a second, is left in
    `LAST_TREE_RSS`."""
    started = time.perf_counter()
    samples: list[tuple[float, int]] = []
    done = threading.Event()
    sampler = threading.Thread(target=sample_positions, args=(url, done, samples), daemon=True)
    LAST_TREE_RSS[0] = 0
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(args, stdout=out, stderr=subprocess.PIPE)
        if url:
            sampler.start()
        memory = threading.Thread(
            target=sample_tree_rss, args=(child.pid, done, LAST_TREE_RSS), daemon=True
        )
        memory.start()
        _, status, usage = os.wait4(child.pid, 0)
        done.set()
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        err = child.stderr.read().decode() if child.stderr else ""
        out.seek(0)
        text = out.read().decode()
    if child.returncode not in (0, 3):
        raise SystemExit(f"{args[1]} failed ({child.returncode}): {err.strip()}")
    cpu = usage.ru_utime + usage.ru_stime
    return text, seconds, usage.ru_maxrss * 1024, samples, cpu


def rate_by_decile(samples: list[tuple[float, int]], total: int) -> list[float]:
    """Events/s over each tenth of the log, from the 5-second position samples."""
    rates: list[float] = []
    previous = (0.0, 0)
    for decile in range(1, 11):
        reached = next((s for s in samples if s[1] >= total * decile / 10), None)
        if reached is None or reached[0] <= previous[0]:
            continue
        rates.append((reached[1] - previous[1]) / (reached[0] - previous[0]))
        previous = reached
    return rates


def one_size(people: int, backend: str, seed: int, workdir: Path) -> dict[str, Any]:
    source = workdir / f"people-{people}.jsonl"
    _, generate_seconds, generate_rss, _, _ = run_child(
        [CIVLEDGER, "generate", "--people", str(people), "--seed", str(seed), "--out", str(source)]
    )
    if backend == "postgres":
        url = create_database()
    else:
        url = f"sqlite:///{workdir / f'ledger-{people}.sqlite'}"
    try:
        text, seconds, rss, samples, cpu = run_child(
            [CIVLEDGER, "import", str(source), "--store", url, "--json"], url
        )
        summary = json.loads(text)
        tree_peak = LAST_TREE_RSS[0]
        if backend == "postgres":
            size = database_size(url)
        else:
            path = Path(url[len("sqlite:///") :])
            size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        print(json.dumps({"people": people, "import": summary, "seconds": seconds}), flush=True)
        # The three read models rebuilt from zero over the imported log, as an operator runs it
        # (views beside the events), after the import's size was taken.
        _, rebuild_seconds, rebuild_rss, _, rebuild_cpu = run_child(
            [CIVLEDGER, "projections", "rebuild", "--store", url, "--json"]
        )
    finally:
        if backend == "postgres":
            drop_database(url)
        else:
            for p in workdir.glob(f"ledger-{people}.sqlite*"):
                p.unlink()
        source.unlink(missing_ok=True)
    result = {
        "people": people,
        "rows": summary["rows"],
        "events": summary["events"],
        "rejected": summary["rejected"],
        "generate_seconds": generate_seconds,
        "generate_peak_rss_mb": generate_rss / 2**20,
        "import_seconds": seconds,
        "events_per_second": summary["events"] / seconds,
        "rows_per_second": summary["rows"] / seconds,
        "import_cpu_seconds": cpu,
        "events_per_cpu_second": summary["events"] / cpu if cpu else None,
        "import_peak_rss_mb": rss / 2**20,
        "import_peak_rss_with_workers_mb": tree_peak / 2**20,
        "events_per_second_by_decile": rate_by_decile(samples, summary["events"]),
        "store_bytes": size,
        "store_bytes_per_person": size / people,
        "rebuild_seconds": rebuild_seconds,
        "rebuild_events_per_second": summary["events"] / rebuild_seconds,
        "rebuild_cpu_seconds": rebuild_cpu,
        "rebuild_peak_rss_mb": rebuild_rss / 2**20,
    }
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", default="100000,1000000")
    parser.add_argument("--backend", default="postgres", choices=("postgres", "sqlite"))
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1921)
    parser.add_argument("--name", default="")
    args = parser.parse_args()
    details = machine()
    print(f"machine: {details}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="civledger-scale-"))
    sizes = [int(n) for n in args.people.split(",")]
    runs = [
        one_size(n, args.backend, args.seed + r, workdir) for n in sizes for r in range(args.runs)
    ]
    name = args.name or f"scale-{args.backend}-{'-'.join(str(n) for n in sizes)}"
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"written {save_results(name, {'machine': details, 'runs': runs})}")


if __name__ == "__main__":
    main()
