"""The register service: every clerk's act goes through one method here.

Each method resolves its inputs, checks whether the act (kind, office, reference) is already
recorded, lets the aggregates decide, and saves the person's events, any ID-number claim and
the act record in one `save()`, so the store's transaction makes them atomic. A conflicting
concurrent write (same person version, same number, same act) fails inside that transaction;
the method then starts again from fresh state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import (
    ApplicationRecorder,
    EventStore,
    InfrastructureFactory,
    IntegrityError,
    Notification,
    PersistenceError,
)

from domain.aggregate import ActBasis, Aggregate
from domain.commands import (
    ChangeRecord,
    Clerking,
    Command,
    MergeDuplicate,
    RecordDeath,
    RegisterBirth,
    RenounceNationality,
)
from application.ports import PossibleDuplicates
from domain.errors import ReferenceConflict, RuleBroken, UnknownPerson
from infrastructure.errors import StoreUnavailable
from domain.events import BirthRegistered, IdNumberAssignedReason, RegisterEvent
from infrastructure.mapper import decode_stored
from domain.person import Person
from domain.registry import (
    IdNumberClaim,
    RecordedAct,
    act_id,
    claim_id,
    draw_number,
    fingerprint,
    person_id_for_birth,
)
from domain.rules import BirthMustNotDuplicateAPerson, check
from infrastructure.store_url import PositionedRecorder, StoreURL, store_from_env
from domain.timeline import Viewpoint
from domain.values import Clock, IdNumber, PersonRef, SystemClock, parse_person_ref, today_of

A = TypeVar("A", bound=Aggregate)

#: How often a command starts again after a conflicting concurrent write.
MAX_ATTEMPTS = 12
#: How many random draws before a (province, century-sex, year) bucket is declared full.
MAX_DRAWS = 64


@dataclass(frozen=True)
class ActOutcome:
    """The result of an act: the person after it, and whether it was already recorded."""

    person: Person
    already_recorded: bool = False
    assigned: str | None = None
    cancelled: str | None = None


@dataclass(frozen=True)
class HistoryEntry:
    position: int
    event: RegisterEvent


class CivilRegister(Application[UUID]):
    """The civil-status ledger's write side, on whatever store the configuration names."""

    name = "civledger"
    env = {  # noqa: RUF012 (the library reads this class attribute)
        "MAPPER_TOPIC": "infrastructure.mapper:EventMapper",
        "CREATE_TABLE": "no",
    }

    def __init__(
        self,
        store: StoreURL | str | None = None,
        *,
        clock: Clock | None = None,
        env: dict[str, str] | None = None,
        duplicates: PossibleDuplicates | None = None,
        events_from: StoreURL | str | None = None,
        read_only: bool = False,
    ) -> None:
        """`read_only` never creates the schema: a store without the log is refused (a
        replica, or a mistyped URL), which is what queries-only callers want."""
        self.store = store if isinstance(store, StoreURL) else store_from_env(store)
        #: Where queries (`person`, `resolve`, `history`) read events: a streaming replica,
        #: or the store itself. Commands always decide, and write, on the store.
        self.events_from = (
            events_from if isinstance(events_from, StoreURL | None) else StoreURL.parse(events_from)
        ) or self.store
        self.clock: Clock = clock or SystemClock()
        #: Answers "may this birth duplicate a recorded person?"; None skips the check.
        self.duplicates = duplicates
        self._source: _EventSource | None = None
        self._key_fits_log = False  # see `check_key_fits_log`
        settings = self.store.environment()
        settings.update(env or {})
        try:
            super().__init__(env=settings)
        except (PersistenceError, OSError) as error:
            raise StoreUnavailable(
                f"store {self.store.redacted()} is unreachable: {_one_line(error)}"
            ) from error
        if self.events_from.url != self.store.url:
            # Queries read elsewhere: the store's schema is neither checked nor created here;
            # the events source must already hold the log (a replica cannot create it).
            try:
                self._source = self._open_source(self.events_from, env or {})
            except StoreUnavailable:
                self.factory.close()
                raise
            return
        try:
            if not self._schema_exists():
                if read_only:
                    self.factory.close()
                    raise StoreUnavailable(f"{self.store.redacted()} holds no civledger log")
                self.init_schema()
        except (PersistenceError, OSError) as error:
            raise StoreUnavailable(
                f"store {self.store.redacted()} is unreachable: {_one_line(error)}"
            ) from error

    def _open_source(self, url: StoreURL, env: dict[str, str]) -> _EventSource:
        """A second, read-only recorder on `url`; it never creates a schema there."""
        settings = {**url.environment(), **env, "CREATE_TABLE": "no"}
        try:
            factory = InfrastructureFactory.construct(self.construct_env(self.name, settings))
        except (PersistenceError, OSError) as error:
            raise StoreUnavailable(
                f"events source {url.redacted()} is unreachable: {_one_line(error)}"
            ) from error
        try:
            recorder = factory.application_recorder()
            source = _EventSource(
                factory, recorder, factory.event_store(mapper=self.mapper, recorder=recorder)
            )
            recorder.max_notification_id()
        except (PersistenceError, OSError) as error:
            factory.close()
            if "no such table" in str(error) or "does not exist" in str(error):
                raise StoreUnavailable(
                    f"events source {url.redacted()} holds no civledger log"
                ) from error
            raise StoreUnavailable(
                f"events source {url.redacted()} is unreachable: {_one_line(error)}"
            ) from error
        return source

    def close(self) -> None:
        if self._source is not None:
            self._source.factory.close()
        super().close()

    # ------------------------------------------------------------------ schema

    def _schema_exists(self) -> bool:
        try:
            self.recorder.max_notification_id()
        except PersistenceError as error:
            if "no such table" in str(error) or "does not exist" in str(error):
                return False
            raise
        return True

    def init_schema(self) -> None:
        """Create the event table, its indexes and its append-only triggers (idempotent)."""
        self.recorder.create_table()  # type: ignore[attr-defined]

    # ---------------------------------------------------------------- queries

    def resolve(self, ref: PersonRef | str) -> UUID:
        """The person id for a current or cancelled ID number, or a person UUID."""
        if isinstance(ref, str):
            ref = parse_person_ref(ref)
        if isinstance(ref, IdNumber):
            claim = self._get(IdNumberClaim, claim_id(ref))
            if claim is None or claim.person_id is None:
                raise UnknownPerson(f"no person holds or held ID number {ref}")
            return claim.person_id
        if not self._exists(ref):
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
            person = self._get(Person, person_id)
        else:
            events = self._events(person_id)
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
            for n in self._notifications_of(person_id)
        ]

    # --------------------------------------------------------------- commands

    def register_birth(
        self, act: RegisterBirth, clerking: Clerking, *, allow_possible_duplicate: bool = False
    ) -> ActOutcome:
        """Register a birth. `allow_possible_duplicate` confirms a look-alike is another
        person; it is not part of the act, so it never changes the act's fingerprint."""
        person_id = person_id_for_birth(clerking.office, clerking.reference)

        def content() -> dict[str, Any]:
            data = act.model_dump(mode="json")
            data["father"] = self._resolve_optional(act.father)
            data["mother"] = self._resolve_optional(act.mother)
            return data

        def decide(basis: ActBasis, today: date) -> tuple[Person, list[Aggregate], ActOutcome]:
            father = self.person(act.father) if act.father else None
            mother = self.person(act.mother) if act.mother else None
            registered_on = act.registered_on or today
            person = Person.register_birth(
                person_id,
                basis,
                name=act.name,
                sex=act.sex,
                born=act.born,
                birth_province=act.province,
                nationality=act.nationality,
                registered_on=registered_on,
                today=today,
                ethnicity=act.ethnicity,
                place_of_birth=act.place_of_birth,
                father=father,
                mother=mother,
            )
            if self.duplicates is not None:
                candidates = self.duplicates.possible_duplicates(
                    act.name, act.born, act.province, excluding=person_id
                )
                check(BirthMustNotDuplicateAPerson(tuple(candidates), allow_possible_duplicate))
            claims: list[Aggregate] = []
            assigned = None
            if person.may_hold_number:
                claim = self._assign_number(person, basis, "birth_registered", registered_on)
                claims.append(claim)
                assigned = claim.id_number
            return person, claims, ActOutcome(person, assigned=assigned)

        return self._execute(act, clerking, content, decide)

    def record_death(self, act: RecordDeath, clerking: Clerking) -> ActOutcome:
        def decide(basis: ActBasis, today: date) -> tuple[Person, list[Aggregate], ActOutcome]:
            person = self.person(act.person)
            person.record_death(basis, act.died_on, act.place, today)
            return person, [], ActOutcome(person)

        return self._execute(act, clerking, self._content_with_person(act), decide)

    def renounce_nationality(self, act: RenounceNationality, clerking: Clerking) -> ActOutcome:
        def decide(basis: ActBasis, today: date) -> tuple[Person, list[Aggregate], ActOutcome]:
            person = self.person(act.person)
            person.renounce_nationality(basis, act.effective, today)
            return person, [], ActOutcome(person)

        return self._execute(act, clerking, self._content_with_person(act), decide)

    def change_record(self, act: ChangeRecord, clerking: Clerking) -> ActOutcome:
        def decide(basis: ActBasis, today: date) -> tuple[Person, list[Aggregate], ActOutcome]:
            person = self.person(act.person)
            held = person.id_number
            effective = act.effective or today
            change = person.change_record(basis, act.field, act.value, act.kind, effective, today)
            claims: list[Aggregate] = []
            assigned = None
            if change.needs_number and person.may_hold_number:
                claim = self._assign_number(person, basis, change.reason, effective)
                claims.append(claim)
                assigned = claim.id_number
            cancelled = held if held is not None and person.id_number != held else None
            return person, claims, ActOutcome(person, assigned=assigned, cancelled=cancelled)

        return self._execute(act, clerking, self._content_with_person(act), decide)

    def merge_duplicate(self, act: MergeDuplicate, clerking: Clerking) -> ActOutcome:
        def content() -> dict[str, Any]:
            return {"person": str(self.resolve(act.person)), "into": str(self.resolve(act.into))}

        def decide(basis: ActBasis, today: date) -> tuple[Person, list[Aggregate], ActOutcome]:
            duplicate = self.person(act.person)
            survivor = self.person(act.into)
            held = duplicate.id_number
            duplicate.merge_into(basis, survivor, today)
            return duplicate, [], ActOutcome(duplicate, cancelled=held)

        return self._execute(act, clerking, content, decide)

    # --------------------------------------------------------------- workings

    def _content_with_person(self, act: Command) -> Callable[[], dict[str, Any]]:
        def content() -> dict[str, Any]:
            data = act.model_dump(mode="json")
            data["person"] = str(self.resolve(data["person"]))
            return data

        return content

    def _resolve_optional(self, ref: str | None) -> str | None:
        return str(self.resolve(ref)) if ref else None

    def _execute(
        self,
        act: Command,
        clerking: Clerking,
        content: Callable[[], dict[str, Any]],
        decide: Callable[[ActBasis, date], tuple[Person, list[Aggregate], ActOutcome]],
    ) -> ActOutcome:
        self.check_key_fits_log()
        with _deciding_on_store():
            return self._execute_on_store(act, clerking, content, decide)

    def check_key_fits_log(self) -> None:
        """Refuse to write unless this process reads the log as it is stored: clear events
        into an encrypted log (no `CIVLEDGER_CIPHER_KEY`), or encrypted events into a clear
        one or under another key, would leave a log that no single key reads. The first
        event is decoded once per register (`EventsUnreadable`, exit 1, if it cannot be);
        an empty log takes whatever the first writer brings."""
        if self._key_fits_log:
            return
        try:
            first = self.recorder.select_notifications(start=None, limit=1)
        except (PersistenceError, OSError) as error:
            raise StoreUnavailable(f"store error: {_one_line(error)}") from error
        if first:
            self.mapper.to_domain_event(first[0])
        self._key_fits_log = True

    def _execute_on_store(
        self,
        act: Command,
        clerking: Clerking,
        content: Callable[[], dict[str, Any]],
        decide: Callable[[ActBasis, date], tuple[Person, list[Aggregate], ActOutcome]],
    ) -> ActOutcome:
        kind = act.KIND
        for _ in range(MAX_ATTEMPTS):
            digest = fingerprint(kind, content())
            recorded = self._get(RecordedAct, act_id(kind, clerking.office, clerking.reference))
            if recorded is not None:
                return self._already_recorded(recorded, digest, clerking)
            now = self.clock.now()
            basis = ActBasis(clerking.clerk, clerking.office, clerking.reference, now)
            person, others, outcome = decide(basis, today_of(self.clock))
            first = person.pending_events[0] if person.pending_events else None
            on = first.occurred_on if first else today_of(self.clock)
            record = RecordedAct.record(kind, digest, person.id, basis, on)
            try:
                self._save(person, *others, record)
            except IntegrityError:
                continue
            return outcome
        raise StoreUnavailable(
            f"gave up after {MAX_ATTEMPTS} conflicting concurrent writes; the act was not "
            "recorded and a retry is safe"
        )

    def _already_recorded(
        self, recorded: RecordedAct, digest: str, clerking: Clerking
    ) -> ActOutcome:
        if recorded.fingerprint != digest:
            raise ReferenceConflict(
                f"reference {clerking.reference!r} at office {clerking.office!r} was already "
                f"used for a different {recorded.kind} act",
                rule="ReferenceIdentifiesOneAct",
            )
        assert recorded.person_id is not None  # noqa: S101 (set by ActRecorded)
        return ActOutcome(self.person(recorded.person_id), already_recorded=True)

    def _assign_number(
        self, person: Person, basis: ActBasis, reason: IdNumberAssignedReason, on: date
    ) -> IdNumberClaim:
        for _ in range(MAX_DRAWS):
            number = draw_number(person.birth_province, person.sex, person.born.year)
            if not self._exists(claim_id(number)):
                break
        else:
            raise RuleBroken(
                f"no free ID number found in bucket {person.number_prefix} after {MAX_DRAWS} draws",
                rule="NumberBucketHasRoom",
            )
        claim = IdNumberClaim.claim(number, person.id, basis, on)
        person.assign_id_number(basis, number, reason, on)
        return claim

    # ------------------------------------------------------------ store access

    def _save(self, *aggregates: Aggregate) -> None:
        try:
            self.save(*cast(Sequence[Any], aggregates))
        except IntegrityError:
            raise
        except (PersistenceError, OSError) as error:
            raise StoreUnavailable(f"store error: {_one_line(error)}") from error

    def _reading(self) -> tuple[EventStore[UUID], ApplicationRecorder]:
        """Where this read goes: the events source for queries, the store while deciding."""
        if self._source is None or _DECIDING.get():
            return self.events, self.recorder
        return self._source.events, self._source.recorder

    def _events(self, aggregate_id: UUID) -> list[RegisterEvent]:
        events, _ = self._reading()
        try:
            return cast(list[RegisterEvent], list(events.get(aggregate_id)))
        except (PersistenceError, OSError) as error:
            raise StoreUnavailable(f"store error: {_one_line(error)}") from error

    def _get(self, cls: type[A], aggregate_id: UUID) -> A | None:
        return cls.replay(aggregate_id, self._events(aggregate_id))

    def _exists(self, aggregate_id: UUID) -> bool:
        events, _ = self._reading()
        try:
            return bool(events.recorder.select_events(aggregate_id, limit=1))
        except (PersistenceError, OSError) as error:
            raise StoreUnavailable(f"store error: {_one_line(error)}") from error

    def _notifications_of(self, aggregate_id: UUID) -> Sequence[Notification]:
        recorder = cast(PositionedRecorder, self._reading()[1])
        try:
            return recorder.select_originator_notifications(aggregate_id)
        except (PersistenceError, OSError) as error:
            raise StoreUnavailable(f"store error: {_one_line(error)}") from error


#: True while a command decides: its reads then go to the store, never to a lagging replica.
_DECIDING: ContextVar[bool] = ContextVar("civledger_deciding", default=False)


@contextmanager
def _deciding_on_store() -> Iterator[None]:
    token = _DECIDING.set(True)
    try:
        yield
    finally:
        _DECIDING.reset(token)


@dataclass(frozen=True)
class _EventSource:
    """The recorder and event store that queries read from, when it is not the store."""

    factory: InfrastructureFactory
    recorder: ApplicationRecorder
    events: EventStore[UUID]


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__
