"""Helpers of the read-model suites for residence, households and record cleaning: a small
commune directory, a clerk for the residence acts, and the report's counts recomputed from the
register's aggregates (an oracle independent of the projection)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any
from uuid import UUID

from application.register import CivilRegister
from domain.commands import (
    ChangeHead,
    Command,
    ConfirmRecord,
    DeclareAbode,
    EndResidence,
    ExtendResidence,
    ProposeDeletion,
    RegisterBirth,
    RegisterResidence,
    SplitHousehold,
    WithdrawDeletionProposal,
)
from domain.events import BirthRegistered, HouseholdEstablished
from domain.household import Household
from domain.person import Person
from domain.reference import communes, configure_communes
from domain.registry import household_id
from domain.residence import ADULT_AGE, age_on
from domain.values import REGISTER_TIMEZONE, Nationality
from tests.conftest import FixedClock
from tests.projections.conftest import Clerk

#: The communes the tests' directory knows, on every date.
COMMUNE_A = "00001"
COMMUNE_B = "00002"


class TinyCommunes:
    """A commune directory that knows a few codes on every date (the real one,
    `infrastructure.communes`, is tested on its own)."""

    def __init__(self, *codes: str) -> None:
        self.codes = frozenset(codes)

    def name_on(self, code: str, on: date) -> str | None:
        return f"commune {code}" if code in self.codes else None

    def version_on(self, on: date) -> str:
        return "the tests' list"


@contextlib.contextmanager
def tiny_communes() -> Iterator[None]:
    """The domain configured with `TinyCommunes(COMMUNE_A, COMMUNE_B)`, then as it was."""
    before = communes()
    configure_communes(TinyCommunes(COMMUNE_A, COMMUNE_B))
    try:
        yield
    finally:
        configure_communes(before)


def clock_on(day: date) -> FixedClock:
    """A clock standing at noon, Indochina Time, on `day`."""
    return FixedClock(datetime.combine(day, time(12, 0), tzinfo=REGISTER_TIMEZONE))


class ResidenceClerk(Clerk):
    """A clerk who also records the residence, household and record-cleaning acts."""

    def act(self, command: Command) -> Any:
        return self.register.execute(command, self._basis())

    def born(
        self,
        name: str,
        born: date,
        *,
        sex: str = "male",
        nationality: str = "vietnamese",
        father: str | None = None,
        mother: str | None = None,
        registered_on: date | None = None,
    ) -> str:
        act = RegisterBirth.parse(
            name=name,
            sex=sex,
            born=born.isoformat(),
            province="001",
            nationality=nationality,
            registered_on=(registered_on or born).isoformat(),
            father=father,
            mother=mother,
        )
        person = self.act(act).person
        return person.id_number or str(person.id)

    def new_household(self, who: str, on: date, commune: str = COMMUNE_A) -> str:
        outcome = self.act(
            RegisterResidence.parse(
                person=who,
                kind="permanent",
                commune=commune,
                address="12 Phố Huế",
                new_household=True,
                effective=on.isoformat(),
            )
        )
        return str(outcome.household)

    def join(self, who: str, household: str, relation: str, on: date) -> None:
        self.act(
            RegisterResidence.parse(
                person=who,
                kind="permanent",
                commune=COMMUNE_A,
                address="12 Phố Huế",
                household=household,
                relation=relation,
                effective=on.isoformat(),
            )
        )

    def temporary(self, who: str, on: date, until: date, commune: str = COMMUNE_B) -> None:
        self.act(
            RegisterResidence.parse(
                person=who,
                kind="temporary",
                commune=commune,
                address="7 Lê Lợi",
                until=until.isoformat(),
                effective=on.isoformat(),
            )
        )

    def end(self, who: str, kind: str, ground: str, on: date) -> None:
        self.act(EndResidence.parse(person=who, kind=kind, ground=ground, effective=on.isoformat()))

    def extend(self, who: str, until: date, on: date) -> None:
        self.act(
            ExtendResidence.parse(person=who, until=until.isoformat(), effective=on.isoformat())
        )

    def abode(self, who: str, on: date) -> None:
        self.act(
            DeclareAbode.parse(
                person=who, commune=COMMUNE_B, address="under the bridge", effective=on.isoformat()
            )
        )

    def change_head(self, household: str, head: str, on: date) -> None:
        self.act(ChangeHead.parse(household=household, head=head, effective=on.isoformat()))

    def split(self, household: str, members: list[str], head: str, on: date) -> str:
        outcome = self.act(
            SplitHousehold.parse(
                household=household, members=members, head=head, effective=on.isoformat()
            )
        )
        return str(outcome.household)

    def confirm(self, who: str) -> None:
        self.act(ConfirmRecord.parse(person=who))

    def propose_deletion(self, who: str) -> None:
        self.act(ProposeDeletion.parse(person=who, reason="registered twice in the commune"))

    def withdraw_proposal(self, who: str) -> None:
        self.act(WithdrawDeletionProposal.parse(person=who))


def everyone(register: CivilRegister) -> tuple[list[Person], list[Household]]:
    """Every person and every household recorded, read from the log."""
    people: list[UUID] = []
    households: list[UUID] = []
    for n in register.recorder.select_notifications(start=1, limit=10**6):
        if n.topic == BirthRegistered.TOPIC:
            people.append(n.originator_id)  # type: ignore[arg-type]
        elif n.topic == HouseholdEstablished.TOPIC:
            households.append(n.originator_id)  # type: ignore[arg-type]
    return (
        [register.person(person_id) for person_id in people],
        [_household(register, household) for household in households],
    )


def recount(register: CivilRegister, on: date) -> dict[str, Any]:
    """The keys residence added to `report --json`, recomputed from the aggregates by their
    definitions in docs/projections.md (not from the projection's tables)."""
    people, households = everyone(register)
    by_id = {person.id: person for person in people}
    living = [p for p in people if p.died_on is None and p.merged_into is None]
    vietnamese = [p for p in living if p.nationality is Nationality.VIETNAMESE]
    without = (Nationality.UNDETERMINED, Nationality.STATELESS)

    def has_vietnamese_parent(person: Person) -> bool:
        parents = (by_id.get(p) for p in (person.father_id, person.mother_id) if p is not None)
        return any(parent.nationality is Nationality.VIETNAMESE for parent in parents if parent)

    return {
        "households": sum(1 for h in households if h.members),
        "households_without_head": sum(1 for h in households if h.is_headless),
        "permanent_residents": sum(1 for p in living if p.permanent is not None),
        "temporary_residents": sum(1 for p in living if p.current_temporary(on) is not None),
        "without_permanent_residence": sum(1 for p in vietnamese if p.permanent is None),
        "unconfirmed": sum(1 for p in vietnamese if not p.confirmed),
        "proposed_for_deletion": sum(1 for p in vietnamese if p.proposed_for_deletion),
        "numbers_in_service": sum(
            1
            for p in living
            if p.id_number is not None
            and p.status == "active"
            and not p.proposed_for_deletion
            and p.confirmed
            and p.permanent is not None
        ),
        "special_cases": {
            "without_nationality_resident": sum(
                1 for p in living if p.nationality in without and p.permanent is not None
            ),
            "undetermined_without_permanent_residence": sum(
                1
                for p in living
                if p.nationality is Nationality.UNDETERMINED and p.permanent is None
            ),
            "undetermined_children_with_a_vietnamese_parent": sum(
                1
                for p in living
                if p.nationality is Nationality.UNDETERMINED
                and age_on(p.born, on) < ADULT_AGE
                and has_vietnamese_parent(p)
            ),
        },
    }


def _household(register: CivilRegister, aggregate_id: UUID) -> Household:
    household = register.on_store.get(Household, aggregate_id)
    assert household is not None
    return household


def household(register: CivilRegister, number: str) -> Household:
    return _household(register, household_id(number))
