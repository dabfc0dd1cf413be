"""The embedded SQLite backend: the library's recorders, plus durability and append-only triggers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, EnvType

APPEND_ONLY_MESSAGE = "civledger: the event log is append-only"


class LedgerSQLiteConnectionPool(SQLiteConnectionPool):
    """Every connection runs with `synchronous=FULL`: a committed act survives a power cut."""

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        return connection


class LedgerSQLiteDatastore(SQLiteDatastore):
    def __init__(self, db_name: str, **kwargs: Any) -> None:
        super().__init__(db_name, **kwargs)
        lock_timeout = kwargs.get("lock_timeout")
        self.pool = LedgerSQLiteConnectionPool(db_name=db_name, lock_timeout=lock_timeout)


class LedgerSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """The library's recorder, with UPDATE and DELETE on the event table refused by triggers."""

    def construct_create_table_statements(self) -> list[str]:
        table = self.events_table_name
        statements = super().construct_create_table_statements()
        for operation in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{operation.lower()} "
                f"BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
            )
        return statements

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
