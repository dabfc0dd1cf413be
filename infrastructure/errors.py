"""Errors of the machinery around the register: stores, stored bytes, helper processes.

Each is a `CivledgerError`, so the CLI reports it in one line; which exit code it gets is the
CLI's business (`cli/errors.py`). `store_errors()` is the one place where a database driver's
error becomes a `StoreUnavailable`.
"""

from __future__ import annotations

import sqlite3
import sys
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


def is_database_error(error: BaseException) -> bool:
    """Whether `error` comes from a database or the way to it: the library's persistence
    errors, a driver's own errors (sqlite3, psycopg: the read models and the Merkle log use the
    drivers directly) and the operating system's (a file, a socket)."""
    if isinstance(error, PersistenceError | OSError | sqlite3.Error):
        return True
    # psycopg is imported only when a PostgreSQL database is used: if it is not loaded, no
    # error of it can be in flight.
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(error, psycopg.Error)


@contextmanager
def store_errors(where: str = "store error") -> Iterator[None]:
    """Turn a database error (`is_database_error`) into `StoreUnavailable`, saying `where`
    first. A uniqueness violation reported by the library (`IntegrityError`) passes through
    untouched: it is how the store refuses a second claim, and the caller decides again."""
    try:
        yield
    except IntegrityError:
        raise
    except Exception as error:
        if not is_database_error(error):
            raise
        raise StoreUnavailable(f"{where}: {one_line(error)}") from error
