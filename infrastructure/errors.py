"""Errors of the machinery around the register: stores, stored bytes, helper processes.

Each is a `CivledgerError`, so the CLI reports it in one line; which exit code it gets is the
CLI's business (`cli/errors.py`). `store_errors()` is the one place where a database driver's
error becomes a `StoreUnavailable`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.persistence import IntegrityError, PersistenceError

from domain.errors import CivledgerError


class StoreUnavailable(CivledgerError):
    """The event store cannot be reached or answered with an error."""


class EventsUnreadable(CivledgerError):
    """Stored events cannot be decoded: they were encrypted with a `CIVLEDGER_CIPHER_KEY` this
    process does not have (or with another key), or they are damaged."""


class WorkerFailed(CivledgerError):
    """A helper process of a bulk job stopped; what it had not finished was not recorded."""


class OutcomeUnknown(CivledgerError):
    """The connection failed while committing: the act may or may not be recorded."""


def one_line(error: BaseException) -> str:
    """An error's text on one line (drivers' messages span several), or its class name."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


@contextmanager
def store_errors(where: str = "store error") -> Iterator[None]:
    """Turn a driver's or the library's persistence error into `StoreUnavailable`, saying
    `where` first. A uniqueness violation (`IntegrityError`) passes through untouched: it is
    how the store refuses a second claim, and the caller decides again."""
    try:
        yield
    except IntegrityError:
        raise
    except (PersistenceError, OSError) as error:
        raise StoreUnavailable(f"{where}: {one_line(error)}") from error
