"""The `cards` read model against the replayed records, on SQLite and PostgreSQL: the same
documents and statuses, the same renewals owed, the same report counts; rebuild equals
catch-up; an older store gets the model built from zero."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from uuid import UUID

import pytest

from application.register import CivilRegister
from domain.commands import Command
from domain.identity import IdentityFile
from domain.person import Person
from domain.values import IdNumber, parse_person_ref
from projections.activity import clerk_activity
from projections.card_queries import CARD_REPORT_KEYS, card_counts, card_document, cards_due
from projections.cards import CARDS, holder_of, identity_of
from projections.engine import Engine
from projections.queries import ReadModels
from projections.source import EventSource
from projections.tables import TRACKING_TABLE
from tests.conftest import FixedClock
from tests.projections.card_helpers import CardClerk, card_histories, recount, replayed
from tests.projections.conftest import engine_for

TODAY = date(2026, 6, 1)  # the fixed clock's civil date
DAYS = (date(2021, 6, 1), TODAY, date(2026, 7, 1), date(2035, 1, 1))


class FollowingClerk(CardClerk):
    """Catches the models up after every act, in small batches: the model is then built by
    many incremental catch-ups, each starting mid-history."""

    def __init__(self, register: CivilRegister, engine: Engine) -> None:
        super().__init__(register)
        self.engine = engine

    def act(self, command: Command) -> Person:
        person = super().act(command)
        self.engine.catch_up()
        return person


@pytest.fixture
def register(store_url: str) -> Iterator[CivilRegister]:
    register = CivilRegister(store_url, clock=FixedClock())
    yield register
    register.close()


@pytest.fixture
def engine(register: CivilRegister) -> Iterator[Engine]:
    engine = engine_for(register, batch_size=3)
    yield engine
    engine.views.close()


@pytest.fixture
def people(register: CivilRegister, engine: Engine) -> dict[str, str]:
    people = card_histories(FollowingClerk(register, engine))
    engine.catch_up()
    return people


def test_every_row_is_the_replayed_record(
    register: CivilRegister, engine: Engine, people: dict[str, str]
) -> None:
    views = engine.views
    rows = views.fetch(CARDS, CARDS.physical(), sorted(people.values()))
    assert len(rows) == len(people)
    statuses = set()
    for label, person_id in people.items():
        person = register.person(UUID(person_id))
        row = rows[person_id]
        assert identity_of(row) == person.identity, label
        assert holder_of(row) == person.holder, label
        due = person.identity.renewal_due(person.holder)
        assert (row["due_on"], row["due_reason"]) == (
            (due[0].isoformat(), due[1]) if due else (None, None)
        ), label
        for on in DAYS:
            assert card_document(views, UUID(person_id), on) == person.card_document(on), label
        if person.id_number is not None:
            number = card_document(views, IdNumber.parse(person.id_number), TODAY)
            assert number == person.card_document(TODAY), label
        for cancelled in person.cancelled_id_numbers:  # a former number finds the person too
            former = card_document(views, parse_person_ref(cancelled), TODAY)
            assert former == person.card_document(TODAY), label
        statuses.add(person.card_document(TODAY)["status"])
    # The histories reach every status the domain knows.
    assert statuses == {
        "valid",
        "expired",
        "renewal_due",
        "revoked",
        "withheld",
        "holder_deceased",
        "none",
    }


def test_the_identity_file_survives_its_document(
    register: CivilRegister, people: dict[str, str]
) -> None:
    for person in replayed(register, people.values()):
        document = person.identity.to_document()
        assert IdentityFile.from_document(document) == person.identity
    assert IdentityFile.from_document(IdentityFile().to_document()) == IdentityFile()


def test_a_rebuild_equals_the_caught_up_model_and_the_digest_is_stable(
    engine: Engine, people: dict[str, str]
) -> None:
    followed = engine.digest()
    assert engine.digest() == followed
    engine.rebuild("cards")
    assert engine.digest() == followed
    engine.rebuild()
    assert engine.digest() == followed


def test_cards_due_are_the_replayed_renewals_soonest_first(
    register: CivilRegister, engine: Engine, people: dict[str, str]
) -> None:
    owed = []
    for person in replayed(register, people.values()):
        due = person.identity.renewal_due(person.holder)
        if due is not None:
            owed.append((due[0], str(person.id), person.birth_province, due[1], person))
    owed.sort(key=lambda each: (each[0], each[1]))
    assert len(owed) >= 5
    for by in (date(2021, 12, 30), date(2024, 1, 1), TODAY, date(2030, 1, 1), date(2099, 1, 1)):
        for province in (None, "079", "048", "002"):
            expected = [
                {
                    "id_number": person.id_number,
                    "name": person.name,
                    "reason": reason,
                    "due": due.isoformat(),
                    "person_id": person_id,
                }
                for due, person_id, born_in, reason, person in owed
                if due <= by and province in (None, born_in)
            ]
            assert cards_due(engine.views, by, province) == expected
            assert cards_due(engine.views, by, province, limit=2) == expected[:2]
    assert cards_due(engine.views, date(2099, 1, 1), limit=1)[0]["due"] == "2021-12-31"


def test_the_report_counts_equal_a_recount_of_the_replayed_records(
    register: CivilRegister, engine: Engine, people: dict[str, str]
) -> None:
    everyone = replayed(register, people.values())
    for on in DAYS:
        expected = recount(everyone, on)
        assert card_counts(engine.views, on) == expected
        report = ReadModels(engine.views).report(on=on)
        assert report["cards"] == expected
        assert list(report)[-1] == "cards"  # added after every earlier key
    counted = recount(everyone, TODAY)
    assert list(counted) == list(CARD_REPORT_KEYS)
    assert all(counted[key] > 0 for key in CARD_REPORT_KEYS), counted


def test_a_store_whose_models_were_built_without_cards_gets_them_from_zero(
    register: CivilRegister, engine: Engine, people: dict[str, str]
) -> None:
    built = engine.digest()
    # As an earlier civledger left it: the other models, no cards table, no cards position.
    engine.views.drop_tables([CARDS], rebuilding=False)
    with engine.views.transaction() as tx:
        engine.views.raw(
            tx,
            f"DELETE FROM {TRACKING_TABLE} WHERE application_name = {engine.views.placeholder}",
            ("cards",),
        )
    assert card_counts(engine.views, TODAY) == dict.fromkeys(CARD_REPORT_KEYS, 0)
    assert cards_due(engine.views, TODAY) == []
    upgraded = engine_for(register)  # creates the missing table, as any command that builds
    try:
        positions = upgraded.catch_up("cards")
        assert positions["cards"] == upgraded.status("cards")[0].head
        assert upgraded.digest() == built
    finally:
        upgraded.views.close()


def test_the_clerk_activity_report_lists_the_identity_acts(
    register: CivilRegister, people: dict[str, str]
) -> None:
    entries = clerk_activity(EventSource(register))
    kinds = {entry.document()["type"] for entry in entries}
    assert {
        "CardIssued",
        "CardRevoked",
        "CardWithheld",
        "CardReturned",
        "ElectronicIdentityCreated",
        "ElectronicIdentityLocked",
        "ElectronicIdentityUnlocked",
    } <= kinds
    issued = [e for e in entries if e.document()["type"] == "CardIssued"]
    assert {e.document()["person_id"] for e in issued} <= set(people.values())
