"""Where projections read events: the register's notification log, read-only, in batches."""

from __future__ import annotations

from collections.abc import Sequence
from time import perf_counter

from eventsourcing.persistence import Notification, PersistenceError

from application.register import CivilRegister
from infrastructure.errors import StoreUnavailable
from domain.events import RegisterEvent
from infrastructure.mapper import decode_stored
from infrastructure.store_url import StoreURL
from projections.views import one_line


class EventSource:
    """Reads and decodes the notification log of a store (or of a replica of it)."""

    def __init__(self, register: CivilRegister) -> None:
        self.register = register
        self.recorder = register.recorder
        self.cipher = register.mapper.cipher
        self.compressor = register.mapper.compressor
        #: Seconds spent reading and decoding, for the benchmark's breakdown.
        self.read_seconds = 0.0
        self.decode_seconds = 0.0

    @classmethod
    def open(cls, url: StoreURL | str | None) -> EventSource:
        return cls(CivilRegister(url))

    @property
    def url(self) -> StoreURL:
        return self.register.store

    def head(self) -> int:
        """The last position in the log (0 when it is empty)."""
        try:
            return self.recorder.max_notification_id() or 0
        except (PersistenceError, OSError) as error:
            raise StoreUnavailable(
                f"event store {self.url.redacted()}: {one_line(error)}"
            ) from error

    def read(
        self, after: int, limit: int, stop: int, topics: Sequence[str]
    ) -> Sequence[Notification]:
        """Up to `limit` notifications of `topics` with `after` < position <= `stop`."""
        started = perf_counter()
        try:
            batch = self.recorder.select_notifications(
                start=after,
                limit=limit,
                stop=stop,
                topics=list(topics),
                inclusive_of_start=False,
            )
        except (PersistenceError, OSError) as error:
            raise StoreUnavailable(
                f"event store {self.url.redacted()}: {one_line(error)}"
            ) from error
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
        self.register.close()
