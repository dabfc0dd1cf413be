"""`cards`: every person's identity documents, enough to answer `card show`, `cards due` and
the report's `cards` counts without replaying a single event.

One row per person (a birth creates it). It keeps what a card carries of the record as the
record stands now (number, name, date of birth, sex), the birth province, date of death, merge
and nationality, and the person's `IdentityFile` as JSON. The handlers change that file only
through the `IdentityFile` methods the person aggregate's `@applies` methods call, with the
same `card_of` and `certificate_of`, and call `record_changed` on the same facts (a number
assigned; a name, date of birth or sex changed), so the model and a replayed record never
disagree.

Beside the JSON, plain columns say what the card's status on any day, and the report's
counts, need: whether a card is held, revoked, withheld, no longer matches the record, when it
expires, the eid's state; and `due_on`/`due_reason`, from `IdentityFile.renewal_due`, indexed
so that `cards due` reads the soonest renewals from an index rather than scanning.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from domain.cardholder import card_of, certificate_of
from domain.events import (
    BirthRegistered,
    CardIssued,
    CardReturned,
    CardRevoked,
    CardWithheld,
    DeathRegistered,
    ElectronicIdentityCreated,
    ElectronicIdentityLocked,
    ElectronicIdentityUnlocked,
    IdentityCertificateIssued,
    IdentityCertificateRevoked,
    IdNumberAssigned,
    IdNumberCancelled,
    MergedAsDuplicate,
    NationalityDetermined,
    NationalityRenounced,
    PersonEvent,
    RecordChanged,
    RegisterEvent,
)
from domain.identity import CardData, Holder, IdentityFile
from domain.person import CARD_FIELDS
from domain.values import Nationality
from projections.projection import Changes, Projection, handles, key_of
from projections.tables import Table
from projections.views import Row

CARDS = Table(
    name="cards",
    columns=(
        "person_id",
        "id_number",
        "name",
        "born",
        "sex",
        "birth_province",
        "nationality",
        "died_on",
        "merged",
        "identity",
        "due_on",
        "due_reason",
        "has_card",
        "card_expires_on",
        "card_revoked",
        "card_withheld",
        "card_mismatch",
        "eid",
    ),
    key=("person_id",),
    ints=frozenset({"merged", "has_card", "card_revoked", "card_withheld", "card_mismatch"}),
    # `cards due` reads renewals soonest first, straight from an index, across the country or
    # in one birth province; the person id orders equal days without a sort.
    indexes=(("due_on", "person_id"), ("birth_province", "due_on", "person_id")),
)

_EMPTY = IdentityFile()


def identity_of(row: Row) -> IdentityFile:
    """The person's identity file as the row keeps it (none kept: an empty file)."""
    text = row["identity"]
    return IdentityFile.from_document(json.loads(text)) if text else _EMPTY


def holder_of(row: Row) -> Holder:
    """The record, as a card's status reads it, from the row."""
    died_on = row["died_on"]
    return Holder(
        CardData(row["id_number"], row["name"], date.fromisoformat(row["born"]), row["sex"]),
        date.fromisoformat(died_on) if died_on else None,
        bool(row["merged"]),
    )


def settle(row: Row, file: IdentityFile) -> None:
    """Write `file` into the row, with the columns derived from it and the record."""
    holder = holder_of(row)
    card = file.card
    due = file.renewal_due(holder)
    eid = file.eid
    row.update(
        identity=None
        if file == _EMPTY
        else json.dumps(file.to_document(), ensure_ascii=False, separators=(",", ":")),
        due_on=due[0].isoformat() if due else None,
        due_reason=due[1] if due else None,
        has_card=int(card is not None),
        card_expires_on=card.expires_on.isoformat() if card and card.expires_on else None,
        card_revoked=int(card is not None and card.revoked is not None),
        card_withheld=int(file.withheld is not None),
        card_mismatch=int(file.mismatch(holder) is not None),
        eid=None if eid is None else ("locked" if eid.locked else "active"),
    )


class CardsProjection(Projection):
    name = "cards"
    tables = (CARDS,)
    person_table = CARDS

    def __init__(self) -> None:
        #: The batch's identity files, parsed once per person, written back by `finish`.
        self._files: dict[str, IdentityFile] = {}
        self._rows: dict[str, Row] = {}

    def apply(self, events: Sequence[RegisterEvent], changes: Changes) -> None:
        self._files.clear()  # a batch that failed half-way must leave nothing behind
        self._rows.clear()
        super().apply(events, changes)

    def finish(self, changes: Changes) -> None:
        for key, row in self._rows.items():
            settle(row, self._files[key])
        self._files.clear()
        self._rows.clear()

    def _row(self, event: PersonEvent, changes: Changes) -> Row | None:
        """The person's row, marked as changed, with its file parsed for this batch."""
        key = key_of(event.originator_id)
        row = changes.touch(CARDS, key)
        if row is not None and key not in self._rows:
            self._rows[key] = row
            self._files[key] = identity_of(row)
        return row

    def _file(self, event: PersonEvent, changes: Changes, fact: Callable[..., Any]) -> None:
        """Apply one `IdentityFile` fact to the person's file: `fact(file)` gives the next."""
        if self._row(event, changes) is not None:
            key = key_of(event.originator_id)
            self._files[key] = fact(self._files[key])

    # -------------------------------------------------------------- the record

    @handles(BirthRegistered)
    def _birth_registered(self, e: BirthRegistered, changes: Changes) -> None:
        key = key_of(e.originator_id)
        row: Row = {
            "person_id": key,
            "id_number": None,
            "name": e.name,
            "born": e.born.isoformat(),
            "sex": e.sex.value,
            "birth_province": e.birth_province,
            "nationality": e.nationality.value,
            "died_on": None,
            "merged": 0,
            "identity": None,
        }
        changes.put(CARDS, row)
        self._rows[key] = row
        self._files[key] = _EMPTY

    @handles(IdNumberAssigned)
    def _id_number_assigned(self, e: IdNumberAssigned, changes: Changes) -> None:
        if (row := self._row(e, changes)) is not None:
            row["id_number"] = e.id_number
            self._file(e, changes, lambda file: file.record_changed(e.occurred_on))

    @handles(IdNumberCancelled)
    def _id_number_cancelled(self, e: IdNumberCancelled, changes: Changes) -> None:
        if (row := self._row(e, changes)) is not None and row["id_number"] == e.id_number:
            row["id_number"] = None

    @handles(RecordChanged)
    def _record_changed(self, e: RecordChanged, changes: Changes) -> None:
        if (row := self._row(e, changes)) is None:
            return
        if e.field in CARD_FIELDS or e.field in ("birth_province", "nationality"):
            row[e.field] = e.new_value
        if e.field in CARD_FIELDS:
            self._file(e, changes, lambda file: file.record_changed(e.occurred_on))

    @handles(NationalityRenounced)
    def _nationality_renounced(self, e: NationalityRenounced, changes: Changes) -> None:
        if (row := self._row(e, changes)) is not None:
            row["nationality"] = Nationality.RENOUNCED.value

    @handles(NationalityDetermined)
    def _nationality_determined(self, e: NationalityDetermined, changes: Changes) -> None:
        if (row := self._row(e, changes)) is not None:
            row["nationality"] = e.nationality.value

    @handles(DeathRegistered)
    def _death_registered(self, e: DeathRegistered, changes: Changes) -> None:
        if (row := self._row(e, changes)) is not None:
            row["died_on"] = e.occurred_on.isoformat()

    @handles(MergedAsDuplicate)
    def _merged_as_duplicate(self, e: MergedAsDuplicate, changes: Changes) -> None:
        if (row := self._row(e, changes)) is not None:
            row["merged"] = 1

    # ---------------------------------------------------- the identity documents

    @handles(CardIssued)
    def _card_issued(self, e: CardIssued, changes: Changes) -> None:
        self._file(e, changes, lambda file: file.issued(card_of(e)))

    @handles(CardRevoked)
    def _card_revoked(self, e: CardRevoked, changes: Changes) -> None:
        self._file(e, changes, lambda file: file.revoked(e.ground, e.occurred_on))

    @handles(CardWithheld)
    def _card_withheld(self, e: CardWithheld, changes: Changes) -> None:
        self._file(e, changes, lambda file: file.withheld_for(e.ground, e.occurred_on))

    @handles(CardReturned)
    def _card_returned(self, e: CardReturned, changes: Changes) -> None:
        self._file(e, changes, lambda file: file.returned(e.occurred_on))

    @handles(ElectronicIdentityCreated)
    def _eid_created(self, e: ElectronicIdentityCreated, changes: Changes) -> None:
        self._file(e, changes, lambda file: file.eid_created(e.occurred_on))

    @handles(ElectronicIdentityLocked)
    def _eid_locked(self, e: ElectronicIdentityLocked, changes: Changes) -> None:
        self._file(e, changes, lambda file: file.eid_locked(e.ground, e.occurred_on))

    @handles(ElectronicIdentityUnlocked)
    def _eid_unlocked(self, e: ElectronicIdentityUnlocked, changes: Changes) -> None:
        self._file(e, changes, lambda file: file.eid_unlocked(e.occurred_on))

    @handles(IdentityCertificateIssued)
    def _certificate_issued(self, e: IdentityCertificateIssued, changes: Changes) -> None:
        self._file(e, changes, lambda file: file.certificate_issued(certificate_of(e)))

    @handles(IdentityCertificateRevoked)
    def _certificate_revoked(self, e: IdentityCertificateRevoked, changes: Changes) -> None:
        self._file(e, changes, lambda file: file.certificate_revoked(e.ground, e.occurred_on))
