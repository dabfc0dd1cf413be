"""The clerk's CLI contract: commands, JSON documents and exit codes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cli.main import app

#: Runs `civledger ARGS` in-process; `env` adds to the clerk's environment.
Invoke = Callable[..., Result]
CLERK = {"CIVLEDGER_CLERK": "Lê Thị Lan", "CIVLEDGER_OFFICE": "HN-BADINH"}


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CIVLEDGER_STORE", raising=False)
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), env={**CLERK, **(env or {})})

    return invoke


def events_in(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0])


def register_an(run) -> str:  # type: ignore[no-untyped-def]
    result = run(
        "register-birth",
        "--name",
        "Nguyễn Văn An",
        "--sex",
        "male",
        "--born",
        "1990-03-04",
        "--province",
        "001",
        "--reference",
        "KS-1",
    )
    assert result.exit_code == 0, result.output
    return str(result.stdout.strip())


def test_register_birth_prints_the_number_alone(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    number = register_an(run)
    assert len(number) == 12
    assert number.startswith("001090")
    assert (tmp_path / "civledger.sqlite").exists()


def test_show_json_is_the_documented_document(run) -> None:  # type: ignore[no-untyped-def]
    number = register_an(run)
    result = run("show", number, "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    for key in (
        "person_id",
        "id_number",
        "cancelled_id_numbers",
        "name",
        "sex",
        "born",
        "birth_province",
        "nationality",
        "status",
        "merged_into",
        "died_on",
        "version",
    ):
        assert key in doc
    assert doc["id_number"] == number
    assert doc["status"] == "active"
    assert doc["merged_into"] is None


def test_register_birth_json_prints_the_same_document(run) -> None:  # type: ignore[no-untyped-def]
    result = run(
        "register-birth",
        "--name",
        "Trần Thị Bình",
        "--sex",
        "female",
        "--born",
        "1985-02-03",
        "--province",
        "079",
        "--reference",
        "KS-9",
        "--json",
    )
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc.pop("already_recorded") is False  # an additive key of the writes' documents
    assert doc == json.loads(run("show", doc["id_number"], "--json").stdout)


def test_history_json_lists_events_oldest_first(run) -> None:  # type: ignore[no-untyped-def]
    number = register_an(run)
    assert (
        run("record-death", number, "--died-on", "2024-01-02", "--reference", "KT-1").exit_code == 0
    )
    result = run("history", number, "--json")
    assert result.exit_code == 0
    items = json.loads(result.stdout)
    assert [i["type"] for i in items] == ["BirthRegistered", "IdNumberAssigned", "DeathRegistered"]
    assert {
        "position",
        "type",
        "occurred_on",
        "recorded_at",
        "clerk",
        "office",
        "reference",
        "data",
    } <= set(items[0])
    assert items[2]["occurred_on"] == "2024-01-02"
    assert items[2]["reference"] == "KT-1"


def test_a_retry_succeeds_and_writes_nothing(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    number = register_an(run)
    before = events_in(tmp_path / "civledger.sqlite")
    again = register_an(run)
    assert again == number
    assert events_in(tmp_path / "civledger.sqlite") == before


@pytest.mark.parametrize(
    "args",
    [
        [
            "register-birth",
            "--name",
            "X",
            "--sex",
            "male",
            "--born",
            "1899-12-31",
            "--province",
            "001",
            "--reference",
            "KS-2",
        ],
        [
            "register-birth",
            "--name",
            "X",
            "--sex",
            "male",
            "--born",
            "2099-01-01",
            "--province",
            "001",
            "--reference",
            "KS-2",
        ],
        [
            "register-birth",
            "--name",
            "X",
            "--sex",
            "male",
            "--born",
            "1990-02-30",
            "--province",
            "001",
            "--reference",
            "KS-2",
        ],
        [
            "register-birth",
            "--name",
            "X",
            "--sex",
            "male",
            "--born",
            "1990-01-01",
            "--province",
            "003",
            "--reference",
            "KS-2",
        ],
        [
            "register-birth",
            "--name",
            "X",
            "--sex",
            "robot",
            "--born",
            "1990-01-01",
            "--province",
            "001",
            "--reference",
            "KS-2",
        ],
        ["register-birth", "--name", "X", "--sex", "male", "--born", "1990-01-01"],
        ["show", "12345"],
        ["record-death", "00109012345x", "--died-on", "2020-01-01", "--reference", "KT-9"],
        ["no-such-command"],
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    run: Invoke,
    tmp_path: Path,
    args: list[str],
) -> None:
    register_an(run)
    before = events_in(tmp_path / "civledger.sqlite")
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert events_in(tmp_path / "civledger.sqlite") == before


def test_a_missing_clerk_or_office_is_bad_input(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(
        app,
        [
            "register-birth",
            "--name",
            "X",
            "--sex",
            "male",
            "--born",
            "1990-01-01",
            "--province",
            "001",
            "--reference",
            "KS-2",
        ],
        env={"CIVLEDGER_CLERK": "", "CIVLEDGER_OFFICE": "HN"},
    )
    assert result.exit_code == 2
    assert "clerk" in result.stderr
    assert not (tmp_path / "civledger.sqlite").exists()


def test_a_rule_refusal_exits_3(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    number = register_an(run)
    assert (
        run("record-death", number, "--died-on", "2020-01-01", "--reference", "KT-1").exit_code == 0
    )
    before = events_in(tmp_path / "civledger.sqlite")
    result = run("renounce-nationality", number, "--effective", "2021-01-01", "--reference", "QD-1")
    assert result.exit_code == 3
    assert "died" in result.stderr
    assert events_in(tmp_path / "civledger.sqlite") == before


def test_a_reused_reference_exits_3(run) -> None:  # type: ignore[no-untyped-def]
    register_an(run)
    result = run(
        "register-birth",
        "--name",
        "Trần Thị Bình",
        "--sex",
        "female",
        "--born",
        "1985-02-03",
        "--province",
        "079",
        "--reference",
        "KS-1",
    )
    assert result.exit_code == 3
    assert "already used" in result.stderr


def test_an_unknown_id_exits_4(run) -> None:  # type: ignore[no-untyped-def]
    register_an(run)
    assert run("show", "001090000001").exit_code == 4
    assert run("history", "123e4567-e89b-12d3-a456-426614174000").exit_code == 4


def test_an_unreachable_store_exits_1(run) -> None:  # type: ignore[no-untyped-def]
    result = run(
        "show",
        "001090000001",
        "--store",
        "postgresql://postgres@127.0.0.1:1/nowhere",
        env={"CIVLEDGER_CONNECT_TIMEOUT": "1"},
    )
    assert result.exit_code == 1
    assert "unreachable" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_correction_reissues_and_merge_reports(run) -> None:  # type: ignore[no-untyped-def]
    first = register_an(run)
    changed = run(
        "change-record",
        first,
        "--field",
        "born",
        "--value",
        "1991-03-04",
        "--kind",
        "correction",
        "--reference",
        "CC-1",
        "--json",
    )
    assert changed.exit_code == 0
    doc = json.loads(changed.stdout)
    assert doc["cancelled_id_numbers"] == [first]
    assert doc["id_number"].startswith("001091")
    dup = run(
        "register-birth",
        "--name",
        "Nguyễn Văn An",
        "--sex",
        "male",
        "--born",
        "1991-03-04",
        "--province",
        "001",
        "--reference",
        "KS-77",
        "--office",
        "HCM-Q1",
        "--allow-possible-duplicate",  # the same person twice, merged just below
    ).stdout.strip()
    merged = run(
        "merge-duplicate", dup, "--into", doc["id_number"], "--reference", "GB-1", "--json"
    )
    assert merged.exit_code == 0, merged.output
    assert json.loads(merged.stdout)["merged_into"] == doc["id_number"]
    assert json.loads(run("show", dup, "--json").stdout)["status"] == "merged"


def test_init_is_idempotent_and_help_works(run) -> None:  # type: ignore[no-untyped-def]
    assert run("init").exit_code == 0
    assert run("init", "--json").exit_code == 0
    assert run("-h").exit_code == 0
    assert "register-birth" in run("--help").stdout


@pytest.mark.parametrize(
    "args",
    [
        ["show", "001090000001"],
        ["history", "123e4567-e89b-12d3-a456-426614174000"],
        ["report"],
        ["verify", "001090000001", "--name", "An", "--born", "1990-01-01"],
        ["find", "--name", "An"],
        ["projections", "status"],
        ["projections", "digest"],
        ["projections", "catch-up"],
        ["audit", "verify"],
    ],
)
def test_a_reader_refuses_a_missing_sqlite_store_and_creates_nothing(
    run: Invoke,
    tmp_path: Path,
    args: list[str],
) -> None:
    typo = tmp_path / "typo.sqlite"
    result = run(*args, "--store", f"sqlite:///{typo}")
    assert result.exit_code == 1, result.output
    assert result.stderr == f"civledger: error: no SQLite store at {typo}\n"
    assert not typo.exists()
    assert list(tmp_path.iterdir()) == []


def test_reading_from_a_missing_events_source_creates_nothing(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    number = register_an(run)
    typo = tmp_path / "replica.sqlite"
    for args in (["show", number], ["history", number], ["report"], ["projections", "status"]):
        result = run(*args, "--events-from", f"sqlite:///{typo}")
        assert result.exit_code == 1, result.output
        assert "no SQLite store" in result.stderr
        assert not typo.exists()


def test_writers_create_a_missing_sqlite_store(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fresh = tmp_path / "fresh.sqlite"
    assert run("init", "--store", f"sqlite:///{fresh}").exit_code == 0
    assert events_in(fresh) == 0
    register_an(run)
    assert events_in(tmp_path / "civledger.sqlite") > 0


def test_merged_into_is_the_survivors_uuid_when_it_holds_no_number(run) -> None:  # type: ignore[no-untyped-def]
    born = ["--sex", "female", "--born", "2010-10-10", "--province", "001"]
    survivor = run(
        "register-birth",
        "--name",
        "Phạm Thu Hà",
        *born,
        "--nationality",
        "undetermined",
        "--registered-on",
        "2010-10-20",
        "--reference",
        "KS-1",
        "--json",
    )
    assert survivor.exit_code == 0, survivor.output
    survivor_doc = json.loads(survivor.stdout)
    assert survivor_doc["id_number"] is None
    duplicate = run(
        "register-birth",
        "--name",
        "Phạm Thu Hà",
        *born,
        "--nationality",
        "undetermined",  # neither record holds a number: the earliest record survives
        "--registered-on",
        "2011-01-05",
        "--reference",
        "KS-2",
        "--allow-possible-duplicate",
        "--json",
    )
    duplicate = json.loads(duplicate.stdout)["person_id"]
    merged = run(
        "merge-duplicate", duplicate, "--into", survivor_doc["person_id"], "--reference", "GB-1"
    )
    assert merged.exit_code == 0, merged.output
    shown = json.loads(run("show", duplicate, "--json").stdout)
    assert shown["status"] == "merged"
    assert shown["merged_into"] == survivor_doc["person_id"]


def test_renunciation_shows_nationality_ended_and_no_new_number(run) -> None:  # type: ignore[no-untyped-def]
    number = register_an(run)
    renounced = run(
        "renounce-nationality", number, "--effective", "2021-07-01", "--reference", "QD-1"
    )
    assert renounced.exit_code == 0, renounced.output
    doc = json.loads(run("show", number, "--json").stdout)
    assert (doc["nationality"], doc["status"], doc["id_number"]) == (
        "renounced",
        "renounced",
        number,
    )
    changed = run(
        "change-record",
        number,
        *("--field", "sex", "--value", "female", "--kind", "redetermination"),
        *("--reference", "XDGT-1", "--json"),
    )
    assert changed.exit_code == 0, changed.output
    after = json.loads(changed.stdout)
    assert after["id_number"] is None
    assert after["cancelled_id_numbers"] == [number]


def test_a_number_with_an_unconfigured_code_is_looked_up_not_refused(run) -> None:  # type: ignore[no-untyped-def]
    register_an(run)
    # 900 is a birth-abroad code only while CIVLEDGER_ABROAD_CODES names it; a number issued
    # under it still resolves: this one is simply unknown (4), not bad input (2).
    assert run("show", "900190000042").exit_code == 4
    assert run("history", "900190000042").exit_code == 4


def test_change_record_refuses_an_effective_date_before_birth(run) -> None:  # type: ignore[no-untyped-def]
    number = register_an(run)
    result = run(
        "change-record",
        number,
        *("--field", "name", "--value", "Nguyễn Văn Bình", "--kind", "change"),
        *("--reference", "TD-1", "--effective", "1990-01-01"),
    )
    assert result.exit_code == 3
    assert "cannot precede the birth" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_supplement_of_born_is_refused_naming_the_kinds_allowed(run) -> None:  # type: ignore[no-untyped-def]
    number = register_an(run)
    result = run(
        "change-record",
        number,
        *("--field", "born", "--value", "1990-03-05", "--kind", "supplement"),
        *("--reference", "BS-1"),
    )
    assert result.exit_code == 3
    assert "allowed: correction" in result.stderr


def test_a_timely_birth_recorded_long_after_is_not_late(run) -> None:  # type: ignore[no-untyped-def]
    born = ["--sex", "male", "--born", "1990-03-04", "--province", "001"]
    timely = run(
        "register-birth",
        "--name",
        "Nguyễn Văn An",
        *born,
        "--registered-on",
        "1990-03-20",
        "--reference",
        "KS-1",
    ).stdout.strip()
    late = run(
        "register-birth",
        "--name",
        "Trần Văn Bảo",
        *born,
        "--registered-on",
        "1991-03-20",
        "--reference",
        "KS-2",
    ).stdout.strip()
    flags = {
        number: json.loads(run("history", number, "--json").stdout)[0]["late"]
        for number in (timely, late)
    }
    assert flags == {timely: False, late: True}
