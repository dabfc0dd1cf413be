"""The embedded SQLite backend: the library's recorders, made durable and append-only."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    IntegrityError,
    Notification,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, EnvType

from infrastructure.dialect import SQLITE
from infrastructure.errors import StoreUnavailable

APPEND_ONLY_MESSAGE = "civledger: the event log is append-only"


class LedgerSQLiteConnectionPool(SQLiteConnectionPool):
    """Every connection runs with `synchronous=FULL`: a committed act survives a power cut."""

    def _create_connection(self) -> SQLiteConnection:
        try:
            connection = super()._create_connection()
            cursor = connection.cursor()
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as error:
            if is_not_a_database(error):
                raise StoreUnavailable(f"{self.db_name} is not a SQLite database") from error
            raise
        return connection


def is_not_a_database(error: sqlite3.Error) -> bool:
    """SQLite's answer for a file that is not a database (or is encrypted)."""
    return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_NOTADB


class LedgerSQLiteDatastore(SQLiteDatastore):
    def __init__(self, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name, **kwargs)
        lock_timeout = kwargs.get("lock_timeout")
        self.pool = LedgerSQLiteConnectionPool(db_name=db_name, lock_timeout=lock_timeout)


class LedgerSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """The library's recorder, with UPDATE and DELETE on the event table refused by triggers."""

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        return statements + SQLITE.append_only([self.events_table_name], APPEND_ONLY_MESSAGE)

    def select_originator_notifications(self, originator_id: UUID) -> Sequence[Notification]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT rowid, * FROM {self.events_table_name} "
                "WHERE originator_id=? ORDER BY originator_version",
                (originator_id.hex,),
            )
            return [
                Notification(
                    id=row["rowid"],
                    originator_id=UUID(row["originator_id"]),
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=row["state"],
                )
                for row in c.fetchall()
            ]

    # ------------------------------------------------------------- bulk import
    # The import's fast path (docs/adr/001-bulk-import-with-copy.md): one write transaction
    # per batch (BEGIN IMMEDIATE takes the write lock first), rows sent with executemany.

    #: Host parameters per statement, well below SQLite's limit (32766 since 3.32).
    SELECT_CHUNK = 900

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every event of the given aggregates, by aggregate then version."""
        found: list[StoredEvent] = []
        ids = [i.hex for i in originator_ids]
        with self.datastore.transaction(commit=False) as c:
            for start in range(0, len(ids), self.SELECT_CHUNK):
                chunk = ids[start : start + self.SELECT_CHUNK]
                marks = ",".join("?" * len(chunk))
                c.execute(
                    "SELECT originator_id, originator_version, topic, state "
                    f"FROM {self.events_table_name} WHERE originator_id IN ({marks})",
                    chunk,
                )
                found.extend(
                    StoredEvent(
                        originator_id=UUID(row[0]),
                        originator_version=row[1],
                        topic=row[2],
                        state=row[3],
                    )
                    for row in c.fetchall()
                )
        found.sort(key=lambda e: (str(e.originator_id), e.originator_version))
        return found

    def insert_events_bulk(
        self, stored_events: Sequence[StoredEvent], *, return_ids: bool = False
    ) -> Sequence[int] | None:
        """Append a batch in one transaction; a duplicate version fails the whole batch."""
        if not stored_events:
            return [] if return_ids else None
        params = [
            (
                e.originator_id.hex if isinstance(e.originator_id, UUID) else e.originator_id,
                e.originator_version,
                e.topic,
                e.state,
            )
            for e in stored_events
        ]
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
                cursor.execute(self.select_max_notification_id_statement)
                before = cursor.fetchone()[0] or 0
                cursor.executemany(self.insert_events_statement, params)
                conn.commit()
            except sqlite3.IntegrityError as error:
                conn.rollback()
                raise IntegrityError(error) from error
            except sqlite3.OperationalError as error:
                conn.rollback()
                raise OperationalError(error) from error
            except sqlite3.Error as error:
                conn.rollback()
                raise PersistenceError(error) from error
        # Without AUTOINCREMENT a new rowid is max(rowid) + 1, and the write lock was held.
        return list(range(before + 1, before + 1 + len(params))) if return_ids else None


class LedgerSQLiteFactory(SQLiteFactory):
    application_recorder_class = LedgerSQLiteApplicationRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        old = self.datastore
        self.datastore = LedgerSQLiteDatastore(
            old.pool.db_name,
            lock_timeout=old.pool.lock_timeout,
            single_row_tracking=old.single_row_tracking,
            originator_id_type=old.originator_id_type,
        )
        old.close()


Factory = LedgerSQLiteFactory
