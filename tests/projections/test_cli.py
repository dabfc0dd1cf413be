"""The read-model CLI contract: commands, JSON documents and exit codes, on both backends."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from infrastructure.store_url import StoreURL

#: Runs `civledger ARGS` in-process; `env` adds to the clerk's environment.
Invoke = Callable[..., Result]
CLERK = {"CIVLEDGER_CLERK": "Lê Thị Lan", "CIVLEDGER_OFFICE": "HN-BADINH"}


@pytest.fixture
def run(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.chdir(tmp_path)
    for name in ("CIVLEDGER_STORE", "CIVLEDGER_VIEWS", "CIVLEDGER_EVENTS_FROM"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(
            app, list(args), env={**CLERK, "CIVLEDGER_STORE": store_url, **(env or {})}
        )

    return invoke


def birth(
    run: Invoke,
    reference: str,
    name: str = "Nguyễn Văn An",
    born: str = "1990-03-04",
    *extra: str,
) -> Any:
    return run(
        "register-birth",
        "--name",
        name,
        "--sex",
        "male",
        "--born",
        born,
        "--province",
        "001",
        "--reference",
        reference,
        "--registered-on",
        born,
        *extra,
    )


def test_report_json_has_the_documented_keys(run) -> None:  # type: ignore[no-untyped-def]
    number = birth(run, "KS-1").stdout.strip()
    assert birth(run, "KS-2", "Đỗ Văn Bình", "2001-02-03").exit_code == 0
    assert (
        run("record-death", number, "--died-on", "2020-01-01", "--reference", "KT-1").exit_code == 0
    )
    result = run("report", "--since", "2000-01-01", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == {
        "people": 2,
        "active_id_numbers": 1,
        "cancelled_id_numbers": 0,
        "deceased": 1,
        "renounced": 0,
        "merged_duplicates": 0,
        "without_id_number": 0,
        "record_changes": {},
        "births_since": 1,
        "by_province": {"001": 1},
        "households": 0,
        "households_without_head": 0,
        "permanent_residents": 0,
        "temporary_residents": 0,
        "without_permanent_residence": 1,
        "unconfirmed": 1,
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
            "citizens_14_and_over_without_valid_card": 1,  # Bình, 25, no card; An is dead
            "eids_active": 0,
            "eids_locked": 0,
        },
    }


def test_report_reads_as_a_table(run) -> None:  # type: ignore[no-untyped-def]
    birth(run, "KS-1")
    result = run("report")
    assert result.exit_code == 0
    assert "active ID numbers" in result.stdout
    assert "001 Hà Nội" in result.stdout


def test_verify_ignores_case_and_diacritics(run) -> None:  # type: ignore[no-untyped-def]
    number = birth(run, "KS-1").stdout.strip()
    result = run("verify", number, "--name", "NGUYEN VAN AN", "--born", "1990-03-04", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"match": True, "status": "active"}
    result = run("verify", number, "--name", "Nguyễn Văn Anh", "--born", "1990-03-04")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"{number}: no match; status active"


def test_verify_accepts_a_person_uuid(run) -> None:  # type: ignore[no-untyped-def]
    number = birth(run, "KS-1").stdout.strip()
    person_id = json.loads(run("show", number, "--json").stdout)["person_id"]
    result = run("verify", person_id, "--name", "nguyen van an", "--born", "1990-03-04", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"match": True, "status": "active"}
    result = run("verify", person_id, "--name", "Nguyễn Văn An", "--born", "1990-03-05")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"{person_id}: no match; status active"
    died = run("record-death", person_id, "--died-on", "2020-01-01", "--reference", "KT-1")
    assert died.exit_code == 0, died.output
    dead = run("verify", person_id, "--name", "Nguyễn Văn An", "--born", "1990-03-04", "--json")
    assert json.loads(dead.stdout) == {"match": True, "status": "deceased"}


def test_verify_of_an_unknown_person_uuid_is_no_error(run) -> None:  # type: ignore[no-untyped-def]
    birth(run, "KS-1")
    result = run(
        "verify",
        "123e4567-e89b-12d3-a456-426614174000",
        "--name",
        "Nguyễn Văn An",
        "--born",
        "1990-03-04",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"match": False, "status": "unknown"}


def test_verify_of_an_unknown_number_is_no_error(run) -> None:  # type: ignore[no-untyped-def]
    assert run("init").exit_code == 0
    result = run("verify", "001090123456", "--name", "Ai Đó", "--born", "1990-01-01", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"match": False, "status": "unknown"}


@pytest.mark.parametrize(
    "args",
    [
        ("verify", "12345", "--name", "An", "--born", "1990-01-01"),
        ("verify", "001090123456", "--name", "An", "--born", "01/01/1990"),
        ("find", "--name", "An", "--province", "999"),
        ("report", "--since", "yesterday"),
        ("projections", "catch-up", "nobody"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    result = run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("civledger: error: ")


def test_find_lists_candidates_with_their_numbers(run) -> None:  # type: ignore[no-untyped-def]
    number = birth(run, "KS-1").stdout.strip()
    birth(run, "KS-2", "Đỗ Văn Bình", "2001-02-03")
    result = run("find", "--name", "nguyen an", "--json")
    assert result.exit_code == 0
    found = json.loads(result.stdout)
    assert [p["id_number"] for p in found] == [number]
    assert found[0]["name"] == "Nguyễn Văn An"
    result = run("find", "--name", "do", "--born", "2001-02-03", "--province", "001")
    assert result.exit_code == 0
    assert "Đỗ Văn Bình" in result.stdout
    assert run("find", "--name", "nguyen", "--born", "1999-09-09", "--json").stdout.strip() == "[]"


def test_status_catch_up_rebuild_and_digest(run) -> None:  # type: ignore[no-untyped-def]
    birth(run, "KS-1")
    status = json.loads(run("projections", "status", "--json").stdout)
    head = status["people"]["head"]
    assert status["people"] == {"position": 0, "head": head, "lag": head}
    caught = run("projections", "catch-up", "--json")
    assert caught.exit_code == 0
    assert json.loads(caught.stdout)["statistics"] == {"position": head}
    digest = json.loads(run("projections", "digest", "--json").stdout)
    assert set(digest) == {"people", "id_numbers", "statistics", "cards"}
    rebuilt = run("projections", "rebuild", "people", "--json")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert json.loads(rebuilt.stdout) == {"people": {"position": head, "rebuilt": True}}
    assert json.loads(run("projections", "digest", "--json").stdout) == digest
    text = run("projections", "status")
    assert text.exit_code == 0
    assert text.stdout.splitlines()[1].split() == ["people", str(head), str(head), "0"]


def test_no_catch_up_answers_from_the_models_as_they_are(run) -> None:  # type: ignore[no-untyped-def]
    number = birth(run, "KS-1").stdout.strip()
    result = run(
        "verify",
        number,
        "--name",
        "Nguyễn Văn An",
        "--born",
        "1990-03-04",
        "--no-catch-up",
        "--json",
    )
    assert json.loads(result.stdout) == {"match": False, "status": "unknown"}
    assert json.loads(run("report", "--json", "--no-catch-up").stdout)["people"] == 0


def test_a_possible_duplicate_birth_is_refused_unless_confirmed(run) -> None:  # type: ignore[no-untyped-def]
    first = birth(run, "KS-1").stdout.strip()
    refused = birth(run, "KS-2", "NGUYEN van an")
    assert refused.exit_code == 3
    assert refused.stdout == ""
    assert f"possible duplicate of {first}" in refused.stderr
    assert json.loads(run("report", "--json").stdout)["people"] == 1
    allowed = birth(run, "KS-2", "NGUYEN van an", "1990-03-04", "--allow-possible-duplicate")
    assert allowed.exit_code == 0, allowed.output
    assert "possible duplicate" in allowed.stderr
    retried = birth(run, "KS-2", "NGUYEN van an")
    assert retried.exit_code == 0
    assert retried.stdout == allowed.stdout
    again = birth(run, "KS-1")
    assert again.exit_code == 0
    assert again.stdout.strip() == first
    assert json.loads(run("report", "--json").stdout)["people"] == 2


def database_contents(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the database, with all its rows in a fixed order."""
    store = StoreURL.parse(url)
    if store.is_sqlite:
        with sqlite3.connect(f"file:{store.path}?mode=ro", uri=True) as conn:
            names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master ORDER BY name")]
            tables = [
                n
                for (n,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
            contents = {t: sorted(conn.execute(f"SELECT * FROM {t}"), key=repr) for t in tables}
        contents["(schema)"] = [(n,) for n in names]
        return contents
    with psycopg.connect(url) as pg:
        tables = [
            n
            for (n,) in pg.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        contents = {
            t: sorted(pg.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables
        }
    contents["(schema)"] = [(t,) for t in tables]
    return contents


def test_a_refused_duplicate_birth_leaves_the_database_unchanged(  # type: ignore[no-untyped-def]
    run, store_url: str, tmp_path: Path
) -> None:
    birth(run, "KS-1")
    # The people model is caught up to the log as it was before this birth, so the look-alike
    # below is found among the events the model has not applied yet.
    second = birth(run, "KS-2", "Đỗ Văn Bình", "2001-02-03").stdout.strip()
    before = database_contents(store_url)
    refused = birth(run, "KS-3", "do van binh", "2001-02-03")
    assert refused.exit_code == 3
    assert f"possible duplicate of {second}" in refused.stderr
    assert database_contents(store_url) == before
    elsewhere = tmp_path / "new-views.sqlite"
    refused = birth(run, "KS-3", "do van binh", "2001-02-03", "--views", f"sqlite:///{elsewhere}")
    assert refused.exit_code == 3
    assert f"possible duplicate of {second}" in refused.stderr
    assert not elsewhere.exists()
    assert database_contents(store_url) == before


def test_a_recorded_birth_brings_the_people_model_up_to_where_the_check_read(  # type: ignore[no-untyped-def]
    run, tmp_path: Path
) -> None:
    birth(run, "KS-1")
    head = json.loads(run("projections", "status", "--json").stdout)["people"]["head"]
    birth(run, "KS-2", "Đỗ Văn Bình", "2001-02-03")
    status = json.loads(run("projections", "status", "--json").stdout)
    assert status["people"]["position"] == head
    assert status["id_numbers"]["position"] == 0
    apart = f"sqlite:///{tmp_path / 'new-views.sqlite'}"
    assert birth(run, "KS-3", "Trần Minh Châu", "2001-01-01", "--views", apart).exit_code == 0
    kept = json.loads(run("projections", "status", "--json", "--views", apart).stdout)
    assert kept["people"]["position"] == status["people"]["head"]


def test_another_birth_date_or_province_is_no_duplicate(run) -> None:  # type: ignore[no-untyped-def]
    birth(run, "KS-1")
    assert birth(run, "KS-2", "Nguyễn Văn An", "1990-03-05").exit_code == 0


def test_read_models_in_a_separate_database(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    views = {"CIVLEDGER_VIEWS": f"sqlite:///{tmp_path / 'views.sqlite'}"}
    number = birth(run, "KS-1").stdout.strip()
    result = run(
        "verify", number, "--name", "Nguyễn Văn An", "--born", "1990-03-04", "--json", env=views
    )
    assert json.loads(result.stdout) == {"match": True, "status": "active"}
    assert (tmp_path / "views.sqlite").exists()
    run("projections", "catch-up", env=views)  # verify caught up only the models it reads
    apart = json.loads(run("projections", "digest", "--json", env=views).stdout)
    run("projections", "catch-up")
    beside = json.loads(run("projections", "digest", "--json").stdout)
    assert apart == beside


def test_events_from_reads_another_log(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    birth(run, "KS-1")
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    assert run("init", "--store", other).exit_code == 0
    result = run(
        "report", "--json", "--events-from", other, "--views", f"sqlite:///{tmp_path / 'v.sqlite'}"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["people"] == 0


def test_an_unreachable_views_database_is_exit_1(run) -> None:  # type: ignore[no-untyped-def]
    result = run("report", "--views", "postgresql://nobody@127.0.0.1:1/none")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_progress_bar_shows_rate_and_eta(capsys: pytest.CaptureFixture[str]) -> None:
    from cli.progress import ProgressBar

    bar = ProgressBar("rebuilding all", enabled=True)
    bar(500, 1000)
    bar(1000, 1000)
    bar.close()
    shown = capsys.readouterr().err
    assert "1,000/1,000 events" in shown
    assert "events/s" in shown
    assert "ETA 0:00:00" in shown
    quiet = ProgressBar("rebuilding all", enabled=False)
    quiet(1, 2)
    quiet.close()
    assert capsys.readouterr().err == ""
