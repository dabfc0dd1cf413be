"""The three read models after a small town's history, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from application.register import CivilRegister
from domain.values import IdNumber
from projections.engine import Engine
from projections.people import PEOPLE, person_document
from projections.queries import ReadModels
from projections.statistics import contribution
from projections.views import PositionMoved, Row
from tests.projections.conftest import Clerk, engine_for, scenario


def _people_rows(engine: Engine) -> dict[str, dict[str, Any]]:
    rows = engine.views.query(f"SELECT {', '.join(PEOPLE.columns)} FROM {PEOPLE.physical()}", ())
    return {row[0]: dict(zip(PEOPLE.columns, row, strict=True)) for row in rows}


def test_people_rows_are_the_show_documents_of_every_person(
    register: CivilRegister, clerk: Clerk
) -> None:
    scenario(clerk)
    engine = engine_for(register, batch_size=3)
    engine.catch_up()
    rows = _people_rows(engine)
    assert len(rows) == 6
    for person_id, row in rows.items():
        assert person_document(row) == register.person(UUID(person_id)).as_document()


def test_people_keep_a_folded_name_for_search(register: CivilRegister, clerk: Clerk) -> None:
    who = scenario(clerk)
    engine = engine_for(register)
    engine.catch_up()
    folded = {row["name"]: row["name_folded"] for row in _people_rows(engine).values()}
    assert folded["Đỗ Thị Bình"] == "do thi binh"
    assert folded["Nguyễn Văn Ân"] == "nguyen van an"
    found = ReadModels(engine.views).find("NGUYEN an")
    assert {p["id_number"] for p in found} == {who["an"], None}


def test_every_number_ever_assigned_is_kept_with_when_and_why(
    register: CivilRegister, clerk: Clerk
) -> None:
    who = scenario(clerk)
    engine = engine_for(register)
    engine.catch_up()
    rows = engine.views.query(
        "SELECT id_number, status, assigned_reason, cancelled_reason, cancelled_on "
        "FROM view_id_numbers",
        (),
    )
    by_number = {row[0]: row[1:] for row in rows}
    assert by_number[who["chau"]] == (
        "cancelled",
        "birth_registered",
        "record_corrected",
        "2024-01-01",
    )
    assert by_number[who["chau_now"]][:3] == ("assigned", "record_corrected", None)
    assert by_number[who["late_an"]][0:3] == (
        "cancelled",
        "birth_registered",
        "merged_as_duplicate",
    )
    assert by_number[who["stateless"]][:2] == ("assigned", "nationality_determined")
    assert len(by_number) == 7


def test_statistics_follow_the_register_report(register: CivilRegister, clerk: Clerk) -> None:
    scenario(clerk)
    engine = engine_for(register, batch_size=4)
    engine.catch_up()
    report = ReadModels(engine.views).report(since=date(1990, 1, 1))
    assert report == {
        "people": 6,
        "active_id_numbers": 3,  # An, Châu (new number), Hà (determined)
        "cancelled_id_numbers": 2,
        "deceased": 1,
        "renounced": 1,
        "merged_duplicates": 1,
        "without_id_number": 0,  # the merged duplicate's cancelled number is not a special case
        "record_changes": {"change": 1, "correction": 1, "redetermination": 1},
        "births_since": 4,
        "by_province": {"001": 2, "048": 1},
        "households": 0,
        "households_without_head": 0,
        "permanent_residents": 0,
        "temporary_residents": 0,
        "without_permanent_residence": 3,
        "unconfirmed": 3,
        "proposed_for_deletion": 0,
        "numbers_in_service": 0,
        "special_cases": {
            "without_nationality_resident": 0,
            "undetermined_without_permanent_residence": 0,
            "undetermined_children_with_a_vietnamese_parent": 0,
        },
        "cards": {
            "valid": 0,
            "expired": 0,
            "renewal_due": 0,
            "revoked": 0,
            "withheld": 0,
            "citizens_14_and_over_without_valid_card": 3,  # An, Châu, Hà: none holds a card
            "eids_active": 0,
            "eids_locked": 0,
        },
    }


def test_verify_answers_match_and_status(register: CivilRegister, clerk: Clerk) -> None:
    who = scenario(clerk)
    engine = engine_for(register)
    engine.catch_up()
    models = ReadModels(engine.views)
    assert models.verify(IdNumber.parse(who["an"]), "nguyen van ân", date(1990, 3, 4)) == {
        "match": True,
        "status": "active",
    }
    assert models.verify(IdNumber.parse(who["an"]), "Nguyễn Văn An", date(1990, 3, 5)) == {
        "match": False,
        "status": "active",
    }
    assert models.verify(IdNumber.parse(who["dung"]), "LE VAN DUNG", date(1970, 2, 2)) == {
        "match": True,
        "status": "deceased",
    }
    assert models.verify(IdNumber.parse(who["binh"]), "Đỗ Thị Bình", date(1985, 7, 8)) == {
        "match": True,
        "status": "renounced",
    }
    assert models.verify(IdNumber.parse(who["chau"]), "Trần Minh Châu", date(2000, 1, 1)) == {
        "match": True,
        "status": "cancelled",
    }
    assert models.verify(IdNumber.parse("001090000000"), "Nobody", date(1990, 1, 1)) == {
        "match": False,
        "status": "unknown",
    }


def test_catch_up_twice_applies_nothing_twice(register: CivilRegister, clerk: Clerk) -> None:
    scenario(clerk)
    engine = engine_for(register, batch_size=2)
    first = engine.catch_up()
    digest = engine.digest()
    assert engine.catch_up() == first
    assert engine.digest() == digest
    assert all(s.lag == 0 for s in engine.status())


def test_rebuild_gives_the_same_models_as_catching_up(
    register: CivilRegister, clerk: Clerk
) -> None:
    who = scenario(clerk)
    engine = engine_for(register, batch_size=1)
    engine.catch_up()
    clerk.death(who["an"], on="2024-06-01")
    engine.catch_up()
    incremental = engine.digest()
    engine.batch_size = 1000
    engine.rebuild()
    assert engine.digest() == incremental
    assert not engine.views.has_table("view_people__rebuild")


def test_readers_see_the_old_model_until_the_swap(register: CivilRegister, clerk: Clerk) -> None:
    scenario(clerk)
    engine = engine_for(register, batch_size=1)
    engine.catch_up("statistics")
    before = engine.digest("statistics")
    seen: list[str] = []
    reader = engine_for(register)
    engine.rebuild(
        "statistics",
        progress=lambda done, total: seen.append(reader.digest("statistics")["statistics"]),
    )
    assert len(seen) > 3
    assert set(seen) == {before["statistics"]}


def test_a_batch_whose_position_moved_underneath_is_refused(register: CivilRegister) -> None:
    engine = engine_for(register)
    with engine.views.transaction() as tx:
        tx.advance("people", None, 5)
    with pytest.raises(PositionMoved), engine.views.transaction() as tx:
        tx.advance("people", 3, 9)
    assert engine.views.positions()["people"] == 5


def test_models_in_a_separate_database_match_models_beside_the_events(
    register: CivilRegister, clerk: Clerk, tmp_path: Path
) -> None:
    scenario(clerk)
    beside = engine_for(register, batch_size=3)
    beside.catch_up()
    apart = engine_for(register, views=f"sqlite:///{tmp_path / 'views.sqlite'}", batch_size=7)
    apart.catch_up()
    assert apart.digest() == beside.digest()
    assert beside.views.url.url != apart.views.url.url


@pytest.mark.postgres
def test_models_on_another_postgres_database_match(
    register: CivilRegister, clerk: Clerk, postgres_url: str
) -> None:
    scenario(clerk)
    beside = engine_for(register)
    beside.catch_up()
    apart = engine_for(register, views=postgres_url, batch_size=2)
    apart.catch_up()
    assert apart.digest() == beside.digest()


def test_find_takes_name_words_literally(register: CivilRegister, clerk: Clerk) -> None:
    scenario(clerk)
    engine = engine_for(register)
    engine.catch_up()
    models = ReadModels(engine.views)
    assert models.find("%") == []
    assert models.find("_") == []
    assert [p["name"] for p in models.find("binh", province="079")] == ["Đỗ Thị Bình"]
    assert models.find("binh", province="001") == []
    same_day = models.find("an", born=date(1990, 3, 4))
    assert sorted(p["name"] for p in same_day) == ["Nguyen Van An", "Nguyễn Văn Ân"]


class _Crash(Exception):
    pass


def test_a_rebuild_whose_tables_came_back_empty_starts_again_from_zero(
    register: CivilRegister, clerk: Clerk, tmp_path: Path
) -> None:
    scenario(clerk)
    engine = engine_for(register, batch_size=2)

    def crash(done: int, total: int) -> None:
        raise _Crash

    with pytest.raises(_Crash):
        engine.rebuild("people", progress=crash)
    assert engine.views.positions()["people__rebuild"] > 0
    # What a database crash does to unlogged tables: they come back empty.
    engine.views.execute_script(["DELETE FROM view_people__rebuild"])
    engine.rebuild("people")
    clean = engine_for(register, views=f"sqlite:///{tmp_path / 'clean.sqlite'}")
    clean.catch_up("people")
    assert engine.digest("people") == clean.digest("people")


def test_only_living_records_kept_without_a_number_count_as_without_id_number() -> None:
    def row(**standing: int) -> Row:
        return {"id_number": None, "died": 0, "renounced": 0, "merged": 0, **standing}

    def counts(r: Row) -> bool:
        return ("without_id_number", "") in contribution(r)

    assert counts(row())  # undetermined nationality, or stateless
    assert not counts(row(merged=1))
    assert not counts(row(died=1))
    assert not counts(row(renounced=1))
