"""The verification service's own tables, in the store's database: the partners (their
policies and key hashes) and the access log, which is append-only as the event log is.

The access log holds, for every request that named a person: when, which partner, the stated
purpose, the person's ID number, the operation, the outcome and the request's transaction id.
Never a submitted name or date of birth. UPDATE, DELETE (and on PostgreSQL TRUNCATE) are
refused by triggers (`Dialect.append_only`); on PostgreSQL the role `civledger_service` may
only read partners and append entries, and `civledger_auditor` may read the log.

`GroupCommitLog` appends the entries of concurrent requests in one transaction: each request
waits for the commit that holds its entry, and many wait for the same one, so the log costs one
durable commit per batch, not one per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import queue
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from domain.errors import CivledgerError
from domain.partners import (
    PartnerExists,
    PartnerPolicy,
    Scope,
    UnknownPartner,
    sorted_scopes,
)
from infrastructure.dialect import POSTGRES, SQLITE, Dialect
from infrastructure.errors import StoreUnavailable, store_errors
from infrastructure.postgres import AUDITOR_ROLE
from infrastructure.store_url import StoreURL, store_from_env

PARTNERS_TABLE = "civledger_partners"
ACCESS_LOG_TABLE = "civledger_access_log"
#: The access log's own Merkle log (`audit.access_log`): its leaves, nodes and checkpoints.
ACCESS_MERKLE_LEAVES = "civledger_access_merkle_leaves"
ACCESS_MERKLE_NODES = "civledger_access_merkle_nodes"
ACCESS_MERKLE_CHECKPOINTS = "civledger_access_merkle_checkpoints"
ACCESS_MERKLE_TABLES = (ACCESS_MERKLE_LEAVES, ACCESS_MERKLE_NODES, ACCESS_MERKLE_CHECKPOINTS)
#: PostgreSQL advisory lock: writers hold it shared while they append, the Merkle log takes it
#: exclusively to read, so it never logs a row while a lower position may still commit.
ACCESS_LOCK_KEY = 0x6369766C61636373  # "civlaccs"
#: The role `civledger serve` may connect as on PostgreSQL: read partners, append entries.
SERVICE_ROLE = "civledger_service"
#: Entries committed together at most (a batch waiting longer is cut there).
GROUP_MAX = 512
#: Writer tasks (each with its connection) of the event-loop group commit, per worker.
WRITERS = 2
#: Longest page of the access log.
PAGE_MAX = 500


def new_key() -> str:
    """A partner's key: 256 random bits, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    """What is stored of a key: its SHA-256 (a 256-bit random key needs no slow hash)."""
    return hashlib.sha256(key.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Compare two key hashes in constant time."""
    return hmac.compare_digest(a.encode(), b.encode())


def utc_now() -> str:
    """Now, as the log writes times: ISO 8601 in UTC with microseconds, so text order is time
    order."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@dataclass(frozen=True)
class Partner:
    """A partner on record: its policy, its key's hash, and when it was revoked (if it was)."""

    policy: PartnerPolicy
    key_hash: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def as_document(self) -> dict[str, Any]:
        return {
            **self.policy.as_document(),
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class AccessEntry:
    """One request that named a person."""

    at: str
    partner: str
    purpose: str
    person: str
    operation: str
    outcome: str
    transaction: str
    position: int | None = None

    def as_document(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "partner": self.partner,
            "purpose": self.purpose,
            "operation": self.operation,
            "outcome": self.outcome,
            "transaction": self.transaction,
            "position": self.position,
        }


_COLUMNS = ("at", "partner", "purpose", "person", "operation", "outcome", "txn")
#: PostgreSQL: a batch of entries in one statement (arrays of each column), one round trip.
#: The shared lock (ACCESS_LOCK_KEY) is taken in the same statement, by a CTE that every row
#: is joined with, so it is held before any row draws its position, until the commit.
_PG_APPEND = (
    f"WITH locked AS (SELECT pg_advisory_xact_lock_shared({ACCESS_LOCK_KEY})) "
    f"INSERT INTO {ACCESS_LOG_TABLE} ({', '.join(_COLUMNS)}) "
    f"SELECT entry.* FROM locked, unnest({', '.join('%s::text[]' for _ in _COLUMNS)}) AS entry"
)


def _columns(entries: Sequence[AccessEntry]) -> list[list[str]]:
    return [
        [e.at for e in entries],
        [e.partner for e in entries],
        [e.purpose for e in entries],
        [e.person for e in entries],
        [e.operation for e in entries],
        [e.outcome for e in entries],
        [e.transaction for e in entries],
    ]


class AccessLogStore:
    """The partners and the access log in one database (the store's: SQLite or PostgreSQL).

    One connection; not shared between threads without a lock (the service gives each thread
    its own store, and the group-commit writer its own)."""

    def __init__(self, url: StoreURL) -> None:
        self.url = url
        self.where = f"access log at {url.redacted()}"
        self.dialect: Dialect = SQLITE if url.is_sqlite else POSTGRES
        with self._errors():
            if url.is_sqlite:
                path = Path(url.path)
                if not path.parent.is_dir():
                    raise StoreUnavailable(f"{self.where}: no directory {path.parent}")
                self._sqlite = sqlite3.connect(
                    path, isolation_level=None, check_same_thread=False, timeout=30
                )
                self._sqlite.execute("PRAGMA journal_mode=WAL")
                self._sqlite.execute("PRAGMA synchronous=FULL")
                self._sqlite.execute("PRAGMA busy_timeout=30000")
            else:
                self._pg: psycopg.Connection[tuple[Any, ...]] = psycopg.connect(
                    **url.connection_kwargs(), autocommit=True
                )
                self._pg.execute("SET client_min_messages = warning")

    @classmethod
    def open(cls, store: StoreURL | str | None, *, create: bool = False) -> AccessLogStore:
        """The tables in the store's database; with `create` they are made if missing. A
        SQLite path with no file behind it is refused rather than created unless `create`."""
        url = store if isinstance(store, StoreURL) else store_from_env(store)
        if not create:
            url.must_exist()
        opened = cls(url)
        if create:
            opened.ensure_schema()
        return opened

    def _errors(self) -> Any:
        return store_errors(self.where)

    # ------------------------------------------------------------------ running SQL

    def _query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._errors():
            if self.url.is_sqlite:
                return list(self._sqlite.execute(statement, params).fetchall())
            cursor = self._pg.execute(self.dialect.q(statement), params, prepare=True)
            return cursor.fetchall() if cursor.description else []

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """Statements in one transaction: yields a function running one (`?` markers)."""
        with self._errors():
            if self.url.is_sqlite:
                c = self._sqlite
                c.execute("BEGIN IMMEDIATE")
                try:
                    yield lambda s, p=(): c.execute(s, p)
                except BaseException:
                    c.execute("ROLLBACK")
                    raise
                c.execute("COMMIT")
            else:
                with self._pg.transaction():
                    yield lambda s, p=(): self._pg.execute(self.dialect.q(s), p or None)

    def _executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if self.url.is_sqlite:
            self._sqlite.executemany(statement, rows)
        else:
            with self._pg.cursor() as cursor:
                cursor.executemany(self.dialect.q(statement), rows)

    # ------------------------------------------------------------------ schema

    def has_schema(self) -> bool:
        return self.dialect.count_tables(self._query, [PARTNERS_TABLE, ACCESS_LOG_TABLE]) == 2

    def ensure_schema(self) -> None:
        """Create the tables and the access log's append-only triggers (idempotent)."""
        if self.url.is_sqlite:
            position = "position INTEGER PRIMARY KEY AUTOINCREMENT"
        else:
            position = "position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
        statements = [
            f"CREATE TABLE IF NOT EXISTS {PARTNERS_TABLE} (name TEXT PRIMARY KEY, "
            "key_hash TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL, fields TEXT NOT NULL, "
            "rate BIGINT, created_at TEXT NOT NULL, revoked_at TEXT)",
            f"CREATE TABLE IF NOT EXISTS {ACCESS_LOG_TABLE} ({position}, at TEXT NOT NULL, "
            "partner TEXT NOT NULL, purpose TEXT NOT NULL, person TEXT NOT NULL, "
            "operation TEXT NOT NULL, outcome TEXT NOT NULL, txn TEXT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {ACCESS_LOG_TABLE}_person "
            f"ON {ACCESS_LOG_TABLE} (person, position)",
            *self.dialect.append_only(
                [ACCESS_LOG_TABLE],
                "the access log is append-only",
                function=f"{ACCESS_LOG_TABLE}_refuse_change",
            ),
        ]
        with self._transaction() as run:
            for statement in statements:
                run(statement)

    def create_roles(self) -> list[str]:
        """PostgreSQL: the role `civledger_service` (read partners, append to the access log,
        read it) and read access to the log for `civledger_auditor`; idempotent."""
        if self.url.is_sqlite:
            raise StoreUnavailable("roles need PostgreSQL: SQLite has no users")
        self.ensure_schema()
        service, auditor = sql.Identifier(SERVICE_ROLE), sql.Identifier(AUDITOR_ROLE)
        database = sql.Identifier(str(self._query("SELECT current_database()")[0][0]))
        log, partners = sql.Identifier(ACCESS_LOG_TABLE), sql.Identifier(PARTNERS_TABLE)
        statements = [
            sql.SQL(
                "DO $$ BEGIN CREATE ROLE {role} LOGIN; "
                "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            ).format(role=role)
            for role in (service, auditor)
        ]
        statements += [
            sql.SQL("GRANT CONNECT ON DATABASE {db} TO {s}, {a}").format(
                db=database, s=service, a=auditor
            ),
            sql.SQL("GRANT USAGE ON SCHEMA public TO {s}, {a}").format(s=service, a=auditor),
            sql.SQL("GRANT SELECT ON {p} TO {s}").format(p=partners, s=service),
            sql.SQL("GRANT SELECT, INSERT ON {log} TO {s}").format(log=log, s=service),
            sql.SQL("GRANT SELECT ON {log} TO {a}").format(log=log, a=auditor),
        ]
        merkle = [t for t in ACCESS_MERKLE_TABLES if self.dialect.has_table(self._query, t)]
        statements += [
            sql.SQL("GRANT SELECT ON {t} TO {a}").format(t=sql.Identifier(t), a=auditor)
            for t in merkle
        ]
        with self._errors(), self._pg.transaction():
            for statement in statements:
                self._pg.execute(statement)
        return [SERVICE_ROLE, AUDITOR_ROLE]

    # ------------------------------------------------------------------ partners

    def _partner(self, row: Sequence[Any]) -> Partner:
        name, hashed, scopes, fields, rate, created, revoked = row
        policy = PartnerPolicy(
            name=name,
            scopes=frozenset(Scope(s) for s in str(scopes).split(",") if s),
            fields=tuple(json.loads(fields)),
            rate=None if rate is None else int(rate),
        )
        return Partner(policy, str(hashed), str(created), revoked)

    def partners(self) -> list[Partner]:
        """Every partner on record, revoked ones too, by name."""
        if not self.has_schema():
            return []
        rows = self._query(
            "SELECT name, key_hash, scopes, fields, rate, created_at, revoked_at "
            f"FROM {PARTNERS_TABLE} ORDER BY name"
        )
        return [self._partner(row) for row in rows]

    def partner(self, name: str) -> Partner:
        for partner in self.partners():
            if partner.policy.name == name:
                return partner
        raise UnknownPartner(f"no partner named {name!r}")

    def add_partner(self, policy: PartnerPolicy) -> str:
        """Record a partner; returns its key, which is stored only as a hash."""
        self.ensure_schema()
        key = new_key()
        with self._transaction() as run:
            taken = run(f"SELECT 1 FROM {PARTNERS_TABLE} WHERE name = ?", (policy.name,))
            if taken.fetchone() is not None:
                raise PartnerExists(
                    f"a partner named {policy.name!r} is on record; "
                    "rotate its key or revoke it instead"
                )
            run(
                f"INSERT INTO {PARTNERS_TABLE} "
                "(name, key_hash, scopes, fields, rate, created_at, revoked_at) "
                "VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (
                    policy.name,
                    key_hash(key),
                    sorted_scopes(policy.scopes),
                    json.dumps(list(policy.fields)),
                    policy.rate,
                    utc_now(),
                ),
            )
        return key

    def revoke(self, name: str) -> Partner:
        """Refuse the partner's key from now on (the partner stays on record)."""
        self.partner(name)
        with self._transaction() as run:
            run(
                f"UPDATE {PARTNERS_TABLE} SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (utc_now(), name),
            )
        return self.partner(name)

    def rotate(self, name: str) -> str:
        """A new key for the partner; the old one is refused from now on. A revoked partner
        is given a key again."""
        self.partner(name)
        key = new_key()
        with self._transaction() as run:
            run(
                f"UPDATE {PARTNERS_TABLE} SET key_hash = ?, revoked_at = NULL WHERE name = ?",
                (key_hash(key), name),
            )
        return key

    # ------------------------------------------------------------------ the log

    def append(self, entries: Sequence[AccessEntry]) -> None:
        """Append entries in one transaction, committed durably before this returns."""
        if not entries:
            return
        marks = ", ".join("?" * len(_COLUMNS))
        statement = f"INSERT INTO {ACCESS_LOG_TABLE} ({', '.join(_COLUMNS)}) VALUES ({marks})"
        rows: list[tuple[str, ...]] = [
            (e.at, e.partner, e.purpose, e.person, e.operation, e.outcome, e.transaction)
            for e in entries
        ]
        if self.url.is_sqlite:
            with self._transaction():
                self._executemany(statement, rows)
            return
        # One statement, one round trip: its own transaction, committed when it returns.
        with self._errors():
            self._pg.execute(_PG_APPEND, _columns(entries), prepare=True)

    def entries(
        self,
        person: str,
        *,
        since: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> list[AccessEntry]:
        """The entries naming `person`, newest first: at or after `since` (an ISO date or
        time), before the position `before`, at most `limit`."""
        if not self.has_schema():
            return []
        clauses: list[str] = ["person = ?"]
        params: list[Any] = [person]
        if since is not None:
            clauses.append("at >= ?")
            params.append(since)
        if before is not None:
            clauses.append("position < ?")
            params.append(before)
        rows = self._query(
            f"SELECT position, {', '.join(_COLUMNS)} FROM {ACCESS_LOG_TABLE} "
            f"WHERE {' AND '.join(clauses)} ORDER BY position DESC LIMIT ?",
            (*params, min(limit, PAGE_MAX)),
        )
        return [
            AccessEntry(
                at=str(at),
                partner=str(partner),
                purpose=str(purpose),
                person=str(who),
                operation=str(operation),
                outcome=str(outcome),
                transaction=str(txn),
                position=int(position),
            )
            for position, at, partner, purpose, who, operation, outcome, txn in rows
        ]

    def ping(self) -> None:
        """Raise `StoreUnavailable` unless the database answers and holds the tables."""
        if not self.has_schema():
            raise StoreUnavailable(f"{self.where}: no access log (run `civledger serve` once)")

    def close(self) -> None:
        if self.url.is_sqlite:
            self._sqlite.close()
        else:
            self._pg.close()


class GroupCommitLog:
    """Appends access-log entries from many threads, committing the entries that arrive
    together in one transaction. `submit()` returns a future that is done once the entry's
    transaction has committed (or failed: the future then holds the error)."""

    def __init__(self, store: StoreURL) -> None:
        self.store = store
        self._queue: queue.SimpleQueue[tuple[AccessEntry, Future[None]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
        self._log: AccessLogStore | None = None
        #: Transactions committed and entries in them, for the benchmark's figures.
        self.commits = 0
        self.entries = 0
        self._thread.start()

    def submit(self, entry: AccessEntry) -> Future[None]:
        future: Future[None] = Future()
        self._queue.put((entry, future))
        return future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stopping = False
            while len(batch) < GROUP_MAX:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)
            if stopping:
                return

    def _commit(self, batch: list[tuple[AccessEntry, Future[None]]]) -> None:
        try:
            if self._log is None:
                self._log = AccessLogStore(self.store)
            self._log.append([entry for entry, _ in batch])
        except Exception as error:  # every waiting request learns its entry was not written
            if self._log is not None:
                self._log.close()
                self._log = None
            failure = (
                error
                if isinstance(error, CivledgerError)
                else StoreUnavailable(f"access log: {type(error).__name__}")
            )
            for _, future in batch:
                future.set_exception(failure)
            return
        self.commits += 1
        self.entries += len(batch)
        for _, future in batch:
            future.set_result(None)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)
        if self._log is not None:
            self._log.close()


class AsyncGroupCommitLog:
    """The group commit of `GroupCommitLog` on the event loop, for PostgreSQL: a writer task
    takes every entry queued since its last commit and appends them in one statement on its
    own async connection, so that no request, and no thread, waits on another thread for its
    commit. `WRITERS` tasks share the queue: an entry that arrives while one commit is being
    flushed goes out in the next writer's commit instead of waiting for the first to end."""

    def __init__(self, store: StoreURL, writers: int = WRITERS) -> None:
        if store.is_sqlite:
            raise ValueError("the event-loop writer is for PostgreSQL")
        self.store = store
        self._queue: asyncio.Queue[tuple[AccessEntry, asyncio.Future[None]]] = asyncio.Queue()
        self._connections: list[psycopg.AsyncConnection[tuple[Any, ...]]] = []
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run()) for _ in range(writers)]
        self.commits = 0
        self.entries = 0

    async def append(self, entry: AccessEntry) -> None:
        """Return once the entry is committed (raise if it could not be)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((entry, future))
        await future

    async def _connect(self) -> psycopg.AsyncConnection[tuple[Any, ...]]:
        url = self.store
        connection = await psycopg.AsyncConnection.connect(
            **url.connection_kwargs(), autocommit=True
        )
        self._connections.append(connection)
        return connection

    async def _run(self) -> None:
        connection: psycopg.AsyncConnection[tuple[Any, ...]] | None = None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < GROUP_MAX and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                if connection is None:
                    connection = await self._connect()
                entries = [entry for entry, _ in batch]
                await connection.execute(_PG_APPEND, _columns(entries), prepare=True)
            except Exception as error:
                if connection is not None:
                    await self._drop(connection)
                    connection = None
                failure = StoreUnavailable(f"access log: {type(error).__name__}")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(failure)
                continue
            self.commits += 1
            self.entries += len(batch)
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def _drop(self, connection: psycopg.AsyncConnection[tuple[Any, ...]]) -> None:
        if connection in self._connections:
            self._connections.remove(connection)
        with contextlib.suppress(Exception):
            await connection.close()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for connection in list(self._connections):
            await self._drop(connection)
