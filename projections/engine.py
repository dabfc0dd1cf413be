"""One engine for every projection: batches in, one transaction per batch out.

For each batch the engine reads up to `batch_size` notifications after the slowest projection's
position (only the topics some projection handles), decodes them once, and, in ONE transaction
on the read-model database: fetches the rows the events need, applies each projection's
handlers, writes the changed rows and moves each projection's position with a compare-and-set.
A crash at any point leaves rows and positions consistent; the next run continues from there.
A concurrent writer that moved a position first makes the batch roll back and start again.

A rebuild runs the same loop into fresh tables (`view_<name>__rebuild`, tracked as
`<name>__rebuild`), then swaps them in, with the position, in one transaction. Until then,
readers see the old model; a rebuild that dies is resumed (or its leftovers replaced) next time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from eventsourcing.persistence import Notification

from domain.errors import InvalidInput
from domain.events import RegisterEvent
from infrastructure.collector import fewer_collections
from infrastructure.errors import StoreUnavailable
from projections.cards import CardsProjection
from projections.id_registry import IdRegistryProjection
from projections.people import PeopleProjection
from projections.projection import Changes, Projection
from projections.source import EventSource
from projections.statistics import StatisticsProjection
from projections.tables import REBUILD_SUFFIX, TRACKING_TABLE
from projections.views import (
    HeldTransaction,
    PositionMoved,
    Row,
    ViewDatabase,
    ViewTransaction,
    database_errors,
)

#: Notifications per batch: thousands, so a transaction carries thousands of events.
BATCH_SIZE = 5_000
#: A read looks at most this many batch sizes of positions ahead (skipped topics included).
READ_WINDOW = 2
#: How often `follow` looks for new events when idle (seconds).
POLL_INTERVAL = 0.2
#: How long `follow` keeps reconnecting after a server restart or a cut connection (seconds).
RECONNECT_FOR = 120.0

Progress = Callable[[int, int], None]


def all_projections() -> list[Projection]:
    return [PeopleProjection(), IdRegistryProjection(), StatisticsProjection(), CardsProjection()]


PROJECTION_NAMES = tuple(p.name for p in all_projections())


class ModelsOutdated(StoreUnavailable):
    """A read model's tables lack columns this version keeps (exit 1): rebuild it."""


@dataclass
class Timings:
    """Where a run's time went, in seconds."""

    read: float = 0.0
    decode: float = 0.0
    apply: float = 0.0
    write: float = 0.0
    events: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, float]:
        return {
            "read": self.read,
            "decode": self.decode,
            "apply": self.apply,
            "write": self.write,
            "events": self.events,
            "batches": self.batches,
        }


@dataclass(frozen=True)
class Read:
    """Which notifications a batch reads: `start` < position <= `stop`, of `topics`."""

    start: int
    stop: int
    topics: tuple[str, ...]


Batch = tuple[Sequence[Notification], list[tuple[int, RegisterEvent]]]


@dataclass(frozen=True)
class Target:
    """A projection and where it writes: its live tables, or its rebuild tables."""

    projection: Projection
    rebuilding: bool = False

    @property
    def tracking(self) -> str:
        return self.projection.name + (REBUILD_SUFFIX if self.rebuilding else "")


@dataclass
class Status:
    name: str
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)


@dataclass
class Engine:
    """Runs projections from an event source into a read-model database."""

    source: EventSource | None
    views: ViewDatabase
    projections: list[Projection] = field(default_factory=all_projections)
    batch_size: int = BATCH_SIZE
    timings: Timings = field(default_factory=Timings)
    #: Create the models' tables if they are missing (False: only `pending` may be used).
    create_tables: bool = True

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InvalidInput("batch size must be at least 1")
        if not self.create_tables:
            return
        with self._errors():
            for projection in self.projections:
                self.views.create_tables(projection.tables, rebuilding=False)
                self.views.create_indexes(projection.tables, rebuilding=False)

    # ----------------------------------------------------------------- choosing

    def select(self, name: str | None) -> list[Projection]:
        if name is None:
            return list(self.projections)
        for projection in self.projections:
            if projection.name == name:
                return [projection]
        known = ", ".join(p.name for p in self.projections)
        raise InvalidInput(f"no projection named {name!r}; known: {known}")

    def _source(self) -> EventSource:
        if self.source is None:
            raise InvalidInput("this command needs an event store (--store or --events-from)")
        return self.source

    def _errors(self) -> Any:
        return database_errors(self.views.url.redacted())

    # ------------------------------------------------------------------ queries

    def status(self, name: str | None = None) -> list[Status]:
        head = self._source().head()
        with self._errors():
            positions = self.views.positions()
        return [Status(p.name, positions.get(p.name, 0), head) for p in self.select(name)]

    def digest(self, name: str | None = None) -> dict[str, str]:
        """SHA-256 of each model's canonical contents: its tables' rows in key order."""
        digests = {}
        selected = self.select(name)
        self.check_layout(selected)
        with self._errors():
            for projection in selected:
                hasher = hashlib.sha256()
                for table in sorted(projection.tables, key=lambda t: t.name):
                    hasher.update(f"table {table.name} {','.join(table.columns)}\n".encode())
                    if not self.views.has_table(table.physical()):
                        continue  # a model never built is empty
                    for row in self.views.scan(table, table.physical()):
                        line = json.dumps(list(row), ensure_ascii=False, separators=(",", ":"))
                        hasher.update(line.encode() + b"\n")
                digests[projection.name] = hasher.hexdigest()
        return digests

    def check_layout(self, projections: Sequence[Projection]) -> None:
        """Refuse models whose tables were built by code that kept fewer columns: catching
        them up, or reading them, would fail on the first missing column or answer from
        stale rows. A rebuild makes them anew."""
        with self._errors():
            for projection in projections:
                for table in projection.tables:
                    physical = table.physical()
                    if self.views.has_table(physical) and not self.views.has_columns(
                        physical, table.columns
                    ):
                        raise ModelsOutdated(
                            f"the {projection.name} read model was built by an earlier "
                            f"version of civledger; run `civledger projections rebuild "
                            f"{projection.name}`"
                        )

    # -------------------------------------------------------------- catching up

    def catch_up(
        self, name: str | None = None, progress: Progress | None = None, upto: int | None = None
    ) -> dict[str, int]:
        """Bring the models to the head of the log (or to `upto`, if it is before the head);
        returns each one's new position."""
        selected = self.select(name)
        self.check_layout(selected)
        targets = [Target(p) for p in selected]
        head = self._source().head()
        if upto is not None:
            head = min(head, upto)
        with self._errors():
            self._run(targets, head, progress)
            positions = self.views.positions()
        return {t.tracking: positions.get(t.tracking, 0) for t in targets}

    def pending(self, name: str) -> tuple[int, dict[str, dict[str, Row]]]:
        """What catching `name` up would write, never written (see `pending_rows`)."""
        (projection,) = self.select(name)
        with self._errors():
            return pending_rows(self._source(), self.views, projection, self.batch_size)

    def rebuild(self, name: str | None = None, progress: Progress | None = None) -> dict[str, int]:
        """Rebuild from zero into fresh tables, swap them in, then catch up the rest."""
        selected = self.select(name)
        targets = [Target(p, rebuilding=True) for p in selected]
        source = self._source()
        with self._errors():
            positions = self.views.positions()
            for target in targets:
                tables = target.projection.tables
                # Unlogged rebuild tables come back empty after a database crash; an
                # interrupted build resumes only if its tables kept what its position says.
                resumable = (
                    target.tracking in positions
                    and all(self.views.has_table(t.physical(True)) for t in tables)
                    and not all(self.views.is_empty(t.physical(True)) for t in tables)
                )
                if not resumable:
                    self.views.drop_tables(tables, rebuilding=True)
                    self.views.create_tables(tables, rebuilding=True)
                    if target.tracking in positions:
                        self._forget(target.tracking)
            head = source.head()
            self._run(targets, head, progress)
            for target in targets:
                tables = target.projection.tables
                self.views.create_indexes(tables, rebuilding=True)
                self.views.swap(tables, target.projection.name, target.tracking)
        return self.catch_up(name)

    def _forget(self, tracking: str) -> None:
        with self.views.transaction() as tx:
            self.views.raw(
                tx,
                f"DELETE FROM {TRACKING_TABLE} WHERE application_name = {self.views.placeholder}",
                (tracking,),
            )

    def follow(self, stop: threading.Event, on_batch: Callable[[int], None] | None = None) -> None:
        """Keep every model current until `stop` is set; new events show within a second."""
        source = self._source()
        targets = [Target(p) for p in self.projections]
        last = -1
        failing_since: float | None = None
        while not stop.is_set():
            try:
                if failing_since is not None:
                    self.reopen_views()
                head = source.head()
                if head != last:
                    with self._errors():
                        self._run(targets, head, None, stop)
                    last = head
                    if on_batch is not None:
                        on_batch(head)
                failing_since = None
            except StoreUnavailable:
                # A restarted server or a cut connection: the batch in flight was rolled back
                # together with its position, so reconnect and go on from the stored positions.
                now = perf_counter()
                failing_since = failing_since if failing_since is not None else now
                if now - failing_since > RECONNECT_FOR:
                    raise
                last = -1
            stop.wait(POLL_INTERVAL)

    def reopen_views(self) -> None:
        """A fresh connection to the read models (the old one may be broken)."""
        with contextlib.suppress(Exception):
            self.views.close()
        self.views = ViewDatabase.open(self.views.url)

    # ------------------------------------------------------------------- engine

    def _run(
        self,
        targets: Sequence[Target],
        head: int,
        progress: Progress | None,
        stop: threading.Event | None = None,
    ) -> None:
        """Batches until every target is at `head` (or `stop` is set: between two batches,
        each committed whole). The next batch is read and decoded on a second thread while
        this one is written; it is used only if the positions are where this batch leaves
        them."""
        views = self.views
        timings = self.timings
        ahead: tuple[Read, Future[Batch]] | None = None
        with (
            fewer_collections(),
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as pool,
        ):
            while stop is None or not stop.is_set():
                positions = views.positions()
                behind = [t for t in targets if positions.get(t.tracking, 0) < head]
                if not behind:
                    return
                start = min(positions.get(t.tracking, 0) for t in behind)
                topics = tuple(sorted({tp for t in behind for tp in t.projection.topics()}))
                # A bounded window keeps each read's cost to the window, whatever the
                # database's planner knows about the log.
                wanted = Read(start, min(head, start + READ_WINDOW * self.batch_size), topics)
                if ahead is not None and ahead[0] == wanted:
                    batch, decoded = ahead[1].result()
                else:
                    if ahead is not None:
                        ahead[1].result()
                    batch, decoded = self._read(wanted)
                ahead = None
                end = batch[-1].id if len(batch) == self.batch_size else wanted.stop
                if end < head:
                    following = Read(end, min(head, end + READ_WINDOW * self.batch_size), topics)
                    ahead = (following, pool.submit(self._read, following))
                try:
                    self._write(behind, decoded, positions, end)
                except PositionMoved:
                    continue
                source = self._source()
                timings.read, timings.decode = source.read_seconds, source.decode_seconds
                timings.events += len(batch)
                timings.batches += 1
                if progress is not None:
                    progress(end, head)

    def _read(self, wanted: Read) -> Batch:
        source = self._source()
        batch = source.read(wanted.start, self.batch_size, wanted.stop, wanted.topics)
        return batch, source.decode(batch)

    def _write(
        self,
        targets: Sequence[Target],
        decoded: Sequence[tuple[int, Any]],
        positions: dict[str, int],
        end: int,
    ) -> None:
        with self.views.transaction() as tx:
            for target in targets:
                old = positions.get(target.tracking)
                after = old or 0
                if end <= after:
                    continue
                # The position moves first: its row lock makes a concurrent writer of the same
                # batch wait, then find the position moved, before it writes a single row.
                tx.advance(target.tracking, old, end)
                handled = target.projection.handled()
                events = [e for i, e in decoded if after < i <= end and type(e) in handled]
                self._apply(tx, target, events)

    def _apply(self, tx: ViewTransaction, target: Target, events: Sequence[Any]) -> None:
        apply_events(tx, target, events, self.timings)


def apply_events(
    tx: ViewTransaction, target: Target, events: Sequence[Any], timings: Timings | None = None
) -> None:
    """Apply `events` to `target`'s tables in `tx`: fetch the rows they need (one query per
    table), run the projection's handlers, write the rows that changed."""
    projection = target.projection
    started = perf_counter()
    wanted: dict[str, set[str]] = {t.name: set() for t in projection.tables}
    created: dict[str, set[str]] = {t.name: set() for t in projection.tables}
    by_name = {t.name: t for t in projection.tables}
    for event in events:
        for table, key in projection.creates(event):
            created[table.name].add(key)
        for table, key in projection.needs(event):
            if key not in created[table.name]:
                wanted[table.name].add(key)
    rows: dict[str, dict[str, Row]] = {}
    for table_name, keys in wanted.items():
        table = by_name[table_name]
        if table.counter or not keys:
            rows[table_name] = {}
            continue
        rows[table_name] = tx.fetch(table, table.physical(target.rebuilding), sorted(keys))
    fetched = perf_counter()
    changes = Changes(rows, projection.originals)
    projection.apply(events, changes)
    applied = perf_counter()
    for table in projection.tables:
        physical = table.physical(target.rebuilding)
        if table.counter:
            tx.add(table, physical, changes.counts[table.name])
        else:
            new, updated = changes.new_and_updated_rows(table)
            if new:
                tx.insert(table, physical, new)
            if updated:
                tx.upsert(table, physical, updated)
    if timings is not None:
        written = perf_counter()
        timings.write += (fetched - started) + (written - applied)
        timings.apply += applied - fetched


def pending_rows(
    source: EventSource, views: ViewDatabase, projection: Projection, batch_size: int = BATCH_SIZE
) -> tuple[int, dict[str, dict[str, Row]]]:
    """What catching `projection` up would write, worked out in memory and never written: the
    head of the log it read to, and the rows the events after the model's position change, by
    physical table and key, applied over the rows as stored (`HeldTransaction`). Needs no
    table: a model never built reads as empty."""
    target = Target(projection)
    handled = projection.handled()
    head = source.head()
    held = HeldTransaction(views)
    position = views.positions().get(target.tracking, 0)
    while position < head:
        stop = min(head, position + READ_WINDOW * batch_size)
        batch = source.read(position, batch_size, stop, projection.topics())
        decoded = source.decode(batch)
        end = batch[-1].id if len(batch) == batch_size else stop
        apply_events(held, target, [e for i, e in decoded if i <= end and type(e) in handled])
        position = end
    return head, held.rows
