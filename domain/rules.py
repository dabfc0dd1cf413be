"""The register's rules, one named object each, so each can be listed and tested alone.

A command method builds the rules that apply to it and calls `check()`. Event application never
re-runs them, so replaying old events never depends on today's rules.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from calendar import monthrange
from dataclasses import dataclass
from datetime import date
from typing import ClassVar
from uuid import UUID

from domain.errors import CivledgerError, InvalidInput, RuleBroken
from domain.policies import FATHER_DEATH_DAYS, MERGE_POLICY, PARENT_AGE
from domain.record import PersonRecord
from domain.reference import communes
from domain.residence import ADULT_AGE, TEMPORARY_YEARS, age_on, years_after
from domain.values import FIRST_YEAR, Nationality, Sex


def _survivor_of(person: PersonRecord) -> str:
    """The record a merged record was merged into: its ID number, else its person id."""
    return person.merged_into_id_number or str(person.merged_into)


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
            f"record {self.person.display_id} was merged as a duplicate into "
            f"{_survivor_of(self.person)}; act on the surviving record"
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
            f"the survivor {self.survivor.display_id} was itself merged into "
            f"{_survivor_of(self.survivor)}; merge into that record"
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


@dataclass(frozen=True)
class RenunciationCannotPrecedeNationality(Rule):
    """Vietnamese nationality can be renounced only from a day the person held it: not before
    the birth of a Vietnamese national, nor before nationality was determined as Vietnamese."""

    effective: date
    vietnamese_since: date | None

    def is_broken(self) -> bool:
        return self.vietnamese_since is None or self.effective < self.vietnamese_since

    def message(self) -> str:
        return (
            f"a renunciation effective {self.effective} would precede Vietnamese nationality, "
            f"held from {self.vietnamese_since}"
        )


@dataclass(frozen=True)
class ParentMustNotBeMerged(Rule):
    """A record merged away as a duplicate is no one's parent: name the surviving record."""

    role: str
    parent: PersonRecord

    def is_broken(self) -> bool:
        return self.parent.merged_into is not None

    def message(self) -> str:
        return (
            f"the {self.role} {self.parent.display_id} was merged as a duplicate into "
            f"{_survivor_of(self.parent)}: name that record as the {self.role}"
        )


#: The sex a parent's role requires.
ROLE_SEX = {"father": Sex.MALE, "mother": Sex.FEMALE}


@dataclass(frozen=True)
class ParentSexMustFitRole(Rule):
    """The father is recorded male and the mother female (Law on Civil Status 2014, Art. 14:
    the birth certificate names the father and the mother)."""

    role: str
    parent: PersonRecord

    def is_broken(self) -> bool:
        return self.parent.sex is not ROLE_SEX[self.role]

    def message(self) -> str:
        return (
            f"the {self.role} {self.parent.display_id} is recorded {self.parent.sex.value}: "
            f"a {self.role} must be recorded {ROLE_SEX[self.role].value}"
        )


@dataclass(frozen=True)
class ParentsMustBeTwoPeople(Rule):
    """One person cannot be both the father and the mother."""

    father: UUID | None
    mother: UUID | None

    def is_broken(self) -> bool:
        return self.father is not None and self.father == self.mother

    def message(self) -> str:
        return "the same person cannot be both the father and the mother"


@dataclass(frozen=True)
class MotherMustBeAliveAtBirth(Rule):
    """A mother's recorded death cannot precede the birth of her child."""

    mother: PersonRecord
    child_born: date

    def is_broken(self) -> bool:
        died = self.mother.died_on
        return died is not None and died < self.child_born

    def message(self) -> str:
        return (
            f"the mother {self.mother.display_id} died on {self.mother.died_on}, before the "
            f"birth on {self.child_born}"
        )


@dataclass(frozen=True)
class FatherDeathAtMost300DaysBeforeBirth(Rule):
    """A child born within 300 days of the end of a marriage, the husband's death included,
    is the common child (Law on Marriage and Family 2014, Art. 88(1)): a father cannot have
    died more than 300 days before the birth."""

    father: PersonRecord
    child_born: date

    def is_broken(self) -> bool:
        died = self.father.died_on
        return died is not None and (self.child_born - died).days > FATHER_DEATH_DAYS

    def message(self) -> str:
        return (
            f"the father {self.father.display_id} died on {self.father.died_on}, more than "
            f"{FATHER_DEATH_DAYS} days before the birth on {self.child_born}"
        )


@dataclass(frozen=True)
class ParentAgeMustBePlausible(Rule):
    """A parent's age at the birth lies within the register's plausibility policy
    (`domain.policies.PARENT_AGE`)."""

    role: str
    parent: PersonRecord
    child_born: date

    def is_broken(self) -> bool:
        return not PARENT_AGE.is_plausible(self.role, self.parent.born, self.child_born)

    def message(self) -> str:
        low, high = PARENT_AGE.bounds(self.role)
        age = PARENT_AGE.age(self.parent.born, self.child_born)
        return (
            f"the {self.role} {self.parent.display_id}, born {self.parent.born}, would be {age} "
            f"at the birth on {self.child_born}: a {self.role} is {low} to {high} years old"
        )


@dataclass(frozen=True)
class DeathCannotPrecedeRecordedActs(Rule):
    """A death cannot be dated before an act the person is recorded to have done alive: a
    renunciation, a change or re-determination, a nationality determined (corrections fix
    records and may come later)."""

    died_on: date
    latest_act_on: date | None

    def is_broken(self) -> bool:
        return self.latest_act_on is not None and self.died_on < self.latest_act_on

    def message(self) -> str:
        return (
            f"a death on {self.died_on} would precede an act recorded effective "
            f"{self.latest_act_on}"
        )


# --------------------------------------------------------- residence and households


@dataclass(frozen=True)
class CommuneMustBeInForce(Rule):
    """A commune code names a commune of the list in force on the act's date (the 2025
    two-tier list from 1 July 2025, the older list before): never a code without its date."""

    error = InvalidInput
    code: str
    on: date

    def is_broken(self) -> bool:
        return communes().name_on(self.code, self.on) is None

    def message(self) -> str:
        return (
            f"{self.code!r} is not a commune code in force on {self.on} "
            f"({communes().version_on(self.on)})"
        )


@dataclass(frozen=True)
class TemporaryResidenceNeedsAnEnd(Rule):
    """A temporary residence lasts at most 2 years per registration (Law on Residence 2020,
    Art. 27(3)): it ends after its start, at most 2 years later."""

    error = InvalidInput
    start: date
    until: date | None
    what: str = "temporary residence"

    def is_broken(self) -> bool:
        return (
            self.until is None
            or self.until <= self.start
            or self.until > years_after(self.start, TEMPORARY_YEARS)
        )

    def message(self) -> str:
        if self.until is None:
            return f"a {self.what} needs --until, at most {TEMPORARY_YEARS} years ahead"
        return (
            f"a {self.what} from {self.start} lasts at most {TEMPORARY_YEARS} years: its end "
            f"falls after {self.start} and on or before "
            f"{years_after(self.start, TEMPORARY_YEARS)}, not on {self.until}"
        )


@dataclass(frozen=True)
class TemporaryResidenceOutsidePermanentCommune(Rule):
    """A temporary residence is registered outside the commune of permanent residence
    (Law on Residence 2020, Art. 27(1))."""

    commune: str
    permanent_commune: str | None

    def is_broken(self) -> bool:
        return self.commune == self.permanent_commune

    def message(self) -> str:
        return (
            f"commune {self.commune} is the commune of the permanent residence: a temporary "
            "residence is registered in another commune"
        )


@dataclass(frozen=True)
class ResidenceMustBeCurrent(Rule):
    """Only a current residence can be ended or extended."""

    kind: str
    current: bool
    on: date

    def is_broken(self) -> bool:
        return not self.current

    def message(self) -> str:
        return f"the person has no current {self.kind} residence on {self.on}"


@dataclass(frozen=True)
class ExtensionMustLengthen(Rule):
    until: date
    current_until: date | None

    def is_broken(self) -> bool:
        return self.current_until is not None and self.until <= self.current_until

    def message(self) -> str:
        return f"the temporary residence already runs until {self.current_until}"


@dataclass(frozen=True)
class AbodeOnlyWithoutResidence(Rule):
    """A current abode (Art. 19) is declared only by a person with neither a permanent nor a
    temporary residence."""

    has_residence: bool

    def is_broken(self) -> bool:
        return self.has_residence

    def message(self) -> str:
        return (
            "the person has a permanent or temporary residence: a current abode is declared "
            "only without one"
        )


@dataclass(frozen=True)
class HeadMustBeAdult(Rule):
    """A household's head is an adult with full legal capacity (Law on Residence 2020,
    Art. 10(2); Civil Code 2015 Art. 20: 18 or older)."""

    who: str
    born: date
    on: date

    def is_broken(self) -> bool:
        return age_on(self.born, self.on) < ADULT_AGE

    def message(self) -> str:
        return (
            f"{self.who} is {age_on(self.born, self.on)} on {self.on}: a household's head is "
            f"an adult ({ADULT_AGE} or older)"
        )


@dataclass(frozen=True)
class HeadMustBeMember(Rule):
    """The head is one of the household's members."""

    who: str
    household: str
    is_member: bool

    def is_broken(self) -> bool:
        return not self.is_member

    def message(self) -> str:
        return f"{self.who} is not a member of household {self.household}"


@dataclass(frozen=True)
class HouseholdMustHaveMembers(Rule):
    """No one joins, or is made head of, a household that no longer has any member."""

    household: str
    members: int

    def is_broken(self) -> bool:
        return self.members == 0

    def message(self) -> str:
        return f"household {self.household} has no member any more"


@dataclass(frozen=True)
class NotAlreadyInHousehold(Rule):
    who: str
    household: str
    already: bool

    def is_broken(self) -> bool:
        return self.already

    def message(self) -> str:
        return f"{self.who} is already a member of household {self.household}"


@dataclass(frozen=True)
class SplitLeavesMembersBehind(Rule):
    """A split (Art. 25) takes some members to a new household and leaves the others."""

    household: str
    moving: int
    members: int

    def is_broken(self) -> bool:
        return self.moving == 0 or self.moving >= self.members

    def message(self) -> str:
        return (
            f"a split of household {self.household} moves some of its {self.members} members "
            "and leaves the others"
        )


@dataclass(frozen=True)
class RecordNotYetConfirmed(Rule):
    confirmed: bool

    def is_broken(self) -> bool:
        return self.confirmed

    def message(self) -> str:
        return "the record is already confirmed"


@dataclass(frozen=True)
class DeletionProposalMustBe(Rule):
    """A deletion is proposed only when none is pending, and withdrawn only when one is."""

    pending: bool
    wanted: bool

    def is_broken(self) -> bool:
        return self.pending is not self.wanted

    def message(self) -> str:
        if self.wanted:
            return "no proposal to delete the record is pending"
        return "a proposal to delete the record is already pending"


# ------------------------------------------------- identity cards, eid, certificates


@dataclass(frozen=True)
class CardOnlyForCitizenWithNumber(Rule):
    """Art. 18-19: a card is issued to a Vietnamese citizen, and carries the personal ID number
    as its number; no card without an active number."""

    person: PersonRecord
    what: str = "an identity card"

    def is_broken(self) -> bool:
        return (
            self.person.nationality is not Nationality.VIETNAMESE or self.person.id_number is None
        )

    def message(self) -> str:
        if self.person.nationality is not Nationality.VIETNAMESE:
            return (
                f"person {self.person.display_id} is not a Vietnamese citizen "
                f"(nationality {self.person.nationality.value}): {self.what} is only for citizens"
            )
        return (
            f"person {self.person.display_id} holds no active ID number: no {self.what} without one"
        )


@dataclass(frozen=True)
class FirstCardFitsAge(Rule):
    """Art. 19: a first card is mandatory from 14 (`first`) and given under 14 only on request
    (`request`); `first` is only for someone who never held a card."""

    reason: str
    age: int
    held_before: bool

    def is_broken(self) -> bool:
        if self.held_before:
            return self.reason == "first"
        if self.age < 14:
            return self.reason != "request"
        return self.reason != "first"

    def message(self) -> str:
        if self.held_before:
            return (
                "reason first is only for someone who never held a card; this person has held one"
            )
        if self.age < 14:
            return (
                "a card is issued under 14 only on request (--reason request); "
                f"the person is {self.age}"
            )
        return f"a first card at {self.age} is issued with --reason first, got {self.reason}"


@dataclass(frozen=True)
class RenewalReasonMustApply(Rule):
    """Art. 21 and 24: a holder gets a new card only for a reason that applies on the day:
    `age` from two years before the age the card expires at; `data_change` when the card's
    name, date of birth or sex no longer match the record; `number_reissued` when its number
    does not; `lost`/`damaged` for a card not revoked; `nationality_regained` after a card
    revoked for lost nationality; `request` any time."""

    reason: str
    applies: bool
    why_not: str

    def is_broken(self) -> bool:
        return not self.applies

    def message(self) -> str:
        return f"reason {self.reason} does not apply: {self.why_not}"


@dataclass(frozen=True)
class NoNewCardWhileWithheld(Rule):
    """Art. 29(2): a withheld card is held by the authority until its holder's release; no new
    card is issued meanwhile."""

    withheld: str | None

    def is_broken(self) -> bool:
        return self.withheld is not None

    def message(self) -> str:
        return f"the card is withheld ({self.withheld}): return it before issuing another"


@dataclass(frozen=True)
class CardMustBeHeld(Rule):
    """Revoking or withholding needs a card that is held: issued and not revoked."""

    act: str
    held: bool

    def is_broken(self) -> bool:
        return not self.held

    def message(self) -> str:
        return f"no card to {self.act}: the person holds no card that is not revoked"


@dataclass(frozen=True)
class CardWithheldOnce(Rule):
    """A card is withheld once until it is returned, and returned only when withheld."""

    withholding: bool
    withheld: str | None

    def is_broken(self) -> bool:
        return (self.withheld is not None) == self.withholding

    def message(self) -> str:
        if self.withholding:
            return f"the card is already withheld ({self.withheld})"
        return "the card is not withheld: nothing to return"


@dataclass(frozen=True)
class LostNationalityNeedsItLost(Rule):
    """Art. 29(1)(a): a card is revoked for lost nationality only when the record shows the
    nationality lost (a renunciation does it in the same act)."""

    ground: str
    nationality: Nationality

    def is_broken(self) -> bool:
        return self.ground == "lost_nationality" and self.nationality is Nationality.VIETNAMESE

    def message(self) -> str:
        return "the record shows Vietnamese nationality: lost_nationality does not apply"


@dataclass(frozen=True)
class IdentityActsInOrder(Rule):
    """Card, eid and certificate acts follow one another: none is dated before the last, nor
    is a death or a renunciation, whose effects on the documents follow them."""

    on: date
    latest: date | None
    what: str = "the act"

    def is_broken(self) -> bool:
        return self.latest is not None and self.on < self.latest

    def message(self) -> str:
        return f"{self.what} dated {self.on} is before the last identity act, on {self.latest}"


@dataclass(frozen=True)
class OneElectronicIdentity(Rule):
    """Art. 31: one electronic identity per citizen."""

    exists: bool

    def is_broken(self) -> bool:
        return self.exists

    def message(self) -> str:
        return "the citizen already has an electronic identity"


@dataclass(frozen=True)
class ElectronicIdentityNeedsACard(Rule):
    """Art. 31-32: an electronic identity is created for a citizen with a card issued and
    neither revoked nor withheld (the level-2 account is made from it)."""

    usable: bool

    def is_broken(self) -> bool:
        return not self.usable

    def message(self) -> str:
        return "an electronic identity needs a card that is neither revoked nor withheld"


@dataclass(frozen=True)
class EidLockMustFit(Rule):
    """Art. 34: an eid is locked once, while active; a ground that follows another fact
    (card revoked, card withheld, death) only while that fact holds."""

    ground: str
    locked: str | None
    fact_holds: bool
    exists: bool

    def is_broken(self) -> bool:
        return not self.exists or self.locked is not None or not self.fact_holds

    def message(self) -> str:
        if not self.exists:
            return "the citizen has no electronic identity"
        if self.locked is not None:
            return f"the electronic identity is already locked ({self.locked})"
        return f"lock ground {self.ground} does not hold for this record"


@dataclass(frozen=True)
class EidUnlockNeedsCauseEnded(Rule):
    """Art. 34: an eid is unlocked when the cause of its lock ends."""

    locked: str | None
    cause_holds: bool

    def is_broken(self) -> bool:
        return self.locked is None or self.cause_holds

    def message(self) -> str:
        if self.locked is None:
            return "the electronic identity is not locked"
        return f"the electronic identity stays locked while its cause holds ({self.locked})"


@dataclass(frozen=True)
class CertificateOnlyForUndeterminedNationality(Rule):
    """Art. 30(1): an identity certificate is for a person of Vietnamese origin whose
    nationality is undetermined."""

    person: PersonRecord

    def is_broken(self) -> bool:
        return self.person.nationality is not Nationality.UNDETERMINED

    def message(self) -> str:
        return (
            f"person {self.person.display_id} has nationality {self.person.nationality.value}: "
            "an identity certificate is only for undetermined nationality"
        )


@dataclass(frozen=True)
class CertificateNeedsSixMonthsInACommune(Rule):
    """Art. 30(1): the person has lived six months or more in one commune: a residence or a
    declared abode current on the day, in effect for six months."""

    living_since: date | None
    on: date

    def is_broken(self) -> bool:
        return self.living_since is None or self.living_since > _months_before(self.on, 6)

    def message(self) -> str:
        if self.living_since is None:
            return "no residence or abode is recorded: six months in one commune are needed"
        return (
            f"the person lives in the commune since {self.living_since}: six months are needed "
            f"by {self.on}"
        )


def _months_before(day: date, months: int) -> date:
    """The same day `months` earlier (the month's last day when it has no such day)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


@dataclass(frozen=True)
class CertificateReasonMustApply(RenewalReasonMustApply):
    """A first certificate only for someone without one; a new one (`data_change`, `lost`,
    `damaged`) only for a holder of a current certificate, `data_change` only when the
    record's name, date of birth or sex changed since it was issued. Judged as a card's
    reason is: the record says whether it applies, and why not."""


@dataclass(frozen=True)
class CertificateMustBeHeld(Rule):
    held: bool

    def is_broken(self) -> bool:
        return not self.held

    def message(self) -> str:
        return "the person holds no current identity certificate"


@dataclass(frozen=True)
class CardCannotPrecedeItsData(Rule):
    """A card carries the record as it is on its issue date, so it cannot be dated before the
    last change of what it carries (name, date of birth, sex, number) took effect."""

    on: date
    data_since: date | None

    def is_broken(self) -> bool:
        return self.data_since is not None and self.on < self.data_since

    def message(self) -> str:
        return (
            f"a card dated {self.on} would precede the record's data it carries, "
            f"in effect from {self.data_since}"
        )
