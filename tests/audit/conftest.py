"""Fixtures for the auditors' suite: a register on a fixed clock, a CLI runner, sample acts."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from application.register import CivilRegister
from cli.main import app
from domain.commands import Clerking, RecordDeath, RegisterBirth
from infrastructure.store_url import StoreURL

CLERK_ENV = {"CIVLEDGER_CLERK": "Lê Thị Lan", "CIVLEDGER_OFFICE": "HN-BADINH"}

Invoke = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """Run `civledger ARGS...` in a scratch directory; returns click's Result."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CIVLEDGER_STORE", raising=False)
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), env={**CLERK_ENV, **(env or {})})

    return invoke


def clerking(reference: str, clerk: str = "Lê Thị Lan", office: str = "HN-BADINH") -> Clerking:
    return Clerking.parse(clerk=clerk, office=office, reference=reference)


def birth(
    name: str, born: str, reference: str, province: str = "001", **extra: Any
) -> tuple[RegisterBirth, Clerking]:
    act = RegisterBirth.parse(
        name=name,
        sex=extra.pop("sex", "male"),
        born=born,
        province=province,
        nationality="vietnamese",
        ethnicity=None,
        place_of_birth=None,
        father=None,
        mother=None,
        registered_on=extra.pop("registered_on", None),
    )
    return act, clerking(reference, **extra)


def register_people(register: CivilRegister, count: int, prefix: str = "KS") -> list[str]:
    """Record `count` births; return their ID numbers."""
    numbers = []
    for i in range(count):
        act, basis = birth(
            f"Nguyễn Văn Số {i}", f"19{50 + i % 50:02d}-01-0{1 + i % 9}", f"{prefix}-{i}"
        )
        outcome = register.register_birth(act, basis)
        assert outcome.person.id_number is not None
        numbers.append(outcome.person.id_number)
    return numbers


def record_death(register: CivilRegister, ref: str, died_on: date, reference: str) -> None:
    act = RecordDeath.parse(person=ref, died_on=died_on.isoformat(), place=None)
    register.record_death(act, clerking(reference))


def execute_raw(url: str, *statements: str) -> None:
    """Run SQL straight on the database, outside the register (as an intruder would)."""
    store = StoreURL.parse(url)
    if store.is_sqlite:
        conn = sqlite3.connect(store.path)
        try:
            for statement in statements:
                conn.execute(statement)
            conn.commit()
        finally:
            conn.close()
        return
    with psycopg.connect(url, autocommit=True) as pg:
        for statement in statements:
            pg.execute(statement.encode())


def events_table(url: str) -> str:
    return "stored_events" if StoreURL.parse(url).is_sqlite else "civledger_events"


def position_column(url: str) -> str:
    return "rowid" if StoreURL.parse(url).is_sqlite else "notification_id"


def disable_append_only(url: str) -> None:
    """What a superuser, or anyone who can write the SQLite file, can do."""
    if StoreURL.parse(url).is_sqlite:
        execute_raw(
            url, "DROP TRIGGER stored_events_no_update", "DROP TRIGGER stored_events_no_delete"
        )
    else:
        execute_raw(url, "ALTER TABLE civledger_events DISABLE TRIGGER USER")
