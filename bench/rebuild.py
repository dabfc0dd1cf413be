"""Rebuild throughput, memory and verify latency of the read models on PostgreSQL.

    .venv/bin/python -m bench.rebuild [--events 1000000] [--small 100000] [--runner-slice 20000]

It writes synthetic but lawful logs into two PostgreSQL databases (about `--small` and
`--events` events; reused when already there): the population of `civledger generate`
(importer.synthetic) turned into events and appended without the rules (bench.event_log). Then:

- rebuilds every model, and the `people` model alone, with the engine, each in a fresh
  subprocess, and reports events/s (log positions consumed per second), where the time went
  (read, decode, apply, write) and the peak RSS of the subprocess, at both log sizes;
- runs the library's `ProjectionRunner` with the same `people` handlers (one event per
  transaction, the library's way) over the first `--runner-slice` positions of the same log,
  and reports its events/s and the ratio;
- times 10,000 random `verify` look-ups in-process against the rebuilt PostgreSQL models.

Set CIVLEDGER_BENCH_POSTGRES to another server (default postgresql://postgres@127.0.0.1:5432/
postgres). Results are printed as JSON and as text.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from statistics import quantiles
from typing import Any, ClassVar

import psycopg
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from psycopg import sql

from application.register import CivilRegister
from bench.event_log import write_log
from domain.events import PERSON_TOPICS, RegisterEvent
from domain.values import IdNumber
from infrastructure.store_url import StoreURL
from projections.engine import Engine
from projections.people import PEOPLE, PeopleProjection
from projections.projection import Changes
from projections.queries import ReadModels
from projections.source import EventSource
from projections.views import ViewDatabase

ADMIN = os.environ.get("CIVLEDGER_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
ROOT = Path(__file__).resolve().parents[1]
#: A little under the events per person of the synthetic log (about 4.42, registry events
#: included), so that one pass writes at least the events asked for.
EVENTS_PER_PERSON = 4.35


def database(name: str) -> str:
    admin = StoreURL.parse(ADMIN)
    auth = admin.user + (f":{admin.password}" if admin.password else "")
    return f"postgresql://{auth}@{admin.host}:{admin.port}/{name}"


def ensure_log(events: int, seed: int) -> tuple[str, int]:
    """A database holding a synthetic log of at least `events` events; written once, reused."""
    name = f"civledger_bench_{events}"
    url = database(name)
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    register = CivilRegister(url)
    head = register.recorder.max_notification_id() or 0
    while head < events:
        started = time.perf_counter()
        people = max(int((events - head) / EVENTS_PER_PERSON), 100)
        written = write_log(register, people, seed=seed + head)
        print(
            f"wrote {written:,} events into {name} in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE civledger_events")
        head = register.recorder.max_notification_id() or 0
    register.close()
    return url, head


# ----------------------------------------------------------- engine, in a child


def child_rebuild(url: str, views: str, name: str | None) -> dict[str, Any]:
    register = CivilRegister(url)
    engine = Engine(EventSource(register), ViewDatabase.open(views))
    head = register.recorder.max_notification_id() or 0
    started = time.perf_counter()
    engine.rebuild(name)
    seconds = time.perf_counter() - started
    timings = engine.timings.as_dict()
    return {
        "projection": name or "all",
        "log_events": head,
        "person_events": timings["events"],
        "seconds": seconds,
        "events_per_second": head / seconds,
        "read": timings["read"],
        "decode": timings["decode"],
        "apply": timings["apply"],
        "write": timings["write"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(url: str, views: str, name: str | None) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench.rebuild", "--child", url, "--views", views]
    if name:
        args += ["--name", name]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout))


# ------------------------------------------- the library's ProjectionRunner


class RunnerPeopleView(PostgresTrackingRecorder):
    """The `people` model kept the library's way: one event, one transaction."""

    projection = PeopleProjection()
    #: The runner's own views database (set before the runner starts).
    views_url = ""

    def create_table(self) -> None:
        super().create_table()
        views = ViewDatabase.open(self.views_url)
        views.create_tables(PeopleProjection.tables, rebuilding=False)
        views.close()

    def process(self, event: RegisterEvent, tracking: Tracking) -> None:
        columns = PEOPLE.columns
        key = str(event.originator_id)
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                f"SELECT {', '.join(columns)} FROM {PEOPLE.physical()} WHERE person_id = %s",
                (key,),
                prepare=True,
            )
            found = curs.fetchone()
            rows = {PEOPLE.name: {key: dict(found)} if found else {}}
            changes = Changes(rows)
            self.projection.apply([event], changes)
            for row in changes.changed_rows(PEOPLE):
                marks = ", ".join(["%s"] * len(columns))
                updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in PEOPLE.value_columns)
                curs.execute(
                    f"INSERT INTO {PEOPLE.physical()} ({', '.join(columns)}) VALUES ({marks}) "
                    f"ON CONFLICT (person_id) DO UPDATE SET {updates}",
                    [row[c] for c in columns],
                    prepare=True,
                )
            self._insert_tracking(curs, tracking)


class RunnerPeopleProjection(Projection[RunnerPeopleView]):
    name = "runner_people"
    topics: ClassVar[tuple[str, ...]] = PERSON_TOPICS  # type: ignore[misc]

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.process(domain_event, tracking)


class BenchRegister(CivilRegister):
    """The register, constructed the way the library's runner constructs applications."""

    name = "civledger"

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__((env or {})["BENCH_STORE"])


def fresh_database(name: str) -> str:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        identifier = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(identifier))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(identifier))
    return database(name)


def runner_throughput(url: str, positions: int) -> dict[str, Any]:
    """The library's runner reads the same log; its view lives in a database of its own."""
    RunnerPeopleView.views_url = fresh_database("civledger_bench_runner")
    store = StoreURL.parse(RunnerPeopleView.views_url)
    env = {
        "BENCH_STORE": url,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": store.dbname,
        "POSTGRES_HOST": store.host,
        "POSTGRES_PORT": store.port,
        "POSTGRES_USER": store.user,
        "POSTGRES_PASSWORD": store.password,
        "CREATE_TABLE": "yes",
    }
    started = time.perf_counter()
    with ProjectionRunner(
        application_class=BenchRegister,
        projection_class=RunnerPeopleProjection,
        view_class=RunnerPeopleView,
        env=env,
    ) as runner:
        # The last person event at or before `positions` marks the end of the slice.
        last = runner.app.recorder.select_notifications(
            start=1, limit=positions, stop=positions, topics=list(PERSON_TOPICS)
        )[-1].id
        runner.wait(last, timeout=3600)
        seconds = time.perf_counter() - started
    return {"log_events": last, "seconds": seconds, "events_per_second": last / seconds}


# ---------------------------------------------------------------- verify latency


def verify_latency(views_url: str, lookups: int = 10_000) -> dict[str, float]:
    views = ViewDatabase.open(views_url)
    rows = views.query(
        "SELECT n.id_number, p.name, p.born FROM view_id_numbers n "
        "JOIN view_people p ON p.person_id = n.person_id "
        f"ORDER BY md5(n.id_number) LIMIT {lookups}",
        (),
    )
    rng = random.Random(5)
    models = ReadModels(views)
    samples = []
    for number, name, born in rows:
        asked = name if rng.random() < 0.8 else "Someone Else"
        parsed, on = IdNumber.parse(number), date.fromisoformat(born)
        started = time.perf_counter_ns()
        models.verify(parsed, asked, on)
        samples.append((time.perf_counter_ns() - started) / 1e6)
    views.close()
    cuts = quantiles(samples, n=100)
    return {"lookups": len(samples), "p50_ms": cuts[49], "p99_ms": cuts[98], "max_ms": max(samples)}


def machine() -> dict[str, Any]:
    with psycopg.connect(ADMIN) as conn:
        version = conn.execute("SHOW server_version").fetchone()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgres": version[0] if version else "?",
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="Events in the big log.")
    parser.add_argument("--small", type=int, default=100_000, help="Events in the small log.")
    parser.add_argument(
        "--runner-slice",
        type=int,
        default=20_000,
        help="Log positions the ProjectionRunner processes.",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--views", help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_rebuild(args.child, args.views, args.name)))
        return

    results: dict[str, Any] = {"machine": machine()}
    small_url, small_head = ensure_log(args.small, 11)
    big_url, big_head = ensure_log(args.events, 12)
    results["logs"] = {"small": small_head, "big": big_head}
    results["rebuild_small_all"] = run_child(small_url, small_url, None)
    results["rebuild_big_all"] = run_child(big_url, big_url, None)
    results["rebuild_big_people"] = run_child(big_url, big_url, "people")
    results["runner_people"] = runner_throughput(big_url, args.runner_slice)
    results["ratio_people"] = (
        results["rebuild_big_people"]["events_per_second"]
        / results["runner_people"]["events_per_second"]
    )
    results["verify"] = verify_latency(big_url)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
