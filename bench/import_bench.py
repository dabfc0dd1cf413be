"""Import throughput against anchors measured in the same run, on SQLite and PostgreSQL.

For each run, on a fresh store:
  import     `BulkImporter` over a generated file (read, validate, decide, map, write);
  raw        the same rows, already serialised, in one raw bulk insert into a table of the
             same shape (PostgreSQL: binary COPY; SQLite: executemany in one transaction);
  save500    the same aggregates, already decided, through the library's `save(*500)`;
  save1      one `save()` per person (person, its number claims and its act records),
             over the first persons only (it is slow);
  import_here the same import with its rows validated in the importing process
             (`parse_workers=0`), where `import` validates them in a parse worker process;
  import_lib the same import (same parsing, deciding and mapping) writing through the
             library's `insert_events` in transactions of 500 aggregates, as `save(*500)`
             would: what the import would be without its bulk write path;
  write_bulk the store's bulk path alone (`insert_events_bulk`) over the import's stored
             events, in the import's batches;
  write_lib  the library's `insert_events` alone over the same stored events, in batches of
             500 aggregates (what `save(*500)` sends, without the mapping);
  floor      only the pydantic work any import of this design must do: every row through its
             command model, every event built (validated) and serialised; nothing else.
The machine's busy CPU time across the import (every process: importer, parse worker,
database server) gives the import's CPU per event, and from it the cores the import would need
to reach 0.40x raw and 4x save500 at that cost, were its work spread perfectly; the floor's
rate gives the cores its pydantic work alone would need for the same.
Figures are events per second; ratios are taken within a run, then summarised.

    python -m bench.import_bench [--people N] [--runs R] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent

from application.register import CivilRegister
from bench.bulk_support import (
    create_database,
    drop_database,
    machine,
    machine_busy_seconds,
    save_results,
    show,
    spread,
)
from domain.aggregate import Aggregate
from domain.events import ActRecorded, IdNumberClaimed, RegisterEvent
from importer.pipeline import importer_for
from importer.rows import Rejected, numbered_lines, parse_row
from importer.synthetic import PopulationGenerator
from infrastructure.mapper import encode_state


class Shell(Aggregate):
    """An aggregate holding already-decided events, for the library's `save()`."""

    def __init__(self, id: UUID) -> None:
        super().__init__(id)
        self.history: list[RegisterEvent] = []


def rows_in(source: Path) -> int:
    with source.open("rb") as handle:
        return sum(1 for _ in handle)


def timed_writes(
    write: Callable[[list[StoredEvent]], object], batches: list[list[StoredEvent]]
) -> float:
    started = time.perf_counter()
    for batch in batches:
        write(batch)
    return time.perf_counter() - started


def fail_on_reject(rejected: Rejected) -> None:
    raise SystemExit(f"benchmark file row {rejected.line} rejected: {rejected.reason}")


class LibraryWrites:
    """The store's reads, but the library's own insert in chunks of ~500 aggregates."""

    def __init__(self, recorder: Any, events_per_500_aggregates: int) -> None:
        self.recorder = recorder
        self.chunk = events_per_500_aggregates

    def select_events_of(self, ids: Any) -> Any:
        return self.recorder.select_events_of(ids)

    def insert_events_bulk(self, stored: Any, *, return_ids: bool = False) -> None:
        for i in range(0, len(stored), self.chunk):
            self.recorder.insert_events(stored[i : i + self.chunk])


def import_file(
    register: CivilRegister,
    source: Path,
    batch: int,
    library_chunk: int = 0,
    parse_workers: int | None = None,
) -> tuple[int, float]:
    importer = importer_for(register, batch, parse_workers)
    if library_chunk:
        importer.recorder = LibraryWrites(register.recorder, library_chunk)
    started, cpu = time.perf_counter(), time.process_time()
    with source.open("rb") as handle:
        tally = importer.run(numbered_lines(handle), fail_on_reject)
    LAST_CPU[0] = time.process_time() - cpu
    return tally.events, time.perf_counter() - started


def import_into(url: str, source: Path, batch: int, *args: Any, **kwargs: Any) -> tuple[int, float]:
    """`import_file` into a fresh store, closed afterwards."""
    register = CivilRegister(url)
    try:
        return import_file(register, source, batch, *args, **kwargs)
    finally:
        register.close()


#: CPU seconds of this process during the last `import_file` (the server's are not counted).
LAST_CPU = [0.0]


def pydantic_floor(register: CivilRegister, source: Path, log: list[Any]) -> float:
    """Seconds for only what any import in this design must do with pydantic: validate every
    row with its command model, and build (validated) and serialise every event it appends.
    No rule, no id, no read, no write: a floor under the import's own cost."""
    with source.open("rb") as handle:
        lines = [(n, data.decode()) for n, data in numbered_lines(handle)]
    mapper = register.mapper
    started = time.perf_counter()
    for number, text in lines:
        parse_row(number, text)
    for notification in log:
        encode_state(cast(RegisterEvent, mapper.to_domain_event(notification)))
    return time.perf_counter() - started


def read_log(register: CivilRegister) -> list[Any]:
    return list(register.recorder.select_notifications(start=None, limit=10**9))


def groups_of(register: CivilRegister, log: list[Any]) -> tuple[list[list[Shell]], list[Shell]]:
    """The log as aggregates (in order of first event), and grouped by person."""
    shells: dict[UUID, Shell] = {}
    owner: dict[UUID, UUID] = {}
    for n in log:
        event = cast(RegisterEvent, register.mapper.to_domain_event(n))
        shell = shells.get(event.originator_id)
        if shell is None:
            shell = shells[event.originator_id] = Shell(event.originator_id)
        shell._pending.append(event)
        shell.history.append(event)
        if isinstance(event, ActRecorded | IdNumberClaimed):
            owner[event.originator_id] = event.person_id
    by_person: dict[UUID, list[Shell]] = {}
    for aggregate_id, shell in shells.items():
        by_person.setdefault(owner.get(aggregate_id, aggregate_id), []).append(shell)
    return list(by_person.values()), list(shells.values())


def timed_saves(register: CivilRegister, batches: list[list[Shell]]) -> tuple[int, float]:
    events = sum(len(s._pending) for batch in batches for s in batch)
    started = time.perf_counter()
    for batch in batches:
        register.save(*batch)
    return events, time.perf_counter() - started


def raw_postgres(url: str, log: list[Any]) -> float:
    rows = [(n.originator_id, n.originator_version, n.topic, n.state) for n in log]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE raw_anchor (originator_id uuid NOT NULL, originator_version bigint "
            "NOT NULL, topic text, state bytea, notification_id bigserial, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
        conn.execute("CREATE UNIQUE INDEX ON raw_anchor (notification_id)")
        started = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy(
                "COPY raw_anchor (originator_id, originator_version, topic, state) "
                "FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(["uuid", "int8", "text", "bytea"])
            for row in rows:
                copy.write_row(row)
        return time.perf_counter() - started


def raw_sqlite(path: str, log: list[Any]) -> float:
    rows = [(n.originator_id.hex, n.originator_version, n.topic, n.state) for n in log]
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(
            "CREATE TABLE raw_anchor (originator_id TEXT, originator_version INTEGER, "
            "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
        )
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO raw_anchor VALUES (?,?,?,?)", rows)
        conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


def one_run(backend: str, source: Path, batch: int, save1_people: int) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="civledger-bench-"))
    stores: list[str] = []

    def fresh() -> str:
        if backend == "postgres":
            url = create_database()
        else:
            url = f"sqlite:///{workdir / f'store{len(stores)}.sqlite'}"
        stores.append(url)
        return url

    try:
        url = fresh()
        register = CivilRegister(url)
        busy = machine_busy_seconds()
        events, seconds = import_file(register, source, batch)
        machine_cpu = machine_busy_seconds() - busy
        import_cpu = LAST_CPU[0]
        log = read_log(register)
        if len(log) != events:
            raise SystemExit(f"the log holds {len(log)} events, the import reported {events}")
        if backend == "postgres":
            raw_seconds = raw_postgres(url, log)
        else:
            raw_seconds = raw_sqlite(str(workdir / "store0.sqlite"), log)
        floor_seconds = pydantic_floor(register, source, log)
        register.close()

        by_person, aggregates = groups_of(register, log)
        save500 = CivilRegister(fresh())
        save500_events, save500_seconds = timed_saves(
            save500, [aggregates[i : i + 500] for i in range(0, len(aggregates), 500)]
        )
        save500.close()

        by_person, _ = groups_of(register, log)  # fresh shells: save() drains them
        save1 = CivilRegister(fresh())
        save1_events, save1_seconds = timed_saves(save1, by_person[:save1_people])
        save1.close()

        here_events, here_seconds = import_into(fresh(), source, batch, parse_workers=0)
        chunk = max(1, round(500 * len(log) / len(aggregates)))
        library_events, library_seconds = import_into(fresh(), source, batch, chunk)

        stored = [StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in log]
        per_batch = max(1, round(len(stored) * batch / rows_in(source)))
        bulk = CivilRegister(fresh())
        bulk_seconds = timed_writes(
            bulk.recorder.insert_events_bulk,  # type: ignore[attr-defined]
            [stored[i : i + per_batch] for i in range(0, len(stored), per_batch)],
        )
        bulk.close()
        position = {(n.originator_id, n.originator_version): i for i, n in enumerate(log)}
        lib = CivilRegister(fresh())
        lib_seconds = timed_writes(
            lib.recorder.insert_events,
            [
                [
                    stored[position[(e.originator_id, e.originator_version)]]
                    for shell in aggregates[i : i + 500]
                    for e in shell.history
                ]
                for i in range(0, len(aggregates), 500)
            ],
        )
        lib.close()
    finally:
        if backend == "postgres":
            for store in stores:
                drop_database(store)
        shutil.rmtree(workdir, ignore_errors=True)
    rates = {
        "import": events / seconds,
        "raw": events / raw_seconds,
        "save500": save500_events / save500_seconds,
        "save1": save1_events / save1_seconds,
        "import_lib": library_events / library_seconds,
        "import_here": here_events / here_seconds,
        "write_bulk": events / bulk_seconds,
        "write_lib": events / lib_seconds,
        "floor": events / floor_seconds,
    }
    return figures(rates, events, seconds, import_cpu, machine_cpu)


def figures(
    rates: dict[str, float], events: int, seconds: float, import_cpu: float, machine_cpu: float
) -> dict[str, float]:
    """One run's rates, the ratios between them, and the import's CPU cost."""
    # What the import costs the whole machine per event (importing process, parse worker,
    # database server), and so how many cores it would need, at that cost and with perfect
    # spreading, to run at the two targets: 0.40x raw and 4x save(*500).
    cpu_per_event = machine_cpu / events
    return {
        "events": events,
        "import_seconds": seconds,
        "import_events_per_cpu_second": events / import_cpu,
        "import_machine_cpu_us_per_event": cpu_per_event * 1e6,
        "import_cores_busy": machine_cpu / seconds,
        "cores_for_040_raw": 0.40 * rates["raw"] * cpu_per_event,
        "cores_for_4x_save500": 4 * rates["save500"] * cpu_per_event,
        # The same for the pydantic floor alone (nothing decided, read or written).
        "floor_cores_for_040_raw": 0.40 * rates["raw"] / rates["floor"],
        "floor_cores_for_4x_save500": 4 * rates["save500"] / rates["floor"],
        **{f"{k}_events_per_s": v for k, v in rates.items()},
        "import_vs_raw": rates["import"] / rates["raw"],
        "import_vs_save500": rates["import"] / rates["save500"],
        "import_vs_save1": rates["import"] / rates["save1"],
        "import_vs_import_lib": rates["import"] / rates["import_lib"],
        "import_vs_import_here": rates["import"] / rates["import_here"],
        "write_bulk_vs_raw": rates["write_bulk"] / rates["raw"],
        "write_bulk_vs_write_lib": rates["write_bulk"] / rates["write_lib"],
        "floor_vs_raw": rates["floor"] / rates["raw"],
        "import_vs_floor": rates["import"] / rates["floor"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--save1-people", type=int, default=1500)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--seed", type=int, default=2021)
    args = parser.parse_args()

    details = machine()
    print(f"machine: {details}")
    source = Path(tempfile.mkdtemp(prefix="civledger-bench-")) / "people.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        rows = PopulationGenerator(args.people, args.seed).write(handle)
    print(f"{args.people:,} people, {rows:,} rows")

    results: dict[str, Any] = {"machine": details, "people": args.people, "rows": rows}
    for backend in args.backends.split(","):
        runs = [one_run(backend, source, args.batch, args.save1_people) for _ in range(args.runs)]
        summary: dict[str, Any] = {
            key: spread([r[key] for r in runs]) for key in runs[0] if key != "events"
        }
        summary["events"] = runs[0]["events"]
        summary["runs"] = runs
        results[backend] = summary
        print(f"\n{backend}: {runs[0]['events']:,} events per run")

        def pick(key: str, runs: list[dict[str, float]] = runs) -> list[float]:
            return [r[key] for r in runs]

        for key in (
            "import",
            "raw",
            "save500",
            "save1",
            "import_lib",
            "import_here",
            "write_bulk",
            "write_lib",
            "floor",
        ):
            print("  " + show(f"{key:<8} events/s", pick(f"{key}_events_per_s")))
        for key in ("raw", "save500", "save1", "import_lib", "import_here"):
            print("  " + show(f"import / {key:<8}", pick(f"import_vs_{key}"), "x", 2))
        for key in ("raw", "write_lib"):
            print("  " + show(f"write_bulk / {key}", pick(f"write_bulk_vs_{key}"), "x", 2))
        print("  " + show("floor / raw", pick("floor_vs_raw"), "x", 2))
        print("  " + show("import / floor", pick("import_vs_floor"), "x", 2))
        cpu = pick("import_machine_cpu_us_per_event")
        print("  " + show("import CPU, whole machine", cpu, " us/event", 1))
        print("  " + show("cores busy while importing", pick("import_cores_busy"), "", 2))
        for key in ("040_raw", "4x_save500"):
            print("  " + show(f"cores needed for {key}", pick(f"cores_for_{key}"), "", 1))
            print("  " + show(f"  floor alone: {key}", pick(f"floor_cores_for_{key}"), "", 1))
    shutil.rmtree(source.parent, ignore_errors=True)
    print(f"\nwritten {save_results('import', results)}")


if __name__ == "__main__":
    main()
