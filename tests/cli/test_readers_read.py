"""Readers read: a command that only reads never creates the event schema, a read-model table,
the Merkle log or a tracking table, and refuses a database without the civledger log in one
line (exit 1), as it refuses a SQLite path with no file behind it.

The readers are `show`, `history`, `report`, `verify`, `find`, `projections status|digest` and
`audit verify|log|prove`. Only `init`, the writers, `import` and the jobs that build models
(`projections catch-up|rebuild|follow`, `audit checkpoint`, and `report`, `verify` and `find`
when they catch the models up first) create what they need, and never the event schema.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from application.register import CivilRegister
from cli.main import app
from domain.commands import Clerking, RegisterBirth
from infrastructure.eventlog import holds_civledger_log
from infrastructure.store_url import StoreURL

Invoke = Callable[..., Result]
CLERK = {"CIVLEDGER_CLERK": "Lê Thị Lan", "CIVLEDGER_OFFICE": "HN-BADINH"}
ID = "001090000001"

#: Every command that only reads, with the arguments it needs.
READERS: dict[str, tuple[str, ...]] = {
    "show": ("show", ID),
    "history": ("history", ID),
    "report": ("report",),
    "report --no-catch-up": ("report", "--no-catch-up"),
    "verify": ("verify", ID, "--name", "Nguyễn Văn An", "--born", "1990-03-04"),
    "verify --no-catch-up": (
        "verify",
        ID,
        "--name",
        "Nguyễn Văn An",
        "--born",
        "1990-03-04",
        "--no-catch-up",
    ),
    "find": ("find", "--name", "An"),
    "find --no-catch-up": ("find", "--name", "An", "--no-catch-up"),
    "projections status": ("projections", "status"),
    "projections digest": ("projections", "digest"),
    "audit verify": ("audit", "verify"),
    "audit log": ("audit", "log"),
    "audit prove": ("audit", "prove", ID),
    "card show": ("card", "show", ID),
    "card show --no-catch-up": ("card", "show", ID, "--no-catch-up"),
    "card show --as-at": ("card", "show", ID, "--as-at", "2020-01-01"),
    "cards due": ("cards", "due", "--by", "2030-01-01"),
    "cards due --no-catch-up": ("cards", "due", "--by", "2030-01-01", "--no-catch-up"),
}
REFUSING = READERS
#: The readers that never build a model, even on a store that holds the log.
NEVER_BUILDING = [
    name for name in READERS if name not in ("report", "verify", "find", "card show", "cards due")
]  # those catch the models up first unless --no-catch-up
#: The jobs that build models: they create their tables, never the event schema.
BUILDERS: dict[str, tuple[str, ...]] = {
    "projections catch-up": ("projections", "catch-up"),
    "projections rebuild": ("projections", "rebuild"),
    "audit checkpoint": ("audit", "checkpoint"),
}


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.chdir(tmp_path)
    for name in ("CIVLEDGER_STORE", "CIVLEDGER_VIEWS", "CIVLEDGER_EVENTS_FROM"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args), env=CLERK)

    return invoke


def postgres_objects(url: str) -> list[tuple[str, str, str]]:
    """Every schema, relation (table, index, sequence, view), type and function outside the
    system's schemas: what any command could have created."""
    system = (
        "n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'"
    )
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"SELECT n.nspname, 'schema', '' FROM pg_namespace n WHERE {system} "
            "UNION ALL SELECT n.nspname, 'relation ' || c.relkind::text, c.relname FROM pg_class c "
            f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {system} "
            "UNION ALL SELECT n.nspname, 'type', t.typname FROM pg_type t "
            f"JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {system} "
            "UNION ALL SELECT n.nspname, 'function', p.proname FROM pg_proc p "
            f"JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {system} "
            "ORDER BY 1, 2, 3"
        ).fetchall()
        tables = conn.execute(
            "SELECT COUNT(*) FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
    assert tables is not None
    return [(str(a), str(b), str(c)) for a, b, c in rows] + [("tables", "", str(tables[0]))]


def sqlite_objects(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT type, name FROM sqlite_master ORDER BY type, name")
        return [(str(kind), str(name)) for kind, name in rows]


def database_objects(url: str) -> list[Any]:
    store = StoreURL.parse(url)
    if store.is_sqlite:
        return list(sqlite_objects(Path(store.path)))
    return list(postgres_objects(url))


def refused_in_one_line(result: Result, why: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("civledger: error: ")
    assert why in lines[0]


# ------------------------------------------------------------- a database without the log


@pytest.mark.postgres
@pytest.mark.parametrize("command", REFUSING)
def test_a_reader_refuses_an_empty_postgres_database_and_leaves_it_empty(
    run: Invoke, postgres_url: str, command: str
) -> None:
    before = postgres_objects(postgres_url)
    assert [kind for _, kind, _ in before if kind.startswith("relation")] == []
    result = run(*READERS[command], "--store", postgres_url)
    refused_in_one_line(result, "holds no civledger log")
    assert postgres_objects(postgres_url) == before


@pytest.mark.parametrize("command", REFUSING)
def test_a_reader_refuses_an_empty_sqlite_file_and_creates_no_table(
    run: Invoke, tmp_path: Path, command: str
) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    result = run(*READERS[command], "--store", f"sqlite:///{empty}")
    refused_in_one_line(result, "holds no civledger log")
    assert sqlite_objects(empty) == []


@pytest.mark.parametrize("command", READERS)
def test_a_reader_refuses_a_missing_sqlite_store_and_creates_no_file(
    run: Invoke, tmp_path: Path, command: str
) -> None:
    missing = tmp_path / "missing.sqlite"
    result = run(*READERS[command], "--store", f"sqlite:///{missing}")
    refused_in_one_line(result, f"no SQLite store at {missing}")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.postgres
@pytest.mark.parametrize("command", BUILDERS)
def test_a_job_that_builds_models_never_creates_the_event_schema(
    run: Invoke, postgres_url: str, command: str
) -> None:
    before = postgres_objects(postgres_url)
    result = run(*BUILDERS[command], "--store", postgres_url)
    refused_in_one_line(result, "holds no civledger log")
    assert postgres_objects(postgres_url) == before


@pytest.mark.parametrize("events_from", ["empty", "missing"])
@pytest.mark.parametrize("command", ["report", "projections catch-up", "projections status"])
def test_an_events_source_without_the_log_is_refused_before_a_model_is_made(
    run: Invoke, tmp_path: Path, command: str, events_from: str
) -> None:
    store = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    assert run("init", "--store", store).exit_code == 0
    source = tmp_path / f"{events_from}.sqlite"
    if events_from == "empty":
        source.touch()
    views = tmp_path / "views.sqlite"
    result = run(
        *command.split(),
        "--store",
        store,
        "--events-from",
        f"sqlite:///{source}",
        "--views",
        f"sqlite:///{views}",
    )
    why = "events source" if events_from == "empty" else "no SQLite store at"
    refused_in_one_line(result, why)
    assert not views.exists()
    if events_from == "empty":
        assert sqlite_objects(source) == []
    else:
        assert not source.exists()


# ------------------------------------------------------ a store that holds the log only


@pytest.fixture
def log_only(store_url: str) -> str:
    """A store that holds the event log with one person, and neither a read model nor the
    Merkle log (the register writes events only)."""
    with CivilRegister(store_url) as register:
        register.register_birth(
            RegisterBirth.parse(
                name="Nguyễn Văn An", sex="male", born="1990-03-04", province="001"
            ),
            Clerking.parse(clerk="Lê Thị Lan", office="HN-BADINH", reference="KS-1"),
        )
    return store_url


@pytest.mark.parametrize("command", NEVER_BUILDING)
def test_a_reader_leaves_a_store_that_holds_the_log_as_it_found_it(
    run: Invoke, log_only: str, command: str
) -> None:
    before = database_objects(log_only)
    assert not [o for o in before if "view_" in str(o) or "merkle" in str(o)]
    result = run(*READERS[command], "--store", log_only)
    assert result.exit_code in (0, 4), result.output  # ID is nobody's number: exit 4 there
    assert database_objects(log_only) == before


@pytest.mark.parametrize("command", ["report", "verify", "find", "card show", "cards due"])
def test_no_catch_up_with_a_models_file_that_does_not_exist_creates_none(
    run: Invoke, log_only: str, tmp_path: Path, command: str
) -> None:
    views = tmp_path / "new.sqlite"
    args = READERS[f"{command} --no-catch-up"]
    result = run(*args, "--store", log_only, "--views", f"sqlite:///{views}")
    refused_in_one_line(result, f"no SQLite store at {views}")
    assert not views.exists()


@pytest.mark.parametrize("command", ["report", "verify", "find", "cards due"])
def test_no_catch_up_on_an_empty_models_file_answers_as_empty_and_creates_nothing(
    run: Invoke, log_only: str, tmp_path: Path, command: str
) -> None:
    views = tmp_path / "views.sqlite"
    views.touch()
    args = READERS[f"{command} --no-catch-up"]
    result = run(*args, "--json", "--store", log_only, "--views", f"sqlite:///{views}")
    assert result.exit_code == 0, result.output
    assert sqlite_objects(views) == []


# ------------------------------------------------------------------ the pieces beneath


@pytest.mark.postgres
def test_holds_civledger_log_creates_nothing(postgres_url: str, tmp_path: Path) -> None:
    before = postgres_objects(postgres_url)
    assert not holds_civledger_log(postgres_url)
    assert postgres_objects(postgres_url) == before
    assert not holds_civledger_log(f"sqlite:///{tmp_path / 'missing.sqlite'}")
    assert not (tmp_path / "missing.sqlite").exists()
    CivilRegister(postgres_url).close()  # a writer creates the log
    assert holds_civledger_log(postgres_url)


def test_the_read_side_never_loads_the_write_application() -> None:
    """projections/ and audit/ open the event log without `application` (so without booting
    `CivilRegister`): importing every module of theirs loads no module of it."""
    root = Path(__file__).resolve().parents[2]
    modules = sorted(
        f"{package}.{path.stem}"
        for package in ("projections", "audit")
        for path in (root / package).glob("*.py")
        if path.stem != "__init__"
    )
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'application')\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""
