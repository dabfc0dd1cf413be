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

#: SQLite's extended code for a read past the end of the file (sqlite3.h).
SQLITE_IOERR_SHORT_READ = 522


class StoreUnavailable(CivledgerError):
    """The event store cannot be reached or answered with an error."""


class StoreDamaged(StoreUnavailable):
    """A SQLite file whose pages are damaged: truncated, or overwritten. What it held can no
    longer be read as it was written."""


class EventsUnreadable(CivledgerError):
    """Stored events cannot be decoded: they were encrypted with a `CIVLEDGER_CIPHER_KEY` this
    process does not have (or with another key), or they are damaged."""


class LedgerMismatch(CivledgerError):
    """What the store holds is not what was recorded: a history that does not start with its
    first event, or skips a version (events removed or moved behind the store's back). The
    audit's `LedgerTampered`, found against the Merkle log, is one of these."""


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


def is_damaged_sqlite(error: BaseException) -> bool:
    """Whether `error`, or an error it was raised from (the library wraps the driver's), is
    SQLite's `SQLITE_CORRUPT` or `SQLITE_IOERR_SHORT_READ`: a database file that is truncated
    or whose pages are damaged."""
    seen: BaseException | None = error
    for _ in range(8):  # the chain the library and the driver make is short
        if seen is None:
            return False
        code = getattr(seen, "sqlite_errorcode", None)
        if isinstance(seen, sqlite3.Error) and isinstance(code, int):
            # Damaged pages; or a file shorter than its header says (truncated).
            return code & 0xFF == sqlite3.SQLITE_CORRUPT or code == SQLITE_IOERR_SHORT_READ
        seen = seen.__cause__ or seen.__context__
    return False


def damaged(where: str, error: BaseException) -> StoreDamaged:
    """The one-line error for a damaged SQLite file, said of `where` (the store or the read
    models, as `store_errors` names them)."""
    subject = where.removesuffix(" is unreachable").removesuffix(" error")
    if subject.startswith("read models"):  # derived data: made again from the events
        remedy = "remove the file and rebuild the models with `civledger projections rebuild`"
    else:
        remedy = (
            "restore it from a backup, and check the restored ledger with `civledger audit verify`"
        )
    return StoreDamaged(f"{subject}: the SQLite file is damaged ({one_line(error)}); {remedy}")


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
        raise translated(where, error) from error


def translated(where: str, error: BaseException) -> StoreUnavailable:
    """A database error as the one line a clerk reads: `where`, then the reason; a damaged
    SQLite file is said to be damaged (`StoreDamaged`)."""
    if is_damaged_sqlite(error):
        return damaged(where, error)
    return StoreUnavailable(f"{where}: {one_line(error)}")
