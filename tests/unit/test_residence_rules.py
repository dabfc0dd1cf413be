"""Each residence and household rule, alone (docs/residence.md)."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import InvalidInput, RuleBroken
from domain.reference import communes, configure_communes
from domain.residence import Relation, ResidenceKind
from domain.rules import (
    AbodeOnlyWithoutResidence,
    CommuneMustBeInForce,
    DeletionProposalMustBe,
    ExtensionMustLengthen,
    HeadMustBeAdult,
    HeadMustBeMember,
    HouseholdMustHaveMembers,
    NotAlreadyInHousehold,
    RecordNotYetConfirmed,
    ResidenceMustBeCurrent,
    SplitLeavesMembersBehind,
    TemporaryResidenceNeedsAnEnd,
    TemporaryResidenceOutsidePermanentCommune,
    check,
)
from tests.two_paths import FakeCommunes
from tests.unit.factories import TODAY, an, basis

ON = date(2025, 9, 1)


@pytest.fixture(autouse=True)
def known_communes() -> object:
    before = communes()
    configure_communes(FakeCommunes("00082", "00070"))
    yield
    configure_communes(before)


def test_a_commune_code_must_be_in_force_on_the_date() -> None:
    assert not CommuneMustBeInForce("00082", ON).is_broken()
    assert CommuneMustBeInForce("99999", ON).is_broken()
    with pytest.raises(InvalidInput, match="'99999' is not a commune code in force on 2025-09-01"):
        check(CommuneMustBeInForce("99999", ON))


@pytest.mark.parametrize(
    ("until", "broken"),
    [(None, True), (ON, True), (date(2025, 9, 2), False), (date(2027, 9, 1), False),
     (date(2027, 9, 2), True)],
)  # fmt: skip
def test_a_temporary_residence_ends_within_two_years(until: date | None, broken: bool) -> None:
    assert TemporaryResidenceNeedsAnEnd(ON, until).is_broken() is broken


def test_a_temporary_residence_is_outside_the_permanent_commune() -> None:
    assert TemporaryResidenceOutsidePermanentCommune("00082", "00082").is_broken()
    assert not TemporaryResidenceOutsidePermanentCommune("00070", "00082").is_broken()
    assert not TemporaryResidenceOutsidePermanentCommune("00070", None).is_broken()


def test_only_a_current_residence_ends_or_is_extended() -> None:
    assert ResidenceMustBeCurrent("temporary", False, ON).is_broken()
    assert not ResidenceMustBeCurrent("temporary", True, ON).is_broken()
    assert ExtensionMustLengthen(date(2026, 1, 1), date(2026, 1, 1)).is_broken()
    assert not ExtensionMustLengthen(date(2026, 1, 2), date(2026, 1, 1)).is_broken()


def test_an_abode_is_declared_only_without_a_residence() -> None:
    assert AbodeOnlyWithoutResidence(True).is_broken()
    assert not AbodeOnlyWithoutResidence(False).is_broken()


def test_a_head_is_an_adult_member() -> None:
    assert HeadMustBeAdult("X", date(2007, 9, 2), ON).is_broken()  # 17 the day before 18
    assert not HeadMustBeAdult("X", date(2007, 9, 1), ON).is_broken()
    assert HeadMustBeMember("X", "HK0000000001", False).is_broken()
    assert not HeadMustBeMember("X", "HK0000000001", True).is_broken()


def test_households_take_members_while_they_have_some() -> None:
    assert HouseholdMustHaveMembers("HK0000000001", 0).is_broken()
    assert not HouseholdMustHaveMembers("HK0000000001", 1).is_broken()
    assert NotAlreadyInHousehold("X", "HK0000000001", True).is_broken()


@pytest.mark.parametrize(("moving", "members", "broken"), [(0, 3, True), (1, 3, False),
                                                            (3, 3, True)])  # fmt: skip
def test_a_split_moves_some_and_leaves_others(moving: int, members: int, broken: bool) -> None:
    assert SplitLeavesMembersBehind("HK0000000001", moving, members).is_broken() is broken


def test_record_cleaning_moves_one_way_at_a_time() -> None:
    assert RecordNotYetConfirmed(True).is_broken()
    assert DeletionProposalMustBe(pending=True, wanted=False).is_broken()
    assert DeletionProposalMustBe(pending=False, wanted=True).is_broken()
    assert not DeletionProposalMustBe(pending=True, wanted=True).is_broken()


def test_a_new_permanent_residence_ends_the_previous_one_in_the_same_act() -> None:
    person = an(registered_on=date(1990, 3, 10))
    kind = ResidenceKind.PERMANENT
    person.register_residence(
        basis("TT-1"), kind, "00082", "1 Phố Huế", ON, TODAY,
        household="HK0000000001", relation=Relation.HEAD,
    )  # fmt: skip
    person.collect_events()
    person.register_residence(
        basis("TT-2"), kind, "00070", "2 Hàng Trống", date(2025, 10, 1), TODAY,
        household="HK0000000002", relation=Relation.HEAD,
    )  # fmt: skip
    events = [type(e).__name__ for e in person.collect_events()]
    assert events == ["ResidenceEnded", "ResidenceRegistered"]
    assert person.permanent is not None
    assert person.permanent.commune == "00070"
    assert person.household == "HK0000000002"


def test_a_temporary_residence_lapses_after_its_end_without_an_event() -> None:
    person = an(registered_on=date(1990, 3, 10))
    person.register_residence(
        basis("TT-1"), ResidenceKind.TEMPORARY, "00070", "3 Ngõ", ON, TODAY,
        until=date(2026, 3, 1),
    )  # fmt: skip
    assert person.current_temporary(date(2026, 3, 1)) is not None
    assert person.current_temporary(date(2026, 3, 2)) is None
    with pytest.raises(RuleBroken, match="no current temporary residence on 2026-03-02"):
        person.extend_residence(basis("GH-1"), date(2027, 1, 1), date(2026, 3, 2), TODAY)
