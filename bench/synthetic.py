"""A synthetic but lawful event log, written straight through the library's recorder.

Each person is born (with a number unless of undetermined nationality), and some later die,
renounce, have their name or year of birth corrected (cancel and re-issue), or are merged into an
earlier person. Later acts are held back for a random number of births, so a person's events
spread over many batches, as in a real log. Registry events (number claims, recorded acts) are
written too, so projections must skip them. The same seed gives the same log.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from application.register import CivilRegister
from domain.events import (
    ActRecorded,
    BirthRegistered,
    DeathRegistered,
    IdNumberAssigned,
    IdNumberCancelled,
    IdNumberClaimed,
    MergedAsDuplicate,
    NationalityRenounced,
    RecordChanged,
    RegisterEvent,
)
from domain.reference import CIRCULAR_59_2021
from domain.registry import act_id, claim_id
from domain.values import IdNumber, Nationality, Sex

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hùng", "Lan", "Long", "Mai", "Nam", "Phúc"]
PROVINCES = sorted(CIRCULAR_59_2021.codes)
START = datetime(2016, 1, 1, 8, 0, tzinfo=UTC)


class _Person:
    __slots__ = ("born", "id", "number", "province", "sex", "version")

    def __init__(self, pid: UUID, sex: Sex, born: date, province: str) -> None:
        self.id = pid
        self.sex = sex
        self.born = born
        self.province = province
        self.number: str | None = None
        self.version = 0


class SyntheticLog:
    """Yields events for `people` persons, about four events per birth."""

    def __init__(self, people: int, seed: int = 7) -> None:
        self.people = people
        self.seed = seed
        self.rng = random.Random(seed)
        self.numbers: set[str] = set()
        self.step = 0
        self.references = 0
        self.recent: list[_Person] = []

    def _uuid(self) -> UUID:
        return UUID(int=self.rng.getrandbits(128), version=4)

    def _moment(self) -> datetime:
        return START + timedelta(seconds=self.step * 37)

    def _event(
        self, cls: type[RegisterEvent], originator: UUID, version: int, on: date, **fields: Any
    ) -> RegisterEvent:
        return cls(
            originator_id=originator,
            originator_version=version,
            recorded_at=self._moment(),
            occurred_on=on,
            clerk="Lê Thị Lan",
            office="HN-BADINH",
            reference=f"S{self.seed}-{self.references}",
            **fields,
        )

    def _act(self, kind: str, person: _Person, on: date) -> RegisterEvent:
        self.references += 1
        return self._event(
            ActRecorded,
            act_id(kind, "HN-BADINH", f"S{self.seed}-{self.references}"),
            1,
            on,
            kind=kind,
            fingerprint=f"{self.references:064x}",
            person_id=person.id,
        )

    def _number(self, person: _Person) -> str:
        while True:
            number = str(
                IdNumber.compose(
                    person.province, person.sex, person.born.year, self.rng.randrange(1_000_000)
                )
            )
            if number not in self.numbers:
                self.numbers.add(number)
                return number

    def _next(self, person: _Person, cls: type[RegisterEvent], on: date, **f: Any) -> RegisterEvent:
        person.version += 1
        return self._event(cls, person.id, person.version, on, **f)

    def _assign(self, person: _Person, on: date, reason: str) -> list[RegisterEvent]:
        number = self._number(person)
        person.number = number
        return [
            self._next(person, IdNumberAssigned, on, id_number=number, reason=reason),
            self._event(
                IdNumberClaimed, claim_id(number), 1, on, id_number=number, person_id=person.id
            ),
        ]

    def _birth(self) -> tuple[_Person, list[RegisterEvent]]:
        rng = self.rng
        sex = Sex.MALE if rng.random() < 0.5 else Sex.FEMALE
        born = date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 90))
        person = _Person(self._uuid(), sex, born, rng.choice(PROVINCES))
        nationality = Nationality.VIETNAMESE if rng.random() < 0.97 else Nationality.UNDETERMINED
        name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"
        registered = born + timedelta(days=rng.randrange(60))
        events = [
            self._next(
                person,
                BirthRegistered,
                born,
                name=name,
                sex=sex,
                born=born,
                birth_province=person.province,
                nationality=nationality,
                registered_on=registered,
            )
        ]
        if nationality is Nationality.VIETNAMESE:
            events += self._assign(person, registered, "birth_registered")
        events.append(self._act("birth", person, born))
        return person, events

    def _later(self, person: _Person) -> list[RegisterEvent]:
        rng = self.rng
        roll = rng.random()
        on = min(person.born + timedelta(days=rng.randrange(1, 365 * 30)), date(2026, 1, 1))
        on = max(on, person.born)
        if roll < 0.30:
            return [self._next(person, DeathRegistered, on), self._act("death", person, on)]
        if roll < 0.40 and person.number is not None:
            return [
                self._next(person, NationalityRenounced, on),
                self._act("renunciation", person, on),
            ]
        if roll < 0.75:
            return [
                self._next(
                    person,
                    RecordChanged,
                    on,
                    field="name",
                    kind="correction",
                    old_value=None,
                    new_value=f"{rng.choice(FAMILY)} {rng.choice(GIVEN)}",
                ),
                self._act("change", person, on),
            ]
        if roll < 0.90 and person.number is not None:
            old = person.born
            person.born = old.replace(year=old.year + 1 if old.year < 2019 else old.year - 1, day=1)
            events = [
                self._next(
                    person,
                    IdNumberCancelled,
                    on,
                    id_number=person.number,
                    reason="record_corrected",
                ),
                self._next(
                    person,
                    RecordChanged,
                    on,
                    field="born",
                    kind="correction",
                    old_value=old.isoformat(),
                    new_value=person.born.isoformat(),
                ),
            ]
            events += self._assign(person, on, "record_corrected")
            events.append(self._act("change", person, on))
            return events
        if self.recent and person.number is not None:
            survivor = self.recent[0]
            if survivor is not person:
                events = [
                    self._next(
                        person,
                        IdNumberCancelled,
                        on,
                        id_number=person.number,
                        reason="merged_as_duplicate",
                    ),
                    self._next(
                        person,
                        MergedAsDuplicate,
                        on,
                        survivor_id=survivor.id,
                        survivor_id_number=survivor.number,
                    ),
                    self._act("merge", person, on),
                ]
                person.number = None
                return events
        return []

    def events(self) -> Iterator[RegisterEvent]:
        pending: list[tuple[int, int, _Person]] = []
        counter = 0
        for birth in range(self.people):
            self.step = birth
            while pending and pending[0][0] <= birth:
                _, _, person = heapq.heappop(pending)
                yield from self._later(person)
            person, events = self._birth()
            yield from events
            if not self.recent or self.rng.random() < 0.001:
                self.recent = [person]
            if self.rng.random() < 0.25:
                counter += 1
                heapq.heappush(pending, (birth + self.rng.randrange(1, 3000), counter, person))
        while pending:
            _, _, person = heapq.heappop(pending)
            yield from self._later(person)


def write_log(register: CivilRegister, people: int, seed: int = 7, chunk: int = 5_000) -> int:
    """Append a synthetic log for `people` births; returns the number of events written."""
    mapper = register.mapper
    written = 0
    buffer = []
    for event in SyntheticLog(people, seed).events():
        buffer.append(mapper.to_stored_event(event))
        if len(buffer) >= chunk:
            register.recorder.insert_events(buffer)
            written += len(buffer)
            buffer = []
    if buffer:
        register.recorder.insert_events(buffer)
        written += len(buffer)
    return written
