"""Bitemporal views of a record: what the register said at a moment, what was true on a date.

Every event carries two times. `recorded_at` is record time: the register knew the act from
that moment. `occurred_on` is valid time: the act has legal effect from that date. A view
keeps the events known at `as_of` and in effect on `as_at`, then replays them; the `@applies`
methods only assign state, so any such subset replays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from domain.events import BirthRegistered, RegisterEvent


@dataclass(frozen=True)
class Viewpoint:
    """`as_of`: record time (aware), `as_at`: legal date; None means "no limit"."""

    as_of: datetime | None = None
    as_at: date | None = None

    @property
    def is_now(self) -> bool:
        return self.as_of is None and self.as_at is None

    def sees(self, event: RegisterEvent) -> bool:
        if self.as_of is not None and event.recorded_at > self.as_of:
            return False
        return self.as_at is None or event.occurred_on <= self.as_at

    def select(self, events: Iterable[RegisterEvent]) -> list[RegisterEvent]:
        return [event for event in events if self.sees(event)]

    def why_unseen(self, events: Iterable[RegisterEvent]) -> str:
        """Why the birth of a record is not visible from here, in words."""
        births = [e for e in events if isinstance(e, BirthRegistered)]
        reasons = []
        if births and self.as_of is not None and births[0].recorded_at > self.as_of:
            reasons.append(
                f"its birth was recorded at {births[0].recorded_at.isoformat()}, "
                f"after {self.as_of.isoformat()}"
            )
        if births and self.as_at is not None and births[0].occurred_on > self.as_at:
            reasons.append(f"the person was born on {births[0].occurred_on}, after {self.as_at}")
        return "; ".join(reasons) or "no birth is recorded"

    def describe(self) -> str:
        parts = []
        if self.as_of is not None:
            parts.append(f"as of {self.as_of.isoformat()}")
        if self.as_at is not None:
            parts.append(f"as at {self.as_at.isoformat()}")
        return " and ".join(parts)
