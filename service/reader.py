"""What the service reads: the read models (a replica is fine) and, for what they do not hold
yet, the ledger itself.

A verification is answered from the `people` and `id_numbers` models with one primary-key
query when the models have applied every event of the log. When they lag, the events they
have not applied are applied in memory (`pending_rows`, never written) and the question is
answered over them. So an act the ledger has acknowledged shows at once, however far the
models lag: a number just issued verifies, a death or a cancellation just recorded is the
status of a match. A look-up reads the same way. Whether a person heads another's household
is read from the ledger directly (`ResidenceReader`), so it is never stale.

Each thread of the server gets its own read-model connection; the event log's reader, whose
recorder keeps a pool, is shared. On PostgreSQL, with the models in the event log's database,
a verification is first tried on the event loop from a pool of async connections
(`verify_from_models`): one round trip tells whether the models are current and, if they are,
answers; only when they lag (or cannot be read that way) does it go to a thread.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from psycopg_pool import AsyncConnectionPool

from application.queries import RegisterReader
from application.residence_queries import ResidenceReader
from domain.errors import UnknownHousehold, UnknownPerson
from domain.values import IdNumber, fold_name
from infrastructure.eventlog import EVENTS_TABLE, EventLog
from infrastructure.store_url import StoreURL
from projections.engine import Engine
from projections.id_registry import ID_NUMBERS
from projections.people import PEOPLE, person_document
from projections.source import EventSource
from projections.tables import TRACKING_TABLE
from projections.views import Row, ViewDatabase, database_errors

log = logging.getLogger("civledger.service")

#: The models a verification reads.
MODELS = ("people", "id_numbers")
#: Async connections per worker for the verifications answered on the event loop.
ASYNC_CONNECTIONS = 8


@functools.cache
def stored_query(mark: str) -> str:
    """The number's status and its person's row, by primary key (`mark`: the placeholder)."""
    return (
        f"SELECT n.status, {', '.join('p.' + c for c in PEOPLE.columns)} "
        f"FROM {ID_NUMBERS.physical()} n "
        f"JOIN {PEOPLE.physical()} p ON p.person_id = n.person_id "
        f"WHERE n.id_number = {mark}"
    )


#: One round trip for a verification on the event loop, when the models and the event log are
#: in one database: whether both models have applied every event of the log (`fresh`), and,
#: when a number is found, what a verification compares: the number's status, the person's
#: status, folded name and date of birth (PostgreSQL placeholder).
VERIFY_QUERY = (
    "SELECT f.fresh, v.number_status, v.person_status, v.name_folded, v.born FROM ("
    "SELECT (SELECT count(*) = 2 AND min(t.notification_id) >= "
    f"(SELECT coalesce(max(e.notification_id), 0) FROM {EVENTS_TABLE} e) "
    f"FROM {TRACKING_TABLE} t WHERE t.application_name IN ({', '.join(repr(m) for m in MODELS)})"
    ") AS fresh) f LEFT JOIN ("
    "SELECT n.status AS number_status, p.status AS person_status, p.name_folded, p.born "
    f"FROM {ID_NUMBERS.physical()} n JOIN {PEOPLE.physical()} p ON p.person_id = n.person_id "
    "WHERE n.id_number = %s) v ON true"
)


def _found_in(rows: Sequence[Sequence[Any]]) -> Found | None:
    if not rows:
        return None
    number_status, *values = rows[0]
    return RegisterAnswers._found(number_status, dict(zip(PEOPLE.columns, values, strict=True)))


@dataclass(frozen=True)
class Found:
    """A person found by ID number: the status the number has (`cancelled` for a number no
    longer held) and the person's row in the `people` model."""

    status: str
    person: Row


class RegisterAnswers:
    """Answers to the service's questions, over `views` (the read models) and `events` (the
    event log: the store, or a replica of it)."""

    def __init__(self, events: StoreURL, views: StoreURL) -> None:
        self.events_url = events
        self.views_url = views
        self._local = threading.local()
        self._lock = threading.Lock()
        self._source: EventSource | None = None
        self._reader: RegisterReader | None = None
        self._pool: AsyncConnectionPool[Any] | None = None
        self._async_failures: set[str] = set()

    # ------------------------------------------------------------------ resources

    def _views(self) -> ViewDatabase:
        views: ViewDatabase | None = getattr(self._local, "views", None)
        if views is None:
            views = ViewDatabase.open(self.views_url, create=False)
            self._local.views = views
        return views

    def _drop_views(self) -> None:
        views = getattr(self._local, "views", None)
        self._local.views = None
        self._local.overlay = None
        if views is not None:
            with contextlib.suppress(Exception):  # a broken connection is dropped as it is
                views.close()

    def source(self) -> EventSource:
        with self._lock:
            if self._source is None:
                self._source = EventSource.open(self.events_url, role="events source")
            return self._source

    def reader(self) -> RegisterReader:
        with self._lock:
            if self._reader is None:
                self._reader = RegisterReader(EventLog(self.events_url, role="events source"))
            return self._reader

    def _reading(self) -> Any:
        return database_errors(self.views_url.redacted())

    # ------------------------------------------------------------------ questions

    def verify(self, number: IdNumber, name: str, born: date) -> tuple[bool, str]:
        """Whether the number belongs to a person of this name and date of birth (as `civledger
        verify` matches them: case and diacritics ignored), and the number's status. While
        the models lag behind the log the answer is read over the events they lack too, so an
        act the ledger has acknowledged shows at once: a new number, a death, a cancellation."""
        try:
            found = self._fresh(number) if self._lagging() else self._stored(number)
        except Exception:
            self._drop_views()  # a connection that failed is opened afresh next time
            raise
        if found is not None and self._matches(found, name, born):
            return True, found.status
        return False, "unknown"

    @staticmethod
    def _matches(found: Found, name: str, born: date) -> bool:
        return bool(
            found.person.get("name_folded") == fold_name(name)
            and found.person.get("born") == born.isoformat()
        )

    def find(self, number: IdNumber, *, fresh_if_missing: bool = True) -> Found | None:
        """The person who holds or held `number`, from the models; when they do not have it
        and lag behind the log (`fresh_if_missing`), from the events they have not applied."""
        try:
            found = self._stored(number)
            if found is None and fresh_if_missing and self._lagging():
                found = self._fresh(number)
        except Exception:
            self._drop_views()  # a connection that failed is opened afresh next time
            raise
        return found

    def person(self, number: IdNumber) -> dict[str, Any] | None:
        """The `show --json` document of the person holding or having held `number`, with the
        number's status; None if no one did. Fresh as `find` is, and up to date whenever the
        models lag (the events they lack are applied first)."""
        found = self._fresh(number) if self._lagging() else self._stored(number)
        if found is None:
            return None
        document = person_document(found.person)
        document["status"] = found.status
        return document

    def is_head_of(self, number: IdNumber, head: IdNumber) -> bool:
        """Does `head` head the household of the holder of `number` now, by the ledger? An
        unknown number is simply no match."""
        try:
            return ResidenceReader(self.reader()).is_head_of(number, head)
        except (UnknownPerson, UnknownHousehold):
            return False

    def lag(self) -> dict[str, int]:
        """How many events each model the service reads is behind the log."""
        head = self.source().head()
        with self._reading():
            positions = self._views().positions()
        return {name: max(head - positions.get(name, 0), 0) for name in MODELS}

    # ------------------------------------------------------------------ reading

    def _lagging(self) -> bool:
        head = self.source().head()
        with self._reading():
            positions = self._views().positions()
        return any(positions.get(name, 0) < head for name in MODELS)

    def _built(self, views: ViewDatabase) -> bool:
        """Whether both models' tables are there. Once seen they stay (a rebuild swaps new
        tables in under the same names), so the answer is kept per connection."""
        if getattr(self._local, "built", None) is views:
            return True
        built = views.has_table(PEOPLE.physical()) and views.has_table(ID_NUMBERS.physical())
        if built:
            self._local.built = views
        return built

    def _stored(self, number: IdNumber) -> Found | None:
        views = self._views()
        with self._reading():
            if not self._built(views):
                return None
            rows = views.query(stored_query("?"), (str(number),))
        return _found_in(rows)

    # ------------------------------------------------------------------ on the event loop

    async def open_async(self) -> None:
        """PostgreSQL models in the event log's database: open the pool `verify_from_models`
        reads with (in the loop). Models elsewhere are read by the threaded path only."""
        if self.views_url.is_sqlite or self._pool is not None:
            return
        if self.views_url.url != self.events_url.url:
            return
        self._pool = AsyncConnectionPool(
            kwargs={**self.views_url.connection_kwargs(), "autocommit": True},
            min_size=2,
            max_size=ASYNC_CONNECTIONS,
            open=False,
            timeout=5,
        )
        await self._pool.open(wait=False)

    async def verify_from_models(
        self, number: IdNumber, name: str, born: date
    ) -> tuple[bool, str] | None:
        """`verify`'s answer from the models alone, on the event loop, when they have applied
        every event of the log; None when they lag, or cannot be read this way (the caller
        then asks `verify`, which also applies what they lack)."""
        if self._pool is None:
            return None
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(VERIFY_QUERY, (str(number),), prepare=True)
                row = await cursor.fetchone()
        except Exception as error:  # a missing table, a lost connection: the threaded path
            self._failed_async(error)
            return None
        if row is None or not row[0]:
            return None
        _, number_status, person_status, name_folded, on = row
        if number_status is None or name_folded != fold_name(name) or on != born.isoformat():
            return False, "unknown"
        return True, self._found(number_status, {"status": person_status}).status

    def _failed_async(self, error: Exception) -> None:
        """Say once per kind of error that verifications went to the threaded path (slower,
        still right): a query that always fails would otherwise cost speed unseen."""
        kind = type(error).__name__
        if kind not in self._async_failures:
            self._async_failures.add(kind)
            log.warning("verification read from a thread instead (%s)", kind)

    @staticmethod
    def _found(number_status: str | None, person: Row) -> Found:
        status = "cancelled" if number_status == "cancelled" else str(person["status"])
        return Found(status, person)

    def _fresh(self, number: IdNumber) -> Found | None:
        """`number` over the models with the events they lack applied in memory. The overlay
        is kept per thread until the log or the models move."""
        views = self._views()
        source = self.source()
        with self._reading():
            head = source.head()
            positions = views.positions()
            key = (head, tuple(positions.get(name, 0) for name in MODELS))
            overlay = getattr(self._local, "overlay", None)
            if overlay is None or overlay[0] != key:
                engine = Engine(source, views, create_tables=False)
                _, people = engine.pending("people")
                _, numbers = engine.pending("id_numbers")
                overlay = (
                    key,
                    people.get(PEOPLE.physical(), {}),
                    numbers.get(ID_NUMBERS.physical(), {}),
                )
                self._local.overlay = overlay
            _, people_rows, number_rows = overlay
            number_row = number_rows.get(str(number))
            if number_row is None and views.has_table(ID_NUMBERS.physical()):
                number_row = views.fetch(ID_NUMBERS, ID_NUMBERS.physical(), [str(number)]).get(
                    str(number)
                )
            if number_row is None:
                return None
            person_id = str(number_row["person_id"])
            person = people_rows.get(person_id)
            if person is None and views.has_table(PEOPLE.physical()):
                person = views.fetch(PEOPLE, PEOPLE.physical(), [person_id]).get(person_id)
        if person is None:
            return None
        return self._found(number_row["status"], person)

    async def close_async(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def close(self) -> None:
        self._drop_views()
        with self._lock:
            if self._source is not None:
                self._source.close()
                self._source = None
            if self._reader is not None:
                self._reader.log.close()  # type: ignore[attr-defined]
                self._reader = None
