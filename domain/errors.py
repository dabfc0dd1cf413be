"""Every error the register raises on purpose, with the exit code the CLI maps it to."""

from __future__ import annotations

from typing import ClassVar


class CivledgerError(Exception):
    """Base class of all civledger errors. `exit_code` is the documented CLI exit code."""

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(CivledgerError, ValueError):
    """Malformed or out-of-range input: a bad ID, date, province code, a future date.

    It is also a `ValueError`, so pydantic validators can raise it for a field.
    """

    exit_code = 2


class RuleBroken(CivledgerError):
    """A legal rule of the register refuses the act."""

    exit_code = 3

    def __init__(self, message: str, rule: str = "") -> None:
        super().__init__(message)
        self.rule = rule


class ReferenceConflict(RuleBroken):
    """The act's reference was already used, at this office, for a different act."""


class UnknownPerson(CivledgerError):
    """No person record, and no ID number, matches the given identifier."""

    exit_code = 4


class StoreUnavailable(CivledgerError):
    """The event store cannot be reached or answered with an error."""

    exit_code = 1


class EventsUnreadable(CivledgerError):
    """Stored events cannot be decoded: they were encrypted with a `CIVLEDGER_CIPHER_KEY` this
    process does not have (or with another key), or they are damaged."""

    exit_code = 1


class WorkerFailed(CivledgerError):
    """A helper process of a bulk job stopped; what it had not finished was not recorded."""

    exit_code = 1


class OutcomeUnknown(CivledgerError):
    """The connection failed while committing: the act may or may not be recorded."""

    exit_code = 1


class LedgerTampered(CivledgerError):
    """The stored events no longer match the tamper-evident log."""

    exit_code = 5
