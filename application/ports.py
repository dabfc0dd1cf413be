"""The ports an act is decided through: what it reads of the register's state, and how.

`application.acts.decide` decides every act, for a clerk and for an import alike. What differs
between the two is only where state comes from:

- `application.register.StoreState` reads the store, one act at a time (a clerk's act);
- `importer.batch.Batch` reads a batch's aggregates, loaded in a few queries and kept in
  memory while the batch's rows are decided in file order (an import).

Both answer the same questions, so an act's outcome cannot depend on the path it came by.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol
from uuid import UUID

from domain.aggregate import ActBasis, Aggregate
from domain.household import Household
from domain.person import Person
from domain.registry import RecordedAct
from domain.residence import HouseholdNumber
from domain.values import IdNumber


class PossibleDuplicates(Protocol):
    """Finds recorded people who may be the person a new birth registration describes.

    The register only states the question; a read model answers it (`projections.queries`).
    Matching is on the folded name (case and Vietnamese diacritics ignored), the date of birth
    and the birth province."""

    def possible_duplicates(
        self, name: str, born: date, birth_province: str, *, excluding: UUID
    ) -> Sequence[str]:
        """Display ids (ID number, else person UUID) of matching people, `excluding` one id."""
        ...


class ActState(PossibleDuplicates, Protocol):
    """The register's state as one act sees it while it is decided."""

    @property
    def today(self) -> date:
        """The register's civil date: no act may be dated after it."""
        ...

    @property
    def recorded_at(self) -> datetime:
        """The moment the act is recorded (its events' `recorded_at`)."""
        ...

    def resolve(self, ref: str) -> UUID:
        """The person id a reference names: an ID number (current or cancelled) through its
        claim, `UnknownPerson` if no claim holds it; a person UUID as it is (whether that
        person exists is asked of `person`)."""
        ...

    def person(self, ref: str | UUID) -> Person:
        """The person record a reference names, as it stands; `UnknownPerson` if none."""
        ...

    def recorded_act(self, act_id: UUID) -> RecordedAct | None:
        """The act recorded under this id (kind, office, reference), if any."""
        ...

    def draw_number(self, person: Person) -> IdNumber:
        """A candidate number in `person`'s bucket (birth province, century and sex, year of
        birth): six random digits from a cryptographic source, never counted up."""
        ...

    def number_is_claimed(self, number: IdNumber) -> bool:
        """Whether any person holds, or ever held, `number`."""
        ...

    def household(self, number: str) -> Household:
        """The household with this number, as it stands; `UnknownHousehold` if none."""
        ...

    def draw_household_number(self) -> HouseholdNumber:
        """A candidate number for a new household: ten random digits, never counted up."""
        ...

    def household_number_is_taken(self, number: HouseholdNumber) -> bool:
        """Whether any household has, or ever had, this number."""
        ...

    def look_alike_guard(self, person: Person, basis: ActBasis) -> Sequence[Aggregate]:
        """Aggregates to save with `person`'s birth so that a concurrent birth of a look-alike
        conflicts inside the store (the look-alike claim, noted); none where no possible
        duplicate is held back."""
        ...
