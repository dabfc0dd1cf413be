"""Read models in a SQLite file (see `projections.views`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from infrastructure.dialect import SQLITE
from infrastructure.errors import StoreUnavailable
from infrastructure.sqlite import is_not_a_database
from infrastructure.store_url import StoreURL
from projections.tables import TRACKING_TABLE, Table
from projections.views import SQLITE_CHUNK, PositionMoved, Row, ViewDatabase, ViewTransaction


class SQLiteTransaction(ViewTransaction):
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.c = connection

    def position(self, name: str) -> int | None:
        row = self.c.execute(
            f"SELECT notification_id FROM {TRACKING_TABLE} WHERE application_name = ?", (name,)
        ).fetchone()
        return None if row is None else int(row[0])

    def advance(self, name: str, old: int | None, new: int) -> None:
        if old is None:
            cursor = self.c.execute(
                f"INSERT INTO {TRACKING_TABLE} VALUES (?, ?) ON CONFLICT DO NOTHING", (name, new)
            )
        else:
            cursor = self.c.execute(
                f"UPDATE {TRACKING_TABLE} SET notification_id = ? "
                "WHERE application_name = ? AND notification_id = ?",
                (new, name, old),
            )
        if cursor.rowcount != 1:
            raise PositionMoved(name)

    def fetch(self, table: Table, physical: str, keys: Sequence[str]) -> dict[str, Row]:
        (key,) = table.key
        found: dict[str, Row] = {}
        columns = ", ".join(table.columns)
        for start in range(0, len(keys), SQLITE_CHUNK):
            chunk = keys[start : start + SQLITE_CHUNK]
            marks = ", ".join("?" * len(chunk))
            for values in self.c.execute(
                f"SELECT {columns} FROM {physical} WHERE {key} IN ({marks})", chunk
            ):
                row = dict(zip(table.columns, values, strict=True))
                found[row[key]] = row
        return found

    def upsert(self, table: Table, physical: str, rows: Sequence[Row]) -> None:
        columns = table.columns
        marks = ", ".join("?" * len(columns))
        updates = ", ".join(f"{c} = excluded.{c}" for c in table.value_columns)
        self.c.executemany(
            f"INSERT INTO {physical} ({', '.join(columns)}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {updates}",
            [tuple(row[c] for c in columns) for row in rows],
        )

    def insert(self, table: Table, physical: str, rows: Sequence[Row]) -> None:
        columns = table.columns
        marks = ", ".join("?" * len(columns))
        self.c.executemany(
            f"INSERT INTO {physical} ({', '.join(columns)}) VALUES ({marks})",
            [tuple(row[c] for c in columns) for row in rows],
        )

    def add(self, table: Table, physical: str, deltas: Mapping[tuple[str, ...], int]) -> None:
        if not deltas:
            return
        (value,) = table.value_columns
        marks = ", ".join("?" * len(table.columns))
        self.c.executemany(
            f"INSERT INTO {physical} ({', '.join(table.columns)}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(table.key)}) DO UPDATE "
            f"SET {value} = {physical}.{value} + excluded.{value}",
            [(*key, delta) for key, delta in deltas.items() if delta],
        )
        fallen = [key for key, delta in deltas.items() if delta < 0]
        condition = " AND ".join(f"{k} = ?" for k in table.key)
        self.c.executemany(f"DELETE FROM {physical} WHERE {value} = 0 AND {condition}", fallen)


class SQLiteViews(ViewDatabase):
    dialect = SQLITE

    def __init__(self, url: StoreURL, *, create: bool = True) -> None:
        super().__init__(url)
        path = Path(url.path)
        if not path.parent.exists():
            raise StoreUnavailable(f"read models at {url.redacted()}: no directory {path.parent}")
        self.connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30
        )
        try:
            self.connection.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as error:
            self.connection.close()
            if is_not_a_database(error):
                raise StoreUnavailable(f"{path} is not a SQLite database") from error
            raise
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute("PRAGMA busy_timeout=30000")
        if create:
            self.create_tracking()

    @contextmanager
    def transaction(self) -> Iterator[SQLiteTransaction]:
        c = self.connection
        c.execute("BEGIN IMMEDIATE")
        try:
            yield SQLiteTransaction(c)
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def raw(self, tx: ViewTransaction, statement: str, params: Sequence[Any]) -> None:
        cast(SQLiteTransaction, tx).c.execute(statement, params)

    def execute_script(self, statements: Sequence[str]) -> None:
        with self.transaction() as tx:
            for statement in statements:
                tx.c.execute(statement)

    def query(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return list(self.connection.execute(statement, params).fetchall())

    def scan(self, table: Table, physical: str) -> Iterator[tuple[Any, ...]]:
        cursor = self.connection.execute(
            f"SELECT {', '.join(table.columns)} FROM {physical} ORDER BY {', '.join(table.key)}"
        )
        while rows := cursor.fetchmany(10_000):
            yield from rows

    def close(self) -> None:
        self.connection.close()
