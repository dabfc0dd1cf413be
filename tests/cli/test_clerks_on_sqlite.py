"""SQLite has no logins: clerks cannot be enrolled there, and no act is verified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cli.main import app

CLERK = {"CIVLEDGER_CLERK": "Lê Thị Lan", "CIVLEDGER_OFFICE": "HN-BADINH"}


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=CLERK)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CIVLEDGER_STORE", raising=False)
    return f"sqlite:///{tmp_path / 'ledger.sqlite'}"


@pytest.mark.parametrize(
    "command",
    [("enrol", "lan", "--name", "Lê Thị Lan", "--office", "HN-BADINH"), ("retire", "lan")],
    ids=["enrol", "retire"],
)
def test_enrolling_or_retiring_a_clerk_on_sqlite_is_refused_and_creates_nothing(
    store: str, tmp_path: Path, command: tuple[str, ...]
) -> None:
    result = run("admin", "clerk", *command, "--store", store)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "civledger: error: clerks' logins need PostgreSQL: SQLite has no logins, and its acts "
        "are recorded as not verified (see docs/security.md)"
    ]
    assert not (tmp_path / "ledger.sqlite").exists()


def test_acts_on_sqlite_name_no_login_and_are_not_verified(store: str) -> None:
    born = run(
        "register-birth", "--name", "Võ Văn Nam", "--sex", "male", "--born", "1999-09-09",
        "--province", "079", "--reference", "KS-1", "--store", store, "--json",
    )  # fmt: skip
    assert born.exit_code == 0, born.output
    person = json.loads(born.stdout)["person_id"]

    history = run("history", person, "--store", store, "--json")
    log = run("audit", "log", "--store", store, "--json")
    verified = run("audit", "verify", "--store", store, "--json")
    listed = run("admin", "clerk", "list", "--store", store, "--json")

    for entries in (json.loads(history.stdout), json.loads(log.stdout)):
        assert entries
        assert {(e["recorded_by"], e["verified"], e["operator"]) for e in entries} == {
            (None, False, False)
        }
    clerks = json.loads(verified.stdout)["clerks"]
    assert clerks == {
        "checked": 0,
        "by_operator": 0,
        "unstamped": json.loads(verified.stdout)["events"],
        "skipped": None,
    }
    assert json.loads(listed.stdout) == []
