"""Fixtures shared by every suite: real SQLite files and real PostgreSQL databases.

PostgreSQL tests use a server at CIVLEDGER_TEST_POSTGRES (default: postgresql://postgres@
127.0.0.1:5432/postgres). Each test gets a database with a random name, dropped afterwards.
When no server answers, those tests are skipped with a loud reason, or fail when
CIVLEDGER_REQUIRE_POSTGRES=1 (as in CI).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from infrastructure.postgres import AUDITOR_ROLE, CLERK_ROLE
from infrastructure.settings import configure_from_env
from infrastructure.store_url import StoreURL

ADMIN_URL = os.environ.get(
    "CIVLEDGER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("CIVLEDGER_REQUIRE_POSTGRES") == "1"


class FixedClock:
    """A clock that stands still unless moved; for tests of dates and record times."""

    def __init__(self, now: datetime | None = None) -> None:
        self.moment = now or datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def _postgres_answers() -> str | None:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return " ".join(str(error).split())
    return None


@pytest.fixture(scope="session", autouse=True)
def _configured_as_the_cli_is() -> None:
    """The reference data a process gets where it starts (`civledger`, a parse worker): the
    commune lists and the configured codes for births abroad, for tests that run in-process."""
    configure_from_env()


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    problem = _postgres_answers()
    if problem is not None:
        message = (
            f"!!! PostgreSQL at {ADMIN_URL} does not answer ({problem}); "
            "PostgreSQL tests NOT RUN. Set CIVLEDGER_TEST_POSTGRES or start the server."
        )
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    return ADMIN_URL


def create_database(admin_url: str) -> str:
    name = f"civledger_test_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin = StoreURL.parse(admin_url)
    auth = admin.user + (f":{admin.password}" if admin.password else "")
    return f"postgresql://{auth}@{admin.host}:{admin.port}/{name}"


def drop_database(admin_url: str, url: str) -> None:
    name = StoreURL.parse(url).dbname
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    url = create_database(postgres_admin_url)
    try:
        yield url
    finally:
        drop_database(postgres_admin_url, url)


@pytest.fixture
def role_cleanup(postgres_admin_url: str) -> Iterator[None]:
    """Drop, after the test, the ledger's roles (`admin roles`) that it created. Roles belong
    to the whole server, not to the test's database, so they would outlive it. Ask for this
    fixture before `postgres_url`: it is then torn down after that database is dropped, when
    the roles hold no privilege there any more. Roles that existed before the test, or that
    another database still grants something to, are left alone."""
    names = (CLERK_ROLE, AUDITOR_ROLE)
    before = _existing_roles(postgres_admin_url, names)
    yield
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        for role in _existing_roles(postgres_admin_url, names) - before:
            # Another database (another test run's) may still grant it something.
            with contextlib.suppress(psycopg.errors.DependentObjectsStillExist):
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _existing_roles(admin_url: str, names: tuple[str, ...]) -> set[str]:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (list(names),)
        ).fetchall()
    return {str(row[0]) for row in rows}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """The same test, once on a fresh SQLite file and once on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def logins(role_cleanup: None, postgres_admin_url: str) -> Iterator[dict[str, str]]:
    """Fresh login names for this test (roles are the whole server's); dropped afterwards.
    Ask for it before `postgres_url`, so the database is gone before the roles are dropped."""
    suffix = secrets.token_hex(4)
    names = {key: f"{key}_{suffix}" for key in ("lan", "minh", "stranger")}
    yield names
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        for name in names.values():
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
