"""The register's queries: a person's record now or at a moment, their history, a reference.

`RegisterReader` reads any event log: the read-only `infrastructure.eventlog.EventLog` that
`show` and `history` open (no write application is booted, nothing is created), a streaming
replica, or the store that `CivilRegister` writes (which keeps one reader over its own store,
for deciding, and one over where its queries read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, TypeVar, cast
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, EventStore, Mapper, Notification

from domain.aggregate import Aggregate
from domain.errors import UnknownPerson
from domain.events import BirthRegistered, PersonEvent, RegisterEvent
from domain.person import Person
from domain.registry import IdNumberClaim, claim_id
from domain.timeline import Viewpoint
from domain.values import IdNumber, PersonRef, parse_person_ref
from infrastructure.errors import LedgerMismatch, store_errors
from infrastructure.mapper import decode_stored
from infrastructure.store_url import PositionedRecorder

A = TypeVar("A", bound=Aggregate)


class EventLogLike(Protocol):
    """What a reader needs of an event log: its recorder and its mapper."""

    @property
    def recorder(self) -> ApplicationRecorder: ...

    @property
    def mapper(self) -> Mapper[UUID]: ...


@dataclass(frozen=True)
class HistoryEntry:
    position: int
    event: RegisterEvent


class RegisterReader:
    """Queries over one event log. Reads only; any store error is `StoreUnavailable`."""

    def __init__(self, log: EventLogLike) -> None:
        self.log = log
        self.recorder = log.recorder
        self.mapper = log.mapper
        self.events: EventStore[UUID] = EventStore(mapper=log.mapper, recorder=log.recorder)
        #: How store errors name the log: `store URL` (or `events source URL`, a replica).
        named, store = getattr(log, "named", None), getattr(log, "store", None)
        if isinstance(named, str):
            self.where = named
        elif store is not None:
            self.where = f"store {store.redacted()}"
        else:
            self.where = "store"

    def resolve(self, ref: PersonRef | str) -> UUID:
        """The person id for a current or cancelled ID number, or a person UUID."""
        if isinstance(ref, str):
            ref = parse_person_ref(ref)
        if isinstance(ref, IdNumber):
            claim = self.get(IdNumberClaim, claim_id(ref))
            if claim is None or claim.person_id is None:
                raise UnknownPerson(f"no person holds or held ID number {ref}")
            return claim.person_id
        if not self.exists(ref):
            raise UnknownPerson(f"no person record {ref}")
        return ref

    def person(
        self,
        ref: PersonRef | str | UUID,
        *,
        as_of: datetime | None = None,
        as_at: date | None = None,
    ) -> Person:
        """The record now; or as the register said it at `as_of` (record time), or as
        legally true on `as_at` (valid time), or both (see domain/timeline.py)."""
        person_id = ref if isinstance(ref, UUID) else self.resolve(ref)
        view = Viewpoint(as_of=as_of, as_at=as_at)
        if view.is_now:
            person = self.get(Person, person_id)
        else:
            events = self.events_of(person_id)
            seen = view.select(events)
            person = Person.replay(person_id, seen)
            if person is None or not any(isinstance(e, BirthRegistered) for e in seen):
                raise UnknownPerson(
                    f"person {ref} is not in the register {view.describe()}: "
                    f"{view.why_unseen(events)}"
                )
        if person is None:
            raise UnknownPerson(f"no person record {person_id}")
        return person

    def history(self, ref: PersonRef | str) -> list[HistoryEntry]:
        """The person's events, oldest first, with their global log positions."""
        person_id = self.resolve(ref)
        cipher, compressor = self.mapper.cipher, self.mapper.compressor
        return [
            HistoryEntry(
                n.id,
                decode_stored(
                    n.topic, person_id, n.originator_version, n.state, cipher, compressor
                ),
            )
            for n in self.notifications_of(person_id)
        ]

    def close(self) -> None:
        """Close the log, when the reader opened it for itself (`open_reader`)."""
        close = getattr(self.log, "close", None)
        if close is not None:
            close()

    # ------------------------------------------------------------------ reading

    def events_of(self, aggregate_id: UUID) -> list[RegisterEvent]:
        """The aggregate's events, oldest first: versions 1, 2, ... with none missing, and a
        person's starting with the birth (`LedgerMismatch`, exit 5, otherwise: replaying what
        is left would make up a record, a blank name born in 1900)."""
        with store_errors(self.where):
            events = cast(list[RegisterEvent], list(self.events.get(aggregate_id)))
        check_history(aggregate_id, events)
        return events

    def get(self, cls: type[A], aggregate_id: UUID) -> A | None:
        return cls.replay(aggregate_id, self.events_of(aggregate_id))

    def exists(self, aggregate_id: UUID) -> bool:
        with store_errors(self.where):
            return bool(self.recorder.select_events(aggregate_id, limit=1))

    def notifications_of(self, aggregate_id: UUID) -> Sequence[Notification]:
        recorder = cast(PositionedRecorder, self.recorder)
        with store_errors(self.where):
            return recorder.select_originator_notifications(aggregate_id)


def check_history(aggregate_id: UUID, events: Sequence[RegisterEvent]) -> None:
    """Refuse a history that is not whole (`LedgerMismatch`): a person's that does not start
    with their birth, or any that does not start at version 1 or skips a version."""
    if not events:
        return
    first = events[0]
    if isinstance(first, PersonEvent) and not (
        isinstance(first, BirthRegistered) and first.originator_version == 1
    ):
        raise LedgerMismatch(
            f"the ledger does not match what was recorded: the history of person "
            f"{aggregate_id} does not start with the birth (its first event is "
            f"{type(first).__name__}, version {first.originator_version}); "
            "run `civledger audit verify`"
        )
    for expected, event in enumerate(events, 1):
        if event.originator_version != expected:
            raise LedgerMismatch(
                f"the ledger does not match what was recorded: the history of {aggregate_id} "
                f"lacks version {expected} (found {type(event).__name__}, version "
                f"{event.originator_version}); run `civledger audit verify`"
            )
