"""Queries of residence and households: a person's residence document, a household as it
stands (or stood), and whether one person heads another's household now."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from application.queries import RegisterReader
from domain.errors import CivledgerError, UnknownHousehold
from domain.household import Household
from domain.person import Person
from domain.registry import household_id
from domain.residence import HouseholdNumber
from domain.timeline import Viewpoint
from domain.values import PersonRef


class ResidenceReader:
    """Reads households through a `RegisterReader`, at the same viewpoint as the person."""

    def __init__(self, reader: RegisterReader) -> None:
        self.reader = reader

    def household(
        self,
        number: HouseholdNumber | str,
        *,
        as_of: datetime | None = None,
        as_at: date | None = None,
    ) -> Household:
        hid = household_id(str(number))
        events = self.reader.events_of(hid)
        seen = Viewpoint(as_of=as_of, as_at=as_at).select(events)
        household = Household.replay(hid, seen)
        if household is None:
            raise UnknownHousehold(f"no household {number}")
        return household

    def household_document(
        self,
        number: HouseholdNumber | str,
        *,
        as_of: datetime | None = None,
        as_at: date | None = None,
    ) -> dict[str, Any]:
        """`household show --json`: address, head (ID or null), members with relation."""
        household = self.household(number, as_of=as_of, as_at=as_at)
        members = []
        for person_id, relation in household.members.items():
            person = self._person(person_id, as_of, as_at)
            members.append(
                {
                    "id": person.display_id if person else str(person_id),
                    "name": person.name if person else None,
                    "relation": relation,
                }
            )
        head = self._person(household.head_id, as_of, as_at) if household.head_id else None
        return {
            "household": household.number,
            "commune": household.commune,
            "address": household.address,
            "head": head.display_id if head else None,
            "members": members,
        }

    def person_residence(
        self,
        person: Person,
        on: date,
        *,
        as_of: datetime | None = None,
        as_at: date | None = None,
    ) -> dict[str, Any]:
        """The keys `show --json` gains: `residence`, `household`, `confirmed` and
        `proposed_for_deletion`; a temporary residence counts while `on` is within it."""
        document = person.residence_document(on)
        household = None
        if person.household is not None:
            try:
                standing = self.household(person.household, as_of=as_of, as_at=as_at)
            except CivledgerError:
                standing = None
            head = None
            if standing is not None and standing.head_id is not None:
                found = self._person(standing.head_id, as_of, as_at)
                head = found.display_id if found else str(standing.head_id)
            household = {"household": person.household, "relation": person.relation, "head": head}
        return {**document, "household": household}

    def is_head_of(self, ref: PersonRef | str, head: PersonRef | str) -> bool:
        """Is `head` the head of `ref`'s household now? Both must be people on record
        (`UnknownPerson` otherwise); a person without a household has no head."""
        person = self.reader.person(ref)
        head_id = self.reader.resolve(head)
        if person.household is None:
            return False
        return self.household(person.household).head_id == head_id

    def _person(self, person_id: Any, as_of: datetime | None, as_at: date | None) -> Person | None:
        try:
            return self.reader.person(person_id, as_of=as_of, as_at=as_at)
        except CivledgerError:
            return None
