"""Bulk import: many acts, judged exactly as a clerk's acts are, written a batch at a time.

Every row is parsed by the same pydantic commands (`domain.commands`) and decided by the same
aggregates and rules (`Person`, `IdNumberClaim`, `RecordedAct`) as `CivilRegister`. What
differs is only how state is read and written: a batch's aggregates are loaded in one query,
its acts decided in memory in file order, and all its events appended in one transaction by
the store's bulk path (`insert_events_bulk`: binary COPY on PostgreSQL, executemany on
SQLite). The format of a row is documented in docs/import.md.

Idempotent and resumable: an act's `RecordedAct` id derives from (kind, office, reference) and
is written in the same transaction as the act's events, so a row whose act is in the store is
"already recorded" and a re-run after a crash at any point appends every remaining row once.
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TypeVar, cast, runtime_checkable
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Mapper, PersistenceError, StoredEvent

from importer import parse_worker
from domain.aggregate import ActBasis
from infrastructure.collector import fewer_collections
from domain.commands import (
    ACT_COMMANDS,
    ChangeRecord,
    Clerking,
    Command,
    MergeDuplicate,
    RecordDeath,
    RegisterBirth,
    RenounceNationality,
)
from domain.errors import (
    CivledgerError,
    InvalidInput,
    ReferenceConflict,
    RuleBroken,
    UnknownPerson,
)
from infrastructure.errors import StoreUnavailable, WorkerFailed
from domain.events import BirthRegistered, IdNumberAssignedReason, RegisterEvent
from domain.person import Person
from domain.registry import (
    IdNumberClaim,
    RecordedAct,
    act_id,
    claim_id,
    fingerprint,
    person_id_for_birth,
)
from domain.values import (
    FIRST_YEAR,
    Clock,
    IdNumber,
    Nationality,
    Sex,
    clean_text,
    parse_person_ref,
    today_of,
)

if TYPE_CHECKING:
    from application.register import CivilRegister

#: Fields of a row that name a person: an ID number, a person UUID or a birth act.
PERSON_FIELDS = ("person", "into", "father", "mother")
#: How often a batch is decided again after a conflicting concurrent write.
MAX_ATTEMPTS = 12
#: Random draws before a (province, century-sex, year) bucket is declared full.
MAX_DRAWS = 64
DEFAULT_BATCH = 2000
#: What a parse worker is not given of the environment: it validates rows and never reads
#: the store, so it has no use for the cipher key or the store's credentials.
WORKER_WITHOUT = frozenset(
    {"CIVLEDGER_CIPHER_KEY", "CIPHER_KEY", "CIVLEDGER_STORE", "PGPASSWORD", "PGPASSFILE"}
)
#: Bytes a pipe to a parse worker holds (Linux; the most an unprivileged process may ask).
PIPE_SIZE = 1 << 20


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


@dataclass(frozen=True)
class Rejected:
    """A row that is not in the ledger: its line number, a one-line reason, its text."""

    line: int
    reason: str
    text: str


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


@dataclass(frozen=True)
class Row:
    """A row that passed the command models: the act, and who recorded it where.

    `act_id` names the act's record; `digest` is its fingerprint when it depends on the row
    alone (no person named by ID number, which only the store can resolve), else None;
    `born_id` is the id of the person a birth row registers (it derives from the birth act),
    None for other acts. All are computed where the row is parsed, which may be a worker
    process."""

    line: int
    text: str
    act: Command
    clerking: Clerking
    act_id: UUID
    digest: str | None
    born_id: UUID | None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled lean, for the trip back from a parse worker: field values, not models."""
        act, clerking = self.act, self.clerking
        return (
            _row_from_wire,
            (
                self.line,
                self.text,
                act.KIND,
                tuple(act.__dict__.values()),
                tuple(act.model_fields_set),
                (clerking.clerk, clerking.office, clerking.reference),
                self.act_id.bytes,
                self.digest,
                self.born_id.bytes if self.born_id else None,
            ),
        )


def _row_from_wire(
    line: int,
    text: str,
    kind: str,
    values: tuple[Any, ...],
    fields_set: tuple[str, ...],
    clerking: tuple[str, str, str],
    aid: bytes,
    digest: str | None,
    born: bytes | None,
) -> Row:
    """A pickled `Row` again: its models rebuilt by pydantic's own unpickling (`__setstate__`)
    from values that the same models validated, in the worker."""
    return Row(
        line,
        text,
        _model_from_wire(ACT_COMMANDS[kind], values, fields_set),
        _model_from_wire(Clerking, clerking, _CLERKING_FIELDS),
        UUID(bytes=aid),
        digest,
        UUID(bytes=born) if born else None,
    )


_MODELS: list[type[Command]] = [Clerking, *ACT_COMMANDS.values()]
_FIELDS: dict[type[Command], tuple[str, ...]] = {
    model: tuple(model.model_fields) for model in _MODELS
}
_CLERKING_FIELDS = _FIELDS[Clerking]
_Model = TypeVar("_Model", bound=Command)


def _model_from_wire(
    model: type[_Model], values: tuple[Any, ...], fields_set: tuple[str, ...]
) -> _Model:
    instance = model.__new__(model)
    instance.__setstate__(
        {
            "__dict__": dict(zip(_FIELDS[model], values, strict=True)),
            "__pydantic_fields_set__": set(fields_set),
            "__pydantic_extra__": None,
            "__pydantic_private__": None,
        }
    )
    return instance


# ------------------------------------------------------------------------ parsing


def _birth_act_ref(value: dict[str, Any], where: str) -> str:
    """`{"office": ..., "reference": ...}` of a birth act names the person it registered."""
    if set(value) != {"office", "reference"} or not all(isinstance(v, str) for v in value.values()):
        raise InvalidInput(
            f"{where} must be an ID number, a person UUID or "
            '{"office": ..., "reference": ...} of a birth act'
        )
    office = clean_text(value["office"], f"{where}.office")
    reference = clean_text(value["reference"], f"{where}.reference")
    return str(person_id_for_birth(office, reference))


def parse_row(line: int, text: str) -> Row:
    """Validate one row with the same models as a clerk's command; `InvalidInput` if bad."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        message = error.msg.removesuffix(" at")  # "Invalid control character at"
        raise InvalidInput(f"not JSON: {message} at column {error.colno}") from None
    if not isinstance(raw, dict):
        raise InvalidInput("a row must be a JSON object")
    kind = raw.pop("kind", None)
    if kind is None:
        raise InvalidInput("kind is required")
    command = ACT_COMMANDS.get(kind) if isinstance(kind, str) else None
    if command is None:
        raise InvalidInput(f"unknown kind {kind!r}; expected one of {', '.join(ACT_COMMANDS)}")
    clerking = Clerking.parse(
        **{key: raw.pop(key) for key in ("clerk", "office", "reference") if key in raw}
    )
    if command is ChangeRecord:
        # `kind` names the act, so a change row names the kind of change `change_kind`.
        if "change_kind" not in raw:
            raise InvalidInput("change_kind is required")
        raw["kind"] = raw.pop("change_kind")
    for key in PERSON_FIELDS:
        if isinstance(raw.get(key), dict):
            raw[key] = _birth_act_ref(raw[key], key)
    act = command.parse(**raw)
    digest = None
    if not any(isinstance(parse_person_ref(ref), IdNumber) for ref in _refs(act)):
        digest = fingerprint(act.KIND, act_content(act, parse_person_ref))
    born_id = None
    if isinstance(act, RegisterBirth):
        born_id = person_id_for_birth(clerking.office, clerking.reference)
    return Row(
        line,
        text,
        act,
        clerking,
        act_id(act.KIND, clerking.office, clerking.reference),
        digest,
        born_id,
    )


def _refs(act: Command) -> list[str]:
    """The person references an act holds (canonical text, as its command model left them).
    Read from the model's fields (`__dict__`): asking a model for a field it lacks goes
    through pydantic's slow `__getattr__`, a tenth of the deciding process's time."""
    fields = act.__dict__
    return [ref for key in PERSON_FIELDS if isinstance(ref := fields.get(key), str)]


def act_content(act: Command, resolve: Callable[[str], object]) -> dict[str, Any]:
    """The act's content as the single-act path fingerprints it, references resolved to
    person ids by `resolve`. Whether the people exist is checked when the act is decided,
    not here, so that comparing a recorded act needs no person loaded."""
    data = act.model_dump(mode="json")
    for key in PERSON_FIELDS:
        if data.get(key):
            data[key] = str(resolve(data[key]))
    if isinstance(act, MergeDuplicate):
        return {"person": data["person"], "into": data["into"]}
    return data


def numbered_lines(lines: Iterable[bytes], first: int = 1) -> Iterator[tuple[int, bytes]]:
    """Number the lines of a file, skipping blank ones (they are not rows). A byte-order mark
    at the start of the file (some editors write one) is not part of the first row."""
    for number, line in enumerate(lines, first):
        data = line
        if number == first and data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        if data.strip():
            yield number, data


# ---------------------------------------------------------------------- the batch


class _Batch:
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
        self.outcomes: list[tuple[Row, str | None]] = []  # reason None: recorded
        self.already: list[Row] = []
        self.stored: list[StoredEvent] = []  # `events`, mapped for the store
        self.recorded_at = importer.clock.now()
        self.today = today_of(importer.clock)

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
            for ref in _refs(row.act):
                parsed = parse_person_ref(ref)
                if isinstance(parsed, IdNumber):
                    claims_by_number[str(parsed)] = claim_id(parsed)
                else:
                    uuids.setdefault(row.line, []).append(parsed)
        first = {row.act_id for row in self.rows} | set(claims_by_number.values())
        self._absorb(self.importer.read(list(first)))
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

    def _absorb(self, events: Iterable[RegisterEvent]) -> None:
        for event in events:
            self.history.setdefault(event.originator_id, []).append(event)

    def _claim(self, cid: UUID) -> IdNumberClaim:
        claim = IdNumberClaim.replay(cid, self.history.get(cid, []))
        if claim is None or claim.person_id is None:
            raise UnknownPerson(f"no claim {cid}")
        return claim

    # ------------------------------------------------------------------- queries

    def resolve(self, ref: str, *, check: bool = True) -> UUID:
        """The person id a reference names; with `check`, the person must be on record."""
        parsed = parse_person_ref(ref)
        if isinstance(parsed, IdNumber):
            cid = claim_id(parsed)
            if cid not in self.history and cid not in self.new_claims:
                raise UnknownPerson(f"no person holds or held ID number {parsed}")
            if cid in self.new_claims:
                for person in self.persons.values():
                    if str(parsed) in (person.id_number, *person.cancelled_id_numbers):
                        return person.id
            return cast(UUID, self._claim(cid).person_id)
        if check:
            self.person(parsed)
        return parsed

    def person(self, ref: str | UUID) -> Person:
        person_id = ref if isinstance(ref, UUID) else self.resolve(ref)
        person = self.persons.get(person_id)
        if person is None:
            history = self.history.get(person_id)
            if not history or not isinstance(history[0], BirthRegistered):
                raise UnknownPerson(f"no person record {person_id}")
            person = cast(Person, Person.replay(person_id, history))
            self.persons[person_id] = person
        return person

    def recorded_act(self, aid: UUID) -> RecordedAct | None:
        act = self.acts.get(aid)
        if act is None and aid in self.history:
            act = RecordedAct.replay(aid, self.history[aid])
            if act is not None:
                self.acts[aid] = act
        return act

    def claim_known(self, cid: UUID) -> bool:
        return cid in self.history or cid in self.new_claims or cid in self.numbers.taken

    # ------------------------------------------------------------------ deciding

    def decide_all(self) -> None:
        for row in self.rows:
            touched: list[Person] = []
            try:
                self.decide(row, touched)
            except CivledgerError as error:
                for person in touched:  # undo a half-applied act: rebuild from history
                    self.persons[person.id] = cast(
                        Person, Person.replay(person.id, self.history[person.id])
                    )
                self.outcomes.append((row, " ".join(error.message.split())))

    def decide(self, row: Row, touched: list[Person]) -> None:
        self.line = row.line
        act, clerking = row.act, row.clerking
        kind = act.KIND
        digest = row.digest
        if digest is None:  # a person named by ID number: resolved against the batch's state
            digest = fingerprint(kind, act_content(act, lambda ref: self.resolve(ref, check=False)))
        aid = row.act_id
        recorded = self.recorded_act(aid)
        if recorded is not None:
            if recorded.fingerprint != digest:
                raise ReferenceConflict(
                    f"reference {clerking.reference!r} at office {clerking.office!r} was "
                    f"already used for a different {recorded.kind} act",
                    rule="ReferenceIdentifiesOneAct",
                )
            self.already.append(row)
            return
        basis = ActBasis(clerking.clerk, clerking.office, clerking.reference, self.recorded_at)
        person, claims = self.apply(row, basis, touched)
        pending = person.collect_events()
        on = pending[0].occurred_on if pending else self.today
        record = RecordedAct.record(kind, digest, person.id, basis, on)
        new_events = [*pending, *(e for c in claims for e in c.collect_events())]
        new_events.extend(record.collect_events())
        self.history.setdefault(person.id, []).extend(pending)
        self.persons[person.id] = person
        self.acts[aid] = record
        self.new_claims.update(c.id for c in claims)
        self.events.extend(new_events)
        self.outcomes.append((row, None))

    def apply(
        self, row: Row, basis: ActBasis, touched: list[Person]
    ) -> tuple[Person, list[IdNumberClaim]]:
        """Let the aggregates decide one act, as `CivilRegister` does for a clerk."""
        act = row.act
        if isinstance(act, RegisterBirth):
            return self._birth(act, cast(UUID, row.born_id), basis)
        if isinstance(act, ChangeRecord):
            return self._change(act, basis, touched)
        if isinstance(act, MergeDuplicate):
            return self._merge(act, basis, touched), []
        if not isinstance(act, RecordDeath | RenounceNationality):  # pragma: no cover
            raise InvalidInput(f"unknown act {act.KIND!r}")
        person = self.person(act.person)
        touched.append(person)
        if isinstance(act, RecordDeath):
            person.record_death(basis, act.died_on, act.place, self.today)
        else:
            person.renounce_nationality(basis, act.effective, self.today)
        return person, []

    def _birth(
        self, act: RegisterBirth, person_id: UUID, basis: ActBasis
    ) -> tuple[Person, list[IdNumberClaim]]:
        father = self.person(act.father) if act.father else None
        mother = self.person(act.mother) if act.mother else None
        registered_on = act.registered_on or self.today
        person = Person.register_birth(
            person_id,
            basis,
            name=act.name,
            sex=act.sex,
            born=act.born,
            birth_province=act.province,
            nationality=act.nationality,
            registered_on=registered_on,
            today=self.today,
            ethnicity=act.ethnicity,
            place_of_birth=act.place_of_birth,
            father=father,
            mother=mother,
        )
        if person.may_hold_number:
            return person, [self.assign(person, basis, "birth_registered", registered_on)]
        return person, []

    def _change(
        self, act: ChangeRecord, basis: ActBasis, touched: list[Person]
    ) -> tuple[Person, list[IdNumberClaim]]:
        person = self.person(act.person)
        touched.append(person)
        effective = act.effective or self.today
        change = person.change_record(basis, act.field, act.value, act.kind, effective, self.today)
        if change.needs_number and person.may_hold_number:
            return person, [self.assign(person, basis, change.reason, effective)]
        return person, []

    def _merge(self, act: MergeDuplicate, basis: ActBasis, touched: list[Person]) -> Person:
        duplicate = self.person(act.person)
        survivor = self.person(act.into)
        touched.append(duplicate)
        duplicate.merge_into(basis, survivor, self.today)  # checks MergeKeepsEarliestRecord
        return duplicate

    def assign(
        self, person: Person, basis: ActBasis, reason: IdNumberAssignedReason, on: date
    ) -> IdNumberClaim:
        """Draw a number the batch and the store have never seen; the same rules as one act.

        The row's number drawn earlier (before deciding, or in an earlier attempt at this
        batch) is kept when it still fits the record and is still free, so that a clash
        with the store redraws only the numbers that clashed.
        """
        number = self.numbers.drawn.get(self.line)
        if (
            number is None
            or not str(number).startswith(person.number_prefix)
            or self.claim_known(claim_id(number))
        ):
            for _ in range(MAX_DRAWS):
                number = self.numbers.draw(person.birth_province, person.sex, person.born.year)
                if not self.claim_known(claim_id(number)):
                    break
            else:
                raise RuleBroken(
                    f"no free ID number found in bucket {person.number_prefix} after "
                    f"{MAX_DRAWS} draws",
                    rule="NumberBucketHasRoom",
                )
            self.numbers.drawn[self.line] = number
        claim = IdNumberClaim.claim(number, person.id, basis, on)
        person.assign_id_number(basis, number, reason, on)
        self.new_claims.add(claim.id)
        return claim


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
        """Draw and check against the store a number for every birth of the batch."""
        pending: dict[UUID, int] = {}
        for row in rows:
            act = row.act
            if not isinstance(act, RegisterBirth) or row.line in self.drawn:
                continue
            if act.nationality is not Nationality.VIETNAMESE or act.born.year < FIRST_YEAR:
                continue
            number = self.draw(act.province, act.sex, act.born.year)
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


# ------------------------------------------------------------------- the service


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

    def _claimed(self, claim_ids: list[UUID]) -> list[UUID]:
        """Which of these number claims the store (or the batch in flight) already holds."""
        return [e.originator_id for e in self.read(claim_ids)]

    def read(self, ids: Sequence[UUID]) -> list[RegisterEvent]:
        events: list[RegisterEvent] = []
        if self.overlay:
            overlay = self.overlay
            events = [e for i in ids if i in overlay for e in overlay[i]]
            ids = [i for i in ids if i not in overlay]
        try:
            stored = self.recorder.select_events_of(ids) if ids else []
        except (PersistenceError, OSError) as error:
            raise StoreUnavailable(f"store error: {_one_line(error)}") from error
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
        chunks = _parsed_chunks(_chunks(lines, self.batch_size), self.parse_workers)
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

    def _write(self, batch: _Batch) -> None:
        try:
            self.recorder.insert_events_bulk(batch.stored)
        except IntegrityError:
            raise  # a uniqueness race, for the caller to decide again (a PersistenceError too)
        except (PersistenceError, OSError) as error:
            raise StoreUnavailable(f"store error: {_one_line(error)}") from error

    def _report(
        self,
        parsed: _Parsed,
        batch: _Batch | None,
        tally: ImportTally,
        on_reject: Callable[[Rejected], None],
    ) -> None:
        rejected = list(parsed.rejected)
        if batch is not None:
            for row, reason in batch.outcomes:
                if reason is not None:
                    rejected.append(Rejected(row.line, reason, row.text))
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

    def _decide(self, rows: Sequence[Row], numbers: Numbers | None = None) -> _Batch:
        """Decide a batch against the store (and the batch in flight), drawing again any
        number found already claimed; its events are mapped, ready to write."""
        if numbers is None:
            numbers = Numbers(self.serials)
        for _ in range(MAX_ATTEMPTS):
            batch = _Batch(self, rows, numbers)
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

    def _decide_and_write(self, rows: list[Row]) -> _Batch:
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
class _Parsed:
    """One chunk of input: how many rows, those that passed the command models, the rest."""

    lines: int
    rows: list[Row]
    rejected: list[Rejected]


@dataclass
class _InFlight:
    parsed: _Parsed
    batch: _Batch | None
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


def default_parse_workers() -> int:
    """One parse worker when this process may run on more than one CPU, else none."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux: the CPUs it may run on
    cpus = len(affinity(0)) if affinity else (os.cpu_count() or 1)
    return 1 if cpus > 1 else 0


def _parsed_chunks(
    chunks: Iterator[list[tuple[int, bytes]]], workers: int
) -> Generator[_Parsed, None, None]:
    """Parse chunks of lines, yielding them in file order.

    With workers, rows are validated in other processes (`importer.parse_worker`, the same
    `parse_chunk`) while the chunk before them is decided: each worker holds one chunk at a
    time, and the oldest is taken back first. The first chunk is parsed here while the
    workers start; a file of one chunk starts none. Closing the generator stops them.
    """
    first = next(chunks, None)
    if first is None:
        return
    ahead = list(itertools.islice(chunks, workers))
    if not ahead:
        yield parse_chunk(first)
        yield from map(parse_chunk, chunks)
        return
    with _ParseWorkers(len(ahead)) as pool:
        for chunk in ahead:
            pool.submit(chunk)
        yield parse_chunk(first)
        for chunk in chunks:
            parsed = pool.take()
            pool.submit(chunk)  # to the worker just freed: it parses while `parsed` is decided
            yield parsed
        pool.close()  # nothing more to parse: the workers exit while the last chunks are decided
        while pool.busy:
            yield pool.take()


class _ParseWorkers:
    """Worker processes, each parsing at most one chunk; results are taken back in order.

    A worker is sent a chunk only when it has nothing to send back, so neither side can
    block writing to the other. The workers run in a session of their own (a terminal's
    Ctrl-C is the importing process's to handle) and end when their stdin closes.
    """

    def __init__(self, count: int) -> None:
        # `-P`: not the working directory's packages but this process's own `domain`, found
        # where this module was loaded from.
        command = [sys.executable, "-P", "-m", "importer.parse_worker"]
        root = str(Path(__file__).resolve().parent.parent)
        path = os.environ.get("PYTHONPATH")
        env = {k: v for k, v in os.environ.items() if k not in WORKER_WITHOUT}
        env["PYTHONPATH"] = root + os.pathsep + path if path else root
        # What each worker says on stderr, for the error should it stop (closed in __exit__).
        self.errors = [tempfile.TemporaryFile() for _ in range(count)]  # noqa: SIM115
        self.processes = [
            subprocess.Popen(  # noqa: S603 (this package's own worker module)
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=env,
                start_new_session=True,
            )
            for errors in self.errors
        ]
        for process in self.processes:  # a chunk and its rows fit: neither side waits on it
            for pipe in (process.stdin, process.stdout):
                with contextlib.suppress(OSError, AttributeError):
                    fcntl.fcntl(cast(BinaryIO, pipe).fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        self.order: deque[subprocess.Popen[bytes]] = deque()  # workers holding a chunk
        self.idle = list(self.processes)

    @property
    def busy(self) -> bool:
        return bool(self.order)

    def submit(self, lines: list[tuple[int, bytes]]) -> None:
        process = self.idle.pop(0)
        try:
            parse_worker.send(cast(BinaryIO, process.stdin), lines)
        except OSError:
            self._failed(process)
        self.order.append(process)

    def take(self) -> _Parsed:
        process = self.order.popleft()
        parsed = parse_worker.receive(cast(BinaryIO, process.stdout))
        if not isinstance(parsed, _Parsed):
            self._failed(process)
        self.idle.append(process)
        return cast(_Parsed, parsed)

    def _failed(self, process: subprocess.Popen[bytes]) -> None:
        code = process.wait(timeout=10)
        errors = self.errors[self.processes.index(process)]
        errors.seek(0)
        said = [line for line in errors.read().decode("utf-8", "replace").splitlines() if line]
        cause = f": {' '.join(said[-1].split())}" if said else ""
        raise WorkerFailed(
            f"a parse worker stopped (exit code {code}{cause}); rows not yet reported were "
            "not recorded and a re-run is safe"
        )

    def close(self) -> None:
        """No more chunks: each worker exits once it has sent back what it holds."""
        for process in self.processes:
            if process.stdin:
                with contextlib.suppress(OSError):
                    process.stdin.close()

    def __enter__(self) -> _ParseWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        for process in self.processes:
            if process.stdout:  # a worker still sending rows nobody will take (the import
                process.stdout.close()  # stopped early) gets a broken pipe and exits at once
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for errors in self.errors:
            errors.close()


def parse_chunk(lines: list[tuple[int, bytes]]) -> _Parsed:
    """Validate a chunk of numbered lines: the rows that pass, and the reasons of the rest."""
    return _parse(lines)


def _parse(lines: list[tuple[int, bytes]]) -> _Parsed:
    rows: list[Row] = []
    rejected: list[Rejected] = []
    for number, data in lines:
        try:
            text = data.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as error:
            rejected.append(
                Rejected(
                    number,
                    f"not UTF-8 at byte {error.start}",
                    data.decode("utf-8", "replace").rstrip("\r\n"),
                )
            )
            continue
        try:
            rows.append(parse_row(number, text))
        except CivledgerError as error:
            rejected.append(Rejected(number, " ".join(error.message.split()), text))
    return _Parsed(len(lines), rows, rejected)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


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


__all__ = [
    "DEFAULT_BATCH",
    "BulkImporter",
    "BulkRecorder",
    "ImportTally",
    "Rejected",
    "Row",
    "act_content",
    "default_parse_workers",
    "importer_for",
    "numbered_lines",
    "parse_row",
]
