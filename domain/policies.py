"""Policies chosen where the law is silent, each kept in one place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.events import BirthRegistered, RegisterEvent
from domain.record import PersonRecord
from domain.values import REGISTER_TIMEZONE

#: Fields whose change forces cancel-and-reissue of the ID number (Circular 59/2021 Art. 6;
#: Decree 137/2015 Art. 16): the number encodes sex, year of birth and birth province.
NUMBER_BEARING_FIELDS = frozenset({"sex", "born", "birth_province"})


@dataclass(frozen=True)
class MergeDecision:
    survivor: PersonRecord
    duplicate: PersonRecord


class KeepEarliestNumber:
    """Duplicate merge: keep the earliest number and cancel the later ones.

    Vietnamese law names no merge rule; this follows Aadhaar (Enrolment Regulations 2016,
    Reg. 27). A record that holds a number always survives one that holds none, so the person
    keeps a number whenever any of the merged records held one. Among records alike in that,
    the earliest survives: the earliest birth registration date (a number comes with the birth
    registration, so this is the earliest number), then the earliest recording time, then the
    lower record id, so the decision is total and stable.
    """

    @staticmethod
    def rank(person: PersonRecord) -> tuple[object, ...]:
        return (person.id_number is None, person.registered_on, person.created_on, str(person.id))

    def decide(self, first: PersonRecord, second: PersonRecord) -> MergeDecision:
        if self.rank(first) <= self.rank(second):
            return MergeDecision(survivor=first, duplicate=second)
        return MergeDecision(survivor=second, duplicate=first)


MERGE_POLICY = KeepEarliestNumber()


DEFAULT_LATE_AFTER_DAYS = 60


@dataclass(frozen=True)
class LateRegistration:
    """An act registered more than `days` days after its legal date is a late registration.

    The law sets deadlines per act (e.g. 60 days for a birth, Law on Civil Status 2014 Art. 15);
    the register marks, it never refuses, so one threshold is kept here. It is configured by
    `CIVLEDGER_LATE_AFTER_DAYS`, read outside the domain (`infrastructure.settings`).
    """

    days: int = DEFAULT_LATE_AFTER_DAYS

    def is_late(self, occurred_on: date, recorded_on: date) -> bool:
        return (recorded_on - occurred_on).days > self.days

    def is_late_act(self, event: RegisterEvent) -> bool:
        """A birth is registered late when its registration date (`registered_on`) falls more
        than `days` days after the birth, however long after that it was recorded here (a
        back-filled register of timely births is not late). Every other act is late when it
        was recorded (civil date of `recorded_at`) more than `days` days after its legal date."""
        if isinstance(event, BirthRegistered):
            return self.is_late(event.born, event.registered_on)
        recorded_on = event.recorded_at.astimezone(REGISTER_TIMEZONE).date()
        return self.is_late(event.occurred_on, recorded_on)


#: How long before a birth a father may have died (Law on Marriage and Family 2014, Art.
#: 88(1): a child born within 300 days of the end of the marriage is the common child).
FATHER_DEATH_DAYS = 300


@dataclass(frozen=True)
class ParentAge:
    """How old a parent may plausibly be at a child's birth, in whole years.

    No law bounds the age of a natural parent: the marriage ages of the Law on Marriage and
    Family 2014 (Art. 8(1)(a): 20 for men, 18 for women) bound marriage, not parenthood, and
    children are born outside marriage and to minors. The register refuses only ages that
    are implausible, which in a migrated register are almost always data-entry errors (a
    parent's year of birth mistyped): younger than `youngest`, or older than `oldest_mother`
    or `oldest_father`. Kept here, in one place, so that it can be changed with the data."""

    youngest: int = 12
    oldest_mother: int = 60
    oldest_father: int = 90

    @staticmethod
    def age(born: date, on: date) -> int:
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))

    def bounds(self, role: str) -> tuple[int, int]:
        return self.youngest, self.oldest_mother if role == "mother" else self.oldest_father

    def is_plausible(self, role: str, parent_born: date, child_born: date) -> bool:
        low, high = self.bounds(role)
        return low <= self.age(parent_born, child_born) <= high


PARENT_AGE = ParentAge()
