"""The rules that keep a record consistent with itself and with its parents, each alone."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import RuleBroken
from domain.policies import PARENT_AGE
from domain.rules import (
    DeathCannotPrecedeRecordedActs,
    FatherDeathAtMost300DaysBeforeBirth,
    MotherMustBeAliveAtBirth,
    NoActOnMergedRecord,
    ParentAgeMustBePlausible,
    ParentMustNotBeMerged,
    ParentSexMustFitRole,
    ParentsMustBeTwoPeople,
    RenunciationCannotPrecedeNationality,
    check,
)
from domain.values import Nationality, Sex
from tests.unit.factories import TODAY, an, basis


def test_a_renunciation_cannot_precede_the_nationality_it_ends() -> None:
    since = date(2010, 5, 1)
    assert RenunciationCannotPrecedeNationality(date(2010, 4, 30), since).is_broken()
    assert not RenunciationCannotPrecedeNationality(since, since).is_broken()
    assert RenunciationCannotPrecedeNationality(date(2020, 1, 1), None).is_broken()


def test_a_person_determined_vietnamese_later_cannot_renounce_before_that() -> None:
    person = an(nationality=Nationality.STATELESS, registered_on=date(2000, 1, 10))
    person.change_record(
        basis("QT-1"), "nationality", "vietnamese", "redetermination", date(2010, 5, 1), TODAY
    )
    with pytest.raises(RuleBroken, match="would precede Vietnamese nationality, held from 2010"):
        person.renounce_nationality(basis("TQT-1"), date(2009, 1, 1), TODAY)
    person.renounce_nationality(basis("TQT-2"), date(2011, 1, 1), TODAY)
    assert person.renounced_on == date(2011, 1, 1)


def test_a_national_from_birth_may_renounce_from_the_birth_on() -> None:
    person = an()
    assert person.vietnamese_since == person.born
    person.renounce_nationality(basis("TQT-1"), person.born, TODAY)


def test_a_father_is_male_and_a_mother_female() -> None:
    man, woman = an(), an(sex=Sex.FEMALE)
    assert ParentSexMustFitRole("father", woman).is_broken()
    assert ParentSexMustFitRole("mother", man).is_broken()
    assert not ParentSexMustFitRole("father", man).is_broken()
    assert not ParentSexMustFitRole("mother", woman).is_broken()


def test_one_person_is_not_both_parents() -> None:
    parent = an()
    assert ParentsMustBeTwoPeople(parent.id, parent.id).is_broken()
    assert not ParentsMustBeTwoPeople(parent.id, None).is_broken()
    assert not ParentsMustBeTwoPeople(parent.id, an().id).is_broken()


def test_a_merged_record_is_no_parent_and_the_message_names_the_survivor() -> None:
    survivor = an(number_serial=1)
    duplicate = an(number_serial=2, registered_on=date(2005, 1, 1))
    duplicate.merge_into(basis("GN-1"), survivor, TODAY)
    assert ParentMustNotBeMerged("father", duplicate).is_broken()
    assert not ParentMustNotBeMerged("father", survivor).is_broken()
    with pytest.raises(RuleBroken, match="merged as a duplicate into 001090000001"):
        check(ParentMustNotBeMerged("father", duplicate))
    with pytest.raises(RuleBroken, match=r"record .* into 001090000001; act on the surviving"):
        check(NoActOnMergedRecord(duplicate))


def test_a_mother_is_alive_at_the_birth() -> None:
    mother = an(sex=Sex.FEMALE, born=date(1970, 1, 1))
    assert not MotherMustBeAliveAtBirth(mother, date(2000, 1, 1)).is_broken()
    mother.record_death(basis("KT-1"), date(2000, 1, 1), None, TODAY)
    assert not MotherMustBeAliveAtBirth(mother, date(2000, 1, 1)).is_broken()  # that same day
    assert MotherMustBeAliveAtBirth(mother, date(2000, 1, 2)).is_broken()


def test_a_father_died_at_most_300_days_before_the_birth() -> None:
    father = an(born=date(1970, 1, 1))
    father.record_death(basis("KT-1"), date(2000, 1, 1), None, TODAY)
    assert not FatherDeathAtMost300DaysBeforeBirth(father, date(2000, 10, 27)).is_broken()
    assert FatherDeathAtMost300DaysBeforeBirth(father, date(2000, 10, 28)).is_broken()


@pytest.mark.parametrize(
    ("role", "parent_born", "child_born", "plausible"),
    [
        ("mother", date(1990, 6, 1), date(2002, 6, 1), True),  # 12 that day
        ("mother", date(1990, 6, 2), date(2002, 6, 1), False),  # one day short of 12
        ("mother", date(1940, 6, 1), date(2000, 6, 1), True),  # 60
        ("mother", date(1940, 6, 1), date(2001, 6, 1), False),  # 61
        ("father", date(1910, 6, 1), date(2000, 6, 1), True),  # 90
        ("father", date(1909, 6, 1), date(2000, 6, 1), False),  # 91
    ],
)
def test_a_parent_is_of_a_plausible_age_at_the_birth(
    role: str, parent_born: date, child_born: date, plausible: bool
) -> None:
    sex = Sex.FEMALE if role == "mother" else Sex.MALE
    parent = an(sex=sex, born=parent_born)
    assert ParentAgeMustBePlausible(role, parent, child_born).is_broken() is not plausible
    assert PARENT_AGE.is_plausible(role, parent_born, child_born) is plausible


def test_a_death_cannot_precede_an_act_the_person_did_alive() -> None:
    assert DeathCannotPrecedeRecordedActs(date(2010, 1, 1), date(2015, 1, 1)).is_broken()
    assert not DeathCannotPrecedeRecordedActs(date(2015, 1, 1), date(2015, 1, 1)).is_broken()
    person = an()
    person.change_record(basis("TD-1"), "name", "Nguyễn Văn Ba", "change", date(2015, 1, 1), TODAY)
    with pytest.raises(RuleBroken, match="would precede an act recorded effective 2015-01-01"):
        person.record_death(basis("KT-1"), date(2014, 12, 31), None, TODAY)


def test_a_correction_does_not_bound_the_death() -> None:
    person = an(registered_on=date(2000, 1, 10))
    person.change_record(
        basis("CC-1"), "place_of_birth", "Hà Nội", "correction", date(2020, 1, 1), TODAY
    )
    person.record_death(basis("KT-1"), date(2010, 1, 1), None, TODAY)
    assert person.died_on == date(2010, 1, 1)


def test_a_corrected_birth_date_cannot_follow_the_registration() -> None:
    person = an(registered_on=date(1990, 3, 10))
    with pytest.raises(RuleBroken, match="registered on 1990-03-10 cannot precede the birth"):
        person.change_record(basis("CC-1"), "born", "1990-03-11", "correction", TODAY, TODAY)


def test_a_corrected_birth_date_is_checked_against_the_parents() -> None:
    mother = an(sex=Sex.FEMALE, born=date(1975, 1, 1))
    child = an(born=date(2000, 1, 1), registered_on=date(2003, 1, 1))
    with pytest.raises(RuleBroken, match=r"the mother .* would be 10 at the birth"):
        child.change_record(
            basis("CC-1"), "born", "1985-01-01", "correction", TODAY, TODAY, None, mother
        )
    mother.record_death(basis("KT-1"), date(2000, 6, 1), None, TODAY)
    with pytest.raises(RuleBroken, match=r"the mother .* died on 2000-06-01, before the birth"):
        child.change_record(
            basis("CC-2"), "born", "2001-01-01", "correction", TODAY, TODAY, None, mother
        )


def test_a_parent_whose_sex_was_redetermined_stays_the_parent() -> None:
    mother = an(sex=Sex.FEMALE, born=date(1975, 1, 1), registered_on=date(1975, 2, 1))
    mother.change_record(basis("XD-1"), "sex", "male", "redetermination", TODAY, TODAY)
    child = an(born=date(2000, 1, 1), registered_on=date(2003, 1, 1))
    child.change_record(
        basis("CC-1"), "born", "2001-01-01", "correction", TODAY, TODAY, None, mother
    )
    assert child.born == date(2001, 1, 1)
