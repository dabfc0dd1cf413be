"""The register's count: households, residents, record cleaning and the special cases of
`report --json`, on SQLite and on PostgreSQL, against the real date of the report.

The register's clock stands at noon today (Indochina Time), and every act is dated from today,
so the report the CLI makes today (`report` counts on the real civil date) sees one temporary
residence lapsed by its `until`, two current, and children who are under 18.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner

from application.register import CivilRegister
from cli.main import app
from domain.commands import ChangeRecord
from domain.residence import years_after
from domain.values import SystemClock, today_of
from projections.people import PEOPLE, person_document
from projections.queries import ReadModels
from projections.statistics import RESIDENCE_REPORT_KEYS
from tests.conftest import FixedClock
from tests.projections.conftest import engine_for
from tests.projections.residence_helpers import (
    ResidenceClerk,
    clock_on,
    household,
    recount,
    tiny_communes,
)

TODAY = today_of(SystemClock())

#: The keys `report --json` gained with residence, households and record cleaning.
NEW_KEYS = RESIDENCE_REPORT_KEYS


@pytest.fixture(autouse=True)
def _communes() -> Iterator[None]:
    with tiny_communes():
        yield


@pytest.fixture
def clock() -> FixedClock:
    return clock_on(TODAY)


@pytest.fixture
def clerk(register: CivilRegister) -> ResidenceClerk:
    return ResidenceClerk(register)


def days(n: int) -> date:
    """`n` days from today (negative: ago)."""
    return TODAY + timedelta(days=n)


def years_ago(n: int) -> date:
    return years_after(TODAY, -n)


def report_of(url: str) -> dict[str, Any]:
    """`civledger report --store URL --json`, as a user runs it (catching the models up)."""
    result = CliRunner().invoke(app, ["report", "--store", url, "--json"])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def town(clerk: ResidenceClerk, stage: Any = None) -> dict[str, str]:
    """A town's register with residence: households set up, joined, left by a death (headless),
    by a deregistration and by a merge (empty), a change of head and a split; temporary
    residents (one lapsed, one extended, one ended); confirmed, proposed and withdrawn records;
    and the special cases. `stage()` runs between groups of acts (a catch-up)."""
    stage = stage or (lambda: None)
    who: dict[str, str] = {}
    who["an"] = clerk.born("Nguyễn Văn An", date(1975, 5, 5))
    who["binh"] = clerk.born("Đỗ Thị Bình", date(1980, 3, 3), sex="female")
    who["cuong"] = clerk.born("Trần Văn Cường", date(1970, 1, 10))
    who["dung"] = clerk.born("Lê Văn Dũng", date(1978, 8, 8))
    who["khanh"] = clerk.born("Phạm Minh Khánh", date(1990, 9, 9))
    who["hoa"] = clerk.born("Vũ Thị Hoa", date(1995, 2, 2), sex="female")
    who["lan"] = clerk.born("Hồ Thị Lan", date(1996, 4, 4), sex="female")
    who["minh"] = clerk.born("Đặng Văn Minh", date(1992, 6, 6))
    who["xuan"] = clerk.born("Ngô Thị Xuân", date(1985, 11, 11), sex="female")
    who["phong"] = clerk.born("Lý Phong", date(1980, 12, 12), nationality="stateless")
    who["quang"] = clerk.born("Hà Quang", date(1983, 3, 3), nationality="undetermined")
    # Of undetermined nationality, with parents: a child with a Vietnamese mother (counted),
    # an adult with a Vietnamese father, a child whose father is of undetermined nationality,
    # a child whose mother renounces, a child whose nationality is then determined.
    undetermined = "undetermined"
    who["sang"] = clerk.born("Sang", years_ago(10), nationality=undetermined, mother=who["binh"])
    who["tam"] = clerk.born("Tâm", years_ago(25), nationality=undetermined, father=who["cuong"])
    who["uyen"] = clerk.born("Uyên", years_ago(5), nationality=undetermined, father=who["quang"])
    who["vy"] = clerk.born("Vy", years_ago(8), nationality=undetermined, mother=who["xuan"])
    who["yen"] = clerk.born("Yến", years_ago(12), nationality=undetermined, father=who["dung"])
    who["dup"] = clerk.born("Tran Van Cuong", date(1970, 1, 10), registered_on=date(1970, 2, 1))
    clerk.confirm(who["an"])  # before the death: the dead are not counted anyway
    stage()

    start = days(-200)
    who["h1"] = clerk.new_household(who["an"], start)
    clerk.join(who["binh"], who["h1"], "spouse", days(-199))
    who["h2"] = clerk.new_household(who["cuong"], start)
    clerk.join(who["dung"], who["h2"], "sibling", days(-199))
    clerk.join(who["khanh"], who["h2"], "other_relative", days(-198))
    clerk.join(who["phong"], who["h2"], "other", days(-197))
    who["h3"] = clerk.new_household(who["minh"], start)
    who["h_dup"] = clerk.new_household(who["dup"], start)
    stage()

    clerk.end(who["minh"], "permanent", "settled_abroad", days(-190))  # h3: nobody left
    clerk.death(who["an"], on=days(-180).isoformat())  # h1: Bình, and no head
    clerk.change_head(who["h2"], who["dung"], days(-170))
    who["h4"] = clerk.split(who["h2"], [who["khanh"]], who["khanh"], days(-160))
    clerk.merge(who["dup"], into=who["cuong"])  # h_dup: nobody left
    stage()

    clerk.temporary(who["hoa"], days(-400), until=days(-10))  # lapsed before today
    clerk.temporary(who["khanh"], days(-30), until=days(200))
    clerk.temporary(who["lan"], days(-100), until=days(50))
    clerk.extend(who["lan"], until=days(300), on=days(-5))
    clerk.temporary(who["minh"], days(-60), until=days(100))
    clerk.end(who["minh"], "temporary", "lodging_ended", days(-20))
    clerk.abode(who["quang"], days(-50))
    stage()

    for name in ("binh", "cuong", "dung", "khanh", "hoa"):
        clerk.confirm(who[name])
    clerk.propose_deletion(who["dung"])
    clerk.propose_deletion(who["minh"])
    clerk.propose_deletion(who["khanh"])
    clerk.withdraw_proposal(who["khanh"])
    clerk.renounce(who["xuan"], on=days(-30).isoformat())
    clerk.act(
        ChangeRecord.parse(
            person=who["yen"],
            field="nationality",
            value="vietnamese",
            kind="redetermination",
            effective=days(-10).isoformat(),
        )
    )
    stage()
    return who


EXPECTED = {
    # h1 (Bình; its head An died), h2 (Cường, Dũng its head now, Phong), h4 (Khánh, split
    # off); h3 and h_dup have nobody left.
    "households": 3,
    "households_without_head": 1,
    # Bình, Cường, Dũng, Phong, Khánh.
    "permanent_residents": 5,
    # Khánh, and Lan (extended); Hoa's lapsed ten days ago, Minh's was ended.
    "temporary_residents": 2,
    # Living Vietnamese: Bình, Cường, Dũng, Khánh, Hoa, Lan, Minh, Yến (Xuân renounced).
    "without_permanent_residence": 4,  # Hoa, Lan, Minh, Yến
    "unconfirmed": 3,  # Lan, Minh, Yến
    "proposed_for_deletion": 2,  # Dũng, Minh (Khánh's proposal was withdrawn)
    "numbers_in_service": 3,  # Bình, Cường, Khánh (Dũng is proposed for deletion)
    "special_cases": {
        "without_nationality_resident": 1,  # Phong, stateless, in h2
        "undetermined_without_permanent_residence": 5,  # Quang, Sang, Tâm, Uyên, Vy
        "undetermined_children_with_a_vietnamese_parent": 1,  # Sang
    },
}


def test_report_json_counts_households_residents_and_record_cleaning(
    register: CivilRegister, clerk: ResidenceClerk, store_url: str
) -> None:
    who = town(clerk)
    assert household(register, who["h1"]).is_headless
    report = report_of(store_url)
    assert {key: report[key] for key in NEW_KEYS} == EXPECTED
    # The residence keys follow every earlier key; only the cards' key came after them.
    assert list(report)[-len(NEW_KEYS) - 1 : -1] == list(NEW_KEYS), "the added keys come last"
    assert list(report)[-1] == "cards"
    assert {key: report[key] for key in NEW_KEYS} == recount(register, TODAY)
    assert report["people"] == 17
    assert report["deceased"] == 1
    assert report["merged_duplicates"] == 1
    assert report["renounced"] == 1


def test_a_rebuild_gives_the_digest_of_catching_up_batch_by_batch(
    register: CivilRegister, clerk: ResidenceClerk, store_url: str, tmp_path: Path
) -> None:
    engine = engine_for(register, batch_size=3)
    town(clerk, stage=engine.catch_up)
    incremental_report = report_of(store_url)  # the CLI catches up what is left
    engine.catch_up()
    incremental = engine.digest()
    rebuilt = engine_for(register, views=f"sqlite:///{tmp_path / 'rebuilt.sqlite'}")
    rebuilt.rebuild()
    assert rebuilt.digest() == incremental
    engine.batch_size = 1000
    engine.rebuild()
    assert engine.digest() == incremental
    assert report_of(store_url) == incremental_report


def test_people_rows_are_the_show_documents_when_residence_acts_exist(
    register: CivilRegister, clerk: ResidenceClerk
) -> None:
    who = town(clerk)
    engine = engine_for(register, batch_size=3)
    engine.catch_up()
    rows = engine.views.query(f"SELECT {', '.join(PEOPLE.columns)} FROM {PEOPLE.physical()}", ())
    assert len(rows) == 17
    for values in rows:
        row = dict(zip(PEOPLE.columns, values, strict=True))
        person = register.person(UUID(row["person_id"]))
        assert person_document(row) == person.as_document()
    versions = {row[0]: row[-1] for row in rows}
    khanh = register.person(who["khanh"])  # born, resident, split off, temporary, cleaned
    assert versions[str(khanh.id)] == khanh.version == 8


def test_temporary_residents_lapse_after_their_until_and_children_grow_up(
    register: CivilRegister, clerk: ResidenceClerk
) -> None:
    town(clerk)
    engine = engine_for(register)
    engine.catch_up()
    models = ReadModels(engine.views)

    def on(day: date) -> dict[str, Any]:
        report = models.report(on=day)
        return {
            "temporary": report["temporary_residents"],
            "children": report["special_cases"]["undetermined_children_with_a_vietnamese_parent"],
        }

    # Hoa's residence is current on its `until`, and not the day after.
    assert on(days(-10))["temporary"] == 3
    assert on(days(-9))["temporary"] == 2
    assert on(days(50))["temporary"] == 2  # Lan's was extended from this day
    assert on(days(201))["temporary"] == 1  # Khánh's lapsed
    assert on(days(301))["temporary"] == 0
    # Sang, born ten years ago, is a child until the day before the 18th birthday.
    eighteenth = years_after(years_ago(10), 18)
    assert on(eighteenth - timedelta(days=1))["children"] == 1
    assert on(eighteenth)["children"] == 0
    for day in (days(-10), days(-9), days(50), days(201)):
        assert (
            models.report(on=day)["temporary_residents"]
            == recount(register, day)["temporary_residents"]
        )


def test_a_report_of_models_never_built_has_the_new_keys_at_zero(tmp_path: Path) -> None:
    from projections.views import ViewDatabase

    report = ReadModels(ViewDatabase.open(f"sqlite:///{tmp_path / 'empty.sqlite'}")).report()
    assert {key: report[key] for key in NEW_KEYS} == {
        **dict.fromkeys(NEW_KEYS[:-1], 0),
        "special_cases": {
            "without_nationality_resident": 0,
            "undetermined_without_permanent_residence": 0,
            "undetermined_children_with_a_vietnamese_parent": 0,
        },
    }
