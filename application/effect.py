"""What deciding one act did to the aggregates, before the act's record is added."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.aggregate import Aggregate
from domain.person import Person
from domain.registry import IdNumberClaim


@dataclass
class Effect:
    """`person` is whom the act is about (its record names them); `claims` the numbers it
    claimed; `others` every other aggregate it changed (households, other people), all saved
    in the same transaction; `guards` aggregates saved only so that a concurrent act
    conflicts in the store."""

    person: Person
    claims: list[IdNumberClaim] = field(default_factory=list)
    assigned: str | None = None
    cancelled: str | None = None
    guards: Sequence[Aggregate] = ()
    possible_duplicates: tuple[str, ...] = ()
    others: list[Aggregate] = field(default_factory=list)
    household: str | None = None
    #: The household the act set up (kept on the act's record, so a later act can name it).
    established: str | None = None
