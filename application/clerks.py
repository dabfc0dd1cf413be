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

from collections.abc import Callable, Sequence
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from application.acts import MAX_ATTEMPTS
from application.queries import EventLogLike, HistoryEntry, RegisterReader
from domain.aggregate import ActBasis
from domain.clerks import (
    ActsUnderOwnEnrolment,
    ClerkEnrolment,
    Enrolment,
    LoginIsAPlainRoleName,
    RetireOnlyWhenEnrolled,
    enrolment_id,
)
from domain.commands import Clerking
from domain.errors import InvalidInput
from domain.values import Clock, civil_date
from infrastructure.errors import StoreUnavailable, store_errors
from infrastructure.logins import (
    UNATTRIBUTED,
    Attribution,
    Attributor,
    LoginRecorder,
    logins_of,
    uuid_of,
)

__all__ = [
    "UNATTRIBUTED",
    "Attestation",
    "Attribution",
    "Attributor",
    "ClerkRoster",
    "LoginRecorder",
    "attributed",
    "list_clerks",
    "logins_of",
]


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
            ids += [uuid_of(n.originator_id) for n in batch if uuid_of(n.originator_id) not in ids]
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


def attributed(reader: RegisterReader, entries: Sequence[HistoryEntry]) -> list[Attribution]:
    """Who appended each history entry, and whether it was theirs to record."""
    return Attributor(reader.log).each((entry.position, entry.event) for entry in entries)
