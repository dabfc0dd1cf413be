"""Bulk import: many acts, decided exactly as a clerk's acts are, written a batch at a time.

Every row is parsed by the same pydantic commands (`importer.rows`) and decided by the same
`application.acts.decide` as a clerk's act, through the batch's implementation of its state
port (`importer.batch`). What differs is only how state is read and written: a batch's
aggregates are loaded in a few queries, its acts decided in memory in file order, and all its
events appended in one transaction by the store's bulk path (`insert_events_bulk`: binary COPY
on PostgreSQL, executemany on SQLite).

Idempotent and resumable: an act's `RecordedAct` id derives from (kind, office, reference) and
is written in the same transaction as the act's events, so a row whose act is in the store is
"already recorded" and a re-run after a crash at any point appends every remaining row once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Mapper, StoredEvent

from application.acts import MAX_ATTEMPTS
from domain.commands import Clerking
from domain.errors import InvalidInput
from domain.events import RegisterEvent
from domain.values import Clock
from importer.batch import Batch, Numbers, Serials
from importer.rows import Parsed, Rejected, Row
from importer.workers import default_parse_workers, parsed_chunks
from infrastructure.collector import fewer_collections
from infrastructure.errors import StoreUnavailable, store_errors

if TYPE_CHECKING:
    from application.register import CivilRegister

DEFAULT_BATCH = 2000


@runtime_checkable
class BulkRecorder(Protocol):
    """What a store offers the import beyond the library's recorder interface."""

    def select_events_of(self, originator_ids: Sequence[UUID]) -> Sequence[StoredEvent]:
        """Every event of the given aggregates, ordered by aggregate then version."""
        ...

    def insert_events_bulk(
        self, stored_events: Sequence[StoredEvent], *, return_ids: bool = False
    ) -> Sequence[int] | None:
        """Append all events in one transaction, keeping positions in commit order."""
        ...


@dataclass
class ImportTally:
    """Counts so far. Every row is recorded, already recorded, or rejected."""

    rows: int = 0
    recorded: int = 0
    already_recorded: int = 0
    rejected: int = 0
    events: int = 0
    recorded_by_kind: dict[str, int] = field(default_factory=dict)
    #: The import stopped on request before the end of its input.
    stopped: bool = False

    def as_document(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "recorded": self.recorded,
            "already_recorded": self.already_recorded,
            "rejected": self.rejected,
            "events": self.events,
            "recorded_by_kind": dict(sorted(self.recorded_by_kind.items())),
        }


class BulkImporter:
    """Imports rows in batches through a register's mapper and its store's bulk path.

    Batches are written on a second thread: while one batch's COPY and commit run, the next
    batch is parsed and decided. That batch sees the one in flight through an overlay (the
    full histories of every aggregate the batch in flight writes), so it decides exactly as
    it would after that commit; it is handed to the writer only once the batch before it has
    landed. Should that batch fail on the store's uniqueness (a concurrent writer got there
    first), it is decided again and written alone, and the next one decided again after it.
    Rows are reported (counted, or sent to the rejects file) only once their batch is in the
    store, so what a killed import reported is always recorded.
    """

    def __init__(
        self,
        recorder: object,
        mapper: Mapper[UUID],
        clock: Clock,
        batch_size: int = DEFAULT_BATCH,
        parse_workers: int | None = None,
    ) -> None:
        if not isinstance(recorder, BulkRecorder):
            raise StoreUnavailable("this store has no bulk import path")
        if batch_size < 1:
            raise InvalidInput(f"batch size must be at least 1, got {batch_size}")
        if parse_workers is not None and parse_workers < 0:
            raise InvalidInput(f"parse workers must be 0 or more, got {parse_workers}")
        self.recorder = recorder
        self.mapper = mapper
        self.clock = clock
        self.batch_size = batch_size
        #: Processes that parse rows ahead of deciding; 0 parses on this thread.
        self.parse_workers = default_parse_workers() if parse_workers is None else parse_workers
        self.register: CivilRegister | None = None
        self.serials = Serials()
        #: The batch in flight's aggregates (full histories), read before the store.
        self.overlay: dict[UUID, list[RegisterEvent]] = {}

    def clerks_check(self) -> Callable[[Clerking], None]:
        """Holds each row to the enrolment of the login the store is reached as (as a
        clerk's act is held); the operator's rows name whom they name."""
        if self.register is None:
            return lambda clerking: None
        return self.register.attestation.checker()

    def _claimed(self, claim_ids: list[UUID]) -> list[UUID]:
        """Which of these number claims the store (or the batch in flight) already holds."""
        return [e.originator_id for e in self.read(claim_ids)]

    def read(self, ids: Sequence[UUID]) -> list[RegisterEvent]:
        events: list[RegisterEvent] = []
        if self.overlay:
            overlay = self.overlay
            events = [e for i in ids if i in overlay for e in overlay[i]]
            ids = [i for i in ids if i not in overlay]
        with store_errors():
            stored = self.recorder.select_events_of(ids) if ids else []
        events.extend(cast(RegisterEvent, self.mapper.to_domain_event(s)) for s in stored)
        return events

    def run(
        self,
        lines: Iterable[tuple[int, bytes]],
        on_reject: Callable[[Rejected], None],
        on_batch: Callable[[ImportTally], None] | None = None,
        stop: threading.Event | None = None,
    ) -> ImportTally:
        """Import numbered lines; each ends recorded, already recorded, or rejected. Once
        `stop` is set, no further batch is begun: the one in flight lands and is reported,
        and the tally says `stopped` (the rest of the file is for a re-run)."""
        tally = ImportTally()
        in_flight: _InFlight | None = None
        chunks = parsed_chunks(_chunks(lines, self.batch_size), self.parse_workers)
        with (
            fewer_collections(),
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") as writer,
        ):
            try:
                for parsed in chunks:
                    if stop is not None and stop.is_set():
                        tally.stopped = True
                        break
                    decided = self._decide(parsed.rows) if parsed.rows else None
                    if in_flight is not None and not self._finish(
                        in_flight, tally, on_reject, on_batch
                    ):
                        decided = self._decide(parsed.rows) if parsed.rows else None
                    in_flight = _InFlight(parsed, decided, None)
                    if decided is not None:
                        in_flight.write = writer.submit(self._write, decided)
                        self.overlay = decided.overlay()
                if in_flight is not None:
                    self._finish(in_flight, tally, on_reject, on_batch)
            finally:
                self.overlay = {}
                chunks.close()  # stops the parse workers, if any
        return tally

    def _finish(
        self,
        in_flight: _InFlight,
        tally: ImportTally,
        on_reject: Callable[[Rejected], None],
        on_batch: Callable[[ImportTally], None] | None,
    ) -> bool:
        """Wait for the batch in flight, then report its rows. True if it landed as decided;
        False if it had to be decided again and written alone (a concurrent writer won a
        uniqueness race), in which case whatever was decided on top of it must be too."""
        self.overlay = {}  # nothing is decided while waiting; afterwards, the store is current
        landed = True
        if in_flight.write is not None:
            try:
                in_flight.write.result()
            except IntegrityError:
                in_flight.batch = self._decide_and_write(list(in_flight.parsed.rows))
                landed = False
        self._report(in_flight.parsed, in_flight.batch, tally, on_reject)
        if on_batch:
            on_batch(tally)
        return landed

    def _write(self, batch: Batch) -> None:
        with store_errors():  # an IntegrityError (a uniqueness race) passes: decided again
            self.recorder.insert_events_bulk(batch.stored)

    def _report(
        self,
        parsed: Parsed,
        batch: Batch | None,
        tally: ImportTally,
        on_reject: Callable[[Rejected], None],
    ) -> None:
        rejected = list(parsed.rejected)
        if batch is not None:
            for row, error in batch.outcomes:
                if error is not None:
                    reason = " ".join(error.message.split())
                    rejected.append(Rejected(row.line, reason, row.text, error))
                else:
                    tally.recorded += 1
                    kind = row.act.KIND
                    tally.recorded_by_kind[kind] = tally.recorded_by_kind.get(kind, 0) + 1
            tally.already_recorded += len(batch.already)
            tally.events += len(batch.events)
        rejected.sort(key=lambda r: r.line)
        for reject in rejected:
            on_reject(reject)
        tally.rejected += len(rejected)
        tally.rows += parsed.lines

    def _decide(self, rows: Sequence[Row], numbers: Numbers | None = None) -> Batch:
        """Decide a batch against the store (and the batch in flight), drawing again any
        number found already claimed; its events are mapped, ready to write."""
        if numbers is None:
            numbers = Numbers(self.serials)
        for _ in range(MAX_ATTEMPTS):
            batch = Batch(self, rows, numbers)
            batch.load()
            numbers.predraw(batch.fresh_rows, self._claimed)  # once: drawn rows are kept
            batch.decide_all()
            unchecked = batch.new_claims - numbers.verified
            if unchecked:
                clashes = set(self._claimed(list(unchecked)))
                numbers.verified |= unchecked - clashes
                if clashes:  # a drawn number is already claimed in the store: draw it again
                    numbers.taken |= clashes
                    continue
            to_stored = self.mapper.to_stored_event
            batch.stored = [to_stored(cast(DomainEventProtocol[UUID], e)) for e in batch.events]
            return batch
        raise StoreUnavailable(
            f"gave up a batch after {MAX_ATTEMPTS} attempts to draw free ID numbers; "
            "nothing of it was recorded and a re-run is safe"
        )

    def _decide_and_write(self, rows: list[Row]) -> Batch:
        """Decide and write one batch on this thread, deciding again after any conflict."""
        numbers = Numbers(self.serials)
        for _ in range(MAX_ATTEMPTS):
            batch = self._decide(rows, numbers)
            try:
                self._write(batch)
            except IntegrityError:
                # A concurrent writer got there first (a person, an act or a number): decide
                # again on fresh state, checking every number against the store again.
                numbers.verified.clear()
                continue
            return batch
        raise StoreUnavailable(
            f"gave up a batch after {MAX_ATTEMPTS} conflicting concurrent writes; "
            "nothing of it was recorded and a re-run is safe"
        )


@dataclass
class _InFlight:
    parsed: Parsed
    batch: Batch | None
    write: Future[None] | None


def _chunks(lines: Iterable[tuple[int, bytes]], size: int) -> Iterator[list[tuple[int, bytes]]]:
    chunk: list[tuple[int, bytes]] = []
    for item in lines:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def importer_for(
    register: CivilRegister, batch_size: int = DEFAULT_BATCH, parse_workers: int | None = None
) -> BulkImporter:
    """The bulk importer of a `CivilRegister` (its recorder, mapper and clock). Parse workers
    default to `default_parse_workers()`. As for a clerk's act, the register's cipher key must
    read the log as it is stored (`CivilRegister.check_key_fits_log`)."""
    register.check_key_fits_log()
    importer = BulkImporter(
        register.recorder, register.mapper, register.clock, batch_size, parse_workers
    )
    importer.register = register  # the register owns the store's connections: keep it open
    return importer
