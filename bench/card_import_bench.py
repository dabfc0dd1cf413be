"""Importing card issuances as a migration: their throughput against births in the same run.

On a fresh PostgreSQL database, `civledger import` (as an operator runs it, one process with
its parse worker) first of N births, then of one first card (`issue_card`, reason `first`)
for each of those people, dated in the 2021 campaign (March to June). Each import's rows/s and
events/s are taken from its own summary and wall time; the figure that matters is the ratio of
the cards' rate to the births' rate, measured on the same store in the same run.

    python -m bench.card_import_bench [--people N] [--runs R]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.bulk_support import create_database, drop_database, machine, save_results
from bench.scale_bench import CIVLEDGER, run_child
from importer.synthetic import FAMILY_NAMES, GIVEN_NAMES, MIDDLE_NAMES, PROVINCE_POPULATION

OFFICE = "UBND phường {}, bench"
POLICE = "Phòng Cảnh sát QLHC về TTXH, bench"
CAMPAIGN_DAYS = (date(2021, 6, 30) - date(2021, 3, 1)).days + 1


def write_files(people: int, seed: int, workdir: Path) -> tuple[Path, Path]:
    """A births file and a cards file naming the same people by their birth acts."""
    rng = random.Random(seed)
    families, provinces = list(FAMILY_NAMES), list(PROVINCE_POPULATION)
    births, cards = workdir / "births.jsonl", workdir / "cards.jsonl"
    with births.open("w", encoding="utf-8") as b, cards.open("w", encoding="utf-8") as c:
        for n in range(people):
            sex = "male" if n % 2 else "female"
            born = date(1950, 1, 1) + timedelta(days=rng.randrange(56 * 365))
            office, reference = OFFICE.format(1 + n % 24), f"KS-{born.year}-{n:09d}"
            birth = {
                "kind": "birth",
                "clerk": "Nguyễn Thị Lan",
                "office": office,
                "reference": reference,
                "name": f"{rng.choice(families)} {rng.choice(MIDDLE_NAMES[sex])} "
                f"{rng.choice(GIVEN_NAMES[sex])}",
                "sex": sex,
                "born": born.isoformat(),
                "province": rng.choice(provinces),
                "registered_on": (born + timedelta(days=20)).isoformat(),
            }
            card = {
                "kind": "issue_card",
                "clerk": "Trần Văn Hùng",
                "office": POLICE,
                "reference": f"CCCD-2021-{n:09d}",
                "person": {"office": office, "reference": reference},
                "reason": "first",
                "effective": (
                    date(2021, 3, 1) + timedelta(days=rng.randrange(CAMPAIGN_DAYS))
                ).isoformat(),
            }
            b.write(json.dumps(birth, ensure_ascii=False, separators=(",", ":")) + "\n")
            c.write(json.dumps(card, ensure_ascii=False, separators=(",", ":")) + "\n")
    return births, cards


def import_file(source: Path, url: str) -> dict[str, Any]:
    text, seconds, rss, _, cpu = run_child(
        [CIVLEDGER, "import", str(source), "--store", url, "--json"], url
    )
    summary = json.loads(text)
    if summary["rejected"]:
        raise SystemExit(f"{source.name}: {summary['rejected']} rows rejected")
    return {
        "rows": summary["rows"],
        "events": summary["events"],
        "seconds": seconds,
        "rows_per_second": summary["rows"] / seconds,
        "events_per_second": summary["events"] / seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": rss / 2**20,
    }


def one_run(people: int, seed: int, workdir: Path) -> dict[str, Any]:
    births, cards = write_files(people, seed, workdir)
    url = create_database()
    try:
        born = import_file(births, url)
        print(json.dumps({"births": born}), flush=True)
        issued = import_file(cards, url)
        print(json.dumps({"cards": issued}), flush=True)
    finally:
        drop_database(url)
        births.unlink(missing_ok=True)
        cards.unlink(missing_ok=True)
    return {
        "people": people,
        "births": born,
        "cards": issued,
        "cards_to_births_rows_per_second": issued["rows_per_second"] / born["rows_per_second"],
        "cards_to_births_events_per_second": (
            issued["events_per_second"] / born["events_per_second"]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=2021)
    args = parser.parse_args()
    details = machine()
    print(f"machine: {details}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="civledger-cards-"))
    try:
        runs = [one_run(args.people, args.seed + r, workdir) for r in range(args.runs)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for run in runs:
        print(
            f"{run['people']:,} people: births {run['births']['rows_per_second']:,.0f} rows/s, "
            f"cards {run['cards']['rows_per_second']:,.0f} rows/s: "
            f"{run['cards_to_births_rows_per_second']:.2f}x",
            flush=True,
        )
    path = save_results(f"card-import-{args.people}", {"machine": details, "runs": runs})
    print(f"written {path}")


if __name__ == "__main__":
    main()
