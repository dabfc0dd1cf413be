"""Queries read events from another copy of the log (`events_from`); commands never do.

A SQLite file copied at one moment stands in for a replica that lags: it holds a complete,
older prefix of the same log, with the same positions.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from application.register import CivilRegister
from domain.commands import Clerking, RecordDeath, RegisterBirth
from domain.errors import UnknownPerson
from infrastructure.errors import StoreUnavailable
from infrastructure.store_url import StoreURL
from tests.conftest import FixedClock


def at(reference: str) -> Clerking:
    return Clerking.parse(clerk="Lê Thị Lan", office="HN-BADINH", reference=reference)


def copy_ledger(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def test_history_from_a_lagging_copy_is_a_prefix_of_the_stores_with_the_same_positions(
    tmp_path: Path, clock: FixedClock
) -> None:
    store, lagging = tmp_path / "ledger.sqlite", tmp_path / "replica.sqlite"
    with CivilRegister(f"sqlite:///{store}", clock=clock) as register:
        born = register.register_birth(
            RegisterBirth.parse(
                name="Trần Thị Mai", sex="female", born="1950-02-03", province="001"
            ),
            at("KS-1"),
        )
        number = born.person.id_number
        assert number is not None
        copy_ledger(store, lagging)
        register.record_death(RecordDeath.parse(person=number, died_on="2026-01-15"), at("KT-1"))
        on_store = register.history(number)

    with CivilRegister(f"sqlite:///{store}", events_from=f"sqlite:///{lagging}") as reader:
        on_copy = reader.history(number)
        assert reader.person(number).died_on is None
    assert [(e.position, type(e.event)) for e in on_copy] == [
        (e.position, type(e.event)) for e in on_store[: len(on_copy)]
    ]
    assert len(on_copy) < len(on_store)


def test_a_command_decides_on_the_store_not_on_the_lagging_copy(
    tmp_path: Path, clock: FixedClock
) -> None:
    store, lagging = tmp_path / "ledger.sqlite", tmp_path / "replica.sqlite"
    with CivilRegister(f"sqlite:///{store}", clock=clock) as register:
        copy_ledger(store, lagging)  # the copy holds the schema and no person
        born = register.register_birth(
            RegisterBirth.parse(name="Phạm Văn Nam", sex="male", born="1948-05-06", province="001"),
            at("KS-2"),
        )
        number = born.person.id_number
        assert number is not None
    with CivilRegister(
        f"sqlite:///{store}", events_from=f"sqlite:///{lagging}", clock=clock
    ) as register:
        died = register.record_death(
            RecordDeath.parse(person=number, died_on="2026-01-15"), at("KT-2")
        )
        assert died.person.died_on is not None
        with pytest.raises(UnknownPerson):
            register.person(number)  # the copy has not seen this person


def test_an_events_source_without_the_ledger_is_refused(tmp_path: Path) -> None:
    store, empty = tmp_path / "ledger.sqlite", tmp_path / "empty.sqlite"
    CivilRegister(f"sqlite:///{store}").close()
    sqlite3.connect(empty).close()
    with pytest.raises(StoreUnavailable, match="holds no civledger log"):
        CivilRegister(f"sqlite:///{store}", events_from=f"sqlite:///{empty}")


@pytest.mark.postgres
def test_an_events_source_whose_database_is_missing_is_unreachable_not_empty(
    tmp_path: Path, postgres_admin_url: str
) -> None:
    server = StoreURL.parse(postgres_admin_url)
    missing = f"postgresql://{server.user}:s3cret@{server.host}:{server.port}/civledger_no_such_db"
    with pytest.raises(StoreUnavailable) as refused:
        CivilRegister(f"sqlite:///{tmp_path / 'ledger.sqlite'}", events_from=missing)
    assert refused.value.message == (
        f"events source postgresql://{server.user}:***@{server.host}:{server.port}"
        '/civledger_no_such_db is unreachable: database "civledger_no_such_db" does not exist'
    )


def test_show_and_history_from_a_copy_need_no_primary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    copy = tmp_path / "replica.sqlite"
    with CivilRegister(f"sqlite:///{copy}") as register:
        number = register.register_birth(
            RegisterBirth.parse(name="Lê Văn Tám", sex="male", born="1960-01-01", province="001"),
            at("KS-9"),
        ).person.id_number
    assert number is not None
    monkeypatch.delenv("CIVLEDGER_STORE", raising=False)
    down = "postgresql://postgres@127.0.0.1:1/primary_is_down"
    runner = CliRunner()
    for command in ("show", "history"):
        done = runner.invoke(
            app, [command, number, "--json", "--store", down, "--events-from", f"sqlite:///{copy}"]
        )
        assert done.exit_code == 0, done.output
    missing = tmp_path / "missing.sqlite"
    refused = runner.invoke(app, ["show", number, "--events-from", f"sqlite:///{missing}"])
    assert refused.exit_code == 1
    assert "no SQLite store" in refused.stderr
    assert not missing.exists()
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    refused = runner.invoke(app, ["show", number, "--events-from", f"sqlite:///{empty}"])
    assert refused.exit_code == 1
    assert "holds no civledger log" in refused.stderr
    assert sqlite3.connect(empty).execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE name = 'stored_events'"
    ).fetchone() == (0,)
