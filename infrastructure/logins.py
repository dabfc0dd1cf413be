"""The login that appended each row, as the database stamped it, and whether the act in the
row is that login's to record: the reading an auditor makes, shared by the write side
(`application.clerks`), `history`, `audit log` and `audit verify`.

A PostgreSQL store names each row's login in `recorded_by` (docs/adr/008); SQLite names none.
A login's enrolments are read from its own stream (`domain.clerks.ClerkEnrolment`), keeping
only the events the tables' owner appended. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Mapper, Notification

from domain.clerks import ClerkEnrolment, Enrolment, EnrolmentTimeline, enrolment_id, matches
from domain.events import ClerkEvent, RegisterEvent
from infrastructure.errors import store_errors
from infrastructure.mapper import decode_stored
from infrastructure.store_url import PositionedRecorder


class EventLogLike(Protocol):
    """An event log: its recorder and its mapper."""

    @property
    def recorder(self) -> ApplicationRecorder: ...

    @property
    def mapper(self) -> Mapper[UUID]: ...


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
            uuid_of(n.originator_id),
            n.originator_version,
            n.state,
            mapper.cipher,
            mapper.compressor,
        )
        return cast(ClerkEvent, event)


def uuid_of(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
