"""The shape every projection shares: tables, one handler per event type, batch changes.

A projection never touches the database itself. For each batch the engine asks which rows the
events need (`needs`), fetches them in one query per table, lets the handlers change them in
memory (`Changes`), then writes the changed rows and the new position in one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from domain.events import BirthRegistered, RegisterEvent
from domain.values import fold_name
from projections.tables import Table
from projections.views import Row

E = TypeVar("E", bound=RegisterEvent)

#: Text keys of recent originator ids: each event's id is spelt out several times per batch.
_KEYS: dict[UUID, str] = {}
_KEYS_KEPT = 20_000


def key_of(originator_id: UUID) -> str:
    """The originator id as the models' text key (`str(uuid)`), remembered for a while."""
    key = _KEYS.get(originator_id)
    if key is None:
        if len(_KEYS) >= _KEYS_KEPT:
            _KEYS.clear()
        key = _KEYS[originator_id] = str(originator_id)
    return key


@lru_cache(maxsize=8_192)
def folded(name: str) -> str:
    """`fold_name`, remembered: the same names come back again and again."""
    return fold_name(name)


Handler = Callable[[Any, Any, "Changes"], None]


def handles(event_class: type[E]) -> Callable[[Callable[[Any, E, Changes], None]], Handler]:
    """Mark a method as the projection's handler of `event_class`."""

    def mark(method: Callable[[Any, E, Changes], None]) -> Handler:
        method._handles = event_class  # type: ignore[attr-defined]
        return method

    return mark


class Changes:
    """A batch's rows: fetched once, changed in memory, written back together."""

    def __init__(self, rows: dict[str, dict[str, Row]], originals: Sequence[Table] = ()) -> None:
        self.rows = rows
        self.originals: dict[str, dict[str, Row]] = {
            table.name: {key: dict(row) for key, row in rows[table.name].items()}
            for table in originals
        }
        #: Keys that were in the database when the batch began (all others are new rows).
        self.stored: dict[str, frozenset[str]] = {
            table: frozenset(found) for table, found in rows.items()
        }
        self.dirty: dict[str, set[str]] = defaultdict(set)
        self.counts: dict[str, dict[tuple[str, ...], int]] = defaultdict(lambda: defaultdict(int))

    def get(self, table: Table, key: str) -> Row | None:
        return self.rows[table.name].get(key)

    def original(self, table: Table, key: str) -> Row | None:
        """The row as it was before the batch (for tables the projection asked to keep)."""
        return self.originals[table.name].get(key)

    def put(self, table: Table, row: Row) -> None:
        (column,) = table.key
        key = row[column]
        self.rows[table.name][key] = row
        self.dirty[table.name].add(key)

    def touch(self, table: Table, key: str) -> Row | None:
        """The row, marked as changed (the caller changes it in place)."""
        row = self.rows[table.name].get(key)
        if row is not None:
            self.dirty[table.name].add(key)
        return row

    def count(self, table: Table, key: tuple[str, ...], delta: int = 1) -> None:
        self.counts[table.name][key] += delta

    def changed_rows(self, table: Table) -> list[Row]:
        found = self.rows[table.name]
        return [found[key] for key in sorted(self.dirty[table.name])]

    def new_and_updated_rows(self, table: Table) -> tuple[list[Row], list[Row]]:
        """Changed rows split into rows the database does not hold yet, and rows it does."""
        found, stored = self.rows[table.name], self.stored[table.name]
        new: list[Row] = []
        updated: list[Row] = []
        for key in sorted(self.dirty[table.name]):
            (updated if key in stored else new).append(found[key])
        return new, updated


class Projection:
    """A read model built from events. Subclasses set `name`, `tables`, handlers, `needs`."""

    name: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]]
    #: Tables whose rows `Changes.original()` must keep as they were before the batch.
    originals: ClassVar[tuple[Table, ...]] = ()
    _handlers: ClassVar[dict[type[RegisterEvent], Handler]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[type[RegisterEvent], Handler] = {}
        for base in reversed(cls.__mro__):
            for attr in vars(base).values():
                event_class = getattr(attr, "_handles", None)
                if event_class is not None:
                    handlers[event_class] = attr
        cls._handlers = handlers

    @classmethod
    def handled(cls) -> frozenset[type[RegisterEvent]]:
        return frozenset(cls._handlers)

    @classmethod
    def topics(cls) -> tuple[str, ...]:
        return tuple(sorted(event_class.TOPIC for event_class in cls._handlers))

    #: A table keyed by person: each person event needs its row, a birth creates it.
    person_table: ClassVar[Table | None] = None

    def needs(self, event: RegisterEvent) -> Iterable[tuple[Table, str]]:
        """The rows (table, key) the handler of `event` reads or writes."""
        if self.person_table is None:
            return ()
        return ((self.person_table, key_of(event.originator_id)),)

    def creates(self, event: RegisterEvent) -> Iterable[tuple[Table, str]]:
        """The rows `event` creates: later events of the batch need not fetch them."""
        if self.person_table is None or not isinstance(event, BirthRegistered):
            return ()
        return ((self.person_table, key_of(event.originator_id)),)

    def apply(self, events: Sequence[RegisterEvent], changes: Changes) -> None:
        handlers = self._handlers
        for event in events:
            handler = handlers.get(type(event))
            if handler is not None:
                handler(self, event, changes)
        self.finish(changes)

    def finish(self, changes: Changes) -> None:
        """Called once after a batch's events are applied (e.g. to settle counters)."""
