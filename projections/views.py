"""Where read models live: a SQLite file or a PostgreSQL database, behind one small interface.

A `ViewDatabase` creates the models' tables, runs a batch's writes and its tracking position in
one transaction (`transaction()`), swaps rebuilt tables in atomically (`swap()`), and streams a
table in key order for digests. It is also the library's `TrackingRecorder`, so
`eventsourcing.tests.persistence.TrackingRecorderTestCase` runs against both backends.

This module holds what both backends share; `projections.sqlite_views` and
`projections.postgres_views` hold the rest, and the SQL that differs between them is the
dialect's (`infrastructure.dialect`).
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder

from domain.errors import CivledgerError
from infrastructure.dialect import SQLITE, Dialect
from infrastructure.errors import is_database_error, store_errors
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


def database_errors(where: str) -> AbstractContextManager[None]:
    """Database errors of the read models at `where` as `StoreUnavailable`, in one line."""
    return store_errors(f"read models at {where}")


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

    dialect: ClassVar[Dialect] = SQLITE
    #: Build rebuilt tables without write-ahead logging, and log them once before the swap.
    unlogged_rebuilds = False
    #: Errors after which the server rolled a swap back whole, so that it may be tried again.
    swap_retried_on: ClassVar[tuple[type[Exception], ...]] = ()

    def __init__(self, url: StoreURL) -> None:
        self.url = url
        self._tracking_seen = False

    @property
    def placeholder(self) -> str:
        return self.dialect.placeholder

    @staticmethod
    def open(url: StoreURL | str, *, create: bool = True) -> ViewDatabase:
        """The read models at `url`. With `create=False` opening writes nothing, not even the
        positions' table, and a SQLite path with no file behind it is refused (`no SQLite
        store at PATH`, exit 1) rather than created: for a reader that must leave the
        database as it found it."""
        parsed = url if isinstance(url, StoreURL) else StoreURL.parse(url)
        if not create and parsed.path != ":memory:":
            parsed.must_exist()
        with database_errors(parsed.redacted()):
            if parsed.is_sqlite:
                from projections.sqlite_views import SQLiteViews

                return SQLiteViews(parsed, create=create)
            from projections.postgres_views import PostgresViews

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

    def has_table(self, physical: str) -> bool:
        return self.dialect.has_table(self.query, physical)

    def has_index(self, physical: str, columns: tuple[str, ...]) -> bool:
        return self.dialect.has_index(self.query, physical, columns)

    def has_columns(self, physical: str, columns: Sequence[str]) -> bool:
        """Whether the table has every one of `columns` (a model built by older code may
        lack the columns a newer projection keeps)."""
        try:
            self.query(f"SELECT {', '.join(columns)} FROM {physical} WHERE 1 = 0", ())
        except Exception as error:
            if isinstance(error, CivledgerError) or is_database_error(error):
                return False
            raise
        return True

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
            except self.swap_retried_on:
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
