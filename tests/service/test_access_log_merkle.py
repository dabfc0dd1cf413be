"""The access log's own Merkle log: `audit checkpoint --access-log` and `audit verify
--access-log`, against tampering done behind the triggers' back (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from audit.access_log import access_leaf
from audit.merkle import MemoryTree
from cli.main import app
from infrastructure.access_log import (
    ACCESS_LOG_TABLE,
    ACCESS_MERKLE_LEAVES,
    AccessEntry,
    AccessLogStore,
)
from infrastructure.store_url import StoreURL
from tests.audit.conftest import execute_raw
from tests.service.server import born


def run(store: str, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--store", store])


def entry(i: int) -> AccessEntry:
    return AccessEntry(
        f"2026-06-01T02:03:{i % 60:02d}.000000Z", "bank", f"purpose {i}", f"00109000{i:04d}",
        "verify", "match" if i % 2 else "no-match", f"t-{i}",
    )  # fmt: skip


def append(store: str, entries: list[AccessEntry]) -> None:
    log = AccessLogStore.open(store, create=True)
    try:
        log.append(entries)
    finally:
        log.close()


def rows(store: str) -> list[tuple[Any, ...]]:
    log = AccessLogStore.open(store)
    try:
        return log._query(
            "SELECT position, at, partner, purpose, person, operation, outcome, txn "
            f"FROM {ACCESS_LOG_TABLE} ORDER BY position"
        )
    finally:
        log.close()


def disable_triggers(store: str) -> None:
    """What a superuser, or anyone who can write the SQLite file, can do."""
    if StoreURL.parse(store).is_sqlite:
        execute_raw(
            store,
            f"DROP TRIGGER {ACCESS_LOG_TABLE}_no_update",
            f"DROP TRIGGER {ACCESS_LOG_TABLE}_no_delete",
        )
    else:
        execute_raw(store, f"ALTER TABLE {ACCESS_LOG_TABLE} DISABLE TRIGGER USER")


@pytest.fixture
def logged(store_url: str, tmp_path: Path) -> tuple[str, Path]:
    """A store with an event log and ten access-log entries under a published checkpoint."""
    born(store_url, "KS-1", "Nguyễn Văn An", "male", "1990-03-04")
    append(store_url, [entry(i) for i in range(10)])
    made = run(store_url, "audit", "checkpoint", "--access-log")
    assert made.exit_code == 0, made.output
    published = tmp_path / "access-cp.json"
    published.write_text(made.stdout)
    return store_url, published


def test_the_checkpoint_is_the_rfc9162_root_of_the_rows_as_stored(
    logged: tuple[str, Path],
) -> None:
    store, published = logged
    checkpoint = json.loads(published.read_text())
    stored = rows(store)
    assert checkpoint["size"] == len(stored) == 10
    tree = MemoryTree(access_leaf(row) for row in stored)
    import base64

    assert base64.b64decode(checkpoint["root"]) == tree.root()
    # The event log's own tree is separate and untouched.
    assert json.loads(run(store, "audit", "checkpoint").stdout)["size"] != 10


def test_an_untouched_access_log_verifies_and_later_entries_extend_it(
    logged: tuple[str, Path],
) -> None:
    store, published = logged
    append(store, [entry(i) for i in range(10, 13)])
    pending = run(store, "audit", "verify", "--access-log", "--checkpoint", str(published))
    assert pending.exit_code == 0, pending.output
    assert "verified: 13 access-log entries match the Merkle log" in pending.stdout
    assert "3 entries are not logged yet" in pending.stdout
    assert run(store, "audit", "checkpoint", "--access-log").exit_code == 0
    result = run(store, "audit", "verify", "--access-log", "--checkpoint", str(published),
                 "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["entries"], document["logged"], document["unlogged"]) == (13, 13, 0)
    assert document["consistency"]["old"]["size"] == 10
    assert document["consistency"]["new"]["size"] == 13


def test_a_changed_entry_is_caught_and_named(logged: tuple[str, Path]) -> None:
    store, published = logged
    position = rows(store)[3][0]
    disable_triggers(store)
    execute_raw(
        store, f"UPDATE {ACCESS_LOG_TABLE} SET partner = 'nobody' WHERE position = {position}"
    )
    result = run(store, "audit", "verify", "--access-log", "--checkpoint", str(published))
    assert result.exit_code == 5
    assert (
        f"position {position}: the stored access-log entry was changed after it was logged"
        in result.stderr
    )


def test_a_deleted_entry_is_caught_and_named(logged: tuple[str, Path]) -> None:
    store, _ = logged
    position = rows(store)[5][0]
    disable_triggers(store)
    execute_raw(store, f"DELETE FROM {ACCESS_LOG_TABLE} WHERE position = {position}")
    result = run(store, "audit", "verify", "--access-log")
    assert result.exit_code == 5
    assert f"position {position}" in result.stderr
    assert "deleted, inserted or reordered" in result.stderr


def test_a_deleted_last_entry_is_caught(logged: tuple[str, Path]) -> None:
    store, published = logged
    position = rows(store)[-1][0]
    disable_triggers(store)
    execute_raw(store, f"DELETE FROM {ACCESS_LOG_TABLE} WHERE position = {position}")
    result = run(store, "audit", "verify", "--access-log", "--checkpoint", str(published))
    assert result.exit_code == 5
    assert f"position {position} is missing" in result.stderr


def test_a_log_rewritten_with_its_merkle_tables_fails_the_published_checkpoint(
    logged: tuple[str, Path],
) -> None:
    store, published = logged
    first = rows(store)[0][0]
    disable_triggers(store)
    execute_raw(store, f"UPDATE {ACCESS_LOG_TABLE} SET purpose = 'x' WHERE position = {first}")
    tables = ("leaves", "nodes", "checkpoints")
    if StoreURL.parse(store).is_sqlite:
        execute_raw(store, *(f"DROP TABLE civledger_access_merkle_{t}" for t in tables))
    else:
        execute_raw(store, *(f"DROP TABLE civledger_access_merkle_{t} CASCADE" for t in tables))
    assert run(store, "audit", "checkpoint", "--access-log").exit_code == 0
    assert run(store, "audit", "verify", "--access-log").exit_code == 0  # agrees with itself
    result = run(store, "audit", "verify", "--access-log", "--checkpoint", str(published))
    assert result.exit_code == 5
    assert "no longer extend your checkpoint of size 10" in result.stderr


def test_the_access_log_merkle_tables_are_append_only(logged: tuple[str, Path]) -> None:
    store, _ = logged
    with pytest.raises(Exception, match="append-only"):
        execute_raw(store, f"DELETE FROM {ACCESS_MERKLE_LEAVES}")


def test_a_store_without_an_access_log_is_refused(store_url: str) -> None:
    born(store_url, "KS-1", "Nguyễn Văn An", "male", "1990-03-04")
    result = run(store_url, "audit", "verify", "--access-log")
    assert result.exit_code == 1
    assert "no access log" in result.stderr


def test_entries_appended_while_checkpoints_run_are_all_logged_in_order(
    store_url: str,
) -> None:
    """Writers and checkpoints at once: every checkpoint's prefix stays a prefix."""
    born(store_url, "KS-1", "Nguyễn Văn An", "male", "1990-03-04")
    append(store_url, [entry(0)])
    failures: list[BaseException] = []

    def write(offset: int) -> None:
        try:
            log = AccessLogStore.open(store_url)
            try:
                for i in range(15):
                    log.append([entry(offset + i), entry(offset + i + 500)])
            finally:
                log.close()
        except BaseException as error:  # reported below
            failures.append(error)

    writers = [threading.Thread(target=write, args=(1000 * (n + 1),)) for n in range(3)]
    for writer in writers:
        writer.start()
    for _ in range(5):
        assert run(store_url, "audit", "checkpoint", "--access-log").exit_code == 0
    for writer in writers:
        writer.join()
    assert not failures
    assert run(store_url, "audit", "checkpoint", "--access-log").exit_code == 0
    result = run(store_url, "audit", "verify", "--access-log", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["logged"] == 1 + 3 * 15 * 2
