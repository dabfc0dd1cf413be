"""The register's rules, one named object each, so each can be listed and tested alone.

A command method builds the rules that apply to it and calls `check()`. Event application never
re-runs them, so replaying old events never depends on today's rules.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date
from typing import ClassVar
from uuid import UUID

from domain.errors import CivledgerError, InvalidInput, RuleBroken
from domain.policies import MERGE_POLICY
from domain.record import PersonRecord
from domain.values import FIRST_YEAR, Nationality


class Rule(ABC):
    """A legal condition. `is_broken()` decides; `message()` explains in one line."""

    error: ClassVar[type[CivledgerError]] = RuleBroken

    @abstractmethod
    def is_broken(self) -> bool: ...

    @abstractmethod
    def message(self) -> str: ...


def check(*rules: Rule) -> None:
    """Raise the first broken rule's error (exit 3 for rules, 2 for bad dates)."""
    for rule in rules:
        if rule.is_broken():
            if issubclass(rule.error, RuleBroken):
                raise rule.error(rule.message(), rule=type(rule).__name__)
            raise rule.error(rule.message())


@dataclass(frozen=True)
class DateCannotBeInFuture(Rule):
    """No act can be dated after today (the register's civil date)."""

    error = InvalidInput
    what: str
    on: date
    today: date

    def is_broken(self) -> bool:
        return self.on > self.today

    def message(self) -> str:
        return f"{self.what} {self.on} is in the future (today is {self.today})"


@dataclass(frozen=True)
class NoBirthBefore1900(Rule):
    """The ID number has no century code before 1900."""

    error = InvalidInput
    born: date

    def is_broken(self) -> bool:
        return self.born.year < FIRST_YEAR

    def message(self) -> str:
        return f"birth year {self.born.year} is before 1900: no ID number can encode it"


@dataclass(frozen=True)
class RegistrationCannotPrecedeBirth(Rule):
    born: date
    registered_on: date

    def is_broken(self) -> bool:
        return self.registered_on < self.born

    def message(self) -> str:
        return f"a birth registered on {self.registered_on} cannot precede the birth {self.born}"


@dataclass(frozen=True)
class NoActOnDeceasedExceptCorrection(Rule):
    """After death, only corrections of the record are accepted."""

    person: PersonRecord
    act: str
    is_correction: bool = False

    def is_broken(self) -> bool:
        return self.person.died_on is not None and not self.is_correction

    def message(self) -> str:
        return (
            f"person {self.person.display_id} died on {self.person.died_on}: "
            f"no {self.act} after death, only corrections"
        )


@dataclass(frozen=True)
class NoActOnMergedRecord(Rule):
    """A record merged into its survivor takes no further acts; act on the survivor."""

    person: PersonRecord

    def is_broken(self) -> bool:
        return self.person.merged_into is not None

    def message(self) -> str:
        return (
            f"record {self.person.id} was merged as a duplicate into {self.person.merged_into}; "
            "act on the surviving record"
        )


@dataclass(frozen=True)
class ActCannotPrecedeBirth(Rule):
    """A death, a renunciation or a record change cannot date before the birth."""

    act: str
    on: date
    born: date

    def is_broken(self) -> bool:
        return self.on < self.born

    def message(self) -> str:
        return f"{self.act} on {self.on} cannot precede the birth on {self.born}"


@dataclass(frozen=True)
class NoRenouncingTwice(Rule):
    person: PersonRecord

    def is_broken(self) -> bool:
        return self.person.renounced_on is not None

    def message(self) -> str:
        return f"nationality was already renounced, effective {self.person.renounced_on}"


@dataclass(frozen=True)
class OnlyVietnameseNationalsCanRenounce(Rule):
    person: PersonRecord

    def is_broken(self) -> bool:
        return self.person.nationality is not Nationality.VIETNAMESE

    def message(self) -> str:
        return (
            f"the person's nationality is {self.person.nationality.value}: "
            "only Vietnamese nationality can be renounced"
        )


@dataclass(frozen=True)
class SupplementOnlyFillsEmptyField(Rule):
    """A supplement (bổ sung) fills a missing field; it never overwrites a recorded value."""

    field: str
    current: str | None

    def is_broken(self) -> bool:
        return self.current is not None

    def message(self) -> str:
        return (
            f"a supplement only fills an empty field; {self.field} is already "
            f"recorded as {self.current!r} (use a correction)"
        )


#: Which kinds of act may change which field (Law on Civil Status 2014). The register records
#: every date of birth in full (YYYY-MM-DD), so `born` is never missing and a supplement of it
#: is refused here rather than always failing `SupplementOnlyFillsEmptyField`.
KINDS_BY_FIELD: dict[str, frozenset[str]] = {
    # A supplement fills an empty field: only the fields a birth may leave empty have one.
    "name": frozenset({"change", "correction"}),
    "sex": frozenset({"redetermination", "correction"}),
    "born": frozenset({"correction"}),
    "birth_province": frozenset({"correction"}),
    "ethnicity": frozenset({"redetermination", "correction", "supplement"}),
    "nationality": frozenset({"change", "correction", "redetermination"}),
    "place_of_birth": frozenset({"correction", "supplement"}),
}


@dataclass(frozen=True)
class ChangeKindMustSuitField(Rule):
    field: str
    kind: str

    def is_broken(self) -> bool:
        return self.kind not in KINDS_BY_FIELD.get(self.field, frozenset())

    def message(self) -> str:
        allowed = ", ".join(sorted(KINDS_BY_FIELD.get(self.field, frozenset())))
        return f"{self.field} cannot be changed by a {self.kind}; allowed: {allowed}"


@dataclass(frozen=True)
class ChangeMustDifferFromRecord(Rule):
    field: str
    current: str | None
    new: str

    def is_broken(self) -> bool:
        return self.current == self.new

    def message(self) -> str:
        return f"{self.field} is already {self.new!r}: nothing to change"


@dataclass(frozen=True)
class NationalityEndsOnlyByRenunciation(Rule):
    """Vietnamese nationality ends by renunciation, not by a record change (except correction)."""

    current: Nationality
    new: Nationality
    kind: str

    def is_broken(self) -> bool:
        return (
            self.current is Nationality.VIETNAMESE
            and self.new is not Nationality.VIETNAMESE
            and self.kind != "correction"
        )

    def message(self) -> str:
        return "Vietnamese nationality ends only by renunciation (or by a correction of an error)"


@dataclass(frozen=True)
class NoNationalityChangeAfterRenunciation(Rule):
    """After a renunciation, nationality is not changed by a record change (regaining
    Vietnamese nationality is an act the register does not model)."""

    renounced_on: date | None

    def is_broken(self) -> bool:
        return self.renounced_on is not None

    def message(self) -> str:
        return (
            f"Vietnamese nationality was renounced effective {self.renounced_on}: "
            "a record change cannot change nationality after that"
        )


@dataclass(frozen=True)
class LifeEventsMustFollowBirth(Rule):
    """A corrected birth date cannot fall after a recorded death or renunciation."""

    born: date
    died_on: date | None
    renounced_on: date | None

    def is_broken(self) -> bool:
        return any(d is not None and d < self.born for d in (self.died_on, self.renounced_on))

    def message(self) -> str:
        return f"birth on {self.born} would fall after the recorded death or renunciation"


@dataclass(frozen=True)
class ParentMustBeBornBeforeChild(Rule):
    role: str
    parent_born: date
    child_born: date

    def is_broken(self) -> bool:
        return self.parent_born >= self.child_born

    def message(self) -> str:
        return (
            f"the {self.role}, born {self.parent_born}, cannot be a parent "
            f"of a child born {self.child_born}"
        )


@dataclass(frozen=True)
class RecordCannotBeMergedIntoItself(Rule):
    duplicate: UUID
    survivor: UUID

    def is_broken(self) -> bool:
        return self.duplicate == self.survivor

    def message(self) -> str:
        return "a record cannot be merged into itself"


@dataclass(frozen=True)
class MergeKeepsEarliestNumber(Rule):
    """The merge policy (`domain.policies.MERGE_POLICY`) decides which record survives: the
    one holding the earliest number, or the earliest record when neither holds one."""

    duplicate: PersonRecord
    survivor: PersonRecord

    def is_broken(self) -> bool:
        if self.duplicate.id == self.survivor.id:
            return False
        return MERGE_POLICY.decide(self.duplicate, self.survivor).duplicate is not self.duplicate

    def message(self) -> str:
        wrong, right = self.survivor.display_id, self.duplicate.display_id
        if self.duplicate.id_number is not None and self.survivor.id_number is None:
            why = f"{right} holds an ID number and {wrong} holds none: the number is kept"
        else:
            why = f"{wrong} was registered after {right}: the earliest record survives"
        return f"{why}, so merge {wrong} into {right}"


@dataclass(frozen=True)
class MergeMustNotLoseADeath(Rule):
    """A deceased duplicate merges only into a survivor whose death is recorded too, so the
    merged person never turns back into a living one."""

    duplicate: PersonRecord
    survivor: PersonRecord

    def is_broken(self) -> bool:
        return self.duplicate.died_on is not None and self.survivor.died_on is None

    def message(self) -> str:
        return (
            f"record {self.duplicate.display_id} records a death on {self.duplicate.died_on} "
            f"but the survivor {self.survivor.display_id} does not: register the death on the "
            "survivor first, then merge"
        )


@dataclass(frozen=True)
class NewNumberCannotPrecedeRegistration(Rule):
    """A change that sets up a new number cannot take effect before the birth registration:
    no number existed then (a late-registered number exists only from `registered_on`)."""

    effective: date
    registered_on: date

    def is_broken(self) -> bool:
        return self.effective < self.registered_on

    def message(self) -> str:
        return (
            f"a change effective {self.effective} would set up a new ID number before the "
            f"birth registration on {self.registered_on}"
        )


@dataclass(frozen=True)
class SurvivorMustNotBeMerged(Rule):
    survivor: PersonRecord

    def is_broken(self) -> bool:
        return self.survivor.merged_into is not None

    def message(self) -> str:
        return (
            f"the survivor {self.survivor.id} was itself merged into "
            f"{self.survivor.merged_into}; merge into that record"
        )


@dataclass(frozen=True)
class OneNumberPerPerson(Rule):
    """A person holds at most one ID number at a time."""

    person: PersonRecord

    def is_broken(self) -> bool:
        return self.person.id_number is not None

    def message(self) -> str:
        return f"the person already holds ID number {self.person.id_number}"


@dataclass(frozen=True)
class NumberMustEncodeRecord(Rule):
    """The number's province, century-and-sex digit and year must match the record."""

    id_number: str
    expected_prefix: str

    def is_broken(self) -> bool:
        return not self.id_number.startswith(self.expected_prefix)

    def message(self) -> str:
        return f"ID number {self.id_number} does not encode the record ({self.expected_prefix}…)"


@dataclass(frozen=True)
class BirthMustNotDuplicateAPerson(Rule):
    """A birth matching a recorded person (folded name, date of birth, birth province) is held
    back as a possible duplicate unless the clerk confirms it is a different person."""

    candidates: tuple[str, ...]
    confirmed_different: bool

    def is_broken(self) -> bool:
        return bool(self.candidates) and not self.confirmed_different

    def message(self) -> str:
        shown = ", ".join(self.candidates[:3]) + (" …" if len(self.candidates) > 3 else "")
        return (
            f"possible duplicate of {shown}: same name, date of birth and birth province; "
            "merge instead, or confirm with --allow-possible-duplicate"
        )
