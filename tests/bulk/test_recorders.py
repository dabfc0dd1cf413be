"""The library's own recorder test cases, on both stores, for the ledger's recorders and for
the bulk path (binary COPY on PostgreSQL, one executemany transaction on SQLite).

For the bulk path, a recorder whose `insert_events` goes through `insert_events_bulk` is put
under the library's contract: notification ids returned in order, contiguous, and never
interleaved between two concurrent writers.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Sequence
from typing import Any, ClassVar
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.tests import persistence as library

from infrastructure.postgres import LedgerPostgresApplicationRecorder
from infrastructure.sqlite import LedgerSQLiteApplicationRecorder, LedgerSQLiteDatastore
from infrastructure.store_url import StoreURL
from tests.conftest import (
    ADMIN_URL,
    REQUIRE_POSTGRES,
    _postgres_answers,
    create_database,
    drop_database,
)


class CopyPathPostgresRecorder(LedgerPostgresApplicationRecorder):
    """Every insert takes the bulk path: EXCLUSIVE lock, binary COPY, ids read back."""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        return self.insert_events_bulk(stored_events, return_ids=True)


class BulkPathSQLiteRecorder(LedgerSQLiteApplicationRecorder):
    """Every insert takes the bulk path: BEGIN IMMEDIATE, executemany, one commit."""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        return self.insert_events_bulk(stored_events, return_ids=True)


def join_stray_threads(before: set[threading.Thread]) -> None:
    """The library's concurrency tests leave their reader threads running when they return;
    closing the store under them would pull connections from threads still reading."""
    for thread in set(threading.enumerate()) - before:
        if not thread.daemon:
            thread.join(timeout=30)


# ---------------------------------------------------------------------------- SQLite


class SQLiteRecorderCase:
    recorder_class: ClassVar[type[LedgerSQLiteApplicationRecorder]]

    def setUp(self) -> None:
        self.threads = set(threading.enumerate())
        self.directory = tempfile.mkdtemp()
        self.datastore = LedgerSQLiteDatastore(f"{self.directory}/events.sqlite", lock_timeout=30)

    def tearDown(self) -> None:
        join_stray_threads(self.threads)
        self.datastore.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def create_recorder(self) -> LedgerSQLiteApplicationRecorder:
        recorder = self.recorder_class(self.datastore, events_table_name=f"t_{uuid4().hex}")
        recorder.create_table()
        return recorder


class TestLedgerSQLiteRecorder(SQLiteRecorderCase, library.ApplicationRecorderTestCase[Any]):
    recorder_class = LedgerSQLiteApplicationRecorder


class TestSQLiteBulkPath(SQLiteRecorderCase, library.ApplicationRecorderTestCase[Any]):
    recorder_class = BulkPathSQLiteRecorder


class TestSQLiteBulkPathNeverInterleaves(
    SQLiteRecorderCase, library.NonInterleavingNotificationIDsBaseCase
):
    recorder_class = BulkPathSQLiteRecorder


# ------------------------------------------------------------------------ PostgreSQL


@pytest.mark.postgres
class PostgresRecorderCase:
    recorder_class: ClassVar[type[LedgerPostgresApplicationRecorder]]
    url: ClassVar[str]

    @classmethod
    def setUpClass(cls) -> None:
        problem = _postgres_answers()
        if problem is not None:
            message = f"!!! PostgreSQL at {ADMIN_URL} does not answer ({problem})"
            if REQUIRE_POSTGRES:
                pytest.fail(message)
            pytest.skip(message)
        cls.url = create_database(ADMIN_URL)
        super().setUpClass()  # type: ignore[misc]

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()  # type: ignore[misc]
        drop_database(ADMIN_URL, cls.url)

    def setUp(self) -> None:
        self.threads = set(threading.enumerate())
        store = StoreURL.parse(self.url)
        self.datastore = PostgresDatastore(
            store.dbname,
            store.host,
            store.port,
            store.user,
            store.password,
            pool_size=12,
            max_overflow=4,
        )

    def tearDown(self) -> None:
        join_stray_threads(self.threads)
        self.datastore.close()

    def create_recorder(self) -> LedgerPostgresApplicationRecorder:
        recorder = self.recorder_class(self.datastore, events_table_name=f"t_{uuid4().hex}")
        recorder.create_table()
        return recorder


class TestLedgerPostgresRecorder(PostgresRecorderCase, library.ApplicationRecorderTestCase[Any]):
    recorder_class = LedgerPostgresApplicationRecorder


class TestPostgresCopyPath(PostgresRecorderCase, library.ApplicationRecorderTestCase[Any]):
    recorder_class = CopyPathPostgresRecorder


class TestPostgresCopyPathNeverInterleaves(
    PostgresRecorderCase, library.NonInterleavingNotificationIDsBaseCase
):
    recorder_class = CopyPathPostgresRecorder
