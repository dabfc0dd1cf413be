"""Identity cards, the electronic identity and certificates: each rule alone, then through a
person record (docs/cards.md)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.errors import InvalidInput, RuleBroken
from domain.identity import (
    CardReason,
    CertificateReason,
    age_renewal_opens,
    card_expiry,
    parse_choice,
)
from domain.person import Person
from domain.reference import communes, configure_communes
from domain.rules import (
    CertificateNeedsSixMonthsInACommune,
    EidLockMustFit,
    EidUnlockNeedsCauseEnded,
    FirstCardFitsAge,
    IdentityActsInOrder,
)
from domain.values import IdNumber, Nationality, Sex
from tests.two_paths import FakeCommunes
from tests.unit.factories import TODAY, an, basis

BORN = date(1990, 3, 4)


def _day_before(born: date, age: int) -> date:
    return born.replace(year=born.year + age) - timedelta(days=1)


# ----------------------------------------------------------------- Art. 21


@pytest.mark.parametrize(
    ("age_at_issue", "runs_to"),
    [(6, 14), (11, 14), (12, 25), (13, 25), (14, 25), (22, 25), (23, 40), (24, 40), (25, 40),
     (37, 40), (38, 60), (39, 60), (40, 60), (57, 60), (58, None), (59, None), (60, None),
     (75, None)],
)  # fmt: skip
def test_a_card_runs_to_the_next_renewal_age_or_the_one_after(
    age_at_issue: int, runs_to: int | None
) -> None:
    issued = BORN.replace(year=BORN.year + age_at_issue) + timedelta(days=30)
    expected = None if runs_to is None else _day_before(BORN, runs_to)
    assert card_expiry(BORN, issued) == expected


def test_the_two_year_window_opens_on_the_day_two_years_before_the_age() -> None:
    # The day before the 23rd birthday the card still runs to 25; on the birthday, to 40.
    assert card_expiry(BORN, date(2013, 3, 3)) == date(2015, 3, 3)
    assert card_expiry(BORN, date(2013, 3, 4)) == date(2030, 3, 3)
    assert age_renewal_opens(date(2015, 3, 3)) == date(2013, 3, 4)


def test_a_reason_is_one_of_the_law_s_and_nothing_else() -> None:
    assert parse_choice(CardReason, " Lost ", "reason") is CardReason.LOST
    with pytest.raises(InvalidInput, match="reason must be one of first, age, "):
        parse_choice(CardReason, "stolen", "reason")


# ------------------------------------------------------------- rules alone


def test_a_first_card_fits_the_age() -> None:
    assert not FirstCardFitsAge("first", 14, held_before=False).is_broken()
    assert FirstCardFitsAge("first", 13, held_before=False).is_broken()
    assert not FirstCardFitsAge("request", 3, held_before=False).is_broken()
    assert FirstCardFitsAge("request", 30, held_before=False).is_broken()
    assert FirstCardFitsAge("first", 30, held_before=True).is_broken()
    assert not FirstCardFitsAge("lost", 30, held_before=True).is_broken()


def test_identity_acts_follow_one_another() -> None:
    assert IdentityActsInOrder(date(2024, 1, 1), date(2024, 1, 2)).is_broken()
    assert not IdentityActsInOrder(date(2024, 1, 2), date(2024, 1, 2)).is_broken()
    assert not IdentityActsInOrder(date(2024, 1, 2), None).is_broken()


def test_an_eid_lock_fits_its_state() -> None:
    assert EidLockMustFit("request", None, True, exists=False).is_broken()
    assert EidLockMustFit("request", "authority", True, exists=True).is_broken()
    assert EidLockMustFit("death", None, False, exists=True).is_broken()
    assert not EidLockMustFit("request", None, True, exists=True).is_broken()
    assert EidUnlockNeedsCauseEnded(None, False).is_broken()
    assert EidUnlockNeedsCauseEnded("card_withheld", True).is_broken()
    assert not EidUnlockNeedsCauseEnded("request", False).is_broken()


def test_a_certificate_needs_six_months_in_a_commune() -> None:
    on = date(2026, 5, 31)
    assert CertificateNeedsSixMonthsInACommune(None, on).is_broken()
    assert not CertificateNeedsSixMonthsInACommune(date(2025, 11, 30), on).is_broken()
    assert CertificateNeedsSixMonthsInACommune(date(2025, 12, 1), on).is_broken()


# ----------------------------------------------------------- through a record


def _holder(born: date = BORN, on: date = date(2021, 4, 1)) -> Person:
    person = an(born=born)
    person.issue_card(basis("CC-1"), CardReason.FIRST, on, TODAY)
    return person


def test_a_card_carries_the_record_as_it_is_on_the_issue_date() -> None:
    person = _holder()
    card = person.identity.card
    assert card is not None
    assert (card.data.name, card.data.born, card.data.sex) == (person.name, BORN, "male")
    assert card.data.id_number == person.id_number
    assert card.expires_on == _day_before(BORN, 40)  # issued at 31
    assert person.card_document(TODAY)["status"] == "valid"


def test_no_card_for_a_foreigner_a_person_without_number_or_under_14_without_request() -> None:
    stateless = an(nationality=Nationality.STATELESS)
    with pytest.raises(RuleBroken, match="not a Vietnamese citizen"):
        stateless.issue_card(basis(), CardReason.FIRST, TODAY, TODAY)
    child = an(born=date(2016, 1, 1))
    with pytest.raises(RuleBroken, match="under 14 only on request"):
        child.issue_card(basis(), CardReason.FIRST, TODAY, TODAY)
    child.issue_card(basis(), CardReason.REQUEST, TODAY, TODAY)
    card = child.identity.card
    assert card is not None
    assert card.expires_on == date(2029, 12, 31)


def test_no_card_before_birth_or_in_the_future() -> None:
    person = an()
    with pytest.raises(InvalidInput, match="in the future"):
        person.issue_card(basis(), CardReason.FIRST, TODAY + timedelta(days=1), TODAY)
    with pytest.raises(RuleBroken, match=r"before the birth|precede"):
        person.issue_card(basis(), CardReason.FIRST, date(1980, 1, 1), TODAY)


def test_a_holder_s_new_card_needs_a_reason_that_applies() -> None:
    person = _holder()  # card to 2030-03-03
    with pytest.raises(RuleBroken, match="reason first is only for someone who never held"):
        person.issue_card(basis(), CardReason.FIRST, date(2022, 1, 1), TODAY)
    with pytest.raises(RuleBroken, match="renewal for age opens on 2028-03-04"):
        person.issue_card(basis(), CardReason.AGE, date(2026, 1, 1), TODAY)
    with pytest.raises(RuleBroken, match="match the record"):
        person.issue_card(basis(), CardReason.DATA_CHANGE, date(2022, 1, 1), TODAY)
    with pytest.raises(RuleBroken, match="number is the record's number"):
        person.issue_card(basis(), CardReason.NUMBER_REISSUED, date(2022, 1, 1), TODAY)
    with pytest.raises(RuleBroken, match="nationality_regained"):
        person.issue_card(basis(), CardReason.NATIONALITY_REGAINED, date(2022, 1, 1), TODAY)
    person.issue_card(basis(), CardReason.LOST, date(2022, 1, 1), TODAY)
    person.issue_card(basis(), CardReason.REQUEST, date(2023, 1, 1), TODAY)
    cards = person.identity.cards
    assert [c.reason for c in cards] == ["first", "lost", "request"]
    assert [c.ended_by for c in cards] == ["replaced", "replaced", None]


def test_a_correction_makes_the_card_due_for_renewal_and_data_change_applies() -> None:
    person = _holder()
    person.change_record(basis("X"), "name", "Nguyễn Văn Ân", "correction", TODAY, TODAY)
    assert person.card_document(TODAY)["status"] == "renewal_due"
    assert person.identity.renewal_due(person.holder) == (TODAY, "data_change")
    person.issue_card(basis(), CardReason.DATA_CHANGE, TODAY, TODAY)
    assert person.card_document(TODAY)["status"] == "valid"
    assert person.identity.card is not None
    assert person.identity.card.data.name == "Nguyễn Văn Ân"


def test_a_reissued_number_makes_the_card_due_and_number_reissued_applies() -> None:
    person = _holder()
    person.change_record(basis("X"), "birth_province", "079", "correction", TODAY, TODAY)
    person.assign_id_number(
        basis("X"), IdNumber.compose("079", Sex.MALE, 1990, 7), "record_corrected", TODAY
    )
    assert person.identity.mismatch(person.holder) == "number_reissued"
    assert person.card_document(TODAY)["status"] == "renewal_due"
    with pytest.raises(RuleBroken, match="match the record"):
        person.issue_card(basis(), CardReason.DATA_CHANGE, TODAY, TODAY)
    person.issue_card(basis(), CardReason.NUMBER_REISSUED, TODAY, TODAY)
    assert person.card_document(TODAY)["id_number"] == person.id_number


def test_an_expired_card_is_expired_and_age_renews_it() -> None:
    person = an(born=date(2000, 5, 10))
    person.issue_card(basis(), CardReason.FIRST, date(2015, 1, 1), TODAY)  # to 2025-05-09
    assert person.card_document(date(2025, 5, 9))["status"] == "valid"
    assert person.card_document(date(2025, 5, 10))["status"] == "expired"
    assert person.identity.renewal_due(person.holder) == (date(2025, 5, 9), "age")
    person.issue_card(basis(), CardReason.AGE, date(2025, 6, 1), TODAY)
    assert person.card_document(TODAY)["expires_on"] == "2040-05-09"


def test_a_renunciation_revokes_the_card_and_locks_the_eid_in_the_same_act() -> None:
    person = _holder()
    person.create_eid(basis(), date(2022, 1, 1), TODAY)
    person.renounce_nationality(basis("N"), date(2025, 1, 1), TODAY)
    assert person.card_document(TODAY)["status"] == "revoked"
    assert person.identity.card is not None
    assert person.identity.card.revoked == "lost_nationality"
    assert person.identity.eid_document() == {
        "status": "locked",
        "ground": "card_revoked",
        "created_on": "2022-01-01",
        "since": "2025-01-01",
    }
    with pytest.raises(RuleBroken, match="not a Vietnamese citizen"):
        person.issue_card(basis(), CardReason.NATIONALITY_REGAINED, TODAY, TODAY)


def test_a_death_locks_the_eid_and_the_card_is_the_holder_s_who_died() -> None:
    person = _holder()
    person.create_eid(basis(), date(2022, 1, 1), TODAY)
    person.record_death(basis("D"), date(2025, 1, 1), None, TODAY)
    assert person.card_document(TODAY)["status"] == "holder_deceased"
    assert person.card_document(date(2024, 12, 31))["status"] == "valid"
    assert person.identity.eid is not None
    assert person.identity.eid.locked == "death"
    with pytest.raises(RuleBroken, match="died"):
        person.issue_card(basis(), CardReason.LOST, TODAY, TODAY)
    with pytest.raises(RuleBroken, match="died"):
        person.unlock_eid(basis(), TODAY, TODAY)


def test_a_death_or_renunciation_cannot_precede_the_last_identity_act() -> None:
    person = _holder(on=date(2024, 6, 1))
    with pytest.raises(RuleBroken, match="a death dated 2024-01-01 is before the last"):
        person.record_death(basis("D"), date(2024, 1, 1), None, TODAY)
    with pytest.raises(RuleBroken, match="a renunciation dated 2024-01-01 is before"):
        person.renounce_nationality(basis("N"), date(2024, 1, 1), TODAY)


def test_withholding_locks_the_eid_and_returning_unlocks_it() -> None:
    person = _holder()
    person.create_eid(basis(), date(2022, 1, 1), TODAY)
    person.withhold_card(basis(), "prison", date(2023, 1, 1), TODAY)
    assert person.card_document(TODAY)["status"] == "withheld"
    with pytest.raises(RuleBroken, match="already withheld"):
        person.withhold_card(basis(), "custody", date(2023, 2, 1), TODAY)
    with pytest.raises(RuleBroken, match="withheld"):
        person.issue_card(basis(), CardReason.LOST, date(2023, 2, 1), TODAY)
    with pytest.raises(RuleBroken, match="stays locked while its cause holds"):
        person.unlock_eid(basis(), date(2023, 2, 1), TODAY)
    person.return_card(basis(), date(2024, 1, 1), TODAY)
    assert person.card_document(TODAY)["status"] == "valid"
    assert person.identity.eid is not None
    assert person.identity.eid.locked is None
    with pytest.raises(RuleBroken, match="not withheld"):
        person.return_card(basis(), date(2024, 2, 1), TODAY)


def test_a_revoked_card_locks_the_eid_and_only_request_or_data_replace_it() -> None:
    person = _holder()
    person.create_eid(basis(), date(2022, 1, 1), TODAY)
    with pytest.raises(RuleBroken, match="lost_nationality does not apply"):
        person.revoke_card(basis(), "lost_nationality", date(2023, 1, 1), TODAY)
    person.revoke_card(basis(), "issued_wrongly", date(2023, 1, 1), TODAY)
    assert person.identity.eid is not None
    assert person.identity.eid.locked == "card_revoked"
    with pytest.raises(RuleBroken, match="no card to revoke"):
        person.revoke_card(basis(), "tampered", date(2023, 2, 1), TODAY)
    with pytest.raises(RuleBroken, match="the card was revoked"):
        person.issue_card(basis(), CardReason.LOST, date(2023, 2, 1), TODAY)
    person.issue_card(basis(), CardReason.REQUEST, date(2023, 2, 1), TODAY)
    person.unlock_eid(basis(), date(2023, 2, 2), TODAY)
    assert person.card_document(TODAY)["status"] == "valid"


def test_an_eid_needs_a_card_and_is_one_per_citizen() -> None:
    person = an()
    with pytest.raises(RuleBroken, match="needs a card"):
        person.create_eid(basis(), TODAY, TODAY)
    person.issue_card(basis(), CardReason.FIRST, date(2021, 4, 1), TODAY)
    person.create_eid(basis(), date(2022, 1, 1), TODAY)
    with pytest.raises(RuleBroken, match="already has an electronic identity"):
        person.create_eid(basis(), date(2022, 1, 2), TODAY)
    with pytest.raises(RuleBroken, match="lock ground death does not hold"):
        person.lock_eid(basis(), "death", date(2022, 1, 2), TODAY)
    person.lock_eid(basis(), "request", date(2022, 1, 2), TODAY)
    person.unlock_eid(basis(), date(2022, 1, 3), TODAY)


def test_a_merge_leaves_the_survivor_s_card_and_revokes_none() -> None:
    survivor = _holder()
    duplicate = an(number_serial=654321, registered_on=date(1995, 1, 1))  # the later record
    duplicate.issue_card(basis(), CardReason.FIRST, date(2021, 5, 1), TODAY)
    duplicate.merge_into(basis("M"), survivor, TODAY)
    assert survivor.card_document(TODAY)["status"] == "valid"
    assert duplicate.identity.card is not None
    assert duplicate.identity.card.revoked is None
    assert duplicate.identity.renewal_due(duplicate.holder) is None  # nothing owed by a merged


def test_a_certificate_is_for_undetermined_nationality_and_ends_when_determined() -> None:
    before = communes()
    configure_communes(FakeCommunes("00082"))
    try:
        person = an(nationality=Nationality.UNDETERMINED, born=date(1980, 1, 1))
        with pytest.raises(RuleBroken, match="six months in one commune"):
            person.issue_identity_certificate(basis(), CertificateReason.FIRST, TODAY, TODAY)
        person.declare_abode(basis("A"), "00082", "Ấp 3", date(2025, 1, 1), TODAY)
        person.issue_identity_certificate(basis(), CertificateReason.FIRST, TODAY, TODAY)
        with pytest.raises(RuleBroken, match="holds a current certificate"):
            person.issue_identity_certificate(basis(), CertificateReason.FIRST, TODAY, TODAY)
        citizen = an()
        with pytest.raises(RuleBroken, match="only for undetermined nationality"):
            citizen.issue_identity_certificate(basis(), CertificateReason.FIRST, TODAY, TODAY)
        person.change_record(basis("V"), "nationality", "vietnamese", "change", TODAY, TODAY)
        assert person.identity.certificate is None
        assert person.identity.certificates[-1].ended_by == "nationality_determined"
    finally:
        configure_communes(before)


def test_no_identity_act_on_a_merged_record() -> None:
    survivor = an()
    duplicate = an(number_serial=654321, registered_on=date(1995, 1, 1))
    duplicate.merge_into(basis("M"), survivor, TODAY)
    with pytest.raises(RuleBroken, match="merged"):
        duplicate.issue_card(basis(), CardReason.FIRST, TODAY, TODAY)


def test_the_card_document_shows_every_card_newest_first() -> None:
    person = _holder()
    person.issue_card(basis(), CardReason.DAMAGED, date(2022, 1, 1), TODAY)
    document = person.card_document(TODAY)
    assert [c["reason"] for c in document["cards"]] == ["damaged", "first"]
    assert document["cards"][1]["ended_on"] == "2022-01-01"
    assert document["cards"][1]["ended_by"] == "replaced"


def test_an_eid_stays_locked_while_any_cause_stands() -> None:
    person = _holder()
    person.create_eid(basis(), date(2022, 1, 1), TODAY)
    person.withhold_card(basis(), "prison", date(2023, 1, 1), TODAY)
    person.revoke_card(basis(), "tampered", date(2023, 2, 1), TODAY)
    eid = person.identity.eid
    assert eid is not None
    assert eid.locked == "card_withheld"  # locked once; the revocation finds it locked
    assert person.identity.withheld is None  # a revoked card is no longer withheld
    with pytest.raises(RuleBroken, match="stays locked while its cause holds"):
        person.unlock_eid(basis(), date(2023, 3, 1), TODAY)
