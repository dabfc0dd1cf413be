"""The SQL that differs between SQLite and PostgreSQL, written once for every table civledger
keeps: the event log (`infrastructure.sqlite`, `infrastructure.postgres`), the read models
(`projections.views`) and the Merkle log (`audit.log`).

A `Dialect` knows its placeholder style, its column types, how to refuse UPDATE, DELETE (and on
PostgreSQL TRUNCATE) on a table with a message, how to ask whether tables and indexes exist,
and, for both backends, how to recognise the error of a table that is not there. Callers run
the statements on their own connections: a dialect holds no connection, only text.
"""

from __future__ import annotations

import sqlite3
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from infrastructure.store_url import StoreURL

#: Runs one statement with its parameters and returns every row (`?` placeholders are the
#: caller's to rewrite with `Dialect.q`).
Query = Callable[[str, Sequence[Any]], Sequence[Sequence[Any]]]


def sql_literal(text: str) -> str:
    """`text` as a quoted SQL string literal (quotes doubled), the same on both backends."""
    return "'" + text.replace("'", "''") + "'"


class Dialect(ABC):
    """What one backend's SQL looks like."""

    name: str
    #: Parameter marker of the driver: `?` (sqlite3) or `%s` (psycopg).
    placeholder: str
    blob: str
    bigint: str

    def q(self, statement: str) -> str:
        """A statement written with `?` markers, in this driver's marker style."""
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)

    def marks(self, count: int) -> str:
        """`count` markers separated by commas, for `IN (...)`."""
        return ", ".join([self.placeholder] * count)

    @abstractmethod
    def qualified(self, table: str, schema: str | None = None) -> str:
        """The table's name as statements write it (schema-qualified and quoted on PostgreSQL
        when a schema is given)."""

    @abstractmethod
    def append_only(
        self,
        tables: Sequence[str],
        message: str,
        *,
        schema: str | None = None,
        function: str | None = None,
    ) -> list[str]:
        """Idempotent DDL that makes `tables` append-only: UPDATE and DELETE (and on PostgreSQL
        TRUNCATE) fail with `message`. The triggers are named `<table>_no_update` and
        `<table>_no_delete` (SQLite) or `<table>_no_update_delete` and `<table>_no_truncate`
        (PostgreSQL, through the trigger function `function`, created in `schema`)."""

    @abstractmethod
    def count_tables(self, query: Query, names: Sequence[str]) -> int:
        """How many of the tables `names` (as statements write them) exist."""

    def has_table(self, query: Query, name: str) -> bool:
        return self.count_tables(query, [name]) == 1

    @abstractmethod
    def has_index(self, query: Query, table: str, columns: Sequence[str]) -> bool:
        """Whether `table` has a secondary (non-key) index on exactly `columns`, in order."""


class SQLiteDialect(Dialect):
    name = "sqlite"
    placeholder = "?"
    blob = "BLOB"
    bigint = "INTEGER"

    def qualified(self, table: str, schema: str | None = None) -> str:
        return table

    def append_only(
        self,
        tables: Sequence[str],
        message: str,
        *,
        schema: str | None = None,
        function: str | None = None,
    ) -> list[str]:
        return [
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{operation.lower()} "
            f"BEFORE {operation} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, {sql_literal(message)}); END"
            for table in tables
            for operation in ("UPDATE", "DELETE")
        ]

    def count_tables(self, query: Query, names: Sequence[str]) -> int:
        if not names:
            return 0
        rows = query(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' "
            f"AND name IN ({self.marks(len(names))})",
            list(names),
        )
        return int(rows[0][0])

    def has_index(self, query: Query, table: str, columns: Sequence[str]) -> bool:
        wanted = tuple(columns)
        for (name,) in query(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL",
            (table,),
        ):
            info = query(f"PRAGMA index_info({name})", ())
            if tuple(row[2] for row in info) == wanted:
                return True
        return False


class PostgresDialect(Dialect):
    name = "postgresql"
    placeholder = "%s"
    blob = "bytea"
    bigint = "bigint"

    def qualified(self, table: str, schema: str | None = None) -> str:
        if schema is None:
            return table
        return f"{_identifier(schema)}.{_identifier(table)}"

    def append_only(
        self,
        tables: Sequence[str],
        message: str,
        *,
        schema: str | None = None,
        function: str | None = None,
    ) -> list[str]:
        if not tables:
            return []
        schema = schema or "public"
        refuse = self.qualified(function or f"{tables[0]}_refuse_change", schema)
        statements = [
            f"CREATE OR REPLACE FUNCTION {refuse}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION {sql_literal(message + ' (% refused)')}, TG_OP "
            "USING ERRCODE = 'insufficient_privilege'; END $$"
        ]
        for table in tables:
            qualified = self.qualified(table, schema)
            statements += [
                f"CREATE OR REPLACE TRIGGER {_identifier(table + '_no_update_delete')} "
                f"BEFORE UPDATE OR DELETE ON {qualified} FOR EACH ROW "
                f"EXECUTE FUNCTION {refuse}()",
                f"CREATE OR REPLACE TRIGGER {_identifier(table + '_no_truncate')} "
                f"BEFORE TRUNCATE ON {qualified} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {refuse}()",
            ]
        return statements

    def count_tables(self, query: Query, names: Sequence[str]) -> int:
        if not names:
            return 0
        rows = query(
            "SELECT COUNT(to_regclass(name)) FROM unnest(%s::text[]) AS name", (list(names),)
        )
        return int(rows[0][0])

    def has_index(self, query: Query, table: str, columns: Sequence[str]) -> bool:
        wanted = tuple(columns)
        rows = query(
            "SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i "
            "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            "WHERE i.indrelid = to_regclass(%s) AND NOT i.indisprimary GROUP BY i.indexrelid",
            (table,),
        )
        return any(tuple(row[0]) == wanted for row in rows)


def _identifier(name: str) -> str:
    """A quoted PostgreSQL identifier (as `psycopg.sql.Identifier` writes it)."""
    return '"' + name.replace('"', '""') + '"'


SQLITE = SQLiteDialect()
POSTGRES = PostgresDialect()


def dialect_of(url: StoreURL) -> Dialect:
    """The dialect of the database `url` names."""
    return SQLITE if url.is_sqlite else POSTGRES


# ---------------------------------------------------------------- missing tables

#: SQLSTATE of PostgreSQL's `undefined_table` (`relation "x" does not exist`).
UNDEFINED_TABLE = "42P01"


def is_missing_table(error: BaseException) -> bool:
    """Whether `error` (a driver's error, or the library's error wrapping one) says that a
    table is not there: SQLite's `no such table`, PostgreSQL's `undefined_table`."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlite3.OperationalError) and "no such table" in str(current):
            return True
        psycopg = sys.modules.get("psycopg")
        if (
            psycopg is not None
            and isinstance(current, psycopg.Error)
            and getattr(current, "sqlstate", None) == UNDEFINED_TABLE
        ):
            return True
        current = current.__cause__ or current.__context__
    text = str(error)
    return "no such table" in text or ("relation" in text and "does not exist" in text)
