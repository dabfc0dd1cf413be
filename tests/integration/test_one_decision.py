"""Every act is decided once: a clerk's act and an import row give the same outcome.

The same acts, every kind with the refusals each can meet, go down both paths on two fresh
stores of the same backend. They must record the same events (apart from record time and the
random serial of each number), refuse the same rows with the same exit code and message, and
give the same people and the same report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from application.register import CivilRegister
from tests.conftest import FixedClock, create_database, drop_database
from tests.two_paths import (
    Ref,
    act,
    as_clerk,
    as_import,
    birth,
    compare_outcomes,
    ledger,
    people,
    report,
)

A, B, C, D, E, F, G = "KS-A", "KS-B", "KS-C", "KS-D", "KS-E", "KS-F", "KS-G"
LABELS = [A, B, C, D, E, F, G, "KS-1899", "KS-LATE", "KS-ORPHAN", "KS-OLDER", "KS-FUTURE"]

BIRTHS: list[dict[str, Any]] = [
    birth(A, name="Nguyễn Văn An", sex="male", born="1960-03-04", province="001",
          registered_on="1960-03-10"),
    birth(B, name="Trần Thị Bình", sex="female", born="1962-05-06", province="001",
          ethnicity="Kinh"),
    birth(C, name="Nguyễn Văn Cường", sex="male", born="1990-01-02", province="001",
          father=Ref(A), mother=Ref(B), place_of_birth="Hà Nội"),
    birth(D, name="Lò Thị Dung", sex="female", born="1985-07-08", province="079",
          nationality="undetermined"),
    birth(E, name="Nguyễn Văn An", sex="male", born="1960-03-04", province="001",
          registered_on="2000-01-01"),  # the same man again: a duplicate record
    birth(F, name="Phạm Văn Phúc", sex="male", born="1970-09-09", province="048",
          nationality="stateless"),
    birth(G, name="Hoàng Thị Giang", sex="female", born="2001-02-03", province="031"),
    birth("KS-1899", name="Cụ Già", sex="male", born="1899-12-31", province="001"),
    birth("KS-LATE", name="Sớm Quá", sex="male", born="1990-01-01", province="001",
          registered_on="1989-01-01"),
    birth("KS-ORPHAN", name="Không Cha", sex="male", born="1990-01-01", province="001",
          father="0f6d5a3e-2b1c-4d5e-8f90-123456789abc"),
    birth("KS-OLDER", name="Con Già", sex="male", born="1950-01-01", province="001",
          father=Ref(A)),
    birth("KS-FUTURE", name="Chưa Sinh", sex="female", born="2099-01-01", province="001"),
    birth("KS-BADSEX", name="Ai Đó", sex="x", born="1990-01-01", province="001"),
    birth("KS-BADPROVINCE", name="Ai Đó", sex="male", born="1990-01-01", province="999"),
    birth(A, name="Nguyễn Văn An", sex="male", born="1960-03-04", province="001",
          registered_on="1960-03-10"),  # the same act again: already recorded
    birth(A, name="Nguyễn Văn Ân", sex="male", born="1960-03-04", province="001"),  # reused
]  # fmt: skip

LATER: list[dict[str, Any]] = [
    act("death", "KT-1", person=Ref(C, "number"), died_on="2020-01-01", place="Hà Nội"),
    act("death", "KT-2", person=Ref(C, "number"), died_on="2020-01-02"),
    act("renunciation", "QT-1", person=Ref(G, "number"), effective="2022-02-02"),
    act("renunciation", "QT-2", person=Ref(G), effective="2022-03-03"),
    act("renunciation", "QT-3", person=Ref(F), effective="2022-03-03"),
    act("change", "TD-1", person=Ref(A, "number"), field="name", value="Nguyễn Văn Anh",
        change_kind="change", effective="2010-01-01"),
    act("change", "CC-1", person=Ref(B, "number"), field="born", value="1963-05-06",
        change_kind="correction", effective="2015-01-01"),
    act("change", "XD-1", person=Ref(G, "number"), field="sex", value="male",
        change_kind="redetermination", effective="2023-01-01"),
    act("change", "CC-2", person=Ref(A, "number"), field="birth_province", value="002",
        change_kind="correction", effective="2011-01-01"),
    act("change", "BS-1", person=Ref(A), field="place_of_birth", value="Hà Giang",
        change_kind="supplement", effective="2012-01-01"),
    act("change", "BS-2", person=Ref(A), field="place_of_birth", value="Hà Nội",
        change_kind="supplement", effective="2012-02-01"),
    act("change", "XD-2", person=Ref(B, "cancelled"), field="ethnicity", value="Tày",
        change_kind="redetermination", effective="2016-01-01"),
    act("change", "QT-4", person=Ref(D), field="nationality", value="vietnamese",
        change_kind="change", effective="2019-01-01"),
    act("change", "CC-3", person=Ref(B), field="born", value="1964-01-01",
        change_kind="change", effective="2016-01-01"),
    act("change", "CC-4", person=Ref(B), field="name", value="Trần Bình",
        change_kind="change", effective="1950-01-01"),
    act("change", "CC-5", person=Ref(C), field="name", value="Nguyễn Cường",
        change_kind="change", effective="2021-01-01"),
    act("change", "CC-6", person=Ref(C), field="place_of_birth", value="Hà Tây",
        change_kind="correction", effective="2021-01-01"),
    act("merge", "GN-1", person=Ref(A, "number"), into=Ref(E, "number")),
    act("merge", "GN-2", person=Ref(E, "number"), into=Ref(A, "number")),
    act("merge", "GN-3", person=Ref(E), into=Ref(A)),
    act("death", "KT-3", person=Ref(E), died_on="2024-01-01"),
    act("death", "KT-4", person="001090000001", died_on="2024-01-01"),
    act("death", "KT-5", person=Ref(A), died_on="2099-01-01"),
    act("death", "KT-1", person=Ref(C, "number"), died_on="2020-01-01", place="Hà Nội"),
]  # fmt: skip


@pytest.fixture
def two_stores(store_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second fresh store of the same backend as `store_url`, for the import's path."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'imported.sqlite'}"
        return
    admin = str(request.getfixturevalue("postgres_admin_url"))
    url = create_database(admin)
    try:
        yield url
    finally:
        drop_database(admin, url)


@pytest.mark.parametrize("batch_size", [1, 500])
def test_a_clerk_and_an_import_decide_every_act_alike(
    store_url: str, two_stores: str, batch_size: int
) -> None:
    clerk = CivilRegister(store_url, clock=FixedClock())
    imported = CivilRegister(two_stores, clock=FixedClock())
    try:
        for rows in (BIRTHS, LATER):
            by_clerk = as_clerk(clerk, rows)
            by_import = as_import(imported, rows, batch_size)
            compare_outcomes(by_clerk, by_import)
        assert ledger(imported) == ledger(clerk)
        assert people(imported, LABELS) == people(clerk, LABELS)
    finally:
        clerk.close()
        imported.close()
    assert report(two_stores) == report(store_url)


def test_the_examples_meet_every_kind_of_outcome(store_url: str) -> None:
    """The examples above are worth comparing: each exit code and every act kind occurs."""
    register = CivilRegister(store_url, clock=FixedClock())
    try:
        outcomes = as_clerk(register, BIRTHS) + as_clerk(register, LATER)
    finally:
        register.close()
    codes = {o[1] for o in outcomes if o[0] == "refused"}
    assert codes == {"2", "3", "4"}
    assert ("already",) in outcomes
    assert sum(1 for o in outcomes if o == ("recorded",)) >= 15
    assert any("different birth act" in o[2] for o in outcomes if o[0] == "refused")
