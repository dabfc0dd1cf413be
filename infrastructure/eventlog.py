"""The event log, opened for reading only: no application, and never a table created.

The read side (projections, the Merkle log and `audit`, `show` and `history`) reads the log that
`CivilRegister` writes, through the same pieces the library's `Application` builds: an
infrastructure factory from the store URL's environment, the application recorder, and the
mapper (`infrastructure.mapper.EventMapper`) with the cipher of `CIVLEDGER_CIPHER_KEY` and the
compressor of `CIVLEDGER_COMPRESSOR_TOPIC`, named as the library names them for an application
called `civledger`. `CREATE_TABLE` is always `no`: a store without the log is refused
(`StoreUnavailable`, exit 1), and a SQLite path with no file behind it is refused before any
connection is made, so nothing is ever created.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    Mapper,
)
from eventsourcing.utils import Environment

from infrastructure.dialect import is_missing_table
from infrastructure.errors import StoreUnavailable, is_database_error, store_errors, translated
from infrastructure.mapper import EventMapper
from infrastructure.store_url import StoreURL, store_from_env

#: The application name the write side records under: the prefix of its settings
#: (`CIVLEDGER_CIPHER_KEY`) and of its PostgreSQL table (`civledger_events`).
APPLICATION_NAME = "civledger"
#: The event log's table on PostgreSQL, as the library names it from the application's name.
EVENTS_TABLE = f"{APPLICATION_NAME}_events"
MAPPER_TOPIC = "infrastructure.mapper:EventMapper"


class NoEventLog(StoreUnavailable):
    """The database is there but holds no civledger event log (exit 1, as a missing store)."""


class ReadsEvents(Protocol):
    """What the read side needs of an event log. An `EventLog` has it, and so has the write
    side's `CivilRegister` (a writer that reads what it just wrote need not open a second)."""

    @property
    def store(self) -> StoreURL: ...

    @property
    def recorder(self) -> ApplicationRecorder: ...

    @property
    def mapper(self) -> Mapper[UUID]: ...

    def close(self) -> None: ...


def log_environment(url: StoreURL, env: Mapping[str, str] | None = None) -> Environment:
    """The library's environment for reading `url` as the application `civledger` would: its
    defaults, then the process environment, then the store's settings and `env`; the schema is
    never created from it."""
    settings = {"MAPPER_TOPIC": MAPPER_TOPIC, **os.environ, **url.environment(), **(env or {})}
    settings["CREATE_TABLE"] = "no"
    return Environment(APPLICATION_NAME, settings)


class EventLog:
    """A store's event log, for reading: the recorder, the mapper, nothing else.

    `role` names the database in messages: `store` (the default) or `events source` (a
    replica named by `--events-from`)."""

    def __init__(
        self,
        store: StoreURL | str | None = None,
        *,
        role: str = "store",
        env: Mapping[str, str] | None = None,
    ) -> None:
        url = store if isinstance(store, StoreURL) else store_from_env(store)
        self._store = url.must_exist()
        self.role = role
        try:
            self.factory = InfrastructureFactory.construct(log_environment(url, env))
        except Exception as error:
            if not is_database_error(error):
                raise
            raise translated(f"{self.named} is unreachable", error) from error
        try:
            self._recorder = self.factory.application_recorder()
            self._mapper: Mapper[UUID] = self.factory.mapper(
                transcoder=self.factory.transcoder(), mapper_class=EventMapper
            )
            self._check_log()
        except BaseException:
            self.factory.close()
            raise

    @property
    def named(self) -> str:
        """`store URL` or `events source URL`, without the password."""
        return f"{self.role} {self._store.redacted()}"

    @property
    def store(self) -> StoreURL:
        return self._store

    @property
    def recorder(self) -> ApplicationRecorder:
        return self._recorder

    @property
    def mapper(self) -> Mapper[UUID]:
        return self._mapper

    def _check_log(self) -> None:
        """Refuse a database without the log's table (`NoEventLog`), reading one position."""
        try:
            self._recorder.max_notification_id()
        except Exception as error:
            if not is_database_error(error):
                raise
            if is_missing_table(error):
                raise NoEventLog(f"{self.named} holds no civledger log") from error
            raise translated(f"{self.named} is unreachable", error) from error

    # ----------------------------------------------------------------- reading

    def head(self) -> int:
        """The last position in the log (0 when it is empty)."""
        with store_errors(self.named):
            return self._recorder.max_notification_id() or 0

    def close(self) -> None:
        self.factory.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def holds_civledger_log(store: StoreURL | str | None) -> bool:
    """Whether the store holds the civledger event log, found without creating anything: a
    SQLite path with no file, or a database without the log's table, is False. A store that
    cannot be reached raises `StoreUnavailable`."""
    url = store if isinstance(store, StoreURL) else store_from_env(store)
    if url.is_sqlite and not Path(url.path).is_file():
        return False
    try:
        log = EventLog(url)
    except NoEventLog:
        return False
    log.close()
    return True
