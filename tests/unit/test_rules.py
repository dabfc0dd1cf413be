"""Each rule of the register, alone."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from domain.errors import InvalidInput, RuleBroken
from domain.rules import (
    ActCannotPrecedeBirth,
    ChangeKindMustSuitField,
    ChangeMustDifferFromRecord,
    DateCannotBeInFuture,
    LifeEventsMustFollowBirth,
    MergeKeepsEarliestNumber,
    MergeMustNotLoseADeath,
    NationalityEndsOnlyByRenunciation,
    NewNumberCannotPrecedeRegistration,
    NoActOnDeceasedExceptCorrection,
    NoActOnMergedRecord,
    NoBirthBefore1900,
    NoRenouncingTwice,
    NumberMustEncodeRecord,
    OneNumberPerPerson,
    OnlyVietnameseNationalsCanRenounce,
    ParentMustBeBornBeforeChild,
    RecordCannotBeMergedIntoItself,
    RegistrationCannotPrecedeBirth,
    Rule,
    SupplementOnlyFillsEmptyField,
    SurvivorMustNotBeMerged,
    check,
)
from domain.values import Nationality
from tests.unit.factories import TODAY, an, basis


def broken(rule: Rule) -> bool:
    return rule.is_broken()


def test_dates_cannot_be_in_the_future() -> None:
    assert broken(DateCannotBeInFuture("date of death", date(2026, 6, 2), TODAY))
    assert not broken(DateCannotBeInFuture("date of death", TODAY, TODAY))
    with pytest.raises(InvalidInput, match="future"):
        check(DateCannotBeInFuture("date of death", date(2027, 1, 1), TODAY))


def test_no_births_before_1900() -> None:
    assert broken(NoBirthBefore1900(date(1899, 12, 31)))
    assert not broken(NoBirthBefore1900(date(1900, 1, 1)))
    with pytest.raises(InvalidInput, match="1899"):
        check(NoBirthBefore1900(date(1899, 12, 31)))


def test_a_birth_cannot_be_registered_before_it_happened() -> None:
    assert broken(RegistrationCannotPrecedeBirth(date(2000, 5, 2), date(2000, 5, 1)))
    assert not broken(RegistrationCannotPrecedeBirth(date(2000, 5, 2), date(2000, 5, 2)))


def test_no_act_on_a_deceased_person_except_a_correction() -> None:
    person = an()
    person.record_death(basis("KT-1"), date(2020, 1, 1), None, TODAY)
    assert broken(NoActOnDeceasedExceptCorrection(person, "renunciation"))
    assert not broken(NoActOnDeceasedExceptCorrection(person, "correction", is_correction=True))
    assert not broken(NoActOnDeceasedExceptCorrection(an(), "renunciation"))


def test_a_death_or_renunciation_cannot_date_before_birth() -> None:
    assert broken(ActCannotPrecedeBirth("a death", date(1989, 1, 1), date(1990, 3, 4)))
    assert not broken(ActCannotPrecedeBirth("a death", date(1990, 3, 4), date(1990, 3, 4)))


def test_no_renouncing_twice() -> None:
    person = an()
    assert not broken(NoRenouncingTwice(person))
    person.renounce_nationality(basis("QD-1"), date(2020, 1, 1), TODAY)
    assert broken(NoRenouncingTwice(person))


def test_only_vietnamese_nationals_can_renounce() -> None:
    assert broken(OnlyVietnameseNationalsCanRenounce(an(nationality=Nationality.STATELESS)))
    assert not broken(OnlyVietnameseNationalsCanRenounce(an()))


def test_a_supplement_only_fills_an_empty_field() -> None:
    assert broken(SupplementOnlyFillsEmptyField("ethnicity", "Kinh"))
    assert not broken(SupplementOnlyFillsEmptyField("ethnicity", None))


def test_each_field_has_its_own_kinds_of_change() -> None:
    assert broken(ChangeKindMustSuitField("sex", "change"))
    assert not broken(ChangeKindMustSuitField("sex", "redetermination"))
    assert broken(ChangeKindMustSuitField("born", "change"))
    assert broken(ChangeKindMustSuitField("born", "supplement"))
    assert broken(ChangeKindMustSuitField("name", "supplement"))  # always recorded
    assert broken(ChangeKindMustSuitField("birth_province", "supplement"))
    assert not broken(ChangeKindMustSuitField("place_of_birth", "supplement"))
    assert not broken(ChangeKindMustSuitField("born", "correction"))
    assert not broken(ChangeKindMustSuitField("name", "change"))


def test_a_change_must_change_something() -> None:
    assert broken(ChangeMustDifferFromRecord("name", "An", "An"))
    assert not broken(ChangeMustDifferFromRecord("name", "An", "Bình"))


def test_vietnamese_nationality_ends_only_by_renunciation_or_correction() -> None:
    v, u = Nationality.VIETNAMESE, Nationality.UNDETERMINED
    assert broken(NationalityEndsOnlyByRenunciation(v, u, "change"))
    assert not broken(NationalityEndsOnlyByRenunciation(v, u, "correction"))
    assert not broken(NationalityEndsOnlyByRenunciation(u, v, "change"))


def test_a_corrected_birth_cannot_fall_after_death() -> None:
    assert broken(LifeEventsMustFollowBirth(date(2001, 1, 1), date(2000, 1, 1), None))
    assert not broken(LifeEventsMustFollowBirth(date(1999, 1, 1), date(2000, 1, 1), None))


def test_a_parent_is_born_before_the_child() -> None:
    assert broken(ParentMustBeBornBeforeChild("mother", date(2000, 1, 1), date(1999, 1, 1)))
    assert not broken(ParentMustBeBornBeforeChild("mother", date(1970, 1, 1), date(1999, 1, 1)))


def test_a_record_cannot_be_merged_into_itself() -> None:
    same = uuid4()
    assert broken(RecordCannotBeMergedIntoItself(same, same))
    assert not broken(RecordCannotBeMergedIntoItself(same, uuid4()))


def test_merged_records_take_no_acts_and_cannot_survive_a_merge() -> None:
    survivor = an(number_serial=1)
    duplicate = an(number_serial=2, registered_on=date(2005, 1, 1))
    duplicate.merge_into(basis("GB-1"), survivor, TODAY)
    assert broken(NoActOnMergedRecord(duplicate))
    assert broken(SurvivorMustNotBeMerged(duplicate))
    assert not broken(NoActOnMergedRecord(survivor))


def test_a_merge_keeps_the_earliest_record() -> None:
    earlier = an(number_serial=1, registered_on=date(1990, 3, 10))
    later = an(number_serial=2, registered_on=date(2005, 1, 1))
    assert broken(MergeKeepsEarliestNumber(earlier, later))
    assert not broken(MergeKeepsEarliestNumber(later, earlier))
    with pytest.raises(RuleBroken, match="merge 001090000002 into 001090000001"):
        check(MergeKeepsEarliestNumber(earlier, later))


def test_a_merge_keeps_the_number_over_an_earlier_record_without_one() -> None:
    earlier_without = an(nationality=Nationality.UNDETERMINED, registered_on=date(1990, 3, 10))
    later_numbered = an(number_serial=2, registered_on=date(2005, 1, 1))
    assert broken(MergeKeepsEarliestNumber(later_numbered, earlier_without))
    assert not broken(MergeKeepsEarliestNumber(earlier_without, later_numbered))
    with pytest.raises(RuleBroken, match="holds an ID number"):
        check(MergeKeepsEarliestNumber(later_numbered, earlier_without))


def test_a_merge_must_not_lose_a_death() -> None:
    living, deceased = an(number_serial=1), an(number_serial=2)
    deceased.record_death(basis("KT-1"), date(2020, 5, 1), None, TODAY)
    assert broken(MergeMustNotLoseADeath(deceased, living))
    assert not broken(MergeMustNotLoseADeath(living, deceased))
    assert not broken(MergeMustNotLoseADeath(living, an(number_serial=3)))


def test_a_new_number_cannot_precede_the_birth_registration() -> None:
    assert broken(NewNumberCannotPrecedeRegistration(date(2000, 1, 1), date(2000, 1, 2)))
    assert not broken(NewNumberCannotPrecedeRegistration(date(2000, 1, 2), date(2000, 1, 2)))


def test_one_number_per_person() -> None:
    assert broken(OneNumberPerPerson(an()))
    assert not broken(OneNumberPerPerson(an(number_serial=None)))


def test_a_number_encodes_the_record() -> None:
    assert broken(NumberMustEncodeRecord("001185000001", "001090"))
    assert not broken(NumberMustEncodeRecord("001090000001", "001090"))


def test_check_raises_the_first_broken_rule_by_name() -> None:
    person = an()
    person.renounce_nationality(basis("QD-1"), date(2020, 1, 1), TODAY)
    with pytest.raises(RuleBroken) as raised:
        check(NoActOnMergedRecord(person), NoRenouncingTwice(person))
    assert raised.value.rule == "NoRenouncingTwice"
