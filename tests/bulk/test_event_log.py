"""The rebuild benchmark's direct log (`bench/event_log.py`) records what an import of the same
synthetic rows records, without going through the rules."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any
from uuid import UUID

from application.register import CivilRegister
from bench.event_log import write_log
from domain.events import IdNumberCancelled, MergedAsDuplicate
from domain.registry import person_id_for_birth
from importer.synthetic import DENSE, PopulationGenerator
from tests.bulk.helpers import run, write_lines

#: What differs by design: ids and numbers (drawn, or derived from tagged references), and the
#: day of a merge (the day it is recorded).
DRAWN = {"id_number", "survivor_id", "survivor_id_number", "father_id", "mother_id"}


def _topics(register: CivilRegister) -> Counter[str]:
    notifications = register.recorder.select_notifications(start=None, limit=10**7)
    return Counter(n.topic for n in notifications)


def _life(register: CivilRegister, person_id: UUID) -> list[tuple[Any, ...]]:
    lives = []
    for entry in register.history(person_id):
        event = entry.event
        data = {k: v for k, v in event.data().items() if k not in DRAWN}
        merged = isinstance(event, MergedAsDuplicate) or (
            isinstance(event, IdNumberCancelled) and event.reason == "merged_as_duplicate"
        )
        on = None if merged else event.occurred_on
        lives.append((type(event).__name__, event.originator_version, on, event.clerk, data))
    return lives


def test_the_direct_log_records_what_an_import_of_the_same_rows_records(tmp_path: Path) -> None:
    seed = 5
    rows = list(PopulationGenerator(250, seed, DENSE).rows())
    assert {r["kind"] for r in rows} == {"birth", "change", "death", "renunciation", "merge"}
    source = write_lines(tmp_path / "rows.jsonl", [json.dumps(r, ensure_ascii=False) for r in rows])
    imported_url = f"sqlite:///{tmp_path / 'imported.sqlite'}"
    assert run("import", str(source), "--store", imported_url).exit_code == 0
    imported = CivilRegister(imported_url)
    direct = CivilRegister(f"sqlite:///{tmp_path / 'direct.sqlite'}")
    direct.init_schema()

    written = write_log(direct, 250, seed, rates=DENSE)

    assert _topics(direct) == _topics(imported)
    assert written == sum(_topics(direct).values())
    for row in rows:
        if row["kind"] != "birth":
            continue
        was = person_id_for_birth(row["office"], row["reference"])
        now = person_id_for_birth(row["office"], f"S{seed}-{row['reference']}")
        assert _life(direct, now) == _life(imported, was)
        person = direct.person(now)
        if person.id_number is not None:
            assert person.id_number.startswith(person.number_prefix)
            assert direct.resolve(person.id_number) == now
    imported.close()
    direct.close()
