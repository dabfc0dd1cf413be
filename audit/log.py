"""The tamper-evident log: an RFC 9162 Merkle tree over the event log, kept beside it.

`MerkleLogProjection` appends one leaf per stored event, in position order, and stores each
perfect subtree as it completes (tables `civledger_merkle_leaves` and `civledger_merkle_nodes`)
plus the checkpoints it signs off (`civledger_merkle_checkpoints`). An append reads the tree's
right edge (at most log2(n) nodes) and writes one leaf and, on average, one node: O(log n) per
event, never a rescan. Those tables are append-only too (triggers refuse UPDATE and DELETE).

`verify` is the one O(n) operation: it recomputes every leaf from the events as stored and
compares them, in order, with the log, the stored checkpoints and an auditor's checkpoint.
A leaf hashes the state bytes as stored, so verification needs no cipher key.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, cast
from uuid import UUID

from psycopg.rows import tuple_row

from audit.errors import LedgerTampered
from audit.merkle import (
    CompactRange,
    NodeId,
    ProofError,
    consistency_ranges,
    inclusion_ranges,
    nodes_for,
    proof_from,
    root_nodes,
    verify_inclusion,
)
from audit.proofs import (
    Checkpoint,
    ConsistencyProof,
    EventLeaf,
    InclusionProof,
    InclusionProofs,
    b64,
)
from domain.errors import RuleBroken, UnknownPerson
from domain.events import RegisterEvent
from domain.registry import IdNumberClaim, claim_id
from domain.values import Clock, IdNumber, PersonRef, SystemClock, counted, parse_person_ref
from infrastructure.dialect import POSTGRES, SQLITE, Dialect
from infrastructure.errors import EventsUnreadable, store_errors
from infrastructure.eventlog import ReadsEvents
from infrastructure.store_url import PositionedRecorder

LEAVES = "civledger_merkle_leaves"
NODES = "civledger_merkle_nodes"
CHECKPOINTS = "civledger_merkle_checkpoints"
TABLES = (LEAVES, NODES, CHECKPOINTS)
APPEND_ONLY_MESSAGE = "civledger: the Merkle log is append-only"
#: The PostgreSQL trigger function that refuses changes to the log's tables.
REFUSE_FUNCTION = "civledger_merkle_refuse_change"
#: Events per transaction when the log catches up, and per read when it is verified.
BATCH_SIZE = 1000
#: Key of the PostgreSQL advisory lock that serialises appends to the Merkle log.
LOCK_KEY = 0x6369766C65646772  # "civledgr"

#: (position, originator id, version, topic, state as stored, login that appended it)
EventRow = tuple[int, UUID, int, str, bytes, str | None]


class Cursor(Protocol):
    def execute(self, query: Any, params: Any = ..., /) -> Any: ...
    def executemany(self, query: Any, params_seq: Any, /) -> Any: ...
    def fetchall(self) -> Any: ...
    def fetchone(self) -> Any: ...


# ------------------------------------------------------------------------ backends


class _Backend(ABC):
    """The few statements that differ between SQLite and PostgreSQL: the dialect's, and how
    a transaction on the event log's own connections is opened."""

    dialect: Dialect
    #: The tree's tables, their trigger, the lock serialising appends, and what a leaf is.
    leaves, nodes, checkpoints = LEAVES, NODES, CHECKPOINTS
    append_only_message = APPEND_ONLY_MESSAGE
    refuse_function = REFUSE_FUNCTION
    lock_key = LOCK_KEY
    noun, plural = "event", "events"

    @property
    def tables(self) -> tuple[str, str, str]:
        return (self.leaves, self.nodes, self.checkpoints)

    @property
    def leaf_table(self) -> str:
        return self.table(self.leaves)

    @property
    def node_table(self) -> str:
        return self.table(self.nodes)

    @property
    def checkpoint_table(self) -> str:
        return self.table(self.checkpoints)

    def leaf(self, row: Sequence[Any]) -> bytes:
        """The leaf hash of a row that `events_after` returned."""
        return EventLeaf.of_stored(*row).hash()

    def __init__(self, log: ReadsEvents) -> None:
        self.recorder = cast(Any, log.recorder)
        self.events_table: str = self.recorder.events_table_name

    @property
    def blob(self) -> str:
        return self.dialect.blob

    @property
    def bigint(self) -> str:
        return self.dialect.bigint

    def table(self, name: str) -> str:
        return self.dialect.qualified(name, self.schema)

    @property
    def schema(self) -> str | None:
        return None

    def q(self, statement: str) -> str:
        return self.dialect.q(statement)

    def has_tables(self, cur: Cursor) -> bool:
        def query(statement: str, params: Sequence[Any]) -> Sequence[Sequence[Any]]:
            cur.execute(statement, params)
            return cast(Sequence[Sequence[Any]], cur.fetchall())

        return self.dialect.count_tables(query, [self.table(t) for t in self.tables]) == len(
            self.tables
        )

    @abstractmethod
    def read(self) -> AbstractContextManager[Cursor]: ...

    @abstractmethod
    def write(self) -> AbstractContextManager[Cursor]: ...

    @abstractmethod
    def can_write(self) -> bool: ...

    @abstractmethod
    def events_after(self, cur: Cursor, position: int, limit: int) -> Sequence[Any]: ...

    def logins_at(self, cur: Cursor, positions: Sequence[int]) -> dict[int, str | None]:
        """The login stamped on each row at `positions` (none on SQLite)."""
        return {}

    def create_statements(self) -> list[str]:
        """The log's tables and their append-only triggers (idempotent)."""
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table(self.leaves)} (leaf_index {self.bigint} "
            f"PRIMARY KEY, position {self.bigint} NOT NULL UNIQUE, leaf_hash {self.blob} "
            "NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.table(self.nodes)} (level INTEGER NOT NULL, "
            f"node_index {self.bigint} NOT NULL, hash {self.blob} NOT NULL, "
            "PRIMARY KEY (level, node_index))",
            f"CREATE TABLE IF NOT EXISTS {self.table(self.checkpoints)} (tree_size {self.bigint} "
            f"PRIMARY KEY, root_hash {self.blob} NOT NULL, made_at TEXT NOT NULL)",
            *self.dialect.append_only(
                self.tables,
                self.append_only_message,
                schema=self.schema,
                function=self.refuse_function,
            ),
        ]


class _SQLite(_Backend):
    dialect = SQLITE

    def read(self) -> AbstractContextManager[Cursor]:
        return cast(
            AbstractContextManager[Cursor], self.recorder.datastore.transaction(commit=False)
        )

    @contextmanager
    def write(self) -> Iterator[Cursor]:
        with self.recorder.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def can_write(self) -> bool:
        return True

    def events_after(self, cur: Cursor, position: int, limit: int) -> list[EventRow]:
        cur.execute(
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {self.events_table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (position, limit),
        )
        return [
            (row[0], _uuid(row[1], row[0]), row[2], row[3], as_stored(row[4]), None)
            for row in cur.fetchall()
        ]


class _Postgres(_Backend):
    dialect = POSTGRES

    @property
    def schema(self) -> str | None:
        return cast(str, self.recorder.datastore.schema)

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        datastore = self.recorder.datastore
        with (
            datastore.get_connection() as conn,
            conn.transaction(force_rollback=True),
            conn.cursor(row_factory=tuple_row) as cur,
        ):
            yield cur

    @contextmanager
    def write(self) -> Iterator[Cursor]:
        datastore = self.recorder.datastore
        with (
            datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=tuple_row) as cur,
        ):
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key,))
            yield cur

    def can_write(self) -> bool:
        with self.read() as cur:
            if self.has_tables(cur):
                cur.execute(
                    "SELECT bool_and(has_table_privilege(name, 'INSERT')) "
                    "FROM unnest(%s::text[]) AS name",
                    ([self.table(t) for t in self.tables],),
                )
            else:
                cur.execute("SELECT has_schema_privilege(%s, 'CREATE')", (self.schema,))
            return bool(cur.fetchone()[0])

    _stamped = False

    def stamped(self, cur: Cursor) -> bool:
        """Whether the event table names each row's login (`recorded_by`, docs/adr/008).
        Asked again until it does: the column may be added while a long job runs."""
        if not self._stamped:
            cur.execute(
                "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = %s AND column_name = 'recorded_by')",
                (self.schema, self.events_table),
            )
            self._stamped = bool(cur.fetchone()[0])
        return self._stamped

    def events_after(self, cur: Cursor, position: int, limit: int) -> list[EventRow]:
        login = "recorded_by" if self.stamped(cur) else "NULL"
        cur.execute(
            f"SELECT notification_id, originator_id, originator_version, topic, state, {login} "
            f"FROM {self.table(self.events_table)} WHERE notification_id > %s "
            "ORDER BY notification_id LIMIT %s",
            (position, limit),
        )
        return [
            (row[0], row[1], row[2], row[3], as_stored(row[4]), row[5]) for row in cur.fetchall()
        ]

    def logins_at(self, cur: Cursor, positions: Sequence[int]) -> dict[int, str | None]:
        if not positions or not self.stamped(cur):
            return {}
        cur.execute(
            f"SELECT notification_id, recorded_by FROM {self.table(self.events_table)} "
            "WHERE notification_id = ANY(%s)",
            (list(positions),),
        )
        return {int(row[0]): row[1] for row in cur.fetchall()}


def _backend(log: ReadsEvents) -> _Backend:
    return _SQLite(log) if log.store.is_sqlite else _Postgres(log)


# ------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CheckpointOutcome:
    checkpoint: Checkpoint
    #: False when the role may not write the log (an auditor): computed, not stored.
    stored: bool
    appended: int


@dataclass(frozen=True)
class Verification:
    events: int
    logged: int
    checkpoints_checked: int
    latest: Checkpoint | None
    trusted: Checkpoint | None
    consistency: ConsistencyProof | None

    def document(self) -> dict[str, Any]:
        return {
            "verified": True,
            "events": self.events,
            "logged": self.logged,
            "unlogged": self.events - self.logged,
            "checkpoints_checked": self.checkpoints_checked,
            "latest": self.latest.document() if self.latest else None,
            "checkpoint": self.trusted.document() if self.trusted else None,
            "consistency": self.consistency.document() if self.consistency else None,
        }


# ---------------------------------------------------------------------- projection


class MerkleLogProjection:
    """Keeps the Merkle log of one register current, and answers from it."""

    def __init__(
        self, log: ReadsEvents, batch_size: int = BATCH_SIZE, clock: Clock | None = None
    ) -> None:
        """The Merkle log beside `log`'s events: an `EventLog` opened for reading, or the write
        side's register. Checkpoints are dated by `clock`: by default the register's own, or
        the system's."""
        self.log = log
        self.backend = self._backend_for(log)
        self.batch_size = batch_size
        self.clock: Clock = clock or cast(Clock, getattr(log, "clock", None) or SystemClock())

    def _backend_for(self, log: ReadsEvents) -> _Backend:
        """The tree's tables and rows: the event log's (a subclass logs another table)."""
        return _backend(log)

    # ------------------------------------------------------------- maintenance

    def ensure_tables(self) -> None:
        """Create the log's tables and their append-only triggers (idempotent)."""
        with store_errors(), self.backend.write() as cur:
            for statement in self.backend.create_statements():
                cur.execute(statement)

    def checkpoint(self) -> CheckpointOutcome:
        """Extend the log to the last event and sign off its size and root.

        A role that may not write the log (an auditor) gets the checkpoint computed from the
        stored right edge and the events after it, without storing anything.
        """
        if not self.backend.can_write():
            return self._checkpoint_read_only()
        return self._extend()

    def _extend(self) -> CheckpointOutcome:
        """Append a leaf for every event not yet logged, one transaction per batch, and sign
        off in the last one."""
        with store_errors(), self.backend.read() as cur:
            has_tables = self.backend.has_tables(cur)
        if not has_tables:
            self.ensure_tables()
        appended = 0
        while True:
            with store_errors(), self.backend.write() as cur:
                count = self._append_batch(cur)
                appended += count
                if count < self.batch_size:
                    return CheckpointOutcome(self._sign_off(cur), stored=True, appended=appended)

    def _sign_off(self, cur: Cursor) -> Checkpoint:
        size = self._size(cur)
        latest = self._latest(cur)
        if latest is not None and latest.size == size:
            return latest
        made = Checkpoint(size, self._frontier(cur, size).root(), self.clock.now())
        cur.execute(
            self.backend.q(
                f"INSERT INTO {self.backend.checkpoint_table} "
                "(tree_size, root_hash, made_at) VALUES (?, ?, ?)"
            ),
            (made.size, made.root, made.at.isoformat()),
        )
        return made

    def _checkpoint_read_only(self) -> CheckpointOutcome:
        with store_errors(), self.backend.read() as cur:
            size = self._size(cur) if self.backend.has_tables(cur) else 0
            frontier = self._frontier(cur, size)
            position = self._last_position(cur, size)
            appended = 0
            while rows := self.backend.events_after(cur, position, self.batch_size):
                for row in rows:
                    frontier.append(self.backend.leaf(row))
                appended += len(rows)
                position = rows[-1][0]
        made = Checkpoint(frontier.size, frontier.root(), self.clock.now())
        return CheckpointOutcome(made, stored=False, appended=appended)

    def _append_batch(self, cur: Cursor) -> int:
        size = self._size(cur)
        rows = self.backend.events_after(cur, self._last_position(cur, size), self.batch_size)
        if not rows:
            return 0
        frontier = self._frontier(cur, size)
        leaves: list[tuple[int, int, bytes]] = []
        nodes: list[tuple[int, int, bytes]] = []
        for row in rows:
            leaf = self.backend.leaf(row)
            leaves.append((frontier.size, row[0], leaf))
            nodes += [(level, index, digest) for (level, index), digest in frontier.append(leaf)]
        cur.executemany(
            self.backend.q(
                f"INSERT INTO {self.backend.leaf_table} (leaf_index, position, leaf_hash) "
                "VALUES (?, ?, ?)"
            ),
            leaves,
        )
        if nodes:
            cur.executemany(
                self.backend.q(
                    f"INSERT INTO {self.backend.node_table} (level, node_index, hash) "
                    "VALUES (?, ?, ?)"
                ),
                nodes,
            )
        return len(rows)

    # ----------------------------------------------------------------- queries

    def latest(self) -> Checkpoint | None:
        with store_errors(), self.backend.read() as cur:
            return self._latest(cur) if self.backend.has_tables(cur) else None

    def prove(self, ref: PersonRef | str | UUID) -> InclusionProofs:
        """Inclusion proofs of every event of one person against the latest checkpoint."""
        try:
            person_id = ref if isinstance(ref, UUID) else self._resolve(ref)
        except EventsUnreadable as error:
            # A person UUID is resolved from the ids alone; an ID number needs its claim's
            # (encrypted) events.
            raise EventsUnreadable(
                f"finding who holds ID number {ref} needs the CIVLEDGER_CIPHER_KEY the events "
                "were written with; proving by the person's UUID works without the key"
            ) from error
        recorder = cast(PositionedRecorder, self.log.recorder)
        with store_errors():
            notifications = recorder.select_originator_notifications(person_id)
        with store_errors(), self.backend.read() as cur:
            latest = self._latest(cur) if self.backend.has_tables(cur) else None
            if latest is None:
                raise RuleBroken(
                    "the Merkle log has no checkpoint yet: run `civledger audit checkpoint`",
                    rule="ProofNeedsCheckpoint",
                )
            logged = self._leaves_at(cur, [n.id for n in notifications])
            logins = self.backend.logins_at(cur, [n.id for n in notifications])
            wanted: list[tuple[EventLeaf, int, list[tuple[int, int]]]] = []
            pending: list[int] = []
            for n in notifications:
                leaf = EventLeaf.of_stored(
                    n.id,
                    _uuid(n.originator_id, n.id),
                    n.originator_version,
                    n.topic,
                    as_stored(n.state),
                    logins.get(n.id),
                )
                found = logged.get(n.id)
                if found is None or found[0] >= latest.size:
                    pending.append(n.id)
                    continue
                if found[1] != leaf.hash():
                    raise LedgerTampered(
                        f"position {n.id}: the stored event was changed after it was logged"
                    )
                wanted.append((leaf, found[0], inclusion_ranges(found[0], latest.size)))
            nodes = self._nodes(cur, nodes_for(r for _, _, ranges in wanted for r in ranges))
        proofs = []
        for leaf, index, ranges in wanted:
            path = proof_from(ranges, nodes)
            try:
                verify_inclusion(index, latest.size, leaf.hash(), path, latest.root)
            except ProofError as error:
                raise LedgerTampered(
                    f"position {leaf.position}: the Merkle log's stored nodes do not lead to "
                    f"the checkpoint of size {latest.size}: {error}"
                ) from error
            proofs.append(InclusionProof(leaf, index, path))
        return InclusionProofs(person_id, latest, proofs, pending)

    def consistency(self, old: Checkpoint, new: Checkpoint) -> ConsistencyProof:
        """A proof, from the stored nodes, that checkpoint `new` extends checkpoint `old`."""
        if old.size == 0 or old.size >= new.size:
            return ConsistencyProof(old, new, [])
        ranges = consistency_ranges(old.size, new.size)
        with store_errors(), self.backend.read() as cur:
            nodes = self._nodes(cur, nodes_for(ranges))
        return ConsistencyProof(old, new, proof_from(ranges, nodes))

    def verify(
        self,
        trusted: Checkpoint | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Verification:
        """Recompute the log from the events as stored; raise LedgerTampered on a difference.
        `progress(position, head)` is called after each batch."""
        head = 0
        if progress is not None:
            with store_errors():
                head = self.log.recorder.max_notification_id() or 0
        with store_errors(), self.backend.read() as cur:
            has_tables = self.backend.has_tables(cur)
            logged = self._size(cur) if has_tables else 0
            checkpoints = self._checkpoints(cur) if has_tables else []
            stored_edge = self._frontier(cur, logged)
        by_size = {c.size: c for c in checkpoints}
        frontier = CompactRange()
        position = 0
        leaves: list[tuple[int, bytes]] = []
        while True:
            with store_errors(), self.backend.read() as cur:
                rows = self.backend.events_after(cur, position, self.batch_size)
                if rows and frontier.size < logged:
                    leaves = self._leaf_window(cur, frontier.size, len(rows))
            if not rows:
                break
            for offset, row in enumerate(rows):
                index = frontier.size
                digest = self.backend.leaf(row)
                if index < logged:
                    _compare_leaf(
                        index,
                        row[0],
                        digest,
                        leaves[offset] if offset < len(leaves) else None,
                        self.backend.noun,
                    )
                frontier.append(digest)
                self._check_roots(
                    frontier, row[0], by_size, trusted, logged, stored_edge, self.backend.plural
                )
            position = rows[-1][0]
            if progress is not None:
                progress(position, max(head, position))
        noun, plural = self.backend.noun, self.backend.plural
        if frontier.size < logged:
            with store_errors(), self.backend.read() as cur:
                missing = self._leaf_window(cur, frontier.size, 1)
            raise LedgerTampered(
                f"position {missing[0][0]} is missing: the Merkle log covers "
                f"{counted(logged, noun, plural)}, the store now holds {frontier.size}"
            )
        if trusted is not None and trusted.size > frontier.size:
            raise LedgerTampered(
                f"your checkpoint covers {counted(trusted.size, noun, plural)}, the store "
                f"now holds only {frontier.size}: {plural} were deleted"
            )
        latest = checkpoints[-1] if checkpoints else None
        consistency = None
        if trusted is not None and latest is not None and 0 < trusted.size <= latest.size:
            consistency = self.consistency(trusted, latest)
            consistency.verify()
        return Verification(frontier.size, logged, len(checkpoints), latest, trusted, consistency)

    def _resolve(self, ref: PersonRef | str) -> UUID:
        """The person a current or cancelled ID number leads to (through its claim), or a
        person UUID that has a record; `UnknownPerson` (exit 4) otherwise."""
        parsed = parse_person_ref(ref) if isinstance(ref, str) else ref
        recorder = self.log.recorder
        if isinstance(parsed, IdNumber):
            claim = claim_id(parsed)
            with store_errors():
                stored = recorder.select_events(claim)
            events = [cast(RegisterEvent, self.log.mapper.to_domain_event(e)) for e in stored]
            found = IdNumberClaim.replay(claim, events)
            if found is None or found.person_id is None:
                raise UnknownPerson(f"no person holds or held ID number {parsed}")
            return found.person_id
        with store_errors():
            exists = bool(recorder.select_events(parsed, limit=1))
        if not exists:
            raise UnknownPerson(f"no person record {parsed}")
        return parsed

    # --------------------------------------------------------------- workings

    def _size(self, cur: Cursor) -> int:
        cur.execute(f"SELECT MAX(leaf_index) FROM {self.backend.leaf_table}")
        row = cur.fetchone()
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    def _last_position(self, cur: Cursor, size: int) -> int:
        if size == 0:
            return 0
        cur.execute(
            self.backend.q(f"SELECT position FROM {self.backend.leaf_table} WHERE leaf_index = ?"),
            (size - 1,),
        )
        return int(cur.fetchone()[0])

    def _latest(self, cur: Cursor) -> Checkpoint | None:
        cur.execute(
            f"SELECT tree_size, root_hash, made_at FROM {self.backend.checkpoint_table} "
            "ORDER BY tree_size DESC LIMIT 1"
        )
        row = cur.fetchone()
        return _checkpoint(row) if row else None

    def _checkpoints(self, cur: Cursor) -> list[Checkpoint]:
        cur.execute(
            f"SELECT tree_size, root_hash, made_at FROM {self.backend.checkpoint_table} "
            "ORDER BY tree_size"
        )
        return [_checkpoint(row) for row in cur.fetchall()]

    def _leaf_window(self, cur: Cursor, start: int, count: int) -> list[tuple[int, bytes]]:
        cur.execute(
            self.backend.q(
                f"SELECT position, leaf_hash FROM {self.backend.leaf_table} "
                "WHERE leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index"
            ),
            (start, start + count),
        )
        return [(int(row[0]), bytes(row[1])) for row in cur.fetchall()]

    def _leaves_at(self, cur: Cursor, positions: Sequence[int]) -> dict[int, tuple[int, bytes]]:
        found: dict[int, tuple[int, bytes]] = {}
        for chunk in _chunks(list(positions), 500):
            marks = ", ".join("?" * len(chunk))
            cur.execute(
                self.backend.q(
                    f"SELECT position, leaf_index, leaf_hash FROM {self.backend.leaf_table} "
                    f"WHERE position IN ({marks})"
                ),
                chunk,
            )
            found.update({int(r[0]): (int(r[1]), bytes(r[2])) for r in cur.fetchall()})
        return found

    def _nodes(self, cur: Cursor, wanted: set[NodeId]) -> dict[NodeId, bytes]:
        found: dict[NodeId, bytes] = {}
        leaves = sorted(index for level, index in wanted if level == 0)
        for chunk in _chunks(leaves, 500):
            marks = ", ".join("?" * len(chunk))
            cur.execute(
                self.backend.q(
                    f"SELECT leaf_index, leaf_hash FROM {self.backend.leaf_table} "
                    f"WHERE leaf_index IN ({marks})"
                ),
                chunk,
            )
            found.update({(0, int(r[0])): bytes(r[1]) for r in cur.fetchall()})
        inner = sorted(node for node in wanted if node[0] > 0)
        for chunk in _chunks(inner, 250):
            condition = " OR ".join("(level = ? AND node_index = ?)" for _ in chunk)
            cur.execute(
                self.backend.q(
                    f"SELECT level, node_index, hash FROM {self.backend.node_table} "
                    f"WHERE {condition}"
                ),
                [value for node in chunk for value in node],
            )
            found.update({(int(r[0]), int(r[1])): bytes(r[2]) for r in cur.fetchall()})
        missing = wanted - found.keys()
        if missing:
            level, index = min(missing)
            raise LedgerTampered(f"the Merkle log lost its node at level {level}, index {index}")
        return found

    def _frontier(self, cur: Cursor, size: int) -> CompactRange:
        ids = root_nodes(size)
        nodes = self._nodes(cur, set(ids)) if ids else {}
        return CompactRange(size, [nodes[node] for node in ids])

    @staticmethod
    def _check_roots(
        frontier: CompactRange,
        position: int,
        by_size: dict[int, Checkpoint],
        trusted: Checkpoint | None,
        logged: int,
        stored_edge: CompactRange,
        plural: str = "events",
    ) -> None:
        size = frontier.size
        stored = by_size.get(size)
        if stored is not None and stored.root != frontier.root():
            raise LedgerTampered(
                f"position {position}: the stored checkpoint of size {size} "
                f"(root {b64(stored.root)}) does not match the {plural}"
            )
        if trusted is not None and trusted.size == size and trusted.root != frontier.root():
            raise LedgerTampered(
                f"position {position}: the {plural} no longer extend your checkpoint of size "
                f"{size} (root {b64(trusted.root)}): history at or before this position "
                "was rewritten"
            )
        if size == logged and frontier.hashes != stored_edge.hashes:
            raise LedgerTampered(
                f"position {position}: the Merkle log's stored nodes do not match its leaves"
            )


def _compare_leaf(
    index: int,
    position: int,
    digest: bytes,
    logged: tuple[int, bytes] | None,
    noun: str = "event",
) -> None:
    if logged is None:
        raise LedgerTampered(f"position {position}: leaf {index} is missing from the Merkle log")
    logged_position, logged_digest = logged
    if logged_position != position:
        first = min(logged_position, position)
        raise LedgerTampered(
            f"position {first}: the log has position {logged_position} as its {noun} number "
            f"{index + 1}, the store has position {position}: an {noun} was deleted, inserted "
            "or reordered"
        )
    if logged_digest != digest:
        raise LedgerTampered(
            f"position {position}: the stored {noun} was changed after it was logged"
        )


def _checkpoint(row: Sequence[Any]) -> Checkpoint:
    return Checkpoint.from_document(
        {"size": int(row[0]), "root": b64(bytes(row[1])), "at": row[2]}, "stored checkpoint"
    )


def as_stored(value: object) -> bytes:
    """The state column's bytes. SQLite keeps a value rewritten as TEXT as text: hash its
    UTF-8 bytes (it differs from the original anyway); a NULL is no bytes."""
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(cast(bytes, value))


def _uuid(value: object, position: int = 0) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise LedgerTampered(
            f"position {position}: the stored originator id {value!r} is not a UUID"
        ) from None


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
