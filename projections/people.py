"""`people`: the current state of every person, the `show --json` fields plus a folded name.

Every person event is handled, so that `version` follows the person aggregate's version; the
residence, household and record-cleaning events change nothing else here (the `statistics`
model keeps what the report counts of them), nor do the identity-document events (the `cards`
model keeps those).
"""

from __future__ import annotations

import json
from typing import Any

from domain.events import (
    AbodeDeclared,
    BirthRegistered,
    CardIssued,
    CardReturned,
    CardRevoked,
    CardWithheld,
    DeathRegistered,
    DeletionProposalWithdrawn,
    DeletionProposed,
    ElectronicIdentityCreated,
    ElectronicIdentityLocked,
    ElectronicIdentityUnlocked,
    HouseholdRoleChanged,
    IdentityCertificateIssued,
    IdentityCertificateRevoked,
    IdNumberAssigned,
    IdNumberCancelled,
    MergedAsDuplicate,
    NationalityDetermined,
    NationalityRenounced,
    PersonEvent,
    RecordChanged,
    RecordConfirmed,
    ResidenceEnded,
    ResidenceRegistered,
    TemporaryResidenceExtended,
)
from domain.values import Nationality
from projections.projection import Changes, Projection, folded, handles, key_of
from projections.tables import Table
from projections.views import Row

PEOPLE = Table(
    name="people",
    columns=(
        "person_id",
        "name",
        "name_folded",
        "id_number",
        "cancelled_id_numbers",
        "sex",
        "born",
        "birth_province",
        "nationality",
        "status",
        "merged_into",
        "merged_into_id",
        "died_on",
        "renounced_on",
        "ethnicity",
        "place_of_birth",
        "father_id",
        "mother_id",
        "registered_on",
        "version",
    ),
    key=("person_id",),
    ints=frozenset({"version"}),
    indexes=(("name_folded", "born", "birth_province"), ("born",), ("id_number",)),
)

#: Columns that are a person's `show --json` document as they stand.
_DOCUMENT_TEXT = (
    "person_id",
    "id_number",
    "name",
    "sex",
    "born",
    "birth_province",
    "nationality",
    "status",
    "merged_into",
    "died_on",
    "version",
    "ethnicity",
    "place_of_birth",
    "father_id",
    "mother_id",
    "registered_on",
    "renounced_on",
)


def person_document(row: Row) -> dict[str, Any]:
    """The row as the `show --json` document of the person."""
    document = {column: row[column] for column in _DOCUMENT_TEXT}
    document["cancelled_id_numbers"] = json.loads(row["cancelled_id_numbers"])
    return document


def status_of(row: Row) -> str:
    """The same precedence as the person record: merged, deceased, renounced, active."""
    if row["merged_into_id"] is not None:
        return "merged"
    if row["died_on"] is not None:
        return "deceased"
    if row["renounced_on"] is not None:
        return "renounced"
    return "active"


class PeopleProjection(Projection):
    name = "people"
    tables = (PEOPLE,)
    person_table = PEOPLE

    def _row(self, event: PersonEvent, changes: Changes) -> Row | None:
        row = changes.touch(PEOPLE, key_of(event.originator_id))
        if row is not None:
            row["version"] = event.originator_version
        return row

    @staticmethod
    def _settle(row: Row) -> None:
        row["status"] = status_of(row)

    @handles(BirthRegistered)
    def _birth_registered(self, e: BirthRegistered, changes: Changes) -> None:
        changes.put(
            PEOPLE,
            {
                "person_id": key_of(e.originator_id),
                "name": e.name,
                "name_folded": folded(e.name),
                "id_number": None,
                "cancelled_id_numbers": "[]",
                "sex": e.sex.value,
                "born": e.born.isoformat(),
                "birth_province": e.birth_province,
                "nationality": e.nationality.value,
                "status": "active",
                "merged_into": None,
                "merged_into_id": None,
                "died_on": None,
                "renounced_on": None,
                "ethnicity": e.ethnicity,
                "place_of_birth": e.place_of_birth,
                "father_id": str(e.father_id) if e.father_id else None,
                "mother_id": str(e.mother_id) if e.mother_id else None,
                "registered_on": e.registered_on.isoformat(),
                "version": e.originator_version,
            },
        )

    @handles(IdNumberAssigned)
    def _id_number_assigned(self, e: IdNumberAssigned, changes: Changes) -> None:
        if (row := self._row(e, changes)) is not None:
            row["id_number"] = e.id_number

    @handles(IdNumberCancelled)
    def _id_number_cancelled(self, e: IdNumberCancelled, changes: Changes) -> None:
        if (row := self._row(e, changes)) is not None:
            if row["id_number"] == e.id_number:
                row["id_number"] = None
            cancelled = json.loads(row["cancelled_id_numbers"])
            row["cancelled_id_numbers"] = json.dumps([*cancelled, e.id_number])

    @handles(NationalityRenounced)
    def _nationality_renounced(self, e: NationalityRenounced, changes: Changes) -> None:
        if (row := self._row(e, changes)) is not None:
            row["renounced_on"] = e.occurred_on.isoformat()
            row["nationality"] = Nationality.RENOUNCED.value
            self._settle(row)

    @handles(NationalityDetermined)
    def _nationality_determined(self, e: NationalityDetermined, changes: Changes) -> None:
        if (row := self._row(e, changes)) is not None:
            row["nationality"] = e.nationality.value

    @handles(DeathRegistered)
    def _death_registered(self, e: DeathRegistered, changes: Changes) -> None:
        if (row := self._row(e, changes)) is not None:
            row["died_on"] = e.occurred_on.isoformat()
            self._settle(row)

    @handles(RecordChanged)
    def _record_changed(self, e: RecordChanged, changes: Changes) -> None:
        if (row := self._row(e, changes)) is not None:
            row[e.field] = e.new_value
            if e.field == "name":
                row["name_folded"] = folded(e.new_value)

    @handles(MergedAsDuplicate)
    def _merged_as_duplicate(self, e: MergedAsDuplicate, changes: Changes) -> None:
        if (row := self._row(e, changes)) is not None:
            row["merged_into_id"] = str(e.survivor_id)
            row["merged_into"] = e.survivor_id_number or str(e.survivor_id)
            self._settle(row)

    # Residence, households and record cleaning: only the version moves.

    @handles(ResidenceRegistered)
    def _residence_registered(self, e: ResidenceRegistered, changes: Changes) -> None:
        self._row(e, changes)

    @handles(ResidenceEnded)
    def _residence_ended(self, e: ResidenceEnded, changes: Changes) -> None:
        self._row(e, changes)

    @handles(TemporaryResidenceExtended)
    def _temporary_extended(self, e: TemporaryResidenceExtended, changes: Changes) -> None:
        self._row(e, changes)

    @handles(AbodeDeclared)
    def _abode_declared(self, e: AbodeDeclared, changes: Changes) -> None:
        self._row(e, changes)

    @handles(HouseholdRoleChanged)
    def _household_role_changed(self, e: HouseholdRoleChanged, changes: Changes) -> None:
        self._row(e, changes)

    @handles(RecordConfirmed)
    def _record_confirmed(self, e: RecordConfirmed, changes: Changes) -> None:
        self._row(e, changes)

    @handles(DeletionProposed)
    def _deletion_proposed(self, e: DeletionProposed, changes: Changes) -> None:
        self._row(e, changes)

    @handles(DeletionProposalWithdrawn)
    def _deletion_withdrawn(self, e: DeletionProposalWithdrawn, changes: Changes) -> None:
        self._row(e, changes)

    # Identity cards, the electronic identity and certificates: only the version moves.

    @handles(CardIssued)
    def _card_issued(self, e: CardIssued, changes: Changes) -> None:
        self._row(e, changes)

    @handles(CardRevoked)
    def _card_revoked(self, e: CardRevoked, changes: Changes) -> None:
        self._row(e, changes)

    @handles(CardWithheld)
    def _card_withheld(self, e: CardWithheld, changes: Changes) -> None:
        self._row(e, changes)

    @handles(CardReturned)
    def _card_returned(self, e: CardReturned, changes: Changes) -> None:
        self._row(e, changes)

    @handles(ElectronicIdentityCreated)
    def _eid_created(self, e: ElectronicIdentityCreated, changes: Changes) -> None:
        self._row(e, changes)

    @handles(ElectronicIdentityLocked)
    def _eid_locked(self, e: ElectronicIdentityLocked, changes: Changes) -> None:
        self._row(e, changes)

    @handles(ElectronicIdentityUnlocked)
    def _eid_unlocked(self, e: ElectronicIdentityUnlocked, changes: Changes) -> None:
        self._row(e, changes)

    @handles(IdentityCertificateIssued)
    def _certificate_issued(self, e: IdentityCertificateIssued, changes: Changes) -> None:
        self._row(e, changes)

    @handles(IdentityCertificateRevoked)
    def _certificate_revoked(self, e: IdentityCertificateRevoked, changes: Changes) -> None:
        self._row(e, changes)
