"""Where read models live: a SQLite file or a PostgreSQL database, behind one small interface.

A `ViewDatabase` creates the models' tables, runs a batch's writes and its tracking position in
one transaction (`transaction()`), swaps rebuilt tables in atomically (`swap()`), and streams a
table in key order for digests. It is also the library's `TrackingRecorder`, so
`eventsourcing.tests.persistence.TrackingRecorderTestCase` runs against both backends.
"""

from __future__ import annotations

import secrets
import sqlite3
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import psycopg
from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder

from infrastructure.errors import StoreUnavailable
from infrastructure.store_url import StoreURL
from projections.tables import TRACKING_TABLE, Table

Key = str | tuple[str, ...]
Row = dict[str, Any]

#: Rows per statement when fetching by key on SQLite (below its variable limit).
SQLITE_CHUNK = 10_000
#: How often a swap is tried when the server broke a deadlock by rolling it back.
SWAP_ATTEMPTS = 5


class PositionMoved(Exception):
    """Another writer moved the projection's position since this batch read it: retry."""


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


@contextmanager
def database_errors(where: str) -> Iterator[None]:
    """Turn a driver error into `StoreUnavailable` with a one-line message."""
    try:
        yield
    except (sqlite3.Error, psycopg.Error, OSError) as error:
        raise StoreUnavailable(f"read models at {where}: {one_line(error)}") from error


class ViewTransaction(ABC):
    """One transaction on the read models: fetch rows, write rows, move a position."""

    @abstractmethod
    def position(self, name: str) -> int | None: ...

    @abstractmethod
    def advance(self, name: str, old: int | None, new: int) -> None:
        """Compare-and-set the position: raise `PositionMoved` if it is no longer `old`."""

    @abstractmethod
    def fetch(self, table: Table, physical: str, keys: Sequence[str]) -> dict[str, Row]:
        """Rows of a single-column-key table, by key (missing keys are absent)."""

    @abstractmethod
    def upsert(self, table: Table, physical: str, rows: Sequence[Row]) -> None: ...

    @abstractmethod
    def insert(self, table: Table, physical: str, rows: Sequence[Row]) -> None:
        """Rows the table does not hold (a duplicate key fails the batch, never hides)."""

    @abstractmethod
    def add(self, table: Table, physical: str, deltas: Mapping[tuple[str, ...], int]) -> None:
        """Add to a counter table's values; rows that fall to zero are removed."""


class ViewDatabase(TrackingRecorder, ABC):
    """The read models' database."""

    placeholder = "?"
    #: Build rebuilt tables without write-ahead logging, and log them once before the swap.
    unlogged_rebuilds = False

    def __init__(self, url: StoreURL) -> None:
        self.url = url
        self._tracking_seen = False

    @staticmethod
    def open(url: StoreURL | str, *, create: bool = True) -> ViewDatabase:
        """The read models at `url`. With `create=False` opening writes nothing, not even the
        positions' table: for a reader that must leave the database as it found it."""
        parsed = url if isinstance(url, StoreURL) else StoreURL.parse(url)
        with database_errors(parsed.redacted()):
            if parsed.is_sqlite:
                return SQLiteViews(parsed, create=create)
            return PostgresViews(parsed, create=create)

    # ------------------------------------------------------------------ schema

    def create_tracking(self) -> None:
        if self.has_table(TRACKING_TABLE):
            return  # nothing to write: a read-only replica of the models opens too
        self.execute_script(
            [
                f"CREATE TABLE IF NOT EXISTS {TRACKING_TABLE} ("
                "application_name TEXT NOT NULL PRIMARY KEY, notification_id BIGINT NOT NULL)"
            ]
        )

    def create_tables(self, tables: Sequence[Table], rebuilding: bool) -> None:
        """Create tables (without secondary indexes) if they do not exist."""
        statements = []
        for table in tables:
            if self.has_table(table.physical(rebuilding)):
                continue
            columns = ", ".join(f"{c} {table.column_type(c)}" for c in table.columns)
            key = ", ".join(table.key)
            token = secrets.token_hex(4)
            unlogged = "UNLOGGED " if rebuilding and self.unlogged_rebuilds else ""
            statements.append(
                f"CREATE {unlogged}TABLE IF NOT EXISTS {table.physical(rebuilding)} ({columns}, "
                f"CONSTRAINT pk_{table.name}_{token} PRIMARY KEY ({key}))"
            )
        self.execute_script(statements)

    def create_indexes(self, tables: Sequence[Table], rebuilding: bool) -> None:
        statements = []
        for table in tables:
            physical = table.physical(rebuilding)
            for number, columns in enumerate(table.indexes):
                if self.has_index(physical, columns):
                    continue
                name = f"ix_{table.name}_{number}_{secrets.token_hex(4)}"
                statements.append(f"CREATE INDEX {name} ON {physical} ({', '.join(columns)})")
        self.execute_script(statements)

    def drop_tables(self, tables: Sequence[Table], rebuilding: bool) -> None:
        self.execute_script(
            [f"DROP TABLE IF EXISTS {table.physical(rebuilding)}" for table in tables]
        )

    @abstractmethod
    def has_table(self, physical: str) -> bool: ...

    @abstractmethod
    def has_index(self, physical: str, columns: tuple[str, ...]) -> bool: ...

    @abstractmethod
    def execute_script(self, statements: Sequence[str]) -> None:
        """Run statements in one transaction."""

    # ------------------------------------------------------------ transactions

    @abstractmethod
    def transaction(self) -> Any:
        """A context manager yielding a `ViewTransaction`; commits on success."""

    def swap(self, tables: Sequence[Table], name: str, built_as: str) -> int:
        """Replace the live tables by the rebuilt ones, and the position, in one transaction."""
        statements: list[str] = []
        if self.unlogged_rebuilds:
            # Written to the log once, outside the swap, so the swap itself stays short.
            self.execute_script([f"ALTER TABLE {t.physical(True)} SET LOGGED" for t in tables])
        for table in tables:
            statements.append(f"DROP TABLE IF EXISTS {table.physical()}")
            statements.append(f"ALTER TABLE {table.physical(True)} RENAME TO {table.physical()}")
        p = self.placeholder
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            try:
                with self.transaction() as tx:
                    # A follower moves a model's position, then writes its tables: lock the
                    # positions first too, so that the swap and the follower queue up instead
                    # of each holding what the other waits for.
                    self.lock_positions(tx, (name, built_as))
                    position = tx.position(built_as)
                    for statement in statements:
                        self.raw(tx, statement, ())
                    self.raw(
                        tx,
                        f"DELETE FROM {TRACKING_TABLE} WHERE application_name IN ({p}, {p})",
                        (name, built_as),
                    )
                    if position is not None:
                        self.raw(
                            tx, f"INSERT INTO {TRACKING_TABLE} VALUES ({p}, {p})", (name, position)
                        )
                return position or 0
            except psycopg.errors.DeadlockDetected:
                # A follower that had just inserted the model's first position: the server
                # rolled this swap back whole, so it is simply tried again.
                if attempt == SWAP_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def lock_positions(self, tx: ViewTransaction, names: Sequence[str]) -> None:
        """Lock these position rows for the rest of `tx` (a no-op where writers never overlap)."""

    @abstractmethod
    def raw(self, tx: ViewTransaction, statement: str, params: Sequence[Any]) -> None: ...

    # ----------------------------------------------------------------- reading

    def positions(self) -> dict[str, int]:
        if not self._tracking_seen:
            if not self.has_table(TRACKING_TABLE):
                return {}
            self._tracking_seen = True  # the table is never dropped
        return {
            str(name): int(position)
            for name, position in self.query(
                f"SELECT application_name, notification_id FROM {TRACKING_TABLE}", ()
            )
        }

    @abstractmethod
    def query(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...

    def fetch(self, table: Table, physical: str, keys: Sequence[str]) -> dict[str, Row]:
        """Rows of a single-column-key table, by key, outside any transaction."""
        (key,) = table.key
        found: dict[str, Row] = {}
        for start in range(0, len(keys), SQLITE_CHUNK):
            chunk = keys[start : start + SQLITE_CHUNK]
            marks = ", ".join("?" * len(chunk))
            for values in self.query(
                f"SELECT {', '.join(table.columns)} FROM {physical} WHERE {key} IN ({marks})",
                chunk,
            ):
                row = dict(zip(table.columns, values, strict=True))
                found[row[key]] = row
        return found

    def is_empty(self, physical: str) -> bool:
        return not self.query(f"SELECT 1 FROM {physical} LIMIT 1", ())

    @abstractmethod
    def scan(self, table: Table, physical: str) -> Iterator[tuple[Any, ...]]:
        """Every row, all columns in table order, sorted by key in byte order."""

    @abstractmethod
    def close(self) -> None: ...

    # ------------------------------------------------ the library's interface

    def insert_tracking(self, tracking: Tracking) -> None:
        """Record a position; a position not above the recorded one is an IntegrityError."""
        self.create_tracking()
        with self.transaction() as tx:
            current = tx.position(tracking.application_name)
            if current is not None and current >= tracking.notification_id:
                raise IntegrityError(
                    f"position {tracking.notification_id} of {tracking.application_name!r} "
                    f"is not after {current}"
                )
            tx.advance(tracking.application_name, current, tracking.notification_id)

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.positions().get(application_name)


class HeldTransaction(ViewTransaction):
    """A transaction whose writes are held in memory and never written: it reads the rows as
    stored, overlaid by the rows it has written so far. `rows` holds what it would write."""

    def __init__(self, views: ViewDatabase) -> None:
        self.views = views
        self.rows: dict[str, dict[str, Row]] = defaultdict(dict)
        self.counts: dict[str, dict[tuple[str, ...], int]] = defaultdict(lambda: defaultdict(int))
        self.positions: dict[str, int] = {}

    def position(self, name: str) -> int | None:
        return self.positions.get(name, self.views.positions().get(name))

    def advance(self, name: str, old: int | None, new: int) -> None:
        self.positions[name] = new

    def fetch(self, table: Table, physical: str, keys: Sequence[str]) -> dict[str, Row]:
        held = self.rows[physical]
        found = {key: dict(held[key]) for key in keys if key in held}
        missing = [key for key in keys if key not in held]
        if missing and self.views.has_table(physical):
            found.update(self.views.fetch(table, physical, missing))
        return found

    def upsert(self, table: Table, physical: str, rows: Sequence[Row]) -> None:
        (key,) = table.key
        for row in rows:
            self.rows[physical][row[key]] = dict(row)

    def insert(self, table: Table, physical: str, rows: Sequence[Row]) -> None:
        self.upsert(table, physical, rows)

    def add(self, table: Table, physical: str, deltas: Mapping[tuple[str, ...], int]) -> None:
        for key, delta in deltas.items():
            self.counts[physical][key] += delta


# --------------------------------------------------------------------- SQLite


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
            if error.sqlite_errorcode == sqlite3.SQLITE_NOTADB:
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

    def has_table(self, physical: str) -> bool:
        row = self.connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (physical,)
        ).fetchone()
        return row is not None

    def has_index(self, physical: str, columns: tuple[str, ...]) -> bool:
        for (name,) in self.connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL",
            (physical,),
        ).fetchall():
            info = self.connection.execute(f"PRAGMA index_info({name})").fetchall()
            if tuple(row[2] for row in info) == columns:
                return True
        return False

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


# ----------------------------------------------------------------- PostgreSQL


def _pg(statement: str) -> str:
    return statement.replace("?", "%s")


class PostgresTransaction(ViewTransaction):
    def __init__(self, connection: psycopg.Connection[tuple[Any, ...]]) -> None:
        self.c = connection

    def position(self, name: str) -> int | None:
        row = self.c.execute(
            f"SELECT notification_id FROM {TRACKING_TABLE} WHERE application_name = %s",
            (name,),
            prepare=True,
        ).fetchone()
        return None if row is None else int(row[0])

    def advance(self, name: str, old: int | None, new: int) -> None:
        if old is None:
            cursor = self.c.execute(
                f"INSERT INTO {TRACKING_TABLE} VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (name, new),
            )
        else:
            cursor = self.c.execute(
                f"UPDATE {TRACKING_TABLE} SET notification_id = %s "
                "WHERE application_name = %s AND notification_id = %s",
                (new, name, old),
                prepare=True,
            )
        if cursor.rowcount != 1:
            raise PositionMoved(name)

    def fetch(self, table: Table, physical: str, keys: Sequence[str]) -> dict[str, Row]:
        (key,) = table.key
        columns = table.columns
        rows = self.c.execute(
            f"SELECT {', '.join(columns)} FROM {physical} WHERE {key} = ANY(%s)",
            (list(keys),),
        ).fetchall()
        found: dict[str, Row] = {}
        for values in rows:
            row = dict(zip(columns, values, strict=True))
            found[row[key]] = row
        return found

    def upsert(self, table: Table, physical: str, rows: Sequence[Row]) -> None:
        if not rows:
            return
        columns = table.columns
        names = ", ".join(columns)
        temp = f"tmp_{physical}"
        self.c.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {temp} (LIKE {physical}) ON COMMIT DELETE ROWS"
        )
        with self.c.cursor().copy(f"COPY {temp} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in table.value_columns)
        self.c.execute(
            f"INSERT INTO {physical} ({names}) SELECT {names} FROM {temp} "
            f"ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {updates}"
        )
        self.c.execute(f"DELETE FROM {temp}")

    def insert(self, table: Table, physical: str, rows: Sequence[Row]) -> None:
        columns = table.columns
        with self.c.cursor().copy(f"COPY {physical} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])

    def add(self, table: Table, physical: str, deltas: Mapping[tuple[str, ...], int]) -> None:
        items = [(*key, delta) for key, delta in deltas.items() if delta]
        if not items:
            return
        (value,) = table.value_columns
        arrays = [list(column) for column in zip(*items, strict=True)]
        types = ", ".join(f"%s::{'bigint' if c in table.ints else 'text'}[]" for c in table.columns)
        key = ", ".join(table.key)
        self.c.execute(
            f"INSERT INTO {physical} ({', '.join(table.columns)}) "
            f"SELECT * FROM unnest({types}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {value} = {physical}.{value} + EXCLUDED.{value}",
            arrays,
        )
        fallen = [key for key, delta in deltas.items() if delta < 0]
        if fallen:
            key_types = ", ".join("%s::text[]" for _ in table.key)
            self.c.execute(
                f"DELETE FROM {physical} WHERE {value} = 0 AND ({key}) IN "
                f"(SELECT * FROM unnest({key_types}))",
                [list(column) for column in zip(*fallen, strict=True)],
            )


class PostgresViews(ViewDatabase):
    placeholder = "%s"
    unlogged_rebuilds = True

    def __init__(self, url: StoreURL, *, create: bool = True) -> None:
        super().__init__(url)
        self.connection: psycopg.Connection[tuple[Any, ...]] = psycopg.connect(
            host=url.host,
            port=url.port,
            user=url.user,
            password=url.password or None,
            dbname=url.dbname,
            connect_timeout=url.connect_timeout,
            autocommit=True,
        )
        self.connection.execute("SET client_min_messages = warning")
        # A lost last batch after a server crash is re-applied from the log: the position is
        # lost with it, so the models stay consistent; commits need not wait for the disk.
        self.connection.execute("SET synchronous_commit = off")
        if create:
            self.create_tracking()

    @contextmanager
    def transaction(self) -> Iterator[PostgresTransaction]:
        with self.connection.transaction():
            yield PostgresTransaction(self.connection)

    def raw(self, tx: ViewTransaction, statement: str, params: Sequence[Any]) -> None:
        cast(PostgresTransaction, tx).c.execute(cast(Any, statement), params)

    def lock_positions(self, tx: ViewTransaction, names: Sequence[str]) -> None:
        cast(PostgresTransaction, tx).c.execute(
            f"SELECT 1 FROM {TRACKING_TABLE} WHERE application_name = ANY(%s) "
            "ORDER BY application_name FOR UPDATE",
            (list(names),),
        )

    def execute_script(self, statements: Sequence[str]) -> None:
        with self.connection.transaction():
            for statement in statements:
                self.connection.execute(cast(Any, statement))

    def has_table(self, physical: str) -> bool:
        row = self.connection.execute("SELECT to_regclass(%s)", (physical,)).fetchone()
        return row is not None and row[0] is not None

    def has_index(self, physical: str, columns: tuple[str, ...]) -> bool:
        rows = self.connection.execute(
            "SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i "
            "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            "WHERE i.indrelid = to_regclass(%s) AND NOT i.indisprimary GROUP BY i.indexrelid",
            (physical,),
        ).fetchall()
        return any(tuple(row[0]) == columns for row in rows)

    def query(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self.connection.execute(cast(Any, _pg(statement)), params, prepare=True).fetchall()

    def scan(self, table: Table, physical: str) -> Iterator[tuple[Any, ...]]:
        order = ", ".join(f'{k} COLLATE "C"' for k in table.key)
        with (
            self.connection.transaction(),
            self.connection.cursor(name=f"scan_{secrets.token_hex(4)}") as cursor,
        ):
            cursor.itersize = 10_000
            cursor.execute(
                cast(Any, f"SELECT {', '.join(table.columns)} FROM {physical} ORDER BY {order}")
            )
            yield from cursor

    def close(self) -> None:
        self.connection.close()
