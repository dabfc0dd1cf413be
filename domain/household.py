"""The household (hộ gia đình, Law on Residence 2020 Art. 10): an aggregate of its own.

A household has a number, an address, at most one head and its members, each with their
relation to the head. Its id derives from its number (uuid5), so a number is set up once:
a second household drawn with the same number fails inside the store's transaction.
Commands check the rules; `@applies` methods only assign state.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain.aggregate import ActBasis, Aggregate, applies
from domain.events import (
    HouseholdEstablished,
    HouseholdHeadChanged,
    HouseholdHeadVacated,
    HouseholdMemberJoined,
    HouseholdMemberLeft,
)
from domain.registry import household_id
from domain.residence import HouseholdNumber, Relation


class Household(Aggregate):
    def __init__(self, id: UUID) -> None:
        super().__init__(id)
        self.number = ""
        self.commune = ""
        self.address = ""
        self.head_id: UUID | None = None
        self.split_from: str | None = None
        #: Current members and their relation to the head (the head's is `head`).
        self.members: dict[UUID, str] = {}

    @property
    def is_headless(self) -> bool:
        return bool(self.members) and self.head_id is None

    def as_document(self) -> dict[str, object]:
        return {
            "household": self.number,
            "commune": self.commune,
            "address": self.address,
            "head_id": str(self.head_id) if self.head_id else None,
            "members": {str(k): v for k, v in self.members.items()},
        }

    # ------------------------------------------------------------------- commands

    @classmethod
    def establish(
        cls,
        number: HouseholdNumber,
        basis: ActBasis,
        on: date,
        *,
        commune: str,
        address: str,
        head_id: UUID,
        split_from: str | None = None,
    ) -> Household:
        household = cls(household_id(number))
        household._trigger(
            HouseholdEstablished,
            basis,
            on,
            household=str(number),
            commune=commune,
            address=address,
            head_id=head_id,
            split_from=split_from,
        )
        return household

    def join(self, basis: ActBasis, on: date, person_id: UUID, relation: Relation) -> None:
        self._trigger(
            HouseholdMemberJoined, basis, on, person_id=person_id, relation=relation.value
        )

    def leave(self, basis: ActBasis, on: date, person_id: UUID, ground: str) -> None:
        """The member leaves; a head that leaves leaves the household without one."""
        was_head = self.head_id == person_id
        self._trigger(HouseholdMemberLeft, basis, on, person_id=person_id, ground=ground)
        if was_head:
            self._trigger(HouseholdHeadVacated, basis, on, ground=ground)

    def change_head(self, basis: ActBasis, on: date, head_id: UUID) -> None:
        self._trigger(HouseholdHeadChanged, basis, on, head_id=head_id)

    # ----------------------------------------------------------------- state only

    @applies(HouseholdEstablished)
    def _established(self, e: HouseholdEstablished) -> None:
        self.number = e.household
        self.commune = e.commune
        self.address = e.address
        self.head_id = e.head_id
        self.split_from = e.split_from
        self.members = {e.head_id: Relation.HEAD.value}

    @applies(HouseholdMemberJoined)
    def _joined(self, e: HouseholdMemberJoined) -> None:
        self.members = {**self.members, e.person_id: e.relation}

    @applies(HouseholdMemberLeft)
    def _left(self, e: HouseholdMemberLeft) -> None:
        self.members = {k: v for k, v in self.members.items() if k != e.person_id}

    @applies(HouseholdHeadChanged)
    def _head_changed(self, e: HouseholdHeadChanged) -> None:
        members = dict(self.members)
        if self.head_id is not None and self.head_id in members:
            # The former head stays a member; the register does not know their relation to
            # the new head, so it is `other` until they register again.
            members[self.head_id] = Relation.OTHER.value
        members[e.head_id] = Relation.HEAD.value
        self.members = members
        self.head_id = e.head_id

    @applies(HouseholdHeadVacated)
    def _head_vacated(self, e: HouseholdHeadVacated) -> None:
        self.head_id = None
