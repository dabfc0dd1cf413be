"""`cards due` from the index on the due day, against a full scan of the same query.

    .venv/bin/python -m bench.cards_due [--people 1000000] [--by 2026-12-31] [--keep]

It builds a `cards` model of `--people` people straight into a fresh PostgreSQL database (no
event log: rows made by the projection's own `settle`, from identity files made with the
domain's `IdentityFile` methods and `card_expiry`, then COPY), creates the model's indexes and
ANALYZEs. Then, in the same run and the same session:

- times `cards due --by DATE --limit 100` as the CLI asks it (`projections.card_queries.cards_due`),
  across the country and in one birth province, with the planner free (an index scan);
- times the very same SQL with index and bitmap scans switched off (`enable_indexscan`,
  `enable_indexonlyscan`, `enable_bitmapscan`): a sequential scan and a top-N sort, the
  baseline;
- prints `EXPLAIN (ANALYZE, BUFFERS)` of both, and fails unless the first reads an index;
- times the report's `cards` counts (one aggregate pass over the model) for reference;
- runs `civledger cards due --views URL --no-catch-up --json` once, as a clerk would.

At 10M people (`--people 10000000`) the build takes roughly ten times as long and needs a
few GB of disk; use a server set up as for `make bench-large`. Results are printed as text and
saved as JSON in bench/results/cards_due.json. Set CIVLEDGER_BENCH_POSTGRES for another server.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

from bench.bulk_support import (
    create_database,
    database_size,
    drop_database,
    machine,
    save_results,
    spread,
)
from domain.identity import Card, CardData, IdentityFile, card_expiry
from domain.reference import REFERENCE
from domain.residence import years_after
from projections.card_queries import card_counts, cards_due
from projections.cards import CARDS, settle
from projections.postgres_views import PostgresViews
from projections.views import ViewDatabase

ROOT = Path(__file__).resolve().parents[1]
#: Rows per COPY.
CHUNK = 50_000
LIMIT = 100
TODAY = date(2026, 12, 1)
CAMPAIGN = (date(2021, 3, 1), date(2021, 6, 30))
CLI = (sys.executable, "-m", "cli.main")


def day_between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def population(people: int, seed: int) -> Iterator[dict[str, Any]]:
    """`cards` rows of a plausible population: most adults hold a card from the 2021
    campaign or later; some have renewed, had their record corrected, had a card revoked or
    withheld; some died; most card holders have an eid."""
    rng = random.Random(seed)
    provinces = sorted(REFERENCE.tables[-1].codes)
    for serial in range(people):
        born = day_between(rng, date(1930, 1, 1), date(2025, 12, 31))
        province = rng.choice(provinces)
        sex = rng.choice(("male", "female"))
        number = f"{province}{serial % 10}{born.year % 100:02d}{serial % 1_000_000:06d}"
        row: dict[str, Any] = {
            "person_id": f"{serial:08x}-0000-4000-8000-{seed:012x}",
            "id_number": number,
            "name": f"Nguyễn Văn {serial}",
            "born": born.isoformat(),
            "sex": sex,
            "birth_province": province,
            "nationality": "vietnamese",
            "died_on": None,
            "merged": 0,
        }
        file = IdentityFile()
        fourteen = years_after(born, 14)
        if fourteen <= TODAY and rng.random() < 0.9:
            first = max(fourteen, CAMPAIGN[0])
            issued = (
                day_between(rng, *CAMPAIGN)
                if rng.random() < 0.6
                else day_between(rng, first, TODAY)
            )
            issued = max(issued, first)
            data = CardData(number, row["name"], born, sex)
            reason = "first"
            file = file.issued(Card(issued, card_expiry(born, issued), reason, data))
            if rng.random() < 0.6:
                file = file.eid_created(issued)
            luck = rng.random()
            if luck < 0.01:
                changed = day_between(rng, issued, TODAY)
                row["name"] += " Mới"
                file = file.record_changed(changed)
            elif luck < 0.012:
                file = file.revoked("issued_wrongly", day_between(rng, issued, TODAY))
                if file.eid is not None:
                    file = file.eid_locked("card_revoked", file.latest_on or issued)
            elif luck < 0.015:
                file = file.withheld_for("detention", day_between(rng, issued, TODAY))
                if file.eid is not None:
                    file = file.eid_locked("card_withheld", file.latest_on or issued)
        if rng.random() < 0.03:
            row["died_on"] = day_between(rng, born, TODAY).isoformat()
        settle(row, file)
        yield row


def build(views: PostgresViews, people: int, seed: int) -> float:
    started = time.perf_counter()
    views.create_tables([CARDS], rebuilding=False)
    columns = CARDS.columns
    rows = population(people, seed)
    done = 0
    while done < people:
        with (
            views.connection.transaction(),
            views.connection.cursor().copy(
                f"COPY {CARDS.physical()} ({', '.join(columns)}) FROM STDIN"
            ) as copy,
        ):
            for _ in range(min(CHUNK, people - done)):
                row = next(rows)
                copy.write_row([row[c] for c in columns])
                done += 1
        print(f"\r  {done:,} rows", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    views.create_indexes([CARDS], rebuilding=False)
    views.connection.execute(f"ANALYZE {CARDS.physical()}")
    return time.perf_counter() - started


def due_sql(province: str | None) -> tuple[str, list[Any]]:
    """The SQL `cards_due` runs, spelt out for EXPLAIN."""
    where = "due_on <= %s" if province is None else "birth_province = %s AND due_on <= %s"
    return (
        f"SELECT id_number, name, due_reason, due_on, person_id FROM {CARDS.physical()} "
        f"WHERE {where} ORDER BY due_on, person_id LIMIT %s",
        [] if province is None else [province],
    )


def require(holds: bool, message: str) -> None:
    """Stop the benchmark, loudly, when what it measures is not what it claims."""
    if not holds:
        raise SystemExit(f"cards_due: {message}")


def timed(runs: int, views: ViewDatabase, by: date, province: str | None) -> list[float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        found = cards_due(views, by, province, LIMIT)
        seconds.append(time.perf_counter() - started)
        require(bool(found), f"no holder owes a renewal by {by}")
    return seconds


def plan(views: PostgresViews, by: date, province: str | None) -> str:
    statement, params = due_sql(province)
    rows = views.connection.execute(
        cast(Any, f"EXPLAIN (ANALYZE, BUFFERS) {statement}"),
        [*params, by.isoformat(), LIMIT],
    ).fetchall()
    return "\n".join(str(row[0]) for row in rows)


def postgres_views(url: str) -> PostgresViews:
    views = ViewDatabase.open(url)
    require(isinstance(views, PostgresViews), f"{url} is not a PostgreSQL database")
    return cast(PostgresViews, views)


def compare(url: str, views: PostgresViews, args: argparse.Namespace) -> dict[str, Any]:
    """Time the query with the index and as a full scan, in the same run; EXPLAIN both."""
    timings: dict[str, Any] = {}
    plans: dict[str, str] = {}
    # The baseline asks on a session of its own, with index and bitmap scans off from its
    # first statement, so that no plan made with them on is reused.
    scanning = postgres_views(url)
    for setting in ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"):
        scanning.connection.execute(cast(Any, f"SET {setting} = off"))
    try:
        for label, province in (("country", None), ("province", args.province)):
            timed(3, views, args.by, province)  # warm the cache alike for both
            indexed = timed(args.runs, views, args.by, province)
            timed(1, scanning, args.by, province)
            scanned = timed(args.baseline_runs, scanning, args.by, province)
            plans[f"{label}_indexed"] = plan(views, args.by, province)
            plans[f"{label}_scan"] = plan(scanning, args.by, province)
            require("Index Scan" in plans[f"{label}_indexed"], plans[f"{label}_indexed"])
            require("Seq Scan" in plans[f"{label}_scan"], plans[f"{label}_scan"])
            timings[label] = {
                "indexed_seconds": spread(indexed),
                "scan_seconds": spread(scanned),
                "scan_over_index": spread(scanned)["median"] / spread(indexed)["median"],
            }
    finally:
        scanning.close()
    return {"timings": timings, "plans": plans}


def as_a_clerk_asks(url: str, views: PostgresViews, by: date) -> float:
    """`civledger cards due` once, the whole process; its answer must be the query's."""
    started = time.perf_counter()
    arguments = ("--by", by.isoformat(), "--limit", str(LIMIT), "--views", url, "--no-catch-up")
    cli = subprocess.run(
        [*CLI, "cards", "due", *arguments, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    require(json.loads(cli.stdout) == cards_due(views, by, None, LIMIT), "the CLI disagrees")
    return seconds


def report(result: dict[str, Any]) -> str:
    out = io.StringIO()
    people, built = result["people"], result["build_seconds"]
    print(f"cards model: {people:,} people, built in {built:.0f} s", file=out)
    for label, figures in result["timings"].items():
        index, scan = figures["indexed_seconds"], figures["scan_seconds"]
        print(
            f"{label:>8}: index {index['median'] * 1000:.2f} ms, full scan "
            f"{scan['median'] * 1000:.0f} ms: the scan takes {figures['scan_over_index']:,.0f}x",
            file=out,
        )
    print(f"report cards counts (one pass): {result['report_counts_seconds']:.2f} s", file=out)
    print(f"civledger cards due (whole process): {result['cli_seconds']:.2f} s", file=out)
    for name, text in result["plans"].items():
        print(f"--- EXPLAIN {name}\n{text}", file=out)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--by", type=date.fromisoformat, default=date(2026, 12, 31))
    parser.add_argument("--province", default="079")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--baseline-runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    url = create_database("civledger_bench_cards")
    views = postgres_views(url)
    result: dict[str, Any] = {"people": args.people, "by": args.by.isoformat(), "limit": LIMIT}
    try:
        print(f"building a cards model of {args.people:,} people in {url}", file=sys.stderr)
        result["build_seconds"] = build(views, args.people, args.seed)
        result["database_bytes"] = database_size(url)
        result.update(compare(url, views, args))
        started = time.perf_counter()
        result["report_counts"] = card_counts(views, TODAY)
        result["report_counts_seconds"] = time.perf_counter() - started
        result["cli_seconds"] = as_a_clerk_asks(url, views, args.by)
        result["machine"] = machine()
    finally:
        views.close()
        if not args.keep:
            drop_database(url)
    save_results("cards_due", result)
    print(report(result))


if __name__ == "__main__":
    main()
