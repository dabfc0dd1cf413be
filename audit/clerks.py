"""`audit verify`'s second question: was every act appended by the clerk it names?

Each row of a PostgreSQL store written since logins were stamped names the login that
appended it (`recorded_by`, set by the database). For each such row the check reads the act
(which needs `CIVLEDGER_CIPHER_KEY` when payloads are encrypted) and requires:

- a row appended by the tables' owner is an operator's: its clerk and office are those it
  names (an import carries those of the registers it migrates);
- an enrolment event (`ClerkEnrolled`, `ClerkRetired`) was appended by the tables' owner;
- any other row was appended by a login enrolled at that position, and names that
  enrolment's clerk and office.

The first row that fails is `LedgerTampered` (exit 5), naming its position. Rows with no
login (SQLite, or appended before logins were stamped) are counted, not checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from audit.errors import LedgerTampered
from domain.events import ClerkEvent, RegisterEvent
from infrastructure.errors import EventsUnreadable, store_errors
from infrastructure.eventlog import ReadsEvents
from infrastructure.logins import Attributor
from infrastructure.mapper import decode_stored

BATCH_SIZE = 1000


@dataclass(frozen=True)
class ClerkCheck:
    """What the check of the clerks saw."""

    #: Rows whose login was checked against its enrolment.
    checked: int
    #: Rows appended by the tables' owner (operators).
    by_operator: int
    #: Rows with no login stamped (SQLite, or written before logins were stamped).
    unstamped: int
    #: Why the check was not made (no cipher key for encrypted payloads), or None.
    skipped: str | None = None

    def document(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "by_operator": self.by_operator,
            "unstamped": self.unstamped,
            "skipped": self.skipped,
        }

    def lines(self) -> list[str]:
        if self.skipped is not None:
            return [f"  clerks: not checked: {self.skipped}"]
        return [
            f"  clerks: {self.checked} rows appended by enrolled clerks match their enrolment; "
            f"{self.by_operator} appended by the operator; {self.unstamped} with no login "
            "stamped"
        ]


def check_clerks(
    log: ReadsEvents, events: int, progress: Callable[[int, int], None] | None = None
) -> ClerkCheck:
    """Check every stamped row's clerk and office against its login's enrolment; `events` is
    how many rows the log holds (all unstamped when the store stamps no login)."""
    attributor = Attributor(log)
    recorder = log.recorder
    if not attributor.stamped:
        return ClerkCheck(0, 0, events)
    owner = attributor.owner
    checked = by_operator = unstamped = 0
    position = 0
    mapper = log.mapper
    while True:
        with store_errors():
            batch = recorder.select_notifications(
                start=position, limit=BATCH_SIZE, inclusive_of_start=False
            )
        if not batch:
            break
        logins = attributor.recorded_by([n.id for n in batch])
        for n in batch:
            login = logins.get(n.id)
            if login is None:
                unstamped += 1
                continue
            if login == owner:
                by_operator += 1
                continue
            try:
                event = decode_stored(
                    n.topic,
                    n.originator_id
                    if isinstance(n.originator_id, UUID)
                    else UUID(str(n.originator_id)),
                    n.originator_version,
                    n.state,
                    mapper.cipher,
                    mapper.compressor,
                )
            except EventsUnreadable:
                if mapper.cipher is None:
                    return ClerkCheck(
                        checked,
                        by_operator,
                        unstamped,
                        skipped="the payloads are encrypted and CIVLEDGER_CIPHER_KEY is not set",
                    )
                raise
            _check_row(attributor, n.id, login, event)
            checked += 1
        position = batch[-1].id
        if progress is not None:
            progress(position, position)
    return ClerkCheck(checked, by_operator, unstamped)


def _check_row(attributor: Attributor, position: int, login: str, event: RegisterEvent) -> None:
    if isinstance(event, ClerkEvent):
        raise LedgerTampered(
            f"position {position}: a clerk's enrolment was appended by login {login}, "
            "not by the tables' owner"
        )
    enrolment = attributor.enrolled_at(login, position)
    if enrolment is None:
        raise LedgerTampered(
            f"position {position}: appended by login {login}, which was not an enrolled clerk then"
        )
    if (event.clerk, event.office) != (enrolment.name, enrolment.office):
        raise LedgerTampered(
            f"position {position}: appended by login {login}, enrolled as "
            f"{enrolment.describe()}, but the act names clerk {event.clerk} at office "
            f"{event.office}"
        )
