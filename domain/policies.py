"""Policies chosen where the law is silent, each kept in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from domain.person import Person

#: Fields whose change forces cancel-and-reissue of the ID number (Circular 59/2021 Art. 6;
#: Decree 137/2015 Art. 16): the number encodes sex, year of birth and birth province.
NUMBER_BEARING_FIELDS = frozenset({"sex", "born", "birth_province"})


@dataclass(frozen=True)
class MergeDecision:
    survivor: Person
    duplicate: Person


class KeepEarliestRecord:
    """Duplicate merge: keep the earliest record and its number, cancel the later ones.

    Vietnamese law names no merge rule; this follows Aadhaar (Enrolment Regulations 2016,
    Reg. 27). "Earliest" is the earliest birth registration date, then the earliest recording
    time, then the lower record id, so the decision is total and stable.
    """

    @staticmethod
    def rank(person: Person) -> tuple[object, ...]:
        return (person.registered_on, person.created_on, str(person.id))

    def decide(self, first: Person, second: Person) -> MergeDecision:
        if self.rank(first) <= self.rank(second):
            return MergeDecision(survivor=first, duplicate=second)
        return MergeDecision(survivor=second, duplicate=first)


MERGE_POLICY = KeepEarliestRecord()
