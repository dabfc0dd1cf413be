"""A state machine over the civil acts, against a real SQLite store.

Invariants: no two people hold one number; a cancelled number is never held again; nothing
happens after death except corrections and merges (data cleaning, not civil acts); a merge never
loses a death; no number is set up after a renunciation.
"""

from __future__ import annotations

import contextlib
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)

from application.register import CivilRegister
from domain.commands import (
    ChangeRecord,
    Clerking,
    MergeDuplicate,
    RecordDeath,
    RegisterBirth,
    RenounceNationality,
)
from domain.errors import InvalidInput, RuleBroken
from domain.events import (
    DeathRegistered,
    IdNumberAssigned,
    IdNumberCancelled,
    MergedAsDuplicate,
    NationalityRenounced,
    RecordChanged,
)
from tests.conftest import FixedClock

PROVINCES = ["001", "079", "048"]
AFTER_DEATH_ALLOWED = (RecordChanged, IdNumberCancelled, IdNumberAssigned, MergedAsDuplicate)


class RegisterMachine(RuleBasedStateMachine):
    people = Bundle("people")

    @initialize()
    def open_store(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.clock = FixedClock(datetime(2026, 6, 1, 9, tzinfo=UTC))
        self.register = CivilRegister(
            f"sqlite:///{Path(self.dir.name) / 'machine.sqlite'}", clock=self.clock
        )
        self.acts = 0
        self.ids: list[object] = []

    def teardown(self) -> None:
        self.register.close()
        self.dir.cleanup()

    def clerking(self) -> Clerking:
        self.acts += 1
        self.clock.advance(minutes=1)
        return Clerking.parse(clerk="Lan", office="HN", reference=f"REF-{self.acts}")

    def attempt(self, action) -> None:  # type: ignore[no-untyped-def]
        with contextlib.suppress(RuleBroken, InvalidInput):
            action()

    @rule(
        target=people,
        province=st.sampled_from(PROVINCES),
        sex=st.sampled_from(["male", "female"]),
        year=st.integers(1930, 2020),
        nationality=st.sampled_from(["vietnamese", "vietnamese", "undetermined"]),
    )
    def register_birth(self, province: str, sex: str, year: int, nationality: str) -> object:
        act = RegisterBirth.parse(
            name="Nguyễn Thị Hoa",
            sex=sex,
            born=f"{year}-01-01",
            province=province,
            nationality=nationality,
        )
        person = self.register.register_birth(act, self.clerking()).person
        self.ids.append(person.id)
        return person.id

    @rule(person=people, day=st.dates(date(2021, 1, 1), date(2026, 5, 1)))
    def record_death(self, person: object, day: date) -> None:
        self.attempt(
            lambda: self.register.record_death(
                RecordDeath.parse(person=str(person), died_on=day.isoformat()), self.clerking()
            )
        )

    @rule(person=people)
    def renounce(self, person: object) -> None:
        self.attempt(
            lambda: self.register.renounce_nationality(
                RenounceNationality.parse(person=str(person), effective="2022-01-01"),
                self.clerking(),
            )
        )

    @rule(
        person=people,
        change=st.sampled_from(
            [
                ("born", "1999-09-09", "correction"),
                ("sex", "female", "redetermination"),
                ("sex", "male", "correction"),
                ("birth_province", "079", "correction"),
                ("name", "Trần Văn Hùng", "change"),
                ("nationality", "vietnamese", "change"),
            ]
        ),
    )
    def change(self, person: object, change: tuple[str, str, str]) -> None:
        field, value, kind = change
        self.attempt(
            lambda: self.register.change_record(
                ChangeRecord.parse(person=str(person), field=field, value=value, kind=kind),
                self.clerking(),
            )
        )

    @rule(duplicate=consumes(people), survivor=people)
    def merge(self, duplicate: object, survivor: object) -> None:
        self.attempt(
            lambda: self.register.merge_duplicate(
                MergeDuplicate.parse(person=str(duplicate), into=str(survivor)), self.clerking()
            )
        )

    @invariant()
    def no_two_people_hold_one_number(self) -> None:
        if not hasattr(self, "register"):
            return
        people = [self.register.person(pid) for pid in self.ids]  # type: ignore[arg-type]
        held = [p.id_number for p in people if p.id_number]
        assert len(held) == len(set(held))
        cancelled = {n for p in people for n in p.cancelled_id_numbers}
        assert not cancelled & set(held), "a cancelled number is held again"
        for p in people:
            assert self.register.person(p.id_number or str(p.id)).id == p.id

    @invariant()
    def nothing_after_death_but_corrections(self) -> None:
        if not hasattr(self, "register"):
            return
        for pid in self.ids:
            events = [e.event for e in self.register.history(str(pid))]
            deaths = [i for i, e in enumerate(events) if isinstance(e, DeathRegistered)]
            assert len(deaths) <= 1
            for later in events[deaths[0] + 1 :] if deaths else []:
                assert isinstance(later, AFTER_DEATH_ALLOWED)
                if isinstance(later, RecordChanged):
                    assert later.kind == "correction"

    @invariant()
    def a_merge_never_loses_a_death(self) -> None:
        if not hasattr(self, "register"):
            return
        for pid in self.ids:
            person = self.register.person(pid)  # type: ignore[arg-type]
            if person.merged_into is not None and person.died_on is not None:
                assert self.register.person(person.merged_into).died_on is not None

    @invariant()
    def no_number_is_set_up_after_a_renunciation(self) -> None:
        if not hasattr(self, "register"):
            return
        for pid in self.ids:
            events = [e.event for e in self.register.history(str(pid))]
            renounced = [i for i, e in enumerate(events) if isinstance(e, NationalityRenounced)]
            later = events[renounced[0] + 1 :] if renounced else []
            assert not any(isinstance(e, IdNumberAssigned) for e in later)


RegisterMachine.TestCase.settings = settings(max_examples=15, stateful_step_count=20, deadline=None)
TestRegisterMachine = RegisterMachine.TestCase
