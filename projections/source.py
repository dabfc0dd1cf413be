"""Where projections read events: a store's notification log, read-only, in batches.

The log is opened with `infrastructure.eventlog.EventLog`: a recorder and the mapper, never the
write application, and never a table created. A store without the log is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from time import perf_counter

from eventsourcing.persistence import Notification

from domain.events import RegisterEvent
from infrastructure.errors import store_errors
from infrastructure.eventlog import EventLog, ReadsEvents
from infrastructure.mapper import decode_stored
from infrastructure.store_url import StoreURL


class EventSource:
    """Reads and decodes the notification log of a store (or of a replica of it).

    `log` is an `EventLog`, or anything that reads events as one does (the write side's
    register, for a caller that has one open); the source closes it when it is closed."""

    def __init__(self, log: ReadsEvents) -> None:
        self.log = log
        self.recorder = log.recorder
        self.cipher = log.mapper.cipher
        self.compressor = log.mapper.compressor
        #: Seconds spent reading and decoding, for the benchmark's breakdown.
        self.read_seconds = 0.0
        self.decode_seconds = 0.0

    @classmethod
    def open(cls, url: StoreURL | str | None, *, role: str = "store") -> EventSource:
        """The log of the store at `url`, read-only: a SQLite path with no file, or a database
        without the log, is refused (exit 1) and nothing is created. `role` names it in
        messages (`store`, or `events source` for a replica)."""
        return cls(EventLog(url, role=role))

    @property
    def url(self) -> StoreURL:
        return self.log.store

    def head(self) -> int:
        """The last position in the log (0 when it is empty)."""
        with store_errors(f"event store {self.url.redacted()}"):
            return self.recorder.max_notification_id() or 0

    def read(
        self, after: int, limit: int, stop: int, topics: Sequence[str]
    ) -> Sequence[Notification]:
        """Up to `limit` notifications of `topics` with `after` < position <= `stop`."""
        started = perf_counter()
        with store_errors(f"event store {self.url.redacted()}"):
            batch = self.recorder.select_notifications(
                start=after,
                limit=limit,
                stop=stop,
                topics=list(topics),
                inclusive_of_start=False,
            )
        self.read_seconds += perf_counter() - started
        return batch

    def decode(self, batch: Sequence[Notification]) -> list[tuple[int, RegisterEvent]]:
        started = perf_counter()
        cipher, compressor = self.cipher, self.compressor
        decoded = []
        for notification in batch:
            event = decode_stored(
                notification.topic,
                notification.originator_id,  # type: ignore[arg-type]
                notification.originator_version,
                notification.state,
                cipher,
                compressor,
            )
            decoded.append((notification.id, event))
        self.decode_seconds += perf_counter() - started
        return decoded

    def close(self) -> None:
        self.log.close()
