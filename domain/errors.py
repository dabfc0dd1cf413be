"""The domain's errors: one base class, and the kinds of refusal a rule or a value gives.

They carry no process exit code: mapping an error to one is the CLI's business
(`cli/errors.py`).
"""

from __future__ import annotations


class CivledgerError(Exception):
    """Base class of every error civledger raises on purpose; `message` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(CivledgerError, ValueError):
    """Malformed or out-of-range input: a bad ID, date, province code, a future date.

    It is also a `ValueError`, so pydantic validators can raise it for a field.
    """


class RuleBroken(CivledgerError):
    """A legal rule of the register refuses the act."""

    def __init__(self, message: str, rule: str = "") -> None:
        super().__init__(message)
        self.rule = rule


class ReferenceConflict(RuleBroken):
    """The act's reference was already used, at this office, for a different act."""


class UnknownPerson(CivledgerError):
    """No person record, and no ID number, matches the given identifier."""


class UnknownHousehold(CivledgerError):
    """No household has the given number."""
