"""`show --as-of` (record time) and `--as-at` (valid time), alone and together.

The issue's example: a death registered in 2022 with a legal date of 2021-06-01 makes the
person deceased as at 2021-07-01, yet active as of a moment in 2021.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from application.register import CivilRegister
from domain.errors import UnknownPerson
from tests.audit.conftest import Invoke, birth, record_death
from tests.conftest import FixedClock

BIRTH_RECORDED = datetime(2021, 3, 1, 9, 0, tzinfo=UTC)
DEATH_RECORDED = datetime(2022, 2, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def an(store_url: str) -> tuple[str, str]:
    """Nguyễn Văn An, born 1990-03-04, registered 2021-03-01; death recorded 2022-02-10
    with legal date 2021-06-01. Returns (store URL, ID number)."""
    clock = FixedClock(BIRTH_RECORDED)
    register = CivilRegister(store_url, clock=clock)
    act, basis = birth("Nguyễn Văn An", "1990-03-04", "KS-AN")
    number = register.register_birth(act, basis).person.id_number
    assert number is not None
    clock.moment = DEATH_RECORDED
    record_death(register, number, date(2021, 6, 1), "KT-AN")
    register.close()
    return store_url, number


def _person(url: str, number: str, **view: object):  # type: ignore[no-untyped-def]
    register = CivilRegister(url, clock=FixedClock(DEATH_RECORDED))
    try:
        return register.person(number, **view)  # type: ignore[arg-type]
    finally:
        register.close()


def test_a_death_registered_late_is_true_as_at_a_date_after_it(an: tuple[str, str]) -> None:
    person = _person(*an, as_at=date(2021, 7, 1))
    assert person.status == "deceased"
    assert person.died_on == date(2021, 6, 1)


def test_the_register_said_active_as_of_a_moment_before_the_death_was_recorded(
    an: tuple[str, str],
) -> None:
    person = _person(*an, as_of=datetime(2021, 12, 31, 23, 59, tzinfo=UTC))
    assert person.status == "active"
    assert person.died_on is None


def test_the_two_times_combine(an: tuple[str, str]) -> None:
    known_in_2021 = _person(*an, as_of=datetime(2021, 12, 31, tzinfo=UTC), as_at=date(2021, 7, 1))
    assert known_in_2021.status == "active"
    known_now = _person(*an, as_of=datetime(2022, 3, 1, tzinfo=UTC), as_at=date(2021, 5, 31))
    assert known_now.status == "active"
    both = _person(*an, as_of=datetime(2022, 3, 1, tzinfo=UTC), as_at=date(2021, 6, 1))
    assert both.status == "deceased"


def test_valid_time_shows_the_number_only_from_its_assignment(an: tuple[str, str]) -> None:
    child = _person(*an, as_at=date(1995, 1, 1))
    assert child.status == "active"
    assert child.id_number is None
    assert _person(*an, as_at=date(2021, 3, 1)).id_number == an[1]


def test_record_time_is_inclusive_and_offsets_count(an: tuple[str, str]) -> None:
    assert _person(*an, as_of=DEATH_RECORDED).status == "deceased"
    one_second_before = datetime(2022, 2, 10, 8, 59, 59, tzinfo=UTC)
    assert _person(*an, as_of=one_second_before).status == "active"


def test_a_person_not_yet_recorded_or_not_yet_born_is_unknown(an: tuple[str, str]) -> None:
    with pytest.raises(UnknownPerson, match="recorded at 2021-03-01"):
        _person(*an, as_of=datetime(2021, 2, 28, tzinfo=UTC))
    with pytest.raises(UnknownPerson, match="born on 1990-03-04"):
        _person(*an, as_at=date(1990, 3, 3))


def test_show_as_at_and_as_of_on_the_command_line(cli: Invoke, an: tuple[str, str]) -> None:
    url, number = an
    at = cli("show", number, "--store", url, "--as-at", "2021-07-01", "--json")
    assert at.exit_code == 0, at.output
    document = json.loads(at.stdout)
    assert (document["status"], document["died_on"], document["as_at"]) == (
        "deceased",
        "2021-06-01",
        "2021-07-01",
    )
    naive = cli("show", number, "--store", url, "--as-of", "2022-02-10T08:59:59", "--json")
    assert naive.exit_code == 0, naive.output
    assert json.loads(naive.stdout)["status"] == "active"
    assert json.loads(naive.stdout)["as_of"] == "2022-02-10T08:59:59+00:00"
    offset = cli("show", number, "--store", url, "--as-of", "2022-02-10T16:00:00+07:00")
    assert offset.exit_code == 0, offset.output
    assert "deceased" in offset.stdout
    assert "as of" in offset.stdout


def test_show_refuses_bad_times_and_unknown_moments(cli: Invoke, an: tuple[str, str]) -> None:
    url, number = an
    bad_time = cli("show", number, "--store", url, "--as-of", "yesterday")
    assert bad_time.exit_code == 2
    assert "--as-of must be an ISO 8601 timestamp" in bad_time.stderr
    bad_date = cli("show", number, "--store", url, "--as-at", "2021-13-01")
    assert bad_date.exit_code == 2
    too_early = cli("show", number, "--store", url, "--as-of", "2021-01-01")
    assert too_early.exit_code == 4
    assert "not in the register as of 2021-01-01T00:00:00+00:00" in too_early.stderr
    assert len(too_early.stderr.strip().splitlines()) == 1


def test_history_marks_late_registrations_by_a_configurable_threshold(
    cli: Invoke, an: tuple[str, str]
) -> None:
    url, number = an
    history = json.loads(cli("history", number, "--store", url, "--json").stdout)
    late = {entry["type"]: entry["late"] for entry in history}
    assert late == {"BirthRegistered": True, "IdNumberAssigned": False, "DeathRegistered": True}
    relaxed = cli(
        "history", number, "--store", url, "--json", env={"CIVLEDGER_LATE_AFTER_DAYS": "365"}
    )
    late = {entry["type"]: entry["late"] for entry in json.loads(relaxed.stdout)}
    assert late["DeathRegistered"] is False  # 254 days after the death
    assert late["BirthRegistered"] is True
    bad = cli("history", number, "--store", url, env={"CIVLEDGER_LATE_AFTER_DAYS": "soon"})
    assert bad.exit_code == 2
    assert "CIVLEDGER_LATE_AFTER_DAYS" in bad.stderr
