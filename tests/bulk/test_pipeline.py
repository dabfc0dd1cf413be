"""Batches written on a second thread: the next batch, decided meanwhile, must decide as if
the batch in flight had landed, and be decided again if that batch could not land as it was."""

from __future__ import annotations

import io
import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.register import CivilRegister
from domain.commands import Clerking, RecordDeath
from domain.events import BirthRegistered
from domain.registry import person_id_for_birth
from importer.pipeline import ImportTally, importer_for
from importer.rows import Rejected, numbered_lines
from importer.synthetic import PopulationGenerator
from tests.bulk.helpers import BIRTH_OFFICE, birth_ref, row

CLERK = {"clerk": "Trần Thị Hoa", "office": BIRTH_OFFICE}


def tangled_file() -> list[bytes]:
    """A generated population with rows whose outcome depends on earlier rows, often rows
    just before them: second deaths, acts before the birth they name, a re-sent row, and a
    reference reused for a different act."""
    text = io.StringIO()
    PopulationGenerator(45, seed=7).write(text)
    lines: list[str] = []
    for n, line in enumerate(text.getvalue().splitlines()):
        data = json.loads(line)
        if data["kind"] == "birth" and n % 5 == 0:  # named before it is registered
            lines.append(
                row(
                    kind="death",
                    **CLERK,
                    reference=f"KT-early-{n}",
                    person=birth_ref(data["reference"], data["office"]),
                    died_on="2026-01-01",
                )
            )
        lines.append(line)
        if data["kind"] == "death":  # a second death of the same person, at once
            again = dict(data, reference=data["reference"] + "-bis")
            lines.append(json.dumps(again, ensure_ascii=False))
        if n % 7 == 3:
            lines.append(line)  # re-sent: already recorded
        if data["kind"] == "birth" and n % 9 == 4:  # its reference reused for another act
            lines.append(json.dumps(dict(data, name="Đỗ Văn Khác"), ensure_ascii=False))
    return [line.encode() for line in lines]


def outcome(
    store_url: str, lines: Sequence[bytes], batch: int, parse_workers: int = 0
) -> dict[str, Any]:
    """What an import says and leaves, numbers aside (they are drawn at random)."""
    register = CivilRegister(store_url)
    rejected: list[Rejected] = []
    importer = importer_for(register, batch, parse_workers)
    tally = importer.run(numbered_lines(lines), rejected.append)
    births = [
        n.originator_id
        for n in register.recorder.select_notifications(start=None, limit=10**6)
        if n.topic == BirthRegistered.TOPIC
    ]
    people = {}
    for person_id in births:
        document = register.person(person_id).as_document()
        numbers = (document.pop("id_number"), document.pop("cancelled_id_numbers"))
        document["numbers_held"] = (numbers[0] is not None, len(numbers[1]))
        document.pop("merged_into")
        people[str(person_id)] = document
    register.close()
    return {
        "tally": tally.as_document(),
        "rejected": [(r.line, re.sub(r"\b\d{12}\b", "<number>", r.reason)) for r in rejected],
        "people": people,
    }


LINES = tangled_file()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=1, max_value=40), st.sampled_from([0, 1, 2]))
def test_any_batch_size_gives_what_one_batch_gives(batch: int, parse_workers: int) -> None:
    """Whatever the batches, and whether rows are parsed here or in worker processes."""
    with tempfile.TemporaryDirectory() as workdir:
        whole = outcome(f"sqlite:///{workdir}/whole.sqlite", LINES, len(LINES))
        batched = outcome(f"sqlite:///{workdir}/batched.sqlite", LINES, batch, parse_workers)
    assert whole["tally"]["rejected"] > 10
    assert whole["tally"]["already_recorded"] > 3
    assert batched == whole


def test_the_same_holds_on_every_backend(store_url: str, tmp_path: Path) -> None:
    whole = outcome(f"sqlite:///{tmp_path / 'whole.sqlite'}", LINES, len(LINES))
    assert outcome(store_url, LINES, 3, parse_workers=1) == whole


class InterferingRecorder:
    """The store's recorder, but a clerk records a death just before the import's second
    batch is written, so that batch fails on the primary key as it lands."""

    def __init__(self, register: CivilRegister, store_url: str, person: UUID) -> None:
        self.recorder: Any = register.recorder
        self.clerk = CivilRegister(store_url)
        self.person = person
        self.writes = 0

    def select_events_of(self, ids: Sequence[UUID]) -> Sequence[StoredEvent]:
        return self.recorder.select_events_of(ids)  # type: ignore[no-any-return]

    def insert_events_bulk(
        self, stored_events: Sequence[StoredEvent], *, return_ids: bool = False
    ) -> Sequence[int] | None:
        self.writes += 1
        if self.writes == 2:
            self.clerk.record_death(
                RecordDeath.parse(person=str(self.person), died_on="2026-02-01"),
                Clerking.parse(**CLERK, reference="KT-clerk"),
            )
        return self.recorder.insert_events_bulk(stored_events, return_ids=return_ids)  # type: ignore[no-any-return]


def test_a_batch_decided_on_one_that_could_not_land_is_decided_again(store_url: str) -> None:
    def birth(reference: str, name: str) -> str:
        return row(
            kind="birth",
            **CLERK,
            reference=reference,
            name=name,
            sex="female",
            born="1990-01-01",
            province="001",
        )

    def rename(reference: str, name: str) -> str:
        return row(
            kind="change",
            **CLERK,
            reference=reference,
            person=birth_ref("KS-1"),
            field="name",
            value=name,
            change_kind="change",
            effective="2026-01-05",
        )

    lines = [
        birth("KS-1", "Lê Thị Mai"),
        birth("KS-2", "Lê Thị Lan"),
        rename("TĐ-1", "Lê Thị Mơ"),  # batch 2: lands only after the clerk's death
        birth("KS-3", "Lê Thị Cúc"),
        rename("TĐ-2", "Lê Thị Mộng"),  # batch 3: decided while batch 2 was in flight
        birth("KS-4", "Lê Thị Đào"),
    ]
    register = CivilRegister(store_url)
    mai = person_id_for_birth(BIRTH_OFFICE, "KS-1")
    importer = importer_for(register, batch_size=2)
    importer.recorder = InterferingRecorder(register, store_url, mai)
    rejected: list[Rejected] = []
    tally: ImportTally = importer.run(
        numbered_lines(line.encode() for line in lines), rejected.append
    )

    assert (tally.rows, tally.recorded, tally.rejected) == (6, 4, 2)
    assert [r.line for r in rejected] == [3, 5]
    assert all("died on 2026-02-01" in r.reason for r in rejected), rejected
    person = register.person(mai)
    assert (person.name, person.status) == ("Lê Thị Mai", "deceased")
    history = [entry.event for entry in register.history(mai)]
    assert [type(e).__name__ for e in history] == [
        "BirthRegistered",
        "IdNumberAssigned",
        "DeathRegistered",
    ]
    assert [e.originator_version for e in history] == [1, 2, 3]
    for reference in ("KS-2", "KS-3", "KS-4"):
        assert register.person(person_id_for_birth(BIRTH_OFFICE, reference)).id_number
