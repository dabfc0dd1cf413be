"""A synthetic but lawful event log, written straight through the library's recorder.

The people and their acts are the synthetic population of `civledger generate`
(`importer.synthetic.PopulationGenerator`): each of its rows becomes the events the register
records for that act (a birth, its number and claim; a change, with cancel-and-reissue when it
changes what the number encodes; a determined nationality and its number; a renunciation; a
death; a merge of a duplicate registration), and the act record, without deciding anything:
no rule is checked and nothing is read back, so a large log is written fast. Registry events
(number claims, recorded acts) are written too, so projections must skip them. The same seed
gives the same log.

The events are those an import of the same rows records (`tests/bulk/test_event_log.py`), but
for the numbers' serials (drawn from the seed), the day of a merge (the day it is recorded, not
the day of the import) and the references, tagged with the seed (`S7-KS-2001-000000042`) so that
logs of different seeds can be written into the same store. Numbers are unique within one log;
two logs could draw the same one (one chance in a million per pair of people of the same
province, sex and year of birth), which the store would refuse.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from application.register import CivilRegister
from domain.events import (
    ActRecorded,
    BirthRegistered,
    DeathRegistered,
    IdNumberAssigned,
    IdNumberAssignedReason,
    IdNumberCancelled,
    IdNumberCancelledReason,
    IdNumberClaimed,
    MergedAsDuplicate,
    NationalityDetermined,
    NationalityRenounced,
    RecordChanged,
    RegisterEvent,
)
from domain.policies import NUMBER_BEARING_FIELDS
from domain.registry import act_id, claim_id, fingerprint, person_id_for_birth
from domain.values import IdNumber, Nationality, Sex
from importer.synthetic import HORIZON, PopulationGenerator, Rates

#: When the first act is recorded: the day after the generator's horizon, as a migration would
#: record a whole register; each later act a second after the one before.
RECORDED_FROM = datetime.combine(HORIZON + timedelta(days=1), datetime.min.time(), UTC)
#: A row's keys that are not the act's content (its fingerprint's input).
_NOT_CONTENT = frozenset({"kind", "clerk", "office", "reference"})


class _Record:
    """What the writer keeps of a person: enough to shape the events of their later acts."""

    __slots__ = (
        "born",
        "id",
        "merged",
        "name",
        "nationality",
        "number",
        "province",
        "registered_on",
        "sex",
        "values",
        "version",
    )

    def __init__(self, person_id: UUID, row: dict[str, Any]) -> None:
        self.id = person_id
        self.name: str = row["name"]
        self.sex = Sex(row["sex"])
        self.born = date.fromisoformat(row["born"])
        self.province: str = row["province"]
        self.nationality = Nationality(row["nationality"])
        self.registered_on = date.fromisoformat(row["registered_on"])
        self.number: str | None = None
        self.merged = False
        self.version = 0
        #: The other fields a change may set, as the register shows them.
        self.values: dict[str, str | None] = {
            "ethnicity": row.get("ethnicity"),
            "place_of_birth": row.get("place_of_birth"),
        }

    @property
    def number_prefix(self) -> str:
        return str(IdNumber.compose(self.province, self.sex, self.born.year, 0))[:6]

    @property
    def may_hold_number(self) -> bool:
        return self.nationality is Nationality.VIETNAMESE and not self.merged

    def value(self, field: str) -> str | None:
        if field == "name":
            return self.name
        if field == "sex":
            return self.sex.value
        if field == "born":
            return self.born.isoformat()
        if field == "birth_province":
            return self.province
        if field == "nationality":
            return self.nationality.value
        return self.values.get(field)

    def set(self, field: str, value: str) -> None:
        if field == "name":
            self.name = value
        elif field == "sex":
            self.sex = Sex(value)
        elif field == "born":
            self.born = date.fromisoformat(value)
        elif field == "birth_province":
            self.province = value
        elif field == "nationality":
            self.nationality = Nationality(value)
        else:
            self.values[field] = value


class RowsToEvents:
    """Turns the generator's rows, in order, into the events the register records for them."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.people: dict[tuple[str, str], _Record] = {}
        self.numbers: set[str] = set()
        self.acts = 0
        #: The act being turned into events: when it is recorded, and its basis.
        self.recorded_at = RECORDED_FROM
        self.basis: dict[str, str] = {}

    def events(self, rows: Iterable[dict[str, Any]]) -> Iterator[RegisterEvent]:
        for row in rows:
            yield from self.act(row)

    def act(self, row: dict[str, Any]) -> list[RegisterEvent]:
        """The events of one row's act: the person's, then the claims, then the act record."""
        self.recorded_at = RECORDED_FROM + timedelta(seconds=self.acts)
        self.acts += 1
        kind = row["kind"]
        self.basis = {
            "clerk": row["clerk"],
            "office": row["office"],
            "reference": f"S{self.seed}-{row['reference']}",
        }
        if kind == "birth":
            person, events, claims = self._birth(row)
        else:
            person = self._find(row["person"])
            events, claims = self._later(kind, person, row)
        content = {k: v for k, v in row.items() if k not in _NOT_CONTENT}
        record = ActRecorded(
            originator_id=act_id(kind, self.basis["office"], self.basis["reference"]),
            originator_version=1,
            recorded_at=self.recorded_at,
            occurred_on=events[0].occurred_on,
            **self.basis,
            kind=kind,
            fingerprint=fingerprint(kind, content),
            person_id=person.id,
        )
        return [*events, *claims, record]

    # ------------------------------------------------------------------ helpers

    def _find(self, ref: dict[str, str]) -> _Record:
        return self.people[(ref["office"], f"S{self.seed}-{ref['reference']}")]

    def _event(
        self, cls: type[RegisterEvent], person: _Record, on: date, **fields: Any
    ) -> RegisterEvent:
        person.version += 1
        return cls(
            originator_id=person.id,
            originator_version=person.version,
            recorded_at=self.recorded_at,
            occurred_on=on,
            **self.basis,
            **fields,
        )

    def _assign(
        self, person: _Record, on: date, reason: IdNumberAssignedReason
    ) -> tuple[RegisterEvent, RegisterEvent]:
        while True:
            number = str(
                IdNumber.compose(
                    person.province, person.sex, person.born.year, self.rng.randrange(1_000_000)
                )
            )
            if number not in self.numbers:
                break
        self.numbers.add(number)
        person.number = number
        claim = IdNumberClaimed(
            originator_id=claim_id(number),
            originator_version=1,
            recorded_at=self.recorded_at,
            occurred_on=on,
            **self.basis,
            id_number=number,
            person_id=person.id,
        )
        return self._event(IdNumberAssigned, person, on, id_number=number, reason=reason), claim

    def _cancel(
        self, person: _Record, on: date, reason: IdNumberCancelledReason
    ) -> list[RegisterEvent]:
        if person.number is None:
            return []
        number, person.number = person.number, None
        return [self._event(IdNumberCancelled, person, on, id_number=number, reason=reason)]

    # --------------------------------------------------------------------- acts

    def _birth(
        self, row: dict[str, Any]
    ) -> tuple[_Record, list[RegisterEvent], list[RegisterEvent]]:
        person_id = person_id_for_birth(self.basis["office"], self.basis["reference"])
        person = _Record(person_id, row)
        self.people[(self.basis["office"], self.basis["reference"])] = person
        parents = {
            f"{role}_id": self._find(row[role]).id if role in row else None
            for role in ("father", "mother")
        }
        events = [
            self._event(
                BirthRegistered,
                person,
                person.born,
                name=person.name,
                sex=person.sex,
                born=person.born,
                birth_province=person.province,
                nationality=person.nationality,
                ethnicity=row.get("ethnicity"),
                place_of_birth=row.get("place_of_birth"),
                registered_on=person.registered_on,
                **parents,
            )
        ]
        claims: list[RegisterEvent] = []
        if person.may_hold_number:
            assigned, claim = self._assign(person, person.registered_on, "birth_registered")
            events.append(assigned)
            claims.append(claim)
        return person, events, claims

    def _later(
        self, kind: str, person: _Record, row: dict[str, Any]
    ) -> tuple[list[RegisterEvent], list[RegisterEvent]]:
        if kind == "death":
            on = date.fromisoformat(row["died_on"])
            return [self._event(DeathRegistered, person, on, place=row.get("place"))], []
        if kind == "renunciation":
            person.nationality = Nationality.RENOUNCED
            on = date.fromisoformat(row["effective"])
            return [self._event(NationalityRenounced, person, on)], []
        if kind == "merge":
            survivor = self._find(row["into"])
            on = self.recorded_at.date()
            events = self._cancel(person, on, "merged_as_duplicate")
            person.merged = True
            events.append(
                self._event(
                    MergedAsDuplicate,
                    person,
                    on,
                    survivor_id=survivor.id,
                    survivor_id_number=survivor.number,
                )
            )
            return events, []
        if kind == "change":
            return self._change(person, row)
        raise ValueError(f"unknown act {kind!r}")

    def _change(
        self, person: _Record, row: dict[str, Any]
    ) -> tuple[list[RegisterEvent], list[RegisterEvent]]:
        """As `Person.change_record`: a change of what the number encodes cancels the number and
        assigns a new one; a nationality determined as Vietnamese brings a number."""
        field, new, how = row["field"], row["value"], row["change_kind"]
        on = date.fromisoformat(row["effective"])
        if field == "nationality" and new == Nationality.VIETNAMESE.value:
            person.nationality = Nationality.VIETNAMESE
            events = [self._event(NationalityDetermined, person, on, nationality=new, kind=how)]
            if person.number is None and person.may_hold_number:
                assigned, claim = self._assign(person, on, "nationality_determined")
                return [*events, assigned], [claim]
            return events, []
        old, prefix = person.value(field), person.number_prefix
        person.set(field, new)
        reissue = person.number is not None and (
            (field in NUMBER_BEARING_FIELDS and person.number_prefix != prefix)
            or (field == "nationality" and old == Nationality.VIETNAMESE.value)
        )
        events = self._cancel(person, on, "record_corrected") if reissue else []
        events.append(
            self._event(
                RecordChanged, person, on, field=field, kind=how, old_value=old, new_value=new
            )
        )
        if reissue and person.may_hold_number:
            assigned, claim = self._assign(person, on, "record_corrected")
            return [*events, assigned], [claim]
        return events, []


def write_log(
    register: CivilRegister,
    people: int,
    seed: int = 7,
    chunk: int = 5_000,
    rates: Rates | None = None,
) -> int:
    """Append the log of a synthetic population of `people` persons (`civledger generate
    --people PEOPLE --seed SEED`, at `rates`); returns the number of events written."""
    mapper = register.mapper
    written = 0
    buffer = []
    rows = PopulationGenerator(people, seed, rates).rows()
    for event in RowsToEvents(seed).events(rows):
        buffer.append(mapper.to_stored_event(event))
        if len(buffer) >= chunk:
            register.recorder.insert_events(buffer)
            written += len(buffer)
            buffer = []
    if buffer:
        register.recorder.insert_events(buffer)
        written += len(buffer)
    return written
