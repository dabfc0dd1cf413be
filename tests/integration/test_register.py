"""The register service against real SQLite and real PostgreSQL: one suite, both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

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
from domain.errors import InvalidInput, ReferenceConflict, RuleBroken, UnknownPerson
from domain.registry import claim_id
from domain.values import IdNumber
from tests.conftest import FixedClock


@pytest.fixture
def register(store_url: str, clock: FixedClock) -> Iterator[CivilRegister]:
    app = CivilRegister(store_url, clock=clock)
    yield app
    app.close()


def at(reference: str, office: str = "HN-BADINH") -> Clerking:
    return Clerking.parse(clerk="Lê Thị Lan", office=office, reference=reference)


def birth(name: str = "Nguyễn Văn An", **fields: str) -> RegisterBirth:
    raw = {"name": name, "sex": "male", "born": "1990-03-04", "province": "001"} | fields
    return RegisterBirth.parse(**raw)


def test_a_registered_birth_gets_a_number_encoding_the_record(register: CivilRegister) -> None:
    outcome = register.register_birth(birth(), at("KS-1"))
    number = IdNumber.parse(outcome.person.id_number or "")
    assert (number.province, number.sex.value, number.year) == ("001", "male", 1990)
    shown = register.person(str(number)).as_document()
    assert shown["name"] == "Nguyễn Văn An"
    assert shown["status"] == "active"
    assert shown["version"] == 2


def test_resubmitting_the_same_act_writes_nothing(register: CivilRegister) -> None:
    first = register.register_birth(birth(), at("KS-1"))
    head = register.recorder.max_notification_id()
    again = register.register_birth(birth(), at("KS-1"))
    assert again.already_recorded
    assert again.person.id_number == first.person.id_number
    assert register.recorder.max_notification_id() == head


def test_the_same_reference_for_another_act_is_refused(register: CivilRegister) -> None:
    register.register_birth(birth(), at("KS-1"))
    head = register.recorder.max_notification_id()
    with pytest.raises(ReferenceConflict):
        register.register_birth(birth("Trần Thị Bình", sex="female"), at("KS-1"))
    assert register.recorder.max_notification_id() == head


def test_the_same_reference_at_another_office_is_another_act(register: CivilRegister) -> None:
    one = register.register_birth(birth(), at("KS-1"))
    two = register.register_birth(birth("Trần Thị Bình", sex="female"), at("KS-1", "HCM-Q1"))
    assert one.person.id != two.person.id


def test_a_cancelled_number_still_shows_its_holder(register: CivilRegister) -> None:
    an = register.register_birth(birth(), at("KS-1")).person
    old = an.id_number or ""
    changed = register.change_record(
        ChangeRecord.parse(person=old, field="born", value="1991-03-04", kind="correction"),
        at("CC-1"),
    )
    assert changed.cancelled == old
    assert changed.assigned is not None
    assert changed.assigned.startswith("001091")
    holder = register.person(old)
    assert holder.id == an.id
    assert holder.cancelled_id_numbers == [old]
    assert register.on_store.exists(claim_id(old))


def test_death_renunciation_and_history(register: CivilRegister, clock: FixedClock) -> None:
    number = register.register_birth(birth(), at("KS-1")).person.id_number or ""
    register.renounce_nationality(
        RenounceNationality.parse(person=number, effective="2021-07-01"), at("QD-1")
    )
    clock.advance(days=1)
    register.record_death(
        RecordDeath.parse(person=number, died_on="2024-01-02", place="Bạch Mai"), at("KT-1")
    )
    person = register.person(number)
    assert person.status == "deceased"
    assert person.renounced_on == date(2021, 7, 1)
    kinds = [type(entry.event).__name__ for entry in register.history(number)]
    assert kinds == [
        "BirthRegistered",
        "IdNumberAssigned",
        "NationalityRenounced",
        "DeathRegistered",
    ]
    positions = [entry.position for entry in register.history(number)]
    assert positions == sorted(positions)


def test_rules_refuse_and_write_nothing(register: CivilRegister) -> None:
    number = register.register_birth(birth(), at("KS-1")).person.id_number or ""
    head = register.recorder.max_notification_id()
    with pytest.raises(RuleBroken):
        register.record_death(RecordDeath.parse(person=number, died_on="1980-01-01"), at("KT-1"))
    with pytest.raises(InvalidInput):
        register.record_death(RecordDeath.parse(person=number, died_on="2030-01-01"), at("KT-2"))
    with pytest.raises(UnknownPerson):
        register.record_death(
            RecordDeath.parse(person="001090000000", died_on="2020-01-01"), at("KT-3")
        )
    assert register.recorder.max_notification_id() == head


def test_undetermined_nationality_gets_a_number_when_determined(register: CivilRegister) -> None:
    person = register.register_birth(birth(nationality="undetermined"), at("KS-1")).person
    assert person.id_number is None
    outcome = register.change_record(
        ChangeRecord.parse(
            person=str(person.id), field="nationality", value="vietnamese", kind="change"
        ),
        at("XD-1"),
    )
    assert outcome.assigned is not None
    assert register.person(outcome.assigned).id == person.id


def test_a_merge_keeps_the_earliest_record(register: CivilRegister, clock: FixedClock) -> None:
    first = register.register_birth(birth(registered_on="1990-03-10"), at("KS-1")).person
    clock.advance(days=1)
    second = register.register_birth(birth(registered_on="2005-01-01"), at("KS-2", "HCM-Q1")).person
    with pytest.raises(RuleBroken, match="earliest"):
        register.merge_duplicate(
            MergeDuplicate.parse(person=first.id_number, into=second.id_number), at("GB-1")
        )
    merged = register.merge_duplicate(
        MergeDuplicate.parse(person=second.id_number, into=first.id_number), at("GB-1")
    )
    assert merged.person.status == "merged"
    assert merged.cancelled == second.id_number
    assert register.person(second.id_number or "").as_document()["merged_into"] == first.id_number
    with pytest.raises(RuleBroken, match="itself"):
        register.merge_duplicate(
            MergeDuplicate.parse(person=first.id_number, into=first.id_number), at("GB-2")
        )


def test_parents_are_linked_by_number(register: CivilRegister) -> None:
    mother = register.register_birth(
        birth("Trần Thị Bình", sex="female", born="1965-01-01"), at("KS-1")
    ).person
    child = register.register_birth(
        birth("Nguyễn Minh Châu", born="1992-02-02", mother=mother.id_number or ""), at("KS-2")
    ).person
    assert child.mother_id == mother.id
    with pytest.raises(UnknownPerson):
        register.register_birth(birth(father="001065999999"), at("KS-3"))
