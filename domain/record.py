"""What rules and policies may read of a person record.

Rules and policies judge a record; the `Person` aggregate runs them. Typing them against this
protocol instead of `Person` keeps the dependency one way: `person` imports `rules` and
`policies`, and neither imports `person`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol
from uuid import UUID

from domain.values import Nationality, Sex


class PersonRecord(Protocol):
    """The facts of a person record that rules and policies read."""

    @property
    def id(self) -> UUID: ...
    @property
    def id_number(self) -> str | None: ...
    @property
    def display_id(self) -> str: ...
    @property
    def born(self) -> date: ...
    @property
    def nationality(self) -> Nationality: ...
    @property
    def registered_on(self) -> date: ...
    @property
    def created_on(self) -> datetime | None: ...
    @property
    def died_on(self) -> date | None: ...
    @property
    def renounced_on(self) -> date | None: ...
    @property
    def merged_into(self) -> UUID | None: ...
    @property
    def merged_into_id_number(self) -> str | None: ...
    @property
    def sex(self) -> Sex: ...
