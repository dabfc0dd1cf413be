"""The access log's own Merkle log: the RFC 9162 tree of `audit.log`, over the verification
service's access log instead of the event log.

One leaf per access-log row, in position order; the perfect subtrees and the checkpoints are
kept in their own append-only tables (`civledger_access_merkle_*`). `civledger audit checkpoint
--access-log` extends it and `civledger audit verify --access-log` recomputes it from the rows
as stored, so a row changed or deleted behind the triggers' back is found by its position.

On PostgreSQL the service's writers hold a shared advisory lock while they append and the tree
takes the same lock exclusively while it reads rows: every row it logs was committed before
any row with a higher position could be, so a row committed late never lands before rows
already logged (docs/audit.md).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from audit.log import Cursor, MerkleLogProjection, _Backend, _Postgres, _SQLite
from audit.merkle import leaf_hash
from infrastructure.access_log import (
    ACCESS_LOCK_KEY,
    ACCESS_LOG_TABLE,
    ACCESS_MERKLE_CHECKPOINTS,
    ACCESS_MERKLE_LEAVES,
    ACCESS_MERKLE_NODES,
)
from infrastructure.eventlog import ReadsEvents

#: The first byte of an access-log leaf: the version of its encoding.
ACCESS_LEAF_FORMAT = 1
#: The row's columns after its position, in the order the leaf encodes them.
ACCESS_COLUMNS = ("at", "partner", "purpose", "person", "operation", "outcome", "txn")


def access_leaf(row: Sequence[Any]) -> bytes:
    """The leaf hash of one access-log row (position, then the seven text columns).

    Encoding (big-endian): format u8 | position u64 | for each column: length u32 | UTF-8.
    A value that is no longer text (a tampered SQLite cell) is hashed as its text form.
    """
    data = struct.pack(">BQ", ACCESS_LEAF_FORMAT, int(row[0]))
    for value in row[1:]:
        encoded = str(value).encode("utf-8")
        data += struct.pack(">I", len(encoded)) + encoded
    return leaf_hash(data)


class _AccessRows:
    """What the access log's tree changes in a backend: its tables and its rows."""

    leaves, nodes, checkpoints = (
        ACCESS_MERKLE_LEAVES,
        ACCESS_MERKLE_NODES,
        ACCESS_MERKLE_CHECKPOINTS,
    )
    append_only_message = "civledger: the access log's Merkle log is append-only"
    refuse_function = "civledger_access_merkle_refuse_change"
    lock_key = ACCESS_LOCK_KEY
    noun, plural = "access-log entry", "access-log entries"

    def leaf(self, row: Sequence[Any]) -> bytes:
        return access_leaf(row)

    def logins_at(self, cur: Cursor, positions: Sequence[int]) -> dict[int, str | None]:
        return {}

    def _rows(self, cur: Cursor, statement: str, position: int, limit: int) -> list[Any]:
        cur.execute(statement, (position, limit))
        return [tuple(row) for row in cur.fetchall()]


_SELECT = (
    f"SELECT position, {', '.join(ACCESS_COLUMNS)} FROM {ACCESS_LOG_TABLE} "
    "WHERE position > {mark} ORDER BY position LIMIT {mark}"
)


class _AccessSQLite(_AccessRows, _SQLite):
    def events_after(self, cur: Cursor, position: int, limit: int) -> list[Any]:
        return self._rows(cur, _SELECT.format(mark="?"), position, limit)


class _AccessPostgres(_AccessRows, _Postgres):
    def events_after(self, cur: Cursor, position: int, limit: int) -> list[Any]:
        return self._rows(cur, _SELECT.format(mark="%s"), position, limit)

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        # Every reading transaction waits for the writers in flight (see the module's doc).
        with super().read() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key,))
            yield cur


class AccessLogMerkle(MerkleLogProjection):
    """The Merkle log over the access log in `log`'s database (the service's `--store`)."""

    def _backend_for(self, log: ReadsEvents) -> _Backend:
        return _AccessSQLite(log) if log.store.is_sqlite else _AccessPostgres(log)

    def has_access_log(self) -> bool:
        """Whether the database holds an access log at all."""
        with self.backend.read() as cur:

            def query(statement: str, params: Sequence[Any]) -> Sequence[Sequence[Any]]:
                cur.execute(statement, params)
                return list(cur.fetchall())

            return self.backend.dialect.has_table(query, ACCESS_LOG_TABLE)
