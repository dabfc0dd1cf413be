"""One import batch: the `ActState` port over the aggregates a batch reads and writes.

A batch's acts, the number claims they name and the people they are about are loaded in two or
three queries; its rows are then decided in file order by the same `application.acts.decide`
as a clerk's act, each row seeing the rows before it. What the batch holds is only state and
how it is read: every rule, retry limit and message is the application's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from application.acts import MAX_DRAWS, decide
from domain.aggregate import ActBasis, Aggregate
from domain.commands import RegisterBirth, person_refs
from domain.errors import CivledgerError, InvalidInput, UnknownHousehold, UnknownPerson
from domain.events import BirthRegistered, RegisterEvent
from domain.household import Household
from domain.person import Person
from domain.registry import (
    IdNumberClaim,
    RecordedAct,
    claim_id,
    draw_household_number,
    household_id,
)
from domain.residence import HouseholdNumber
from domain.values import IdNumber, Sex, civil_date, parse_person_ref
from importer.rows import Row

if TYPE_CHECKING:
    from eventsourcing.persistence import StoredEvent

    from importer.pipeline import BulkImporter


class Batch:
    """The aggregates one batch reads and writes, decided in memory in file order."""

    def __init__(self, importer: BulkImporter, rows: Sequence[Row], numbers: Numbers) -> None:
        self.importer = importer
        self.rows = rows
        self.numbers = numbers
        self.line = 0  # the row being decided
        self.fresh_rows: list[Row] = list(rows)  # rows whose act is not yet in the store
        self.history: dict[UUID, list[RegisterEvent]] = {}
        self.persons: dict[UUID, Person] = {}
        self.acts: dict[UUID, RecordedAct] = {}
        self.new_claims: set[UUID] = set()
        self.events: list[RegisterEvent] = []
        #: Each decided row and why it was refused (None: recorded).
        self.outcomes: list[tuple[Row, CivledgerError | None]] = []
        self.already: list[Row] = []
        self.stored: list[StoredEvent] = []  # `events`, mapped for the store
        self._now = importer.clock.now()
        self._today = civil_date(self._now)
        #: The people and households the row being decided read (to undo a refused act).
        self._touched: list[Person | Household] = []
        self.households: dict[UUID, Household] = {}
        self._read: set[UUID] = set()  # aggregates read on demand
        self._first_draw = True  # the row being decided has not drawn a number yet

    @property
    def today(self) -> date:
        return self._today

    @property
    def recorded_at(self) -> datetime:
        return self._now

    def overlay(self) -> dict[UUID, list[RegisterEvent]]:
        """The full history of every aggregate this batch writes, as the store will hold it
        once the batch has landed: what the next batch reads instead of the store meanwhile."""
        written: dict[UUID, list[RegisterEvent]] = {}
        for event in self.events:
            new = written.get(event.originator_id)
            if new is None:
                written[event.originator_id] = [event]
            else:
                new.append(event)
        history = self.history
        for aggregate_id, new in written.items():
            first = new[0].originator_version
            if first > 1:  # not created by this batch: what the store holds comes first
                known = history.get(aggregate_id, ())
                written[aggregate_id] = [e for e in known if e.originator_version < first] + new
        return written

    # ------------------------------------------------------------------- loading

    def load(self) -> None:
        """Read the batch's acts and the claims it names, then the people that its rows not
        yet recorded name: two or three queries. Rows already recorded (a re-run) cost no
        more than their act record."""
        claims_by_number: dict[str, UUID] = {}
        uuids: dict[int, list[UUID]] = {}
        for row in self.rows:
            for ref in person_refs(row.act):
                parsed = parse_person_ref(ref)
                if isinstance(parsed, IdNumber):
                    claims_by_number[str(parsed)] = claim_id(parsed)
                else:
                    uuids.setdefault(row.line, []).append(parsed)
        first = {row.act_id for row in self.rows} | set(claims_by_number.values())
        self._absorb(self.importer.read(list(first)))
        self._read.update(first)
        self.fresh_rows = [row for row in self.rows if row.act_id not in self.history]
        wanted: set[UUID] = set()
        for row in self.fresh_rows:
            wanted.update(uuids.get(row.line, ()))
        wanted.update(
            cast(UUID, self._claim(cid).person_id)
            for cid in claims_by_number.values()
            if cid in self.history
        )
        wanted -= self.history.keys()
        if wanted:
            self._absorb(self.importer.read(list(wanted)))
            self._read.update(wanted)

    def _absorb(self, events: Iterable[RegisterEvent]) -> None:
        for event in events:
            self.history.setdefault(event.originator_id, []).append(event)

    def _claim(self, cid: UUID) -> IdNumberClaim:
        claim = IdNumberClaim.replay(cid, self.history.get(cid, []))
        if claim is None or claim.person_id is None:
            raise UnknownPerson(f"no claim {cid}")
        return claim

    # ------------------------------------------------- the ActState port (queries)

    def resolve(self, ref: str) -> UUID:
        parsed = parse_person_ref(ref)
        if not isinstance(parsed, IdNumber):
            return parsed
        cid = claim_id(parsed)
        if cid in self.new_claims:  # claimed earlier in this batch
            for person in self.persons.values():
                if str(parsed) in (person.id_number, *person.cancelled_id_numbers):
                    return person.id
        if cid not in self.history:
            raise UnknownPerson(f"no person holds or held ID number {parsed}")
        return cast(UUID, self._claim(cid).person_id)

    def person(self, ref: str | UUID) -> Person:
        person_id = ref if isinstance(ref, UUID) else self.resolve(ref)
        person = self.persons.get(person_id)
        if person is None:
            history = self._history_of(person_id)  # a parent, say, that no row names
            if not history or not isinstance(history[0], BirthRegistered):
                raise UnknownPerson(f"no person record {person_id}")
            person = cast(Person, Person.replay(person_id, history))
            self.persons[person_id] = person
        self._touched.append(person)
        return person

    def recorded_act(self, act_id: UUID) -> RecordedAct | None:
        """A row's own act was read with the batch; another (the act that set up a household
        a row names) is read the first time it is asked for."""
        act = self.acts.get(act_id)
        if act is None:
            history = self._history_of(act_id)
            act = RecordedAct.replay(act_id, history) if history else None
            if act is not None:
                self.acts[act_id] = act
        return act

    def draw_number(self, person: Person) -> IdNumber:
        """The row's number drawn before deciding (`Numbers.predraw`) or in an earlier attempt
        at this batch, when it still fits the record; else a fresh draw, kept for the row, so
        that a clash with the store redraws only the numbers that clashed."""
        kept = self.numbers.drawn.get(self.line)
        if self._first_draw and kept is not None and str(kept).startswith(person.number_prefix):
            self._first_draw = False
            return kept
        self._first_draw = False
        number = self.numbers.draw(person.birth_province, person.sex, person.born.year)
        self.numbers.drawn[self.line] = number
        return number

    def number_is_claimed(self, number: IdNumber) -> bool:
        cid = claim_id(number)
        return cid in self.history or cid in self.new_claims or cid in self.numbers.taken

    def possible_duplicates(
        self, name: str, born: date, birth_province: str, *, excluding: UUID
    ) -> Sequence[str]:
        """An import is a migration: records that describe one person twice are loaded as
        they are and merged by their own rows (docs/import.md), so none is held back here."""
        return ()

    def household(self, number: str) -> Household:
        hid = household_id(number)
        household = self.households.get(hid)
        if household is None:
            history = self._history_of(hid)
            if not history:
                raise UnknownHousehold(f"no household {number}")
            household = cast(Household, Household.replay(hid, history))
            self.households[hid] = household
        self._touched.append(household)
        return household

    def draw_household_number(self) -> HouseholdNumber:
        return draw_household_number()

    def household_number_is_taken(self, number: HouseholdNumber) -> bool:
        return bool(self._history_of(household_id(number)))

    def _history_of(self, aggregate_id: UUID) -> list[RegisterEvent]:
        """What the batch holds of an aggregate, read from the store (and the batch in
        flight) the first time it is asked for."""
        if aggregate_id not in self.history and aggregate_id not in self._read:
            self._read.add(aggregate_id)
            self._absorb(self.importer.read([aggregate_id]))
        return self.history.get(aggregate_id, [])

    def look_alike_guard(self, person: Person, basis: ActBasis) -> Sequence[Aggregate]:
        return ()  # no possible duplicate is held back by an import (above)

    # ------------------------------------------------------------------ deciding

    def decide_all(self) -> None:
        """Decide every row in file order, each seeing the rows before it."""
        attest = self.importer.clerks_check()
        for row in self.rows:
            self.line = row.line
            self._touched = []
            self._first_draw = True
            try:
                attest(row.clerking)
                decision = decide(row.act, row.clerking, self, digest=row.digest)
            except CivledgerError as error:
                self._undo()
                self.outcomes.append((row, error))
                continue
            if decision.already_recorded:
                self.already.append(row)
                continue
            for aggregate in decision.aggregates:
                pending = aggregate.collect_events()
                if isinstance(aggregate, Person):
                    self.persons[aggregate.id] = aggregate
                    self.history.setdefault(aggregate.id, []).extend(pending)
                elif isinstance(aggregate, Household):
                    self.households[aggregate.id] = aggregate
                    self.history.setdefault(aggregate.id, []).extend(pending)
                elif isinstance(aggregate, RecordedAct):
                    self.acts[aggregate.id] = aggregate
                elif isinstance(aggregate, IdNumberClaim):
                    self.new_claims.add(aggregate.id)
                self.events.extend(pending)
            self.outcomes.append((row, None))

    def _undo(self) -> None:
        """Forget what a refused act did to the people and households it read: each is
        rebuilt from its history as the batch holds it."""
        for aggregate in self._touched:
            cache: dict[UUID, Any] = (
                self.persons if isinstance(aggregate, Person) else self.households
            )
            history = self.history.get(aggregate.id)
            if history:
                cache[aggregate.id] = type(aggregate).replay(aggregate.id, history)
            else:
                cache.pop(aggregate.id, None)


class Serials:
    """Six random digits from the operating system's cryptographic source, as `draw_number`
    draws them, read a few kilobytes at a time instead of one system call per number."""

    CHUNK = 3 * 4096

    def __init__(self) -> None:
        self._buffer = b""
        self._at = 0

    def draw(self) -> int:
        while True:
            if self._at + 3 > len(self._buffer):
                self._buffer, self._at = os.urandom(self.CHUNK), 0
            value = int.from_bytes(self._buffer[self._at : self._at + 3], "big") >> 4
            self._at += 3
            if value < 1_000_000:  # 20 uniform bits; rejecting the rest keeps it uniform
                return value


class Numbers:
    """The numbers drawn for one batch, kept across its attempts, and what the store says.

    Before a batch is decided, a number is drawn for every birth in its bucket (province,
    century and sex, year: all known from the row) and the whole lot is checked against the
    store in one query, drawing again only those already claimed. Deciding then finds each
    birth's number free, so a batch is not decided twice because one of a thousand draws
    hit an old claim; as buckets fill up with millions of people that would otherwise happen
    to almost every batch.
    """

    def __init__(self, serials: Serials) -> None:
        self.serials = serials
        self.drawn: dict[int, IdNumber] = {}  # by line: a row assigns at most one number
        self.taken: set[UUID] = set()  # claim ids found in the store
        self.verified: set[UUID] = set()  # claim ids found free in the store

    def draw(self, province: str, sex: Sex, year: int) -> IdNumber:
        return IdNumber.compose(province, sex, year, self.serials.draw())

    def predraw(self, rows: Sequence[Row], read: Callable[[list[UUID]], Iterable[UUID]]) -> None:
        """Draw and check against the store a number for every birth of the batch. Only a
        prefetch: whether a birth gets a number, and which, is decided with the act
        (`Batch.draw_number` offers the number drawn here first)."""
        pending: dict[UUID, int] = {}
        for row in rows:
            act = row.act
            if not isinstance(act, RegisterBirth) or row.line in self.drawn:
                continue
            try:  # a guess at the number the birth will need, if it needs one
                number = self.draw(act.province, act.sex, act.born.year)
            except InvalidInput:  # no number encodes it: deciding will say why
                continue
            self.drawn[row.line] = number
            pending[claim_id(number)] = row.line
        for _ in range(MAX_DRAWS):
            if not pending:
                return
            clashes = set(read(list(pending)))
            self.verified.update(pending.keys() - clashes)
            self.taken |= clashes
            retry: dict[UUID, int] = {}
            for cid in clashes:
                line = pending[cid]
                old = self.drawn[line]
                number = IdNumber(old.province, old.century_sex, old.yy, self.serials.draw())
                self.drawn[line] = number
                retry[claim_id(number)] = line
            pending = retry
