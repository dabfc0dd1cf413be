"""Clerks: which database login acts for which person, at which office, and since when.

A clerk is enrolled by an operator: one `ClerkEnrolment` aggregate per database login (its id
derives from the login), whose events `ClerkEnrolled` and `ClerkRetired` say who enrolled
whom, for which office, from when, and when the enrolment ended. It is its own stream, not an
act of the civil register (docs/events.md, "Clerks").

The rules an act meets when the store is reached as an enrolled login live here too
(`ActsUnderOwnEnrolment`), and so does the reading an auditor makes of a login's history
(`EnrolmentTimeline`): which enrolment was in force when a row was appended.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from domain.aggregate import ActBasis, Aggregate, applies
from domain.errors import InvalidInput, RuleBroken
from domain.events import ClerkEnrolled, ClerkEvent, ClerkRetired
from domain.registry import uuid5_of
from domain.values import clean_text

NAMESPACE_CLERK = UUID("6f1c1b8e-4f5e-5b8a-9a53-3c3b1c0d1a06")
_NAMESPACE_CLERK = NAMESPACE_CLERK.bytes
#: The group roles of `civledger admin roles`: never a person's login.
GROUP_ROLES = frozenset({"civledger_clerk", "civledger_auditor"})
_LOGIN = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def enrolment_id(login: str) -> UUID:
    """The id of the enrolment stream of `login`."""
    return uuid5_of(_NAMESPACE_CLERK, f"clerk:{login}")


@dataclass(frozen=True)
class Enrolment:
    """One period of a login's enrolment: the clerk's name and office, from a date."""

    login: str
    name: str
    office: str
    since: date
    enrolled_by: str
    retired_on: date | None = None

    @property
    def active(self) -> bool:
        return self.retired_on is None

    def describe(self) -> str:
        return f"clerk {self.name} at office {self.office}"


# ------------------------------------------------------------------------- rules


class LoginIsAPlainRoleName:
    """A login is a PostgreSQL role name written plainly: lower-case ASCII letters, digits and
    underscores, at most 63 characters, not starting with a digit or `pg_`, and not one of the
    group roles (a group is not a person)."""

    @staticmethod
    def check(login: str) -> str:
        if not _LOGIN.fullmatch(login) or login.startswith("pg_"):
            raise InvalidInput(
                f"login {login!r} must be 1-63 lower-case letters, digits or underscores, "
                "not starting with a digit or pg_"
            )
        if login in GROUP_ROLES:
            raise InvalidInput(f"{login} is a group role, not a person's login")
        return login


class EnrolOnlyWhenNotEnrolled:
    """A login holds one enrolment at a time: enrolling it again for another name or office
    needs its retirement first. The same enrolment again is a retry, and changes nothing."""

    @staticmethod
    def check(current: Enrolment | None, name: str, office: str) -> bool:
        """True when an enrolment must be recorded, False for an identical retry."""
        if current is None or not current.active:
            return True
        if (current.name, current.office) == (name, office):
            return False
        raise RuleBroken(
            f"login {current.login} is already enrolled as {current.describe()} since "
            f"{current.since}: retire it first",
            rule="EnrolOnlyWhenNotEnrolled",
        )


class RetireOnlyWhenEnrolled:
    """Only an enrolment in force can end."""

    @staticmethod
    def check(current: Enrolment | None, login: str) -> Enrolment:
        if current is None:
            raise RuleBroken(f"login {login} is not enrolled", rule="RetireOnlyWhenEnrolled")
        if not current.active:
            raise RuleBroken(
                f"login {login} was already retired on {current.retired_on}",
                rule="RetireOnlyWhenEnrolled",
            )
        return current


class ActsUnderOwnEnrolment:
    """An act appended by an enrolled login is recorded under that login's enrolment: the
    clerk and office it names are the enrolment's, and a retired or unknown login records
    nothing."""

    @staticmethod
    def check(login: str, current: Enrolment | None, clerk: str, office: str) -> None:
        if current is None:
            raise RuleBroken(
                f"login {login} is not enrolled as a clerk: nothing was written "
                "(an operator enrols it with `civledger admin clerk enrol`)",
                rule="ActsUnderOwnEnrolment",
            )
        if not current.active:
            raise RuleBroken(
                f"login {login} was retired on {current.retired_on} "
                f"(it was {current.describe()}): nothing was written",
                rule="ActsUnderOwnEnrolment",
            )
        if (clerk, office) != (current.name, current.office):
            raise RuleBroken(
                f"login {login} is enrolled as {current.describe()}; this act names clerk "
                f"{clerk} at office {office}: nothing was written",
                rule="ActsUnderOwnEnrolment",
            )


# --------------------------------------------------------------------- aggregate


class ClerkEnrolment(Aggregate):
    """The enrolments of one database login, oldest first."""

    def __init__(self, id: UUID) -> None:
        super().__init__(id)
        self.periods: list[Enrolment] = []

    @classmethod
    def of(cls, login: str) -> ClerkEnrolment:
        return cls(enrolment_id(login))

    @property
    def current(self) -> Enrolment | None:
        return self.periods[-1] if self.periods else None

    def enrol(
        self, login: str, name: str, office: str, since: date, by: str, basis: ActBasis
    ) -> bool:
        """Enrol `login`; False (nothing recorded) when it is already enrolled alike."""
        LoginIsAPlainRoleName.check(login)
        name = clean_text(name, "the clerk's name")
        office = clean_text(office, "the clerk's office")
        if not EnrolOnlyWhenNotEnrolled.check(self.current, name, office):
            return False
        self._trigger(
            ClerkEnrolled,
            ActBasis(by, office, basis.reference, basis.recorded_at),
            since,
            login=login,
            name=name,
            enrolled_by=by,
        )
        return True

    def retire(self, login: str, on: date, by: str, basis: ActBasis) -> Enrolment:
        current = RetireOnlyWhenEnrolled.check(self.current, login)
        self._trigger(
            ClerkRetired,
            ActBasis(by, current.office, basis.reference, basis.recorded_at),
            on,
            login=login,
            retired_by=by,
        )
        return self.periods[-1]

    @applies(ClerkEnrolled)
    def _enrolled(self, event: ClerkEnrolled) -> None:
        self.periods.append(
            Enrolment(event.login, event.name, event.office, event.occurred_on, event.enrolled_by)
        )

    @applies(ClerkRetired)
    def _retired(self, event: ClerkRetired) -> None:
        last = self.periods[-1]
        self.periods[-1] = Enrolment(
            last.login, last.name, last.office, last.since, last.enrolled_by, event.occurred_on
        )


class EnrolmentTimeline:
    """A login's enrolments by log position: which one was in force when a row was appended.

    Built from the login's enrolment events with their positions, keeping only those the
    tables' owner appended (`trusted`): an enrolment pushed by anyone else proves nothing."""

    def __init__(self, positioned: Iterable[tuple[int, ClerkEvent]]) -> None:
        self._changes: list[tuple[int, Enrolment | None]] = []
        enrolment: ClerkEnrolment | None = None
        for position, event in positioned:
            if enrolment is None:
                enrolment = ClerkEnrolment(event.originator_id)
            enrolment.apply(event)
            current = enrolment.current
            self._changes.append((position, current if current and current.active else None))

    def at(self, position: int) -> Enrolment | None:
        """The enrolment in force just before `position` was appended (None: not enrolled)."""
        found: Enrolment | None = None
        for changed_at, enrolment in self._changes:
            if changed_at >= position:
                break
            found = enrolment
        return found


def matches(enrolment: Enrolment | None, clerk: str, office: str) -> bool:
    """Whether an act naming `clerk` at `office` is the enrolment's."""
    return enrolment is not None and (enrolment.name, enrolment.office) == (clerk, office)


def listed(enrolments: Sequence[ClerkEnrolment]) -> list[Enrolment]:
    """Every login's latest enrolment, by login."""
    return sorted((e.current for e in enrolments if e.current is not None), key=lambda e: e.login)
