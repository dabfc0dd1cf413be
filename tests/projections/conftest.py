"""Fixtures for the read-model suites: a register with a fixed clock, and a way to act on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from application.register import CivilRegister
from domain.commands import (
    ChangeRecord,
    Clerking,
    MergeDuplicate,
    RecordDeath,
    RegisterBirth,
    RenounceNationality,
)
from projections.engine import Engine
from projections.source import EventSource
from projections.views import ViewDatabase
from tests.conftest import FixedClock


class Clerk:
    """Records acts with fresh references, as a clerk at the Ba Đình office would."""

    def __init__(self, register: CivilRegister) -> None:
        self.register = register
        self.count = 0

    def _basis(self) -> Clerking:
        self.count += 1
        return Clerking.parse(clerk="Lê Thị Lan", office="HN-BADINH", reference=f"A-{self.count}")

    def birth(
        self,
        name: str = "Nguyễn Văn An",
        born: str = "1990-03-04",
        province: str = "001",
        sex: str = "male",
        nationality: str = "vietnamese",
    ) -> str:
        act = RegisterBirth.parse(
            name=name,
            sex=sex,
            born=born,
            province=province,
            nationality=nationality,
            registered_on=born,
        )
        person = self.register.register_birth(act, self._basis()).person
        return person.id_number or str(person.id)

    def death(self, who: str, on: str = "2020-05-06") -> None:
        self.register.record_death(RecordDeath.parse(person=who, died_on=on), self._basis())

    def renounce(self, who: str, on: str = "2021-01-02") -> None:
        self.register.renounce_nationality(
            RenounceNationality.parse(person=who, effective=on), self._basis()
        )

    def change(self, who: str, field: str, value: str, kind: str = "correction") -> str:
        outcome = self.register.change_record(
            ChangeRecord.parse(
                person=who, field=field, value=value, kind=kind, effective="2024-01-01"
            ),
            self._basis(),
        )
        return outcome.person.id_number or str(outcome.person.id)

    def merge(self, who: str, into: str) -> None:
        self.register.merge_duplicate(MergeDuplicate.parse(person=who, into=into), self._basis())


@pytest.fixture
def register(store_url: str, clock: FixedClock) -> Iterator[CivilRegister]:
    register = CivilRegister(store_url, clock=clock)
    yield register
    register.close()


@pytest.fixture
def clerk(register: CivilRegister) -> Clerk:
    return Clerk(register)


def engine_for(register: CivilRegister, views: str | None = None, batch_size: int = 5000) -> Engine:
    """An engine reading the register's log into `views` (default: the store's database)."""
    return Engine(
        EventSource(register),
        ViewDatabase.open(views or register.store.url),
        batch_size=batch_size,
    )


def scenario(clerk: Clerk) -> dict[str, str]:
    """A small town's register: births, a death, a renunciation, corrections, a merge."""
    an = clerk.birth("Nguyễn Văn An", "1990-03-04", "001")
    binh = clerk.birth("Đỗ Thị Bình", "1985-07-08", "079", sex="female")
    chau = clerk.birth("Trần Minh Châu", "2001-01-01", "048")
    dung = clerk.birth("Lê Văn Dũng", "1970-02-02", "001")
    stateless = clerk.birth("Phạm Thu Hà", "2010-10-10", "001", nationality="undetermined")
    late_an = clerk.birth("Nguyen Van An", "1990-03-04", "001")
    clerk.death(dung)
    clerk.renounce(binh)
    corrected = clerk.change(chau, "born", "2000-01-01")
    clerk.change(an, "name", "Nguyễn Văn Ân", kind="change")
    clerk.merge(late_an, into=an)
    determined = clerk.change(stateless, "nationality", "vietnamese", kind="redetermination")
    return {
        "an": an,
        "binh": binh,
        "chau": chau,
        "chau_now": corrected,
        "dung": dung,
        "stateless": determined,
        "late_an": late_an,
    }
