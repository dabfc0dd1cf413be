"""What the CLI says when it cannot use a store: one line, the reason, no password, at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from infrastructure.store_url import StoreURL

CLERK = {"CIVLEDGER_CLERK": "Lê Thị Lan", "CIVLEDGER_OFFICE": "HN-BADINH"}
HIDDEN = "s3cret"
ID = "001090000001"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for variable in ("CIVLEDGER_STORE", "CIVLEDGER_VIEWS", "CIVLEDGER_EVENTS_FROM"):
        monkeypatch.delenv(variable, raising=False)
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), env={**CLERK, **(env or {})})

    return invoke


def a_ledger(run) -> str:  # type: ignore[no-untyped-def]
    assert run("init").exit_code == 0
    return "sqlite:///civledger.sqlite"


# ------------------------------------------------------------------ malformed URLs

MALFORMED = [
    f"postgresql://postgres:{HIDDEN}@db.example:70000/x",
    f"postgresql://postgres:{HIDDEN}@/x",
    f"postgresq://postgres:{HIDDEN}@db.example/x",
    f"postgresql://postgres:{HIDDEN}@[::1/x",
]


@pytest.mark.parametrize("url", MALFORMED)
@pytest.mark.parametrize(
    "given",
    [
        ("show", ID, "--store"),
        ("show", ID, "--events-from"),
        ("report", "--views"),
        ("projections", "status", "--views"),
    ],
)
def test_a_malformed_url_is_exit_2_in_one_line_without_its_password(  # type: ignore[no-untyped-def]
    run, given: tuple[str, ...], url: str
) -> None:
    a_ledger(run)
    result = run(*given, url)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert HIDDEN not in result.output
    assert "postgres:***@" in result.stderr
    assert "unexpected" not in result.stderr


@pytest.mark.parametrize("variable", ["CIVLEDGER_STORE", "CIVLEDGER_VIEWS"])
def test_a_malformed_url_from_the_environment_never_shows_its_password(  # type: ignore[no-untyped-def]
    run, variable: str
) -> None:
    if variable == "CIVLEDGER_VIEWS":
        a_ledger(run)
    result = run("report", env={variable: f"postgresql://postgres:{HIDDEN}@[::1/x"})
    assert result.exit_code == 2, result.output
    assert HIDDEN not in result.output


# ------------------------------------------------------------ unreachable PostgreSQL


def unreachable_urls() -> list[tuple[str, str]]:
    server = StoreURL.parse(
        os.environ.get("CIVLEDGER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    at = f"{server.host}:{server.port}"
    return [
        (f"postgresql://postgres:{HIDDEN}@127.0.0.1:1/x", "connection refused"),
        (
            f"postgresql://postgres:{HIDDEN}@nohost.invalid/x",
            "failed to resolve host 'nohost.invalid'",
        ),
        (
            f"postgresql://{server.user}:{HIDDEN}@{at}/civledger_no_such_db",
            'database "civledger_no_such_db" does not exist',
        ),
        (
            f"postgresql://civledger_no_such_role:{HIDDEN}@{at}/{server.dbname}",
            'role "civledger_no_such_role" does not exist',
        ),
    ]


@pytest.mark.postgres
@pytest.mark.parametrize(("url", "reason"), unreachable_urls())
@pytest.mark.parametrize(
    "given", [("show", ID, "--store"), ("init", "--store"), ("projections", "status", "--store")]
)
def test_an_unreachable_store_says_why_at_once(  # type: ignore[no-untyped-def]
    run, postgres_admin_url: str, given: tuple[str, ...], url: str, reason: str
) -> None:
    result = run(*given, url)
    assert result.exit_code == 1, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    # The server's or the network's own reason: the library's pool, which retries until its
    # timeout, would only have said that it timed out.
    assert f"unreachable: {reason}" in result.stderr
    assert "couldn't get a connection" not in result.stderr
    assert HIDDEN not in result.output
    assert ":***@" in result.stderr


# ---------------------------------------------------------------- numeric settings


@pytest.mark.parametrize("variable", ["CIVLEDGER_CONNECT_TIMEOUT", "CIVLEDGER_SQLITE_LOCK_TIMEOUT"])
@pytest.mark.parametrize(
    "store", ["sqlite:///civledger.sqlite", "postgresql://postgres@127.0.0.1:1/nowhere"]
)
def test_a_timeout_that_is_not_whole_seconds_is_exit_2_naming_it(  # type: ignore[no-untyped-def]
    run, store: str, variable: str
) -> None:
    a_ledger(run)
    for command in (("projections", "status"), ("show", ID), ("init",)):
        result = run(*command, "--store", store, env={variable: "abc"})
        assert result.exit_code == 2, (command, result.output)
        assert variable in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------- not a SQLite file


@pytest.mark.parametrize(
    "command",
    [
        ("init",),
        ("show", ID),
        ("history", ID),
        ("report",),
        ("projections", "status"),
        ("projections", "rebuild"),
        ("audit", "verify"),
        ("import", "acts.jsonl"),
        (
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
        ),
    ],
)
def test_a_store_file_that_is_not_a_database_is_named_in_one_line(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, command: tuple[str, ...]
) -> None:
    (tmp_path / "junk.sqlite").write_bytes(os.urandom(4096))
    (tmp_path / "acts.jsonl").write_text("")
    result = run(*command, "--store", "sqlite:///junk.sqlite")
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == "civledger: error: junk.sqlite is not a SQLite database"


def test_read_models_in_a_file_that_is_not_a_database_are_named_in_one_line(  # type: ignore[no-untyped-def]
    run, tmp_path: Path
) -> None:
    a_ledger(run)
    (tmp_path / "junk.sqlite").write_bytes(os.urandom(4096))
    result = run("report", "--views", "sqlite:///junk.sqlite")
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == "civledger: error: junk.sqlite is not a SQLite database"
