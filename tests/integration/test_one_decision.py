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
    HouseholdOf,
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
LABELS = [
    *(A, B, C, D, E, F, G, "KS-1899", "KS-LATE", "KS-ORPHAN", "KS-OLDER", "KS-FUTURE"),
    *(f"KS-{letter}" for letter in "HIJKLMN"),
]

BIRTHS: list[dict[str, Any]] = [
    birth(A, name="Nguyễn Văn An", sex="male", born="1960-03-04", province="001",
          registered_on="1960-03-10"),
    birth(B, name="Trần Thị Bình", sex="female", born="1962-05-06", province="001",
          ethnicity="Kinh", registered_on="1962-06-01"),
    birth(C, name="Nguyễn Văn Cường", sex="male", born="1990-01-02", province="001",
          father=Ref(A), mother=Ref(B), place_of_birth="Hà Nội", registered_on="1990-02-01"),
    birth(D, name="Lò Thị Dung", sex="female", born="1985-07-08", province="079",
          nationality="undetermined", registered_on="1985-08-01"),
    birth(E, name="Nguyễn Văn An", sex="male", born="1960-03-04", province="001",
          registered_on="2000-01-01"),  # the same man again: a duplicate record
    birth(F, name="Phạm Văn Phúc", sex="male", born="1970-09-09", province="048",
          nationality="stateless"),
    birth(G, name="Hoàng Thị Giang", sex="female", born="2001-02-03", province="031",
          registered_on="2001-02-10"),
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
    act("change", "CC-1", person=Ref(B, "number"), field="born", value="1961-05-06",
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
    # the family and nationality rules, and the acts that could break them later
    act("renunciation", "QT-5", person=Ref(D), effective="2018-01-01"),  # before determined
    act("death", "KT-6", person=Ref(D), died_on="2019-06-01"),
    act("death", "KT-7", person=Ref(A), died_on="2009-01-01"),  # before his 2010 name change
    birth("KS-H", name="Con Ông Cường", sex="male", born="2020-09-01", province="001",
          father=Ref(C, "number")),  # 244 days after the father's death
    birth("KS-I", name="Con Muộn", sex="male", born="2021-01-01", province="001",
          father=Ref(C)),  # 366 days after it
    birth("KS-J", name="Con Bà Dung", sex="female", born="2019-07-01", province="001",
          mother=Ref(D)),  # the mother died before
    birth("KS-K", name="Cha Là Nữ", sex="female", born="1995-01-01", province="001",
          father=Ref(B)),
    birth("KS-L", name="Một Người Hai Vai", sex="male", born="1995-01-01", province="001",
          father=Ref(A), mother=Ref(A)),
    birth("KS-M", name="Con Bản Trùng", sex="male", born="1995-01-01", province="001",
          father=Ref(E)),  # merged into A
    birth("KS-N", name="Con Quá Sớm", sex="male", born="1965-01-01", province="001",
          father=Ref(A)),  # a father of four
    act("change", "CC-7", person=Ref(G), field="born", value="2001-03-03",
        change_kind="correction", effective="2023-02-01"),  # after the registration
    act("change", "CC-8", person=Ref(C), field="born", value="1975-01-02",
        change_kind="correction", effective="2021-01-01"),  # parents 15 and 12: plausible
    act("change", "CC-9", person=Ref(C), field="born", value="1970-01-02",
        change_kind="correction", effective="2021-01-01"),  # the father would be 9
]  # fmt: skip


#: Residence, households and record cleaning, after the civil acts above (dates from the
#: 2025 two-tier commune list: 00082 Phường Cửa Nam, 00070 Phường Hoàn Kiếm, 00229 Kim Liên).
#: The first act sets up the household the others name: an import file names households by
#: number, so it comes in a file of its own.
RESIDENCE: list[dict[str, Any]] = [
    act("residence", "TT-1", person=Ref(B, "number"), residence_kind="permanent",
        commune="00082", address="12 Phố Huế", new_household=True, effective="2025-08-01"),
    act("residence", "TT-2", person=Ref(A), residence_kind="permanent", commune="00082",
        address="12 Phố Huế", household=HouseholdOf(B), relation="spouse",
        effective="2025-08-02"),
    act("residence", "TT-3", person=Ref(G), residence_kind="permanent", commune="00082",
        address="12 Phố Huế", household=HouseholdOf(B), relation="child",
        effective="2025-08-03"),
    act("residence", "TT-4", person=Ref(A), residence_kind="permanent", commune="00082",
        address="12 Phố Huế", household=HouseholdOf(B), relation="spouse",
        effective="2025-08-04"),  # already a member
    act("residence", "TT-5", person=Ref(A), residence_kind="temporary", commune="00082",
        address="3 Ngõ Huế", until="2026-08-01", effective="2025-09-01"),  # same commune
    act("residence", "TT-6", person=Ref(A), residence_kind="temporary", commune="00070",
        address="3 Hàng Trống", until="2028-09-02", effective="2025-09-01"),  # too long
    act("residence", "TT-7", person=Ref(A), residence_kind="temporary", commune="00070",
        address="3 Hàng Trống", until="2026-08-31", effective="2025-09-01"),
    act("extend_residence", "GH-1", person=Ref(A), until="2027-09-01",
        effective="2026-03-01"),
    act("residence", "TT-8", person=Ref(C), residence_kind="permanent", commune="00082",
        address="9 Phố Huế", new_household=True, effective="2025-08-01"),  # deceased
    act("residence", "TT-9", person=Ref(F), residence_kind="permanent", commune="99999",
        address="1 Nơi Nào", new_household=True, effective="2025-08-01"),  # no such commune
    act("abode", "NO-1", person=Ref(F), commune="00229", address="Gầm cầu",
        effective="2025-10-01"),
    act("abode", "NO-2", person=Ref(A), commune="00229", address="Gầm cầu",
        effective="2025-10-01"),  # has a residence
    act("change_head", "CH-1", household=HouseholdOf(B), head=Ref(A), effective="2025-11-01"),
    act("change_head", "CH-2", household=HouseholdOf(B), head=Ref(F), effective="2025-11-01"),
    act("split_household", "TH-1", household=HouseholdOf(B), members=[Ref(G)], head=Ref(G),
        effective="2026-01-02"),
    act("end_residence", "XT-1", person=Ref(A), residence_kind="permanent",
        ground="settled_abroad", effective="2026-02-01"),  # the head leaves: headless
    act("end_residence", "XT-2", person=Ref(A), residence_kind="permanent",
        ground="absent", effective="2026-02-02"),  # nothing left to end
    act("confirm_record", "XM-1", person=Ref(B)),
    act("confirm_record", "XM-2", person=Ref(B)),
    act("propose_deletion", "DX-1", person=Ref(F), reason="không xác minh được"),
    act("withdraw_deletion_proposal", "DX-2", person=Ref(F)),
    act("withdraw_deletion_proposal", "DX-3", person=Ref(F)),
    act("death", "KT-8", person=Ref(B), died_on="2026-03-01"),  # leaves the household
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
        for rows in (BIRTHS, LATER, RESIDENCE[:1], RESIDENCE[1:]):
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
        outcomes = [o for rows in (BIRTHS, LATER, RESIDENCE) for o in as_clerk(register, rows)]
    finally:
        register.close()
    codes = {o[1] for o in outcomes if o[0] == "refused"}
    assert codes == {"2", "3", "4"}
    assert ("already",) in outcomes
    assert sum(1 for o in outcomes if o == ("recorded",)) >= 15
    refusals = " | ".join(o[2] for o in outcomes if o[0] == "refused")
    for message in (
        "different birth act",
        "would precede Vietnamese nationality",
        "would precede an act recorded effective",
        "more than 300 days before the birth",
        "before the birth on 2019-07-01",
        "a father must be recorded male",
        "cannot be both the father and the mother",
        "was merged as a duplicate into 002",
        "would be 4 at the birth",
        "a birth registered on 2001-02-10 cannot precede the birth 2001-03-03",
        "would be 9 at the birth",
        "is already a member of household HK",
        "is the commune of the permanent residence",
        "lasts at most 2 years",
        "no permanent residence registration after death",
        "'99999' is not a commune code in force on 2025-08-01",
        "a current abode is declared only without one",
        "is not a member of household HK",
        "no current permanent residence on 2026-02-02",
        "the record is already confirmed",
        "no proposal to delete the record is pending",
    ):
        assert message in refusals, message
