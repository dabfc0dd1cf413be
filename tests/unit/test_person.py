"""The person record's behaviour, in memory."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import InvalidInput, RuleBroken
from domain.events import (
    IdNumberAssigned,
    IdNumberCancelled,
    MergedAsDuplicate,
    NationalityDetermined,
    RecordChanged,
)
from domain.person import Person
from domain.policies import MERGE_POLICY
from domain.values import IdNumber, Nationality, Sex
from tests.unit.factories import TODAY, an, basis


def test_a_death_makes_the_person_deceased() -> None:
    person = an()
    person.record_death(basis("KT-1"), date(2020, 5, 1), "Bạch Mai", TODAY)
    assert person.status == "deceased"
    assert person.died_on == date(2020, 5, 1)


def test_nothing_but_corrections_after_death() -> None:
    person = an()
    person.record_death(basis("KT-1"), date(2020, 5, 1), None, TODAY)
    with pytest.raises(RuleBroken, match="after death"):
        person.change_record(basis("TD-1"), "name", "Nguyễn Văn Ân", "change", TODAY, TODAY)
    person.change_record(basis("CC-1"), "name", "Nguyễn Văn Ân", "correction", TODAY, TODAY)
    assert person.name == "Nguyễn Văn Ân"


def test_renunciation_keeps_the_number_and_sets_the_status() -> None:
    person = an()
    person.renounce_nationality(basis("QD-1"), date(2021, 7, 1), TODAY)
    assert person.status == "renounced"
    assert person.id_number == "001090123456"


def test_renunciation_ends_vietnamese_nationality() -> None:
    person = an()
    person.renounce_nationality(basis("QD-1"), date(2021, 7, 1), TODAY)
    assert person.nationality is Nationality.RENOUNCED
    assert person.as_document()["nationality"] == "renounced"
    assert not person.may_hold_number
    again = Person.replay(person.id, person.collect_events())
    assert again is not None
    assert again.nationality is Nationality.RENOUNCED


def test_no_new_number_after_renunciation() -> None:
    person = an()
    person.renounce_nationality(basis("QD-1"), date(2021, 7, 1), TODAY)
    person.change_record(basis("XDGT-1"), "sex", "female", "redetermination", TODAY, TODAY)
    assert not person.may_hold_number
    with pytest.raises(RuleBroken, match="renounced"):
        person.change_record(
            basis("XD-1"), "nationality", "vietnamese", "redetermination", TODAY, TODAY
        )


def test_a_change_cannot_take_effect_before_the_birth() -> None:
    person = an(born=date(1990, 3, 4))
    with pytest.raises(RuleBroken, match="cannot precede the birth"):
        person.change_record(
            basis("TD-1"), "name", "Nguyễn Văn Bình", "change", date(1990, 3, 3), TODAY
        )
    with pytest.raises(RuleBroken, match="cannot precede the birth"):
        person.change_record(
            basis("CC-1"), "born", "1990-06-01", "correction", date(1990, 5, 1), TODAY
        )


def test_a_new_number_cannot_take_effect_before_the_registration() -> None:
    person = an(born=date(1990, 3, 4), registered_on=date(2000, 1, 10))
    with pytest.raises(RuleBroken, match="before the birth registration"):
        person.change_record(
            basis("XDGT-1"), "sex", "female", "redetermination", date(1995, 1, 1), TODAY
        )
    person.change_record(
        basis("TD-1"), "name", "Nguyễn Văn Bình", "change", date(1995, 1, 1), TODAY
    )
    undetermined = an(nationality=Nationality.UNDETERMINED, registered_on=date(2000, 1, 10))
    with pytest.raises(RuleBroken, match="before the birth registration"):
        undetermined.change_record(
            basis("XD-1"), "nationality", "vietnamese", "redetermination", date(1999, 1, 1), TODAY
        )


def test_a_supplement_of_the_birth_date_is_refused() -> None:
    with pytest.raises(RuleBroken, match="born cannot be changed by a supplement"):
        an().change_record(basis("BS-1"), "born", "1990-03-05", "supplement", TODAY, TODAY)


def test_a_corrected_year_of_birth_cancels_the_number_before_the_change() -> None:
    person = an(registered_on=date(2000, 1, 10))
    person.collect_events()
    outcome = person.change_record(basis("CC-1"), "born", "1991-03-04", "correction", TODAY, TODAY)
    events = person.collect_events()
    assert outcome.needs_number
    assert [type(e) for e in events] == [IdNumberCancelled, RecordChanged]
    assert person.id_number is None
    assert person.cancelled_id_numbers == ["001090123456"]
    assert person.number_prefix == "001091"


def test_a_corrected_day_of_birth_keeps_the_number() -> None:
    person = an(registered_on=date(2000, 1, 10))
    outcome = person.change_record(basis("CC-1"), "born", "1990-12-31", "correction", TODAY, TODAY)
    assert not outcome.needs_number
    assert person.id_number == "001090123456"


@pytest.mark.parametrize(
    ("field", "value", "kind", "prefix"),
    [
        ("sex", "female", "redetermination", "001190"),
        ("birth_province", "079", "correction", "079090"),
    ],
)
def test_number_bearing_fields_force_a_new_number(
    field: str, value: str, kind: str, prefix: str
) -> None:
    person = an()
    outcome = person.change_record(basis("CC-1"), field, value, kind, TODAY, TODAY)  # type: ignore[arg-type]
    assert outcome.needs_number
    assert person.number_prefix == prefix
    with pytest.raises(RuleBroken):
        person.assign_id_number(basis(), IdNumber.parse("001090999999"), "record_corrected", TODAY)
    person.assign_id_number(basis(), IdNumber.parse(f"{prefix}000007"), "record_corrected", TODAY)
    assert person.id_number == f"{prefix}000007"


def test_determining_vietnamese_nationality_asks_for_a_number() -> None:
    person = an(nationality=Nationality.UNDETERMINED)
    assert not person.may_hold_number
    outcome = person.change_record(
        basis("XD-1"), "nationality", "vietnamese", "change", TODAY, TODAY
    )
    assert outcome.needs_number
    assert outcome.reason == "nationality_determined"
    assert isinstance(person.pending_events[-1], NationalityDetermined)
    assert person.may_hold_number


def test_a_supplement_fills_only_what_is_missing() -> None:
    person = an()
    person.change_record(basis("BS-1"), "ethnicity", "Kinh", "supplement", TODAY, TODAY)
    assert person.ethnicity == "Kinh"
    with pytest.raises(RuleBroken, match="supplement"):
        person.change_record(basis("BS-2"), "ethnicity", "Tày", "supplement", TODAY, TODAY)


def test_bad_values_are_bad_input() -> None:
    person = an()
    with pytest.raises(InvalidInput):
        person.change_record(basis("CC-1"), "sex", "other", "correction", TODAY, TODAY)
    with pytest.raises(InvalidInput):
        person.change_record(basis("CC-1"), "born", "1899-01-01", "correction", TODAY, TODAY)
    with pytest.raises(InvalidInput):
        person.change_record(basis("CC-1"), "birth_province", "003", "correction", TODAY, TODAY)


def test_a_merge_cancels_the_duplicates_number_and_points_at_the_survivor() -> None:
    survivor = an(number_serial=111111)
    duplicate = an(number_serial=222222, registered_on=date(2005, 1, 1))
    duplicate.collect_events()
    duplicate.merge_into(basis("GB-1"), survivor, TODAY)
    events = duplicate.collect_events()
    expected: list[type[object]] = [IdNumberCancelled, MergedAsDuplicate]
    assert [type(e) for e in events] == expected
    assert duplicate.status == "merged"
    assert duplicate.as_document()["merged_into"] == "001090111111"
    assert duplicate.id_number is None


def test_a_deceased_duplicate_merges_into_a_deceased_survivor() -> None:
    survivor, duplicate = an(number_serial=1), an(number_serial=2, registered_on=date(2005, 1, 1))
    duplicate.record_death(basis("KT-1"), date(2020, 5, 1), None, TODAY)
    with pytest.raises(RuleBroken, match="register the death on the survivor first"):
        duplicate.merge_into(basis("GB-1"), survivor, TODAY)
    survivor.record_death(basis("KT-2"), date(2020, 5, 1), None, TODAY)
    duplicate.merge_into(basis("GB-1"), survivor, TODAY)
    assert duplicate.status == "merged"


def test_a_living_duplicate_merges_into_a_deceased_survivor() -> None:
    survivor, duplicate = an(number_serial=1), an(number_serial=2, registered_on=date(2005, 1, 1))
    survivor.record_death(basis("KT-1"), date(2020, 5, 1), None, TODAY)
    duplicate.merge_into(basis("GB-1"), survivor, TODAY)
    assert duplicate.status == "merged"
    assert duplicate.cancelled_id_numbers == ["001090000002"]


def test_the_merge_policy_keeps_the_only_number() -> None:
    earliest_without = an(nationality=Nationality.UNDETERMINED, registered_on=date(1990, 3, 10))
    later_numbered = an(number_serial=2, registered_on=date(2005, 1, 1))
    decision = MERGE_POLICY.decide(earliest_without, later_numbered)
    assert decision.survivor is later_numbered
    with pytest.raises(RuleBroken, match="holds an ID number"):
        later_numbered.merge_into(basis("GB-1"), earliest_without, TODAY)
    earliest_without.merge_into(basis("GB-1"), later_numbered, TODAY)
    assert later_numbered.id_number == "001090000002"


def test_the_merge_policy_keeps_the_earliest_registration() -> None:
    older = an(born=date(1990, 3, 4))
    younger_record = Person.register_birth(
        older.id.__class__(int=older.id.int + 1),
        basis("KS-2"),
        name="Nguyễn Văn An",
        sex=Sex.MALE,
        born=date(1990, 3, 4),
        birth_province="001",
        nationality=Nationality.VIETNAMESE,
        registered_on=date(1995, 1, 1),
        today=TODAY,
    )
    decision = MERGE_POLICY.decide(younger_record, older)
    assert decision.survivor is older
    assert decision.duplicate is younger_record


def test_replaying_the_events_rebuilds_an_equal_person() -> None:
    person = an()
    person.change_record(
        basis("TD-1"), "name", "Nguyễn Văn Bình", "change", date(2020, 1, 1), TODAY
    )
    person.record_death(basis("KT-1"), date(2024, 1, 1), None, TODAY)
    events = person.collect_events()
    again = Person.replay(person.id, events)
    assert again is not None
    assert again.as_document() == person.as_document()
    assert isinstance(events[1], IdNumberAssigned)
