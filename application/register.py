"""The register service: the store a clerk's act is written to, and `execute`.

`execute` has the act decided by `application.acts.decide` on the store's current state (the
`StoreState` port), then saves the person's events, any ID-number claim and the act's record
in one `save()`, so the store's transaction makes them atomic. A conflicting concurrent write
(same person version, same number, same act) fails inside that transaction; the act is then
decided again from fresh state. Queries are a `RegisterReader`'s (`application.queries`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, PersistenceError

from application.acts import MAX_ATTEMPTS, decide
from application.clerks import Attestation, logins_of
from application.ports import PossibleDuplicates
from application.queries import HistoryEntry, RegisterReader
from domain.aggregate import ActBasis, Aggregate
from domain.clerks import ClerkEnrolment, Enrolment, enrolment_id
from domain.commands import (
    ChangeRecord,
    Clerking,
    Command,
    MergeDuplicate,
    RecordDeath,
    RegisterBirth,
    RenounceNationality,
)
from domain.errors import UnknownHousehold
from domain.household import Household
from domain.person import Person
from domain.registry import (
    LookAlikeClaim,
    RecordedAct,
    claim_id,
    draw_household_number,
    draw_number,
    household_id,
    look_alike_id,
)
from domain.residence import HouseholdNumber
from domain.values import (
    Clock,
    IdNumber,
    PersonRef,
    SystemClock,
    civil_date,
    fold_name,
    parse_person_ref,
)
from infrastructure.dialect import is_missing_table
from infrastructure.errors import StoreUnavailable, store_errors
from infrastructure.eventlog import MAPPER_TOPIC, EventLog, NoEventLog
from infrastructure.store_url import StoreURL, store_from_env

__all__ = ["ActOutcome", "CivilRegister", "HistoryEntry", "StoreState"]


@dataclass(frozen=True)
class ActOutcome:
    """The result of an act: the person after it, and whether it was already recorded."""

    person: Person
    already_recorded: bool = False
    assigned: str | None = None
    cancelled: str | None = None
    #: A new birth's look-alikes that the clerk confirmed are other people.
    possible_duplicates: tuple[str, ...] = ()
    #: The household the act set up or placed the person in.
    household: str | None = None


class CivilRegister(Application[UUID]):
    """The civil-status ledger's write side, on whatever store the configuration names."""

    name = "civledger"
    env = {  # noqa: RUF012 (the library reads this class attribute)
        "MAPPER_TOPIC": MAPPER_TOPIC,
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
        self._source: EventLog | None = None
        self._key_fits_log = False  # see `check_key_fits_log`
        self._attestation: Attestation | None = None
        settings = self.store.environment()
        settings.update(env or {})
        with store_errors(f"store {self.store.redacted()} is unreachable"):
            super().__init__(env=settings)
        #: Reads the store itself: what an act is decided on, never a lagging replica.
        self.on_store = RegisterReader(self)
        #: Where queries (`person`, `resolve`, `history`) read.
        self.reader = self.on_store
        if self.events_from.url != self.store.url:
            # Queries read elsewhere: the store's schema is neither checked nor created here;
            # the events source must already hold the log (a replica cannot create it).
            try:
                self._source = EventLog(self.events_from, role="events source", env=env)
            except StoreUnavailable:
                self.factory.close()
                raise
            self.reader = RegisterReader(self._source)
            return
        try:
            with store_errors(f"store {self.store.redacted()} is unreachable"):
                if not self._schema_exists():
                    if read_only:
                        raise NoEventLog(f"store {self.store.redacted()} holds no civledger log")
                    self.init_schema()
                elif not read_only:
                    self._stamp_logins()
        except StoreUnavailable:
            self.factory.close()
            raise

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
        super().close()

    # ------------------------------------------------------------------ schema

    def _schema_exists(self) -> bool:
        try:
            self.recorder.max_notification_id()
        except PersistenceError as error:
            if is_missing_table(error):
                return False
            raise
        return True

    def init_schema(self) -> None:
        """Create the event table, its indexes and its append-only triggers (idempotent)."""
        self.recorder.create_table()  # type: ignore[attr-defined]

    def _stamp_logins(self) -> None:
        """A PostgreSQL store written before rows named their login gets the column when its
        tables' owner opens it to write (docs/adr/008); other logins leave it as it is."""
        logins = logins_of(self.recorder)
        if logins is not None and not logins.has_recorded_by() and logins.session_login()[1]:
            self.init_schema()

    # ---------------------------------------------------------------- queries

    def resolve(self, ref: PersonRef | str) -> UUID:
        """The person id for a current or cancelled ID number, or a person UUID."""
        return self.reader.resolve(ref)

    def person(
        self,
        ref: PersonRef | str | UUID,
        *,
        as_of: datetime | None = None,
        as_at: date | None = None,
    ) -> Person:
        """The record now, `as_of` a moment or `as_at` a date (`RegisterReader.person`)."""
        return self.reader.person(ref, as_of=as_of, as_at=as_at)

    def history(self, ref: PersonRef | str) -> list[HistoryEntry]:
        """The person's events, oldest first, with their global log positions."""
        return self.reader.history(ref)

    # --------------------------------------------------------------- commands

    def register_birth(
        self, act: RegisterBirth, clerking: Clerking, *, allow_possible_duplicate: bool = False
    ) -> ActOutcome:
        """Register a birth. `allow_possible_duplicate` confirms a look-alike is another
        person; it is not part of the act, so it never changes the act's fingerprint."""
        return self.execute(act, clerking, allow_possible_duplicate=allow_possible_duplicate)

    def record_death(self, act: RecordDeath, clerking: Clerking) -> ActOutcome:
        return self.execute(act, clerking)

    def renounce_nationality(self, act: RenounceNationality, clerking: Clerking) -> ActOutcome:
        return self.execute(act, clerking)

    def change_record(self, act: ChangeRecord, clerking: Clerking) -> ActOutcome:
        return self.execute(act, clerking)

    def merge_duplicate(self, act: MergeDuplicate, clerking: Clerking) -> ActOutcome:
        return self.execute(act, clerking)

    def execute(
        self, act: Command, clerking: Clerking, *, allow_possible_duplicate: bool = False
    ) -> ActOutcome:
        """Decide `act` (`application.acts.decide`) on the store's current state and save what
        it produced in one transaction. A concurrent writer that wins a uniqueness race (the
        same person's next version, the same number, the same act) makes the save fail inside
        the store's transaction; the act is then decided again on fresh state."""
        self.check_key_fits_log()
        self.attestation.check(clerking)
        for _ in range(MAX_ATTEMPTS):
            state = StoreState(self, self.clock.now())
            decision = decide(
                act, clerking, state, allow_possible_duplicate=allow_possible_duplicate
            )
            if decision.already_recorded:
                person = self.on_store.person(decision.person_id)
                return ActOutcome(person, already_recorded=True)
            try:
                self._save(*decision.aggregates)
            except IntegrityError:
                continue
            return ActOutcome(
                decision.person,
                assigned=decision.assigned,
                cancelled=decision.cancelled,
                possible_duplicates=decision.possible_duplicates,
                household=decision.household,
            )
        raise StoreUnavailable(
            f"gave up after {MAX_ATTEMPTS} conflicting concurrent writes; the act was not "
            "recorded and a retry is safe"
        )

    def check_key_fits_log(self) -> None:
        """Refuse to write unless this process reads the log as it is stored: clear events
        into an encrypted log (no `CIVLEDGER_CIPHER_KEY`), or encrypted events into a clear
        one or under another key, would leave a log that no single key reads. The first
        event is decoded once per register (`EventsUnreadable`, exit 1, if it cannot be);
        an empty log takes whatever the first writer brings."""
        if self._key_fits_log:
            return
        with store_errors():
            first = self.recorder.select_notifications(start=None, limit=1)
        if first:
            self.mapper.to_domain_event(first[0])
        self._key_fits_log = True

    @property
    def attestation(self) -> Attestation:
        """Holds each act to the enrolment of the login the store is reached as."""
        if self._attestation is None:
            self._attestation = Attestation(self.recorder, self._enrolment_of)

        return self._attestation

    def _enrolment_of(self, login: str) -> Enrolment | None:
        found = self.on_store.get(ClerkEnrolment, enrolment_id(login))
        return found.current if found is not None else None

    def save_aggregates(self, *aggregates: Aggregate) -> None:
        """Save aggregates decided outside `execute` (a clerk's enrolment) in one transaction;
        an `IntegrityError` (a concurrent writer won) passes through."""
        self._save(*aggregates)

    # ------------------------------------------------------------ store access

    def _save(self, *aggregates: Aggregate) -> None:
        with store_errors():  # an IntegrityError passes through: the act is decided again
            self.save(*cast(Sequence[Any], aggregates))


class StoreState:
    """The `ActState` port over the store: one act, read as the store holds it now (never a
    replica: reads go to the store while an act is decided)."""

    def __init__(self, register: CivilRegister, now: datetime) -> None:
        self._register = register
        self._reader = register.on_store
        self._claims: dict[UUID, LookAlikeClaim | None] = {}
        self._now = now
        self._today = civil_date(now)

    @property
    def today(self) -> date:
        return self._today

    @property
    def recorded_at(self) -> datetime:
        return self._now

    def resolve(self, ref: str) -> UUID:
        parsed = parse_person_ref(ref)
        if isinstance(parsed, IdNumber):
            return self._reader.resolve(parsed)
        return parsed

    def person(self, ref: str | UUID) -> Person:
        return self._reader.person(ref)

    def recorded_act(self, act_id: UUID) -> RecordedAct | None:
        return self._reader.get(RecordedAct, act_id)

    def draw_number(self, person: Person) -> IdNumber:
        return draw_number(person.birth_province, person.sex, person.born.year)

    def number_is_claimed(self, number: IdNumber) -> bool:
        return self._reader.exists(claim_id(number))

    def possible_duplicates(
        self, name: str, born: date, birth_province: str, *, excluding: UUID
    ) -> Sequence[str]:
        """The people the read model finds (it may lag the log), and those noted on the
        look-alike claim (written with each birth, so never behind), still alike and not
        merged away. Asked only where the register holds back possible duplicates."""
        finder = self._register.duplicates
        if finder is None:
            return ()
        found = set(finder.possible_duplicates(name, born, birth_province, excluding=excluding))
        claim = self._look_alikes(name, born, birth_province)
        folded = fold_name(name)
        for person_id in claim.person_ids if claim else ():
            if person_id == excluding:
                continue
            other = self._reader.get(Person, person_id)
            if (
                other is not None
                and other.merged_into is None
                and fold_name(other.name) == folded
                and other.born == born
                and other.birth_province == birth_province
            ):
                found.add(other.display_id)
        return sorted(found)

    def household(self, number: str) -> Household:
        household = self._reader.get(Household, household_id(number))
        if household is None:
            raise UnknownHousehold(f"no household {number}")
        return household

    def draw_household_number(self) -> HouseholdNumber:
        return draw_household_number()

    def household_number_is_taken(self, number: HouseholdNumber) -> bool:
        return self._reader.exists(household_id(number))

    def look_alike_guard(self, person: Person, basis: ActBasis) -> Sequence[Aggregate]:
        """The look-alike claim with this birth noted on it: saved with the birth, it makes a
        concurrent look-alike birth fail on the claim's next version and decide again (then
        seeing this one)."""
        if self._register.duplicates is None:
            return ()
        claim = self._look_alikes(person.name, person.born, person.birth_province)
        if claim is None:
            claim = LookAlikeClaim(look_alike_id(person.name, person.born, person.birth_province))
        claim.note(person.id, basis, person.registered_on)
        return (claim,)

    def _look_alikes(self, name: str, born: date, birth_province: str) -> LookAlikeClaim | None:
        """The look-alike claim, read once per decision: the check and the guard must see the
        same version, so that a birth noted in between makes the guard's save conflict."""
        claim_id = look_alike_id(name, born, birth_province)
        if claim_id not in self._claims:
            self._claims[claim_id] = self._reader.get(LookAlikeClaim, claim_id)
        return self._claims[claim_id]
