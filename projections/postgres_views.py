"""Read models in a PostgreSQL database (see `projections.views`)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

import psycopg

from infrastructure.dialect import POSTGRES
from infrastructure.store_url import StoreURL
from projections.tables import TRACKING_TABLE, Table
from projections.views import PositionMoved, Row, ViewDatabase, ViewTransaction


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
    dialect = POSTGRES
    unlogged_rebuilds = True
    swap_retried_on = (psycopg.errors.DeadlockDetected,)

    def __init__(self, url: StoreURL, *, create: bool = True) -> None:
        super().__init__(url)
        self.connection: psycopg.Connection[tuple[Any, ...]] = psycopg.connect(
            **url.connection_kwargs(), autocommit=True
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

    def query(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        statement = POSTGRES.q(statement)
        return self.connection.execute(cast(Any, statement), params, prepare=True).fetchall()

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
