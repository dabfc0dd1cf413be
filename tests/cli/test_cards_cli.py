"""`card show` and `cards due` as typed, and the report's `cards` key, on both backends: the
documents equal the replayed records', bad input is exit 2, an unknown ID exit 4."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest
from typer.testing import CliRunner, Result

from application.register import CivilRegister
from cli.main import app
from domain.values import SystemClock, today_of
from projections.card_queries import CARD_REPORT_KEYS
from tests.conftest import FixedClock
from tests.projections.card_helpers import CardClerk, card_histories, recount, replayed

Invoke = Callable[..., Result]


@pytest.fixture
def register(store_url: str) -> Iterator[CivilRegister]:
    register = CivilRegister(store_url, clock=FixedClock())
    yield register
    register.close()


@pytest.fixture
def people(register: CivilRegister) -> dict[str, str]:
    return card_histories(CardClerk(register))


@pytest.fixture
def run(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.chdir(tmp_path)
    for name in ("CIVLEDGER_STORE", "CIVLEDGER_VIEWS", "CIVLEDGER_EVENTS_FROM"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args), env={"CIVLEDGER_STORE": store_url})

    return invoke


def test_card_show_answers_the_replayed_record(
    run: Invoke, register: CivilRegister, people: dict[str, str]
) -> None:
    today = today_of(SystemClock())
    for label in ("valid", "corrected", "reissued", "dead", "no_card_adult", "renounced"):
        person = register.person(UUID(people[label]))
        for ref in (str(person.id), *filter(None, [person.id_number])):
            answer = run("card", "show", ref, "--json")
            assert answer.exit_code == 0, answer.output
            document = json.loads(answer.stdout)
            assert document == person.card_document(today), label
            assert {"id_number", "status", "issued_on", "expires_on", "cards"} <= set(document)
        text = run("card", "show", str(person.id))
        assert text.exit_code == 0, text.output
        assert str(person.card_document(today)["status"]).replace("_", " ") in text.stdout
        assert "<U+" not in text.stdout  # the layout's line breaks are printed as such
        assert len(text.stdout.splitlines()) >= 2


def test_card_show_as_at_replays_the_person_on_that_day(
    run: Invoke, register: CivilRegister, people: dict[str, str]
) -> None:
    renewed = people["renewed"]  # first card 2016-01-01, renewed for age 2022-07-01
    for day in ("2015-06-01", "2020-01-01", "2022-06-30", "2022-07-01"):
        on = date.fromisoformat(day)
        expected = register.reader.person(UUID(renewed), as_at=on).card_document(on)
        answer = run("card", "show", renewed, "--as-at", day, "--json")
        assert answer.exit_code == 0, answer.output
        assert json.loads(answer.stdout) == expected
    before = json.loads(run("card", "show", renewed, "--as-at", "2022-06-30", "--json").stdout)
    after = json.loads(run("card", "show", renewed, "--as-at", "2022-07-01", "--json").stdout)
    assert (before["status"], len(before["cards"])) == ("expired", 1)
    assert (after["status"], len(after["cards"])) == ("valid", 2)
    recorded = run("card", "show", renewed, "--as-of", "2026-06-01T10:00:00", "--json")
    assert recorded.exit_code == 0, recorded.output
    assert len(json.loads(recorded.stdout)["cards"]) == 2


def test_cards_due_lists_the_renewals_owed(
    run: Invoke, register: CivilRegister, people: dict[str, str]
) -> None:
    owed = sorted(
        (due[0].isoformat(), str(person.id), person)
        for person in replayed(register, people.values())
        if (due := person.identity.renewal_due(person.holder)) is not None
    )
    answer = run("cards", "due", "--by", "2099-12-31", "--json")
    assert answer.exit_code == 0, answer.output
    listed = json.loads(answer.stdout)
    assert [(each["due"], each["person_id"]) for each in listed] == [o[:2] for o in owed]
    assert [each["id_number"] for each in listed] == [o[2].id_number for o in owed]
    limited = json.loads(run("cards", "due", "--by", "2099-12-31", "--limit", "2", "--json").stdout)
    assert limited == listed[:2]
    in_079 = json.loads(
        run("cards", "due", "--by", "2099-12-31", "--province", "079", "--json").stdout
    )
    assert in_079 == [e for e, o in zip(listed, owed, strict=True) if o[2].birth_province == "079"]
    text = run("cards", "due", "--by", "2099-12-31")
    assert text.exit_code == 0
    assert len(text.stdout.splitlines()) == len(owed)
    nothing = run("cards", "due", "--by", "1900-01-01", "--json")
    assert (nothing.exit_code, json.loads(nothing.stdout)) == (0, [])


def test_the_report_counts_cards_as_the_replayed_records_say(
    run: Invoke, register: CivilRegister, people: dict[str, str]
) -> None:
    answer = run("report", "--json")
    assert answer.exit_code == 0, answer.output
    document = json.loads(answer.stdout)
    assert list(document)[-1] == "cards"
    assert list(document["cards"]) == list(CARD_REPORT_KEYS)
    today = today_of(SystemClock())
    assert document["cards"] == recount(replayed(register, people.values()), today)
    text = run("report")
    assert text.exit_code == 0
    assert "citizens 14 and over without valid card" in text.stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("card", "show", "001090999999"), 4),
        (("card", "show", "00000000-0000-4000-8000-000000000000"), 4),
        (("card", "show", "12345"), 2),
        (("card", "show", "001090999999", "--as-at", "2024-02-30"), 2),
        (("card", "show", "001090999999", "--as-at", "2024-01-01"), 4),
        (("cards", "due", "--by", "soon"), 2),
        (("cards", "due", "--by", "2030-01-01", "--province", "79"), 2),
        (("cards", "due", "--by", "2030-01-01", "--province", "999"), 2),
        (("cards", "due", "--by", "2030-01-01", "--limit", "0"), 2),
        (("cards", "due"), 2),
    ],
)
def test_bad_input_and_unknown_ids(
    run: Invoke, people: dict[str, str], args: tuple[str, ...], code: int
) -> None:
    answer = run(*args, "--json")
    assert answer.exit_code == code, answer.output
    assert answer.stdout == ""
    assert "Traceback" not in answer.output
