"""A small base for event-sourced aggregates with pydantic events.

Commands check rules, then `_trigger()` an event. Methods marked `@applies(EventClass)` only
assign state; they run both when an event is triggered and when history is replayed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any, ClassVar, Self, TypeVar
from uuid import UUID

from domain.events import RegisterEvent

E = TypeVar("E", bound=RegisterEvent)
Applier = Callable[[Any, Any], None]


def applies(event_class: type[E]) -> Callable[[Callable[[Any, E], None]], Callable[[Any, E], None]]:
    """Mark a method as the one that applies `event_class` to the aggregate's state."""

    def mark(method: Callable[[Any, E], None]) -> Callable[[Any, E], None]:
        method._applies = event_class  # type: ignore[attr-defined]
        return method

    return mark


class ActBasis:
    """What every act carries besides its legal date: who recorded it, where, on what basis."""

    __slots__ = ("clerk", "office", "recorded_at", "reference")

    def __init__(self, clerk: str, office: str, reference: str, recorded_at: datetime) -> None:
        self.clerk = clerk
        self.office = office
        self.reference = reference
        self.recorded_at = recorded_at


class Aggregate:
    """Identity, version and pending events; subclasses add state and `@applies` methods."""

    _appliers: ClassVar[dict[type[RegisterEvent], Applier]]

    def __init__(self, id: UUID) -> None:
        self.id = id
        self.version = 0
        self.created_on: datetime | None = None
        self.modified_on: datetime | None = None
        self._pending: list[RegisterEvent] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        appliers: dict[type[RegisterEvent], Applier] = {}
        for base in reversed(cls.__mro__):
            for attr in vars(base).values():
                event_class = getattr(attr, "_applies", None)
                if event_class is not None:
                    appliers[event_class] = attr
        cls._appliers = appliers

    def _trigger(
        self, event_class: type[E], basis: ActBasis, occurred_on: date, **fields: Any
    ) -> E:
        fields.update(
            originator_id=self.id,
            originator_version=self.version + 1,
            recorded_at=basis.recorded_at,
            occurred_on=occurred_on,
            clerk=basis.clerk,
            office=basis.office,
            reference=basis.reference,
        )
        # Validated as `event_class(**fields)` would be, without the keyword-argument detour.
        event: E = event_class.__pydantic_validator__.validate_python(fields)
        self.apply(event)
        self._pending.append(event)
        return event

    def apply(self, event: RegisterEvent) -> None:
        """Assign the event's effect; never checks rules (history is already decided)."""
        self._appliers[type(event)](self, event)
        self.version = event.originator_version
        if self.created_on is None:
            self.created_on = event.recorded_at
        self.modified_on = event.recorded_at

    def collect_events(self) -> list[RegisterEvent]:
        """Hand the pending events to the store (the library's `Application.save`)."""
        pending, self._pending = self._pending, []
        return pending

    @property
    def pending_events(self) -> list[RegisterEvent]:
        return list(self._pending)

    @classmethod
    def replay(cls, id: UUID, events: Iterable[RegisterEvent]) -> Self | None:
        """Rebuild from stored events; None when there are none."""
        aggregate: Self | None = None
        for event in events:
            if aggregate is None:
                aggregate = cls(id)
            aggregate.apply(event)
        return aggregate
