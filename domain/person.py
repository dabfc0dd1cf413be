"""The person record: the aggregate every civil act is about."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal
from uuid import UUID

from domain.aggregate import ActBasis, applies
from domain.cardholder import IdentityHolder
from domain.events import (
    BirthRegistered,
    ChangeField,
    ChangeKind,
    DeathRegistered,
    IdNumberAssigned,
    IdNumberAssignedReason,
    IdNumberCancelled,
    MergedAsDuplicate,
    NationalityDetermined,
    NationalityRenounced,
    RecordChanged,
)
from domain.policies import NUMBER_BEARING_FIELDS
from domain.record import PersonRecord
from domain.resident import ResidentRecord
from domain.rules import (
    ActCannotPrecedeBirth,
    ChangeKindMustSuitField,
    ChangeMustDifferFromRecord,
    DateCannotBeInFuture,
    DeathCannotPrecedeRecordedActs,
    FatherDeathAtMost300DaysBeforeBirth,
    IdentityActsInOrder,
    LifeEventsMustFollowBirth,
    MergeKeepsEarliestNumber,
    MergeMustNotLoseADeath,
    MotherMustBeAliveAtBirth,
    NationalityEndsOnlyByRenunciation,
    NewNumberCannotPrecedeRegistration,
    NoActOnDeceasedExceptCorrection,
    NoActOnMergedRecord,
    NoBirthBefore1900,
    NoNationalityChangeAfterRenunciation,
    NoRenouncingTwice,
    NumberMustEncodeRecord,
    OneNumberPerPerson,
    OnlyVietnameseNationalsCanRenounce,
    ParentAgeMustBePlausible,
    ParentMustBeBornBeforeChild,
    ParentMustNotBeMerged,
    ParentSexMustFitRole,
    ParentsMustBeTwoPeople,
    RecordCannotBeMergedIntoItself,
    RegistrationCannotPrecedeBirth,
    RenunciationCannotPrecedeNationality,
    SupplementOnlyFillsEmptyField,
    SurvivorMustNotBeMerged,
    check,
)
from domain.values import (
    IdNumber,
    Nationality,
    Sex,
    century_sex_digit,
    clean_text,
    parse_date,
    parse_nationality,
    parse_province,
    parse_sex,
)

Status = Literal["active", "deceased", "renounced", "merged"]

#: The record's fields a card carries besides the number (Art. 24(1)(b), (c)).
CARD_FIELDS = frozenset({"name", "born", "sex"})


@dataclass(frozen=True)
class ChangeOutcome:
    """What a record change asks of the register: a new number to draw, and why."""

    needs_number: bool
    reason: IdNumberAssignedReason = "record_corrected"


class Person(ResidentRecord, IdentityHolder):
    """A person record. Commands check the rules; `@applies` methods only assign state."""

    def __init__(self, id: UUID) -> None:
        super().__init__(id)
        self.name = ""
        self.sex = Sex.MALE
        self.born = date(1900, 1, 1)
        self.birth_province = ""
        self.nationality = Nationality.UNDETERMINED
        self.ethnicity: str | None = None
        self.place_of_birth: str | None = None
        self.father_id: UUID | None = None
        self.mother_id: UUID | None = None
        self.registered_on = date(1900, 1, 1)
        self.id_number: str | None = None
        self.cancelled_id_numbers: list[str] = []
        self.died_on: date | None = None
        self.death_place: str | None = None
        self.renounced_on: date | None = None
        self.merged_into: UUID | None = None
        self.merged_into_id_number: str | None = None
        #: Since when the person holds Vietnamese nationality (None: not Vietnamese).
        self.vietnamese_since: date | None = None
        #: The latest legal date of an act the person did alive (not a correction).
        self.latest_act_on: date | None = None

    # ----------------------------------------------------------------- queries

    @property
    def status(self) -> Status:
        if self.merged_into is not None:
            return "merged"
        if self.died_on is not None:
            return "deceased"
        if self.renounced_on is not None:
            return "renounced"
        return "active"

    @property
    def display_id(self) -> str:
        return self.id_number or str(self.id)

    @property
    def number_prefix(self) -> str:
        """The first six digits any number of this person must have: PPP C YY."""
        digit = century_sex_digit(self.sex, self.born.year)
        return f"{self.birth_province}{digit}{self.born.year % 100:02d}"

    @property
    def may_hold_number(self) -> bool:
        """Vietnamese nationals hold a number; undetermined nationality gets none, and no new
        number is ever set up after a renunciation or a merge."""
        return (
            self.nationality is Nationality.VIETNAMESE
            and self.merged_into is None
            and self.renounced_on is None
        )

    def field_value(self, field: str) -> str | None:
        value = getattr(self, field)
        if value is None:
            return None
        if isinstance(value, date):
            return value.isoformat()
        return str(value)

    def as_document(self) -> dict[str, Any]:
        """The `show --json` document (the contract), plus compatible extra keys."""
        return {
            "person_id": str(self.id),
            "id_number": self.id_number,
            "cancelled_id_numbers": list(self.cancelled_id_numbers),
            "name": self.name,
            "sex": self.sex.value,
            "born": self.born.isoformat(),
            "birth_province": self.birth_province,
            "nationality": self.nationality.value,
            "status": self.status,
            "merged_into": (
                self.merged_into_id_number or (str(self.merged_into) if self.merged_into else None)
            ),
            "died_on": self.died_on.isoformat() if self.died_on else None,
            "version": self.version,
            "ethnicity": self.ethnicity,
            "place_of_birth": self.place_of_birth,
            "father_id": str(self.father_id) if self.father_id else None,
            "mother_id": str(self.mother_id) if self.mother_id else None,
            "registered_on": self.registered_on.isoformat(),
            "renounced_on": self.renounced_on.isoformat() if self.renounced_on else None,
        }

    # ---------------------------------------------------------------- commands

    @classmethod
    def register_birth(
        cls,
        id: UUID,
        basis: ActBasis,
        *,
        name: str,
        sex: Sex,
        born: date,
        birth_province: str,
        nationality: Nationality,
        registered_on: date,
        today: date,
        ethnicity: str | None = None,
        place_of_birth: str | None = None,
        father: Person | None = None,
        mother: Person | None = None,
    ) -> Person:
        check(
            NoBirthBefore1900(born),
            DateCannotBeInFuture("date of birth", born, today),
            DateCannotBeInFuture("registration date", registered_on, today),
            RegistrationCannotPrecedeBirth(born, registered_on),
        )
        check(ParentsMustBeTwoPeople(father.id if father else None, mother.id if mother else None))
        check_parents(born, father, mother, naming=True)
        person = cls(id)
        person._trigger(
            BirthRegistered,
            basis,
            born,
            name=name,
            sex=sex,
            born=born,
            birth_province=birth_province,
            nationality=nationality,
            ethnicity=ethnicity,
            place_of_birth=place_of_birth,
            father_id=father.id if father else None,
            mother_id=mother.id if mother else None,
            registered_on=registered_on,
        )
        return person

    def assign_id_number(
        self, basis: ActBasis, number: IdNumber, reason: IdNumberAssignedReason, on: date
    ) -> None:
        check(
            OneNumberPerPerson(self),
            NumberMustEncodeRecord(str(number), self.number_prefix),
        )
        self._trigger(IdNumberAssigned, basis, on, id_number=str(number), reason=reason)

    def record_death(self, basis: ActBasis, died_on: date, place: str | None, today: date) -> None:
        check(
            NoActOnMergedRecord(self),
            NoActOnDeceasedExceptCorrection(self, "death registration"),
            DateCannotBeInFuture("date of death", died_on, today),
            ActCannotPrecedeBirth("a death", died_on, self.born),
            DeathCannotPrecedeRecordedActs(died_on, self.latest_act_on),
            IdentityActsInOrder(died_on, self.identity.latest_on, "a death"),
        )
        self._trigger(DeathRegistered, basis, died_on, place=place)
        self.follow_death(basis, died_on)

    def renounce_nationality(self, basis: ActBasis, effective: date, today: date) -> None:
        check(
            NoActOnMergedRecord(self),
            NoActOnDeceasedExceptCorrection(self, "renunciation"),
            DateCannotBeInFuture("effective date", effective, today),
            ActCannotPrecedeBirth("a renunciation", effective, self.born),
            NoRenouncingTwice(self),
            OnlyVietnameseNationalsCanRenounce(self),
            RenunciationCannotPrecedeNationality(effective, self.vietnamese_since),
            IdentityActsInOrder(effective, self.identity.latest_on, "a renunciation"),
        )
        self._trigger(NationalityRenounced, basis, effective)
        self.follow_renunciation(basis, effective)

    def change_record(
        self,
        basis: ActBasis,
        field: ChangeField,
        value: str,
        kind: ChangeKind,
        effective: date,
        today: date,
        father: PersonRecord | None = None,
        mother: PersonRecord | None = None,
    ) -> ChangeOutcome:
        """Change one field. Cancels the number first when the field is encoded in it. A new
        date of birth is checked against the parents (`father`, `mother`) as a birth is."""
        check(
            NoActOnMergedRecord(self),
            NoActOnDeceasedExceptCorrection(self, f"{kind} of {field}", kind == "correction"),
            DateCannotBeInFuture("effective date", effective, today),
            ActCannotPrecedeBirth("a change", effective, self.born),
            ChangeKindMustSuitField(field, kind),
        )
        new = self._parse_field(field, value, today, father, mother)
        current = self.field_value(field)
        if kind == "supplement":
            check(SupplementOnlyFillsEmptyField(field, current))
        check(ChangeMustDifferFromRecord(field, current, new))
        if field == "born":
            check(ActCannotPrecedeBirth("a change", effective, date.fromisoformat(new)))

        if field == "nationality":
            return self._change_nationality(basis, Nationality(new), kind, effective)

        reissue = False
        if (
            field in NUMBER_BEARING_FIELDS
            and self.id_number is not None
            and self._prefix_with(field, new) != self.number_prefix
        ):
            reissue = True
            if self.may_hold_number:
                check(NewNumberCannotPrecedeRegistration(effective, self.registered_on))
            self._trigger(
                IdNumberCancelled,
                basis,
                effective,
                id_number=self.id_number,
                reason="record_corrected",
            )
        self._trigger(
            RecordChanged,
            basis,
            effective,
            field=field,
            kind=kind,
            old_value=current,
            new_value=new,
        )
        return ChangeOutcome(needs_number=reissue)

    def merge_into(self, basis: ActBasis, survivor: Person, on: date) -> None:
        """Mark this record a duplicate of `survivor`; its number, if any, is cancelled.

        A merge cleans the register's data, it is no civil act of the person: either record may
        be deceased, as long as the death stays on the survivor (`MergeMustNotLoseADeath`)."""
        check(
            RecordCannotBeMergedIntoItself(self.id, survivor.id),
            NoActOnMergedRecord(self),
            SurvivorMustNotBeMerged(survivor),
            MergeKeepsEarliestNumber(self, survivor),
            MergeMustNotLoseADeath(self, survivor),
        )
        if self.id_number is not None:
            self._trigger(
                IdNumberCancelled,
                basis,
                on,
                id_number=self.id_number,
                reason="merged_as_duplicate",
            )
        self._trigger(
            MergedAsDuplicate,
            basis,
            on,
            survivor_id=survivor.id,
            survivor_id_number=survivor.id_number,
        )

    # ------------------------------------------------------------ command help

    def _parse_field(
        self,
        field: str,
        value: str,
        today: date,
        father: PersonRecord | None = None,
        mother: PersonRecord | None = None,
    ) -> str:
        if field == "sex":
            return parse_sex(value).value
        if field == "nationality":
            return parse_nationality(value).value
        if field == "birth_province":
            return parse_province(value)
        if field == "born":
            born = parse_date(value, "date of birth")
            check(
                NoBirthBefore1900(born),
                DateCannotBeInFuture("date of birth", born, today),
                LifeEventsMustFollowBirth(born, self.died_on, self.renounced_on),
                RegistrationCannotPrecedeBirth(born, self.registered_on),
            )
            check_parents(born, father, mother)
            return born.isoformat()
        return clean_text(value, field.replace("_", " "))

    def _prefix_with(self, field: str, new: str) -> str:
        sex = Sex(new) if field == "sex" else self.sex
        year = date.fromisoformat(new).year if field == "born" else self.born.year
        province = new if field == "birth_province" else self.birth_province
        return f"{province}{century_sex_digit(sex, year)}{year % 100:02d}"

    def _change_nationality(
        self, basis: ActBasis, new: Nationality, kind: ChangeKind, effective: date
    ) -> ChangeOutcome:
        check(
            NoNationalityChangeAfterRenunciation(self.renounced_on),
            NationalityEndsOnlyByRenunciation(self.nationality, new, kind),
        )
        if new is Nationality.VIETNAMESE:
            if self.id_number is None and self.renounced_on is None:
                check(NewNumberCannotPrecedeRegistration(effective, self.registered_on))
            self._trigger(NationalityDetermined, basis, effective, nationality=new, kind=kind)
            self.follow_nationality_determined(basis, effective)
            return ChangeOutcome(
                needs_number=self.id_number is None, reason="nationality_determined"
            )
        if self.id_number is not None and self.nationality is Nationality.VIETNAMESE:
            self._trigger(
                IdNumberCancelled,
                basis,
                effective,
                id_number=self.id_number,
                reason="record_corrected",
            )
        self._trigger(
            RecordChanged,
            basis,
            effective,
            field="nationality",
            kind=kind,
            old_value=self.nationality.value,
            new_value=new.value,
        )
        if new is not Nationality.UNDETERMINED:
            self.follow_nationality_determined(basis, effective)
        return ChangeOutcome(needs_number=False)

    # ------------------------------------------------------------ state only

    @applies(BirthRegistered)
    def _birth_registered(self, e: BirthRegistered) -> None:
        self.name = e.name
        self.sex = e.sex
        self.born = e.born
        self.birth_province = e.birth_province
        self.nationality = e.nationality
        self.ethnicity = e.ethnicity
        self.place_of_birth = e.place_of_birth
        self.father_id = e.father_id
        self.mother_id = e.mother_id
        self.registered_on = e.registered_on
        self.vietnamese_since = e.born if e.nationality is Nationality.VIETNAMESE else None

    @applies(IdNumberAssigned)
    def _id_number_assigned(self, e: IdNumberAssigned) -> None:
        self.id_number = e.id_number
        self._card_data_changed(e.occurred_on)

    @applies(IdNumberCancelled)
    def _id_number_cancelled(self, e: IdNumberCancelled) -> None:
        if self.id_number == e.id_number:
            self.id_number = None
        self.cancelled_id_numbers = [*self.cancelled_id_numbers, e.id_number]

    @applies(NationalityRenounced)
    def _nationality_renounced(self, e: NationalityRenounced) -> None:
        # Vietnamese nationality ends on the decision's effective date (`occurred_on`). The
        # number stays recorded against the person: no rule of the register cancels it.
        self.renounced_on = e.occurred_on
        self.nationality = Nationality.RENOUNCED
        self.vietnamese_since = None
        self._acted_on(e.occurred_on)

    @applies(NationalityDetermined)
    def _nationality_determined(self, e: NationalityDetermined) -> None:
        self.nationality = e.nationality
        if e.nationality is Nationality.VIETNAMESE:
            # A correction says the record was wrong: Vietnamese from birth.
            self.vietnamese_since = self.born if e.kind == "correction" else e.occurred_on
        if e.kind != "correction":
            self._acted_on(e.occurred_on)

    @applies(DeathRegistered)
    def _death_registered(self, e: DeathRegistered) -> None:
        self.died_on = e.occurred_on
        self.death_place = e.place

    @applies(RecordChanged)
    def _record_changed(self, e: RecordChanged) -> None:
        value = e.new_value
        if e.field == "sex":
            self.sex = Sex(value)
        elif e.field == "born":
            born = date.fromisoformat(value)
            if self.vietnamese_since == self.born:  # Vietnamese from birth: the new birth
                self.vietnamese_since = born
            self.born = born
        elif e.field == "nationality":
            self.nationality = Nationality(value)
            self.vietnamese_since = None  # only `NationalityDetermined` makes it Vietnamese
        else:
            setattr(self, e.field, value)
        if e.field in CARD_FIELDS:
            self._card_data_changed(e.occurred_on)
        if e.kind != "correction":
            self._acted_on(e.occurred_on)

    def _acted_on(self, on: date) -> None:
        if self.latest_act_on is None or on > self.latest_act_on:
            self.latest_act_on = on

    @applies(MergedAsDuplicate)
    def _merged_as_duplicate(self, e: MergedAsDuplicate) -> None:
        self.merged_into = e.survivor_id
        self.merged_into_id_number = e.survivor_id_number


def check_parents(
    born: date,
    father: PersonRecord | None,
    mother: PersonRecord | None,
    *,
    naming: bool = False,
) -> None:
    """The rules a child's date of birth must meet against its parents: at a birth, and
    whenever the date of birth changes. `naming` (a birth, which names the parents) also
    checks who they are: not a merged record, and of their role's sex. A later change of a
    parent (a sex re-determined, a merge) does not undo parenthood, so a correction of the
    child's date of birth checks only the dates."""
    for role, parent in (("father", father), ("mother", mother)):
        if parent is None:
            continue
        if naming:
            check(ParentMustNotBeMerged(role, parent), ParentSexMustFitRole(role, parent))
        check(
            ParentMustBeBornBeforeChild(role, parent.born, born),
            ParentAgeMustBePlausible(role, parent, born),
        )
    if mother is not None:
        check(MotherMustBeAliveAtBirth(mother, born))
    if father is not None:
        check(FatherDeathAtMost300DaysBeforeBirth(father, born))
