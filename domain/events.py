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


class IdNumberClaimed(RegisterEvent):
    """A number was claimed, forever, for one person. Its aggregate id derives from the number."""

    TOPIC = "civledger.registry.IdNumberClaimed"

    id_number: str
    person_id: UUID


class ActRecorded(RegisterEvent):
    """An act (kind, office, reference) was recorded; makes retries of the same act idempotent."""

    TOPIC = "civledger.registry.ActRecorded"

    kind: str
    fingerprint: str
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
)
ALL_EVENTS: tuple[type[RegisterEvent], ...] = (*PERSON_EVENTS, IdNumberClaimed, ActRecorded)
EVENTS_BY_TOPIC: dict[str, type[RegisterEvent]] = {cls.TOPIC: cls for cls in ALL_EVENTS}
PERSON_TOPICS: tuple[str, ...] = tuple(cls.TOPIC for cls in PERSON_EVENTS)
