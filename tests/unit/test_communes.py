"""The commune directory: official codes read with their date, from the package chosen.

The evidence for the choice (vietnamadminunits, not vietnam-provinces 2025.10.1) and the
figures recounted here are in docs/residence.md, "Commune codes".
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import unicodedata
from contextlib import closing
from datetime import date
from importlib.metadata import version
from pathlib import Path

import pytest

from infrastructure.communes import (
    COMMUNES,
    LISTS,
    TWO_TIER_2025,
    CommuneDataUnavailable,
    CommuneList,
    PackagedCommunes,
)

BEFORE = date(2025, 6, 30)
FROM = date(2025, 7, 1)
LATER = date(2026, 3, 1)
LONG_BEFORE = date(1990, 1, 1)
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("on", [FROM, LATER])
def test_a_code_names_its_2025_commune_from_1_july_2025(on: date) -> None:
    assert COMMUNES.name_on("00070", on) == "Phường Hoàn Kiếm"


@pytest.mark.parametrize("on", [BEFORE, LONG_BEFORE])
def test_the_same_code_names_the_older_commune_before_1_july_2025(on: date) -> None:
    assert COMMUNES.name_on("00070", on) == "Phường Hàng Trống"


def test_a_code_of_the_older_list_only_is_refused_from_1_july_2025() -> None:
    assert COMMUNES.name_on("00001", BEFORE) == "Phường Phúc Xá"
    assert COMMUNES.name_on("00001", FROM) is None


@pytest.mark.parametrize("on", [LONG_BEFORE, BEFORE, FROM, LATER])
@pytest.mark.parametrize("code", ["99999", "00000", "00002", "0007O", " 00070", "7O"])
def test_a_made_up_code_is_refused_on_both_sides(code: str, on: date) -> None:
    assert COMMUNES.name_on(code, on) is None


@pytest.mark.parametrize("on", [BEFORE, FROM])
@pytest.mark.parametrize(
    "code",
    [
        "01",  # Hà Nội, a province
        "001",  # Quận Ba Đình, a district (and Hà Nội's province code in an ID number)
        "002",  # Quận Hoàn Kiếm, a district
        "70",  # 00070 without its leading zeros: never guessed
    ],
)
def test_a_province_or_district_code_is_not_a_commune_code(code: str, on: date) -> None:
    assert COMMUNES.name_on(code, on) is None


def test_phuong_cua_nam_is_00082_from_1_july_2025_as_the_official_list_has_it() -> None:
    assert COMMUNES.name_on("00082", FROM) == "Phường Cửa Nam"
    assert COMMUNES.name_on("00073", FROM) is None  # vietnam-provinces 2025.10.1's code
    # Before, 00073 was the old Phường Cửa Nam and 00082 Phường Trần Hưng Đạo.
    assert COMMUNES.name_on("00073", BEFORE) == "Phường Cửa Nam"
    assert COMMUNES.name_on("00082", BEFORE) == "Phường Trần Hưng Đạo"


@pytest.mark.parametrize(
    ("code", "name"),
    [
        # The codes on which the two packages disagree, as the NSO's register has them
        # (docs/residence.md): vietnamadminunits' answer each time.
        ("00082", "Phường Cửa Nam"),
        ("00229", "Phường Kim Liên"),
        ("00226", "Phường Văn Miếu - Quốc Tử Giám"),
        ("00331", "Phường Hoàng Mai"),
        ("00340", "Phường Yên Sở"),
        ("13285", "Phường Phủ Lý"),
        ("13291", "Phường Phù Vân"),
        ("13318", "Phường Châu Sơn"),
        ("31207", "Phường Thốt Nốt"),
        ("06970", "Xã Ba Chẽ"),
    ],
)
def test_the_chosen_source_gives_the_official_2025_codes(code: str, name: str) -> None:
    assert COMMUNES.name_on(code, FROM) == name


def test_the_2025_list_has_the_3321_communes_and_the_older_one_10035() -> None:
    assert len(COMMUNES.codes_on(FROM)) == 3321
    assert len(COMMUNES.codes_on(LATER)) == 3321
    assert len(COMMUNES.codes_on(BEFORE)) == 10035
    assert COMMUNES.codes_on(LONG_BEFORE) is COMMUNES.codes_on(BEFORE)


def test_the_version_names_the_list_and_the_package_it_comes_from() -> None:
    installed = version("vietnamadminunits")
    assert COMMUNES.version_on(FROM) == f"2025 two-tier list (vietnamadminunits {installed})"
    assert COMMUNES.version_on(BEFORE) == (
        f"pre-2025 three-tier list, as in force on 30 June 2025 (vietnamadminunits {installed})"
    )


def test_the_list_in_force_changes_on_1_july_2025() -> None:
    assert COMMUNES.list_on(FROM) is TWO_TIER_2025
    assert COMMUNES.list_on(BEFORE) is LISTS[0]
    assert COMMUNES.list_on(date.min) is LISTS[0]


def _run(code: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_the_domain_refuses_every_code_until_a_directory_is_configured() -> None:
    result = _run(
        "import json\n"
        "from datetime import date\n"
        "from domain.reference import communes\n"
        "print(json.dumps({\n"
        "    'names': [communes().name_on(code, on) for code in ('00070', '00082', '00001')\n"
        "              for on in (date(2025, 6, 30), date(2025, 7, 1))],\n"
        "    'version': communes().version_on(date(2025, 7, 1)),\n"
        "}))\n"
    )
    assert result == {"names": [None] * 6, "version": "no commune list configured"}


def test_importing_and_configuring_reads_no_data_the_first_code_reads_one_list() -> None:
    result = _run(
        "import json, sys\n"
        "from datetime import date\n"
        "opened = []\n"
        "def watch(event, args):\n"
        "    if event in ('open', 'sqlite3.connect') and 'dataset.db' in str(args[0]):\n"
        "        opened.append(event)\n"
        "sys.addaudithook(watch)\n"
        "import infrastructure.communes as module\n"
        "from infrastructure.settings import configure_from_env\n"
        "from domain.reference import communes\n"
        "configure_from_env()\n"
        "before = {'opened': len(opened), 'loaded': list(module.COMMUNES.loaded()),\n"
        "          'package_imported': 'vietnamadminunits' in sys.modules,\n"
        "          'configured': communes() is module.COMMUNES}\n"
        "name = communes().name_on('00070', date(2025, 7, 1))\n"
        "after = {'opened': len(opened), 'loaded': list(module.COMMUNES.loaded()),\n"
        "         'package_imported': 'vietnamadminunits' in sys.modules, 'name': name}\n"
        "print(json.dumps({'before': before, 'after': after}))\n"
    )
    assert result["before"] == {
        "opened": 0,
        "loaded": [],
        "package_imported": False,
        "configured": True,
    }
    after = result["after"]
    assert isinstance(after, dict)
    assert after["opened"] >= 1
    assert after["loaded"] == ["2025 two-tier list"]  # the older list is still unread
    assert after["package_imported"] is False  # its data is read, its code is not imported
    assert after["name"] == "Phường Hoàn Kiếm"


def test_each_list_is_read_once_and_kept() -> None:
    directory = PackagedCommunes()
    assert directory.loaded() == ()
    first = directory.codes_on(FROM)
    assert directory.codes_on(LATER) is first
    assert directory.loaded() == ("2025 two-tier list",)


def test_the_lists_are_what_the_package_itself_gives() -> None:
    """The directory reads the package's dataset directly (its import is slow): the same rows
    as its public `get_data()`, so an upgrade that moves them fails here, not in production."""
    from vietnamadminunits.database import get_data  # type: ignore[import-untyped]

    for commune_list in LISTS:
        rows = get_data(fields=["wardCode", "ward"], table=commune_list.table)
        expected = {row["wardCode"]: row["ward"] for row in rows if row["wardCode"]}
        on = max(commune_list.effective_from, LONG_BEFORE)
        assert dict(COMMUNES.codes_on(on)) == expected


def _normal(name: str) -> str:
    """A name without the spelling differences of the two packages: Unicode form, case,
    spaces, the curly apostrophe, and the old and new places of the tone mark (Hoà, Hòa)."""
    text = " ".join(unicodedata.normalize("NFC", name).casefold().replace("\u2019", "'").split())
    for old, new in (
        ("oà", "òa"), ("oá", "óa"), ("oả", "ỏa"), ("oã", "õa"), ("oạ", "ọa"),
        ("oè", "òe"), ("oé", "óe"), ("oẻ", "ỏe"), ("oẽ", "õe"), ("oẹ", "ọe"),
        ("uỳ", "ùy"), ("uý", "úy"), ("uỷ", "ủy"), ("uỹ", "ũy"), ("uỵ", "ụy"),
    ):  # fmt: skip
        text = text.replace(old, new)
    return text.replace("\u2013", "-")  # the en dash one package writes


def test_vietnam_provinces_2025_10_1_disagrees_on_123_of_the_3321_codes() -> None:
    """The figures of docs/residence.md, recounted from the rejected source (a dev
    dependency, kept only for this)."""
    from vietnam_provinces import Ward

    assert version("vietnam-provinces") == "2025.10.1"
    theirs = {f"{ward.code:05d}": ward.name for ward in Ward.iter_all()}
    ours = COMMUNES.codes_on(FROM)
    assert len(theirs) == len(ours) == 3321
    only_theirs = set(theirs) - set(ours)
    assert len(only_theirs) == len(set(ours) - set(theirs)) == 114
    other_commune = {
        code for code in set(theirs) & set(ours) if _normal(theirs[code]) != _normal(ours[code])
    }
    assert other_commune == {
        "00226", "00331", "01537", "01558", "01561", "13285", "13291", "13318", "31207",
    }  # fmt: skip
    assert theirs["00073"] == "Phường Cửa Nam"
    # Each of their 114 codes is a pre-2025 code, given to a commune that the chosen list
    # has under another code (00073 for Phường Cửa Nam, which the official list numbers 00082).
    assert only_theirs <= set(COMMUNES.codes_on(BEFORE))
    by_name = {_normal(name) for name in ours.values()}
    assert sum(_normal(theirs[code]) in by_name for code in only_theirs) == 114


def _dataset(tmp_path: Path, rows: list[tuple[str | None, str | None]]) -> Path:
    path = tmp_path / "dataset.db"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE admin_units (wardCode TEXT, ward TEXT)")
        connection.executemany("INSERT INTO admin_units VALUES (?, ?)", rows)
        connection.commit()
    return path


@pytest.mark.parametrize(
    "rows",
    [
        [("00070", "Phường Hoàn Kiếm"), ("001", "Quận Ba Đình")],  # a district code
        [("00070", "Phường Hoàn Kiếm"), ("00070", "Phường Hàng Trống")],  # two names
        [("00070", "")],  # no name
    ],
)
def test_data_of_another_shape_is_refused_not_guessed(
    tmp_path: Path, rows: list[tuple[str | None, str | None]]
) -> None:
    directory = PackagedCommunes(lists=(TWO_TIER_2025,), path=_dataset(tmp_path, rows))
    with pytest.raises(CommuneDataUnavailable):
        directory.name_on("00070", FROM)


def test_rows_without_a_commune_are_skipped(tmp_path: Path) -> None:
    path = _dataset(tmp_path, [("00070", "Phường  Hoàn Kiếm"), (None, None)])
    directory = PackagedCommunes(lists=(TWO_TIER_2025,), path=path)
    assert directory.codes_on(FROM) == {"00070": "Phường Hoàn Kiếm"}


def test_a_missing_table_or_package_is_a_broken_installation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renamed = CommuneList("renamed list", FROM, table="no_such_table")
    directory = PackagedCommunes(lists=(renamed,), path=_dataset(tmp_path, []))
    with pytest.raises(CommuneDataUnavailable, match="renamed list"):
        directory.name_on("00070", FROM)

    monkeypatch.setattr("infrastructure.communes.SOURCE_PACKAGE", "no_such_package_here")
    with pytest.raises(CommuneDataUnavailable, match="not installed"):
        PackagedCommunes().name_on("00070", FROM)
    with pytest.raises(CommuneDataUnavailable, match="not installed"):
        PackagedCommunes().version_on(FROM)
