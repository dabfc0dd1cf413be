"""Residence and households: the values of the Law on Residence 2020 (Law 68/2020/QH14).

The codes below are the register's names for the law's cases; docs/residence.md maps each to
its article. Grounds that only the register itself records (a new permanent residence ending
the old one, a merge, a split) are named too, so that every end of a residence says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from domain.errors import InvalidInput


class ResidenceKind(StrEnum):
    PERMANENT = "permanent"  # thường trú, Art. 20-22
    TEMPORARY = "temporary"  # tạm trú, Art. 27-28


class Relation(StrEnum):
    """A member's relation to the head of the household (Art. 10(1): grandparents, parents,
    spouses, children and siblings living at one residence register as one household)."""

    HEAD = "head"
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    SIBLING = "sibling"
    GRANDCHILD = "grandchild"
    GRANDPARENT = "grandparent"
    OTHER_RELATIVE = "other_relative"
    OTHER = "other"


#: The relations a person may join a household with (the head is named, not joined).
JOINING_RELATIONS = tuple(r.value for r in Relation if r is not Relation.HEAD)

#: Grounds for ending a permanent residence: Art. 24(1), by point.
PERMANENT_GROUNDS: dict[str, str] = {
    "death": "Art. 24(1)(a): death",
    "declared_missing_or_dead": "Art. 24(1)(a): declared missing or dead by a court",
    "settled_abroad": "Art. 24(1)(b): settled abroad",
    "registration_annulled": "Art. 24(1)(c): registration annulled (Art. 35)",
    "absent": "Art. 24(1)(d): absent 12 months or more without registering elsewhere",
    "nationality_lost": "Art. 24(1)(đ): Vietnamese nationality renounced, withdrawn or annulled",
    "lodging_ended": "Art. 24(1)(e): 12 months after a rental, loan or lodging ended",
    "home_transferred": "Art. 24(1)(g): 12 months after the home passed to another owner",
    "home_demolished": "Art. 24(1)(h): the home demolished or confiscated",
    "unlawful_home": "Art. 24(1)(i): registered at a home that was not lawful",
}
#: Grounds for ending a temporary residence: Art. 29(1), by point.
TEMPORARY_GROUNDS: dict[str, str] = {
    "death": "Art. 29(1)(a): death",
    "declared_missing_or_dead": "Art. 29(1)(a): declared missing or dead by a court",
    "registration_annulled": "Art. 29(1)(b): registration annulled (Art. 35)",
    "absent": "Art. 29(1)(c): absent 6 months or more without registering elsewhere",
    "nationality_lost": "Art. 29(1)(d): Vietnamese nationality renounced, withdrawn or annulled",
    "permanent_at_same_place": "Art. 29(1)(đ): registered permanently at the same place",
    "lodging_ended": "Art. 29(1)(e): a rental, loan or lodging ended",
    "home_transferred": "Art. 29(1)(g): the home passed to another owner",
    "home_demolished": "Art. 29(1)(h): the home demolished or confiscated",
}
#: Grounds the register records by itself, as the effect of another act.
EFFECT_GROUNDS: dict[str, str] = {
    "new_permanent_residence": "a new permanent residence ends the previous one",
    "merged_as_duplicate": "the record was merged as a duplicate",
    "split": "the member left the household by a split (Art. 25)",
}

GROUNDS_BY_KIND: dict[ResidenceKind, dict[str, str]] = {
    ResidenceKind.PERMANENT: PERMANENT_GROUNDS,
    ResidenceKind.TEMPORARY: TEMPORARY_GROUNDS,
}

#: A temporary registration, or an extension, lasts at most 2 years (Art. 27(3)).
TEMPORARY_YEARS = 2
#: A household's head is an adult (Art. 10(2): full legal capacity; Civil Code 2015 Art. 20:
#: an adult is 18 or older).
ADULT_AGE = 18


def parse_kind(text: str) -> ResidenceKind:
    try:
        return ResidenceKind(text.strip().lower())
    except ValueError:
        raise InvalidInput(f"kind must be permanent or temporary, got {text!r}") from None


def parse_relation(text: str) -> Relation:
    value = text.strip().lower()
    if value not in JOINING_RELATIONS:
        raise InvalidInput(f"relation must be one of {', '.join(JOINING_RELATIONS)}, got {text!r}")
    return Relation(value)


def parse_ground(kind: ResidenceKind, text: str) -> str:
    value = text.strip().lower()
    grounds = GROUNDS_BY_KIND[kind]
    if value not in grounds:
        raise InvalidInput(
            f"a {kind.value} residence ends on one of these grounds: {', '.join(grounds)}; "
            f"got {text!r}"
        )
    return value


def years_after(day: date, years: int) -> date:
    """The same day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


_HOUSEHOLD = re.compile(r"HK[0-9]{10}")


@dataclass(frozen=True, order=True)
class HouseholdNumber:
    """The number the register gives a household: `HK` and ten random digits. Printed when
    the household is set up, accepted back, kept forever, never given to another household."""

    text: str

    @classmethod
    def parse(cls, text: str) -> HouseholdNumber:
        value = text.strip().upper()
        if not (value.isascii() and _HOUSEHOLD.fullmatch(value)):
            raise InvalidInput(f"household number must be HK and ten digits, got {text!r}")
        return cls(value)

    @classmethod
    def compose(cls, serial: int) -> HouseholdNumber:
        if not 0 <= serial < 10**10:
            raise ValueError(f"serial {serial} is not ten digits")
        return cls(f"HK{serial:010d}")

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Residence:
    """One residence of a person, as it stands: where, since when, until when (temporary)."""

    commune: str
    address: str
    since: date
    until: date | None = None

    def is_current_on(self, day: date) -> bool:
        return self.since <= day and (self.until is None or day <= self.until)

    def as_document(self) -> dict[str, str | None]:
        return {
            "commune": self.commune,
            "address": self.address,
            "since": self.since.isoformat(),
            "until": self.until.isoformat() if self.until else None,
        }
