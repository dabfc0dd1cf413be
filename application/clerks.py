"""Clerks bound to logins: enrolling and retiring them, holding an act to its login's
enrolment, and telling an auditor who appended each row and whether it was theirs to append.

The enrolment is its own stream (`domain.clerks.ClerkEnrolment`, one per login), decided
here, not by `application.acts.decide`: it is not a civil act, has no reference to make it
idempotent (an identical enrolment is a retry that changes nothing) and touches no person.
The login role itself is the store's (`infrastructure.postgres`): the ledger records the
enrolment first and then grants the role, and takes the role's right away first and then
records the retirement, so no row is ever appended by a login the ledger does not show as
enrolled at that position.

SQLite has no logins: enrolling is refused there, and every act reads as not verified.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification

from application.acts import MAX_ATTEMPTS
from application.queries import EventLogLike, HistoryEntry, RegisterReader
from domain.aggregate import ActBasis
from domain.clerks import (
    ActsUnderOwnEnrolment,
    ClerkEnrolment,
    Enrolment,
    EnrolmentTimeline,
    LoginIsAPlainRoleName,
    RetireOnlyWhenEnrolled,
    enrolment_id,
    matches,
)
from domain.commands import Clerking
from domain.errors import InvalidInput
from domain.events import ClerkEvent, RegisterEvent
from domain.values import Clock, civil_date
from infrastructure.errors import StoreUnavailable, store_errors
from infrastructure.mapper import decode_stored
from infrastructure.store_url import PositionedRecorder


@runtime_checkable
class LoginRecorder(Protocol):
    """What a store with logins (PostgreSQL) answers about them."""

    def session_login(self) -> tuple[str, bool]: ...
    def table_owner(self) -> str | None: ...
    def has_recorded_by(self) -> bool: ...
    def recorded_by_at(self, positions: Sequence[int]) -> dict[int, str | None]: ...
    def enrol_login(self, login: str) -> None: ...
    def retire_login(self, login: str) -> None: ...


def logins_of(recorder: object) -> LoginRecorder | None:
    """The store's logins, or None for a store without them (SQLite)."""
    return recorder if isinstance(recorder, LoginRecorder) else None


class _Writes(Protocol):
    """What the roster needs of the write side (`CivilRegister`)."""

    clock: Clock

    @property
    def recorder(self) -> Any: ...

    def save_aggregates(self, *aggregates: Any) -> None: ...

    def check_key_fits_log(self) -> None: ...


# ------------------------------------------------------------------- enrolment


class ClerkRoster:
    """Enrols and retires clerks on a PostgreSQL store, as its tables' owner."""

    def __init__(self, register: _Writes, log: EventLogLike) -> None:
        self._register = register
        self._log = log
        logins = logins_of(register.recorder)
        if logins is None:
            raise InvalidInput(
                "clerks' logins need PostgreSQL: SQLite has no logins, and its acts are "
                "recorded as not verified (see docs/security.md)"
            )
        self._logins = logins

    def enrol(self, login: str, name: str, office: str) -> tuple[Enrolment, bool]:
        """Record the enrolment, then create the login role and make it a clerk. Returns the
        enrolment and whether it was recorded now (False: it already was, alike)."""
        LoginIsAPlainRoleName.check(login)
        self._register.check_key_fits_log()
        with store_errors():
            operator, _ = self._logins.session_login()
        recorded = False
        for _ in range(MAX_ATTEMPTS):
            enrolment = self._current(login)
            now = self._register.clock.now()
            basis = ActBasis(operator, office, f"enrol {login}", now)
            recorded = enrolment.enrol(login, name, office, civil_date(now), operator, basis)
            if not recorded:
                break
            try:
                self._register.save_aggregates(enrolment)
            except IntegrityError:
                continue
            break
        else:
            raise StoreUnavailable(f"gave up after {MAX_ATTEMPTS} concurrent enrolments")
        with store_errors():
            self._logins.enrol_login(login)
        current = enrolment.current
        assert current is not None  # noqa: S101 (enrol() has just set it)
        return current, recorded

    def retire(self, login: str) -> Enrolment:
        """Take the login's right to append, then record the retirement."""
        LoginIsAPlainRoleName.check(login)
        self._register.check_key_fits_log()
        with store_errors():
            operator, _ = self._logins.session_login()
        for _ in range(MAX_ATTEMPTS):
            enrolment = self._current(login)
            now = self._register.clock.now()
            basis = ActBasis(operator, "", f"retire {login}", now)
            RetireOnlyWhenEnrolled.check(enrolment.current, login)
            with store_errors():
                self._logins.retire_login(login)
            retired = enrolment.retire(login, civil_date(now), operator, basis)
            try:
                self._register.save_aggregates(enrolment)
            except IntegrityError:
                continue
            return retired
        raise StoreUnavailable(f"gave up after {MAX_ATTEMPTS} concurrent retirements")

    def _current(self, login: str) -> ClerkEnrolment:
        found = RegisterReader(self._log).get(ClerkEnrolment, enrolment_id(login))
        return found if found is not None else ClerkEnrolment.of(login)


def list_clerks(log: EventLogLike) -> list[Enrolment]:
    """Every enrolled (or retired) login's latest enrolment, by login: the clerks' streams,
    found by their events' topics."""
    from domain.events import CLERK_TOPICS

    recorder = log.recorder
    ids: list[UUID] = []
    position = 0
    with store_errors():
        while batch := recorder.select_notifications(
            start=position + 1, limit=1000, topics=CLERK_TOPICS
        ):
            ids += [_uuid(n.originator_id) for n in batch if _uuid(n.originator_id) not in ids]
            position = batch[-1].id
    attributor = Attributor(log)
    found = [attributor.enrolments(i) for i in ids]
    return sorted((e for e in found if e is not None), key=lambda e: e.login)


# ------------------------------------------------------------------ attestation


class Attestation:
    """Holds each act of one register to the enrolment of the login it reaches the store as.

    The tables' owner is the operator: its acts keep the clerk and office they name (an
    import carries those of the registers it migrates). Any other login must be enrolled,
    not retired, and name its enrolment's clerk and office (`ActsUnderOwnEnrolment`)."""

    def __init__(self, recorder: object, current: Callable[[str], Enrolment | None]) -> None:
        self._logins = logins_of(recorder)
        self._current = current
        self._login: tuple[str, bool] | None = None

    def check(self, clerking: Clerking) -> None:
        self.checker()(clerking)

    def checker(self) -> Callable[[Clerking], None]:
        """The check, with the login's enrolment read once: for the many acts of an import
        batch (a retirement meanwhile is refused by the database itself)."""
        if self._logins is None:
            return _anyone
        if self._login is None:
            with store_errors():
                self._login = self._logins.session_login()
        login, is_owner = self._login
        if is_owner:
            return _anyone
        current = self._current(login)

        def check(clerking: Clerking) -> None:
            ActsUnderOwnEnrolment.check(login, current, clerking.clerk, clerking.office)

        return check


def _anyone(clerking: Clerking) -> None:
    """No login to hold the act to (SQLite), or the operator's."""


# ------------------------------------------------------------------ attribution


@dataclass(frozen=True)
class Attribution:
    """Who appended one row, and whether the act it holds is that login's to record."""

    #: The login the database stamped on the row; None on SQLite and on rows appended before.
    recorded_by: str | None
    #: The act names the clerk and office of the login's enrolment in force when appended.
    verified: bool
    #: Appended by the tables' owner (an operator), not by a clerk's login.
    operator: bool = False

    def document(self) -> dict[str, Any]:
        return {
            "recorded_by": self.recorded_by,
            "verified": self.verified,
            "operator": self.operator,
        }


UNATTRIBUTED = Attribution(None, False)


class Attributor:
    """Answers `Attribution`s over one event log, reading each login's enrolments once."""

    def __init__(self, log: EventLogLike) -> None:
        self._log = log
        self._logins = logins_of(log.recorder)
        self._owner: str | None = None
        self._timelines: dict[str, EnrolmentTimeline] = {}

    @property
    def stamped(self) -> bool:
        """Whether the store stamps logins at all (PostgreSQL with the column)."""
        return self._logins is not None and self._logins.has_recorded_by()

    @property
    def owner(self) -> str | None:
        if self._owner is None and self._logins is not None:
            with store_errors():
                self._owner = self._logins.table_owner()
        return self._owner

    def recorded_by(self, positions: Sequence[int]) -> dict[int, str | None]:
        if self._logins is None or not positions:
            return {}
        with store_errors():
            return self._logins.recorded_by_at(positions)

    def of(self, position: int, event: RegisterEvent, login: str | None) -> Attribution:
        if login is None:
            return UNATTRIBUTED
        enrolment = self.timeline(login).at(position)
        return Attribution(
            login, matches(enrolment, event.clerk, event.office), login == self.owner
        )

    def each(self, positioned: Iterable[tuple[int, RegisterEvent]]) -> list[Attribution]:
        """The attributions of events with their positions, in order."""
        listed = list(positioned)
        logins = self.recorded_by([position for position, _ in listed])
        return [self.of(position, event, logins.get(position)) for position, event in listed]

    def enrolled_at(self, login: str, position: int) -> Enrolment | None:
        return self.timeline(login).at(position)

    def timeline(self, login: str) -> EnrolmentTimeline:
        """The login's enrolments, from the events the tables' owner appended only."""
        if login not in self._timelines:
            notifications = self._enrolment_notifications(enrolment_id(login))
            self._timelines[login] = EnrolmentTimeline(
                (n.id, self._decode(n)) for n in notifications
            )
        return self._timelines[login]

    def enrolments(self, stream: UUID) -> Enrolment | None:
        """The latest enrolment of one enrolment stream (owner-appended events only)."""
        notifications = self._enrolment_notifications(stream)
        if not notifications:
            return None
        enrolment = ClerkEnrolment(stream)
        for n in notifications:
            enrolment.apply(self._decode(n))
        return enrolment.current

    def _enrolment_notifications(self, stream: UUID) -> list[Notification]:
        recorder = cast(PositionedRecorder, self._log.recorder)
        with store_errors():
            notifications = list(recorder.select_originator_notifications(stream))
        if self._logins is None:
            return notifications
        logins = self.recorded_by([n.id for n in notifications])
        owner = self.owner
        return [n for n in notifications if logins.get(n.id) in (owner, None)]

    def _decode(self, n: Notification) -> ClerkEvent:
        mapper = self._log.mapper
        event = decode_stored(
            n.topic,
            _uuid(n.originator_id),
            n.originator_version,
            n.state,
            mapper.cipher,
            mapper.compressor,
        )
        return cast(ClerkEvent, event)


def attributed(reader: RegisterReader, entries: Sequence[HistoryEntry]) -> list[Attribution]:
    """Who appended each history entry, and whether it was theirs to record."""
    return Attributor(reader.log).each((entry.position, entry.event) for entry in entries)


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
