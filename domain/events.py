"""The event catalogue: immutable facts, in the past tense, each with a stable topic.

Every event carries the legal date of its act (`occurred_on`) apart from the moment it was
recorded (`recorded_at`), and the act's basis: clerk, office and reference. Topics are fixed
strings, so moving or renaming a module never breaks stored history. A change to an event's
fields raises its `class_version` and adds an `upcast_vN_vN+1` static method (see docs/events.md).
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.values import Nationality, Sex


class RegisterEvent(BaseModel):
    """Base of every stored event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TOPIC: ClassVar[str]
    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    recorded_at: AwareDatetime
    occurred_on: date
    clerk: str
    office: str
    reference: str

    def data(self) -> dict[str, Any]:
        """The event's own fields, without the envelope shared by all events."""
        return self.model_dump(mode="json", exclude=_ENVELOPE)


_ENVELOPE = {
    "originator_id",
    "originator_version",
    "recorded_at",
    "occurred_on",
    "clerk",
    "office",
    "reference",
}


class PersonEvent(RegisterEvent):
    """An event in the life of one person record."""


class BirthRegistered(PersonEvent):
    """A birth was registered (khai sinh). `occurred_on` is the day of birth."""

    TOPIC = "civledger.person.BirthRegistered"

    name: str
    sex: Sex
    born: date
    birth_province: str
    nationality: Nationality
    ethnicity: str | None = None
    place_of_birth: str | None = None
    father_id: UUID | None = None
    mother_id: UUID | None = None
    registered_on: date


IdNumberAssignedReason = Literal["birth_registered", "nationality_determined", "record_corrected"]
IdNumberCancelledReason = Literal["record_corrected", "merged_as_duplicate"]


class IdNumberAssigned(PersonEvent):
    """A personal ID number was set up for the person."""

    TOPIC = "civledger.person.IdNumberAssigned"

    id_number: str
    reason: IdNumberAssignedReason


class IdNumberCancelled(PersonEvent):
    """The person's ID number was cancelled; it stays recorded against them, never reissued."""

    TOPIC = "civledger.person.IdNumberCancelled"

    id_number: str
    reason: IdNumberCancelledReason


class NationalityRenounced(PersonEvent):
    """Vietnamese nationality ended by presidential decision, effective on `occurred_on`."""

    TOPIC = "civledger.person.NationalityRenounced"


class NationalityDetermined(PersonEvent):
    """The nationality of a person recorded without one was determined."""

    TOPIC = "civledger.person.NationalityDetermined"

    nationality: Nationality
    kind: str


class DeathRegistered(PersonEvent):
    """A death was registered (khai tử); `occurred_on` is the day of death."""

    TOPIC = "civledger.person.DeathRegistered"

    place: str | None = None


ChangeKind = Literal["change", "correction", "supplement", "redetermination"]
ChangeField = Literal[
    "name", "sex", "born", "birth_province", "ethnicity", "nationality", "place_of_birth"
]


class RecordChanged(PersonEvent):
    """A field of the record was changed, corrected, supplemented or re-determined."""

    TOPIC = "civledger.person.RecordChanged"

    field: ChangeField
    kind: ChangeKind
    old_value: str | None
    new_value: str


class MergedAsDuplicate(PersonEvent):
    """The record was found to duplicate an earlier one and was merged into it."""

    TOPIC = "civledger.person.MergedAsDuplicate"

    survivor_id: UUID
    survivor_id_number: str | None


ResidenceKindName = Literal["permanent", "temporary"]


class ResidenceRegistered(PersonEvent):
    """A permanent (thường trú) or temporary (tạm trú) residence was registered, effective
    `occurred_on`. A permanent one names the household the person heads or joined."""

    TOPIC = "civledger.person.ResidenceRegistered"

    kind: ResidenceKindName
    commune: str
    address: str
    until: date | None = None
    household: str | None = None
    relation: str | None = None


class ResidenceEnded(PersonEvent):
    """A residence was deregistered (xóa đăng ký), on a ground of Art. 24(1) or 29(1), or as
    the effect of another act (death, a merge, a new permanent residence, a split)."""

    TOPIC = "civledger.person.ResidenceEnded"

    kind: ResidenceKindName
    ground: str


class TemporaryResidenceExtended(PersonEvent):
    """A temporary residence was extended (gia hạn tạm trú) until `until`."""

    TOPIC = "civledger.person.TemporaryResidenceExtended"

    until: date


class AbodeDeclared(PersonEvent):
    """A current abode (nơi ở hiện tại, Art. 19) was declared by a person with neither a
    permanent nor a temporary residence."""

    TOPIC = "civledger.person.AbodeDeclared"

    commune: str
    address: str


class HouseholdRoleChanged(PersonEvent):
    """The person's place in a household changed without a new residence: they became its
    head, stopped being it, or moved to a household split off at the same address."""

    TOPIC = "civledger.person.HouseholdRoleChanged"

    household: str | None
    relation: str | None


class RecordConfirmed(PersonEvent):
    """The police checked and confirmed the record (kiểm tra, phúc tra): it is cleaned."""

    TOPIC = "civledger.person.RecordConfirmed"


class DeletionProposed(PersonEvent):
    """The local police proposed to delete the record."""

    TOPIC = "civledger.person.DeletionProposed"

    reason: str


class DeletionProposalWithdrawn(PersonEvent):
    """A proposal to delete the record was withdrawn."""

    TOPIC = "civledger.person.DeletionProposalWithdrawn"


class CardIssued(PersonEvent):
    """An identity card (thẻ căn cước) was issued, renewed or re-issued on `occurred_on`. It
    carries the record's number, name, date of birth and sex as they were that day, and its
    expiry under Art. 21 (None: it does not expire). A new card replaces the previous one."""

    TOPIC = "civledger.person.CardIssued"

    reason: str
    expires_on: date | None
    id_number: str
    name: str
    born: date
    sex: Sex


class CardRevoked(PersonEvent):
    """The card was revoked (thu hồi, Art. 29(1)): nationality lost, issued wrongly, tampered."""

    TOPIC = "civledger.person.CardRevoked"

    ground: str


class CardWithheld(PersonEvent):
    """The card was withheld (tạm giữ, Art. 29(2)) while its holder is held."""

    TOPIC = "civledger.person.CardWithheld"

    ground: str


class CardReturned(PersonEvent):
    """A withheld card was returned to its holder on release."""

    TOPIC = "civledger.person.CardReturned"


class ElectronicIdentityCreated(PersonEvent):
    """The citizen's electronic identity (căn cước điện tử, Art. 31) was created."""

    TOPIC = "civledger.person.ElectronicIdentityCreated"


class ElectronicIdentityLocked(PersonEvent):
    """The electronic identity was locked on a ground of Art. 34."""

    TOPIC = "civledger.person.ElectronicIdentityLocked"

    ground: str


class ElectronicIdentityUnlocked(PersonEvent):
    """The electronic identity was unlocked: the cause of its lock ended."""

    TOPIC = "civledger.person.ElectronicIdentityUnlocked"


class IdentityCertificateIssued(PersonEvent):
    """An identity certificate (giấy chứng nhận căn cước, Art. 30) was issued to a person of
    Vietnamese origin whose nationality is undetermined; a new one replaces the previous one."""

    TOPIC = "civledger.person.IdentityCertificateIssued"

    reason: str
    name: str
    born: date
    sex: Sex


class IdentityCertificateRevoked(PersonEvent):
    """The identity certificate ended: the holder's nationality was determined, or it was
    issued wrongly or tampered with."""

    TOPIC = "civledger.person.IdentityCertificateRevoked"

    ground: str


class HouseholdEvent(RegisterEvent):
    """An event in the life of a household (hộ gia đình). Its aggregate id derives from the
    household number."""


class HouseholdEstablished(HouseholdEvent):
    """A household was set up at an address, with its head; `split_from` names the household
    it was split from (Art. 25), if any."""

    TOPIC = "civledger.household.HouseholdEstablished"

    household: str
    commune: str
    address: str
    head_id: UUID
    split_from: str | None = None


class HouseholdMemberJoined(HouseholdEvent):
    TOPIC = "civledger.household.HouseholdMemberJoined"

    person_id: UUID
    relation: str


class HouseholdMemberLeft(HouseholdEvent):
    TOPIC = "civledger.household.HouseholdMemberLeft"

    person_id: UUID
    ground: str


class HouseholdHeadChanged(HouseholdEvent):
    """An adult member became the head (Art. 26)."""

    TOPIC = "civledger.household.HouseholdHeadChanged"

    head_id: UUID


class HouseholdHeadVacated(HouseholdEvent):
    """The household has no head: its head died, was merged away, left, or moved by a split.
    It stays without one until an adult member is named (`change-head`)."""

    TOPIC = "civledger.household.HouseholdHeadVacated"

    ground: str


class IdNumberClaimed(RegisterEvent):
    """A number was claimed, forever, for one person. Its aggregate id derives from the number."""

    TOPIC = "civledger.registry.IdNumberClaimed"

    id_number: str
    person_id: UUID


class ActRecorded(RegisterEvent):
    """An act (kind, office, reference) was recorded; makes retries of the same act idempotent.

    Version 2 adds `household`: the household the act set up (a permanent residence with a
    new household, a split), so that a later row of an import file can name that household by
    the act, before anyone has seen its number."""

    TOPIC = "civledger.registry.ActRecorded"
    class_version: ClassVar[int] = 2

    kind: str
    fingerprint: str
    person_id: UUID
    household: str | None = None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["household"] = None


class LookAlikeNoted(RegisterEvent):
    """A birth was registered for a person with this folded name, date of birth and birth
    province. Its aggregate id derives from those three, so two clerks registering look-alikes
    at once write the same aggregate's same version, and one of them must decide again."""

    TOPIC = "civledger.registry.LookAlikeNoted"

    person_id: UUID


PERSON_EVENTS: tuple[type[PersonEvent], ...] = (
    BirthRegistered,
    IdNumberAssigned,
    IdNumberCancelled,
    NationalityRenounced,
    NationalityDetermined,
    DeathRegistered,
    RecordChanged,
    MergedAsDuplicate,
    ResidenceRegistered,
    ResidenceEnded,
    TemporaryResidenceExtended,
    AbodeDeclared,
    HouseholdRoleChanged,
    RecordConfirmed,
    DeletionProposed,
    DeletionProposalWithdrawn,
    CardIssued,
    CardRevoked,
    CardWithheld,
    CardReturned,
    ElectronicIdentityCreated,
    ElectronicIdentityLocked,
    ElectronicIdentityUnlocked,
    IdentityCertificateIssued,
    IdentityCertificateRevoked,
)
HOUSEHOLD_EVENTS: tuple[type[HouseholdEvent], ...] = (
    HouseholdEstablished,
    HouseholdMemberJoined,
    HouseholdMemberLeft,
    HouseholdHeadChanged,
    HouseholdHeadVacated,
)
ALL_EVENTS: tuple[type[RegisterEvent], ...] = (
    *PERSON_EVENTS,
    *HOUSEHOLD_EVENTS,
    IdNumberClaimed,
    ActRecorded,
    LookAlikeNoted,
)
EVENTS_BY_TOPIC: dict[str, type[RegisterEvent]] = {cls.TOPIC: cls for cls in ALL_EVENTS}
PERSON_TOPICS: tuple[str, ...] = tuple(cls.TOPIC for cls in PERSON_EVENTS)
HOUSEHOLD_TOPICS: tuple[str, ...] = tuple(cls.TOPIC for cls in HOUSEHOLD_EVENTS)


# ------------------------------------------------------------------------ clerks
# A clerk's enrolment is its own stream (aggregate `domain.clerks.ClerkEnrolment`, one per
# database login), not an act of the civil register: see docs/events.md, "Clerks".


class ClerkEvent(RegisterEvent):
    """An event in the enrolment of one database login as a clerk. The envelope's `clerk` is
    the login of the operator who recorded it, its `office` the enrolment's office."""


class ClerkEnrolled(ClerkEvent):
    """A database login was enrolled as a clerk of an office, from `occurred_on`."""

    TOPIC = "civledger.clerk.ClerkEnrolled"

    login: str
    name: str
    enrolled_by: str


class ClerkRetired(ClerkEvent):
    """The login's enrolment ended on `occurred_on`; it may no longer append."""

    TOPIC = "civledger.clerk.ClerkRetired"

    login: str
    retired_by: str


CLERK_EVENTS: tuple[type[ClerkEvent], ...] = (ClerkEnrolled, ClerkRetired)
CLERK_TOPICS: tuple[str, ...] = tuple(cls.TOPIC for cls in CLERK_EVENTS)
EVENTS_BY_TOPIC.update({cls.TOPIC: cls for cls in CLERK_EVENTS})
