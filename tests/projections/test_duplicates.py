"""Possible duplicates: the rule alone, and the register asking the `people` model."""

from __future__ import annotations

from uuid import UUID

import pytest

from application.register import CivilRegister
from domain.commands import Clerking, RegisterBirth
from domain.errors import RuleBroken
from domain.registry import person_id_for_birth
from domain.rules import BirthMustNotDuplicateAPerson
from projections.queries import PossibleDuplicateFinder
from projections.views import ViewDatabase


def test_a_look_alike_breaks_the_rule_unless_confirmed() -> None:
    assert BirthMustNotDuplicateAPerson(("001090123456",), confirmed_different=False).is_broken()
    assert not BirthMustNotDuplicateAPerson(("001090123456",), confirmed_different=True).is_broken()
    assert not BirthMustNotDuplicateAPerson((), confirmed_different=False).is_broken()
    message = BirthMustNotDuplicateAPerson(("a", "b", "c", "d"), False).message()
    assert message.startswith("possible duplicate of a, b, c …")


def _birth(name: str, born: str = "1990-03-04", province: str = "001") -> RegisterBirth:
    return RegisterBirth.parse(name=name, sex="male", born=born, province=province)


def _basis(reference: str) -> Clerking:
    return Clerking.parse(clerk="Lê Thị Lan", office="HN-BADINH", reference=reference)


def test_the_register_refuses_a_look_alike_and_writes_nothing(store_url: str) -> None:
    finder = PossibleDuplicateFinder(store_url)
    register = CivilRegister(store_url, duplicates=finder)
    first = register.register_birth(_birth("Đỗ Văn An"), _basis("KS-1")).person
    head = register.recorder.max_notification_id()
    with pytest.raises(RuleBroken) as refused:
        register.register_birth(_birth("do van an"), _basis("KS-2"))
    assert refused.value.rule == "BirthMustNotDuplicateAPerson"
    assert first.id_number is not None
    assert first.id_number in refused.value.message
    assert register.recorder.max_notification_id() == head

    second = register.register_birth(
        _birth("do van an"), _basis("KS-2"), allow_possible_duplicate=True
    )
    retry = register.register_birth(_birth("do van an"), _basis("KS-2"))
    assert retry.already_recorded
    assert retry.person.id == second.person.id
    assert register.register_birth(_birth("Đỗ Văn An"), _basis("KS-1")).already_recorded
    assert not register.register_birth(
        _birth("Đỗ Văn An", province="079"), _basis("KS-3")
    ).already_recorded
    finder.close()
    register.close()


def test_asking_writes_nothing_and_the_catch_up_is_an_explicit_step(store_url: str) -> None:
    register = CivilRegister(store_url)
    first = register.register_birth(_birth("Đỗ Văn An"), _basis("KS-1")).person
    head = register.recorder.max_notification_id()
    finder = PossibleDuplicateFinder(store_url)
    found = finder.possible_duplicates(
        "do van an", first.born, first.birth_province, excluding=_person("KS-2")
    )
    assert list(found) == [first.id_number]
    finder.close()  # no catch-up asked for: the models are as they were (none)
    assert _positions(store_url) == {}

    finder = PossibleDuplicateFinder(store_url)
    finder.catch_up()  # before any question: nothing to catch up to
    assert _positions(store_url) == {}
    finder.possible_duplicates(
        "do van an", first.born, first.birth_province, excluding=_person("KS-2")
    )
    finder.catch_up()
    finder.close()
    assert _positions(store_url)["people"] == head
    register.close()


def _person(reference: str) -> UUID:
    return person_id_for_birth("HN-BADINH", reference)


def _positions(store_url: str) -> dict[str, int]:
    views = ViewDatabase.open(store_url, create=False)
    try:
        assert views.has_table("view_people") == bool(views.positions())
        return views.positions()
    finally:
        views.close()
