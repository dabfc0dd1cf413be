"""Answers from the `cards` model: one person's cards, who must renew by when, and the report's
`cards` counts. Nothing here replays an event; a model never built answers as empty."""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.errors import UnknownPerson
from domain.identity import MANDATORY_AGE
from domain.residence import years_after
from domain.values import IdNumber, Nationality, PersonRef
from projections.cards import CARDS, holder_of, identity_of
from projections.id_registry import ID_NUMBERS
from projections.views import Row, ViewDatabase

#: Holders `cards due` lists unless told otherwise.
DUE_LIMIT = 100

#: The report's `cards` keys, in order.
CARD_REPORT_KEYS = (
    "valid",
    "expired",
    "renewal_due",
    "revoked",
    "withheld",
    "citizens_14_and_over_without_valid_card",
    "eids_active",
    "eids_locked",
)

#: A card's status on the day `?` (given twice), as `IdentityFile.status` decides it, with
#: `merged` for a merged record: merged, deceased, none, revoked, withheld, expired, renewal
#: due, valid.
_STATUS = (
    "CASE WHEN merged = 1 THEN 'merged' "
    "WHEN died_on IS NOT NULL AND died_on <= ? THEN 'holder_deceased' "
    "WHEN has_card = 0 THEN 'none' "
    "WHEN card_revoked = 1 THEN 'revoked' "
    "WHEN card_withheld = 1 THEN 'withheld' "
    "WHEN card_expires_on IS NOT NULL AND card_expires_on < ? THEN 'expired' "
    "WHEN card_mismatch = 1 THEN 'renewal_due' "
    "ELSE 'valid' END"
)
#: Statuses that leave a citizen aged 14 or over without a valid card.
_WITHOUT_VALID = ("none", "expired", "revoked")


def _built(views: ViewDatabase, *tables: Any) -> bool:
    return all(views.has_table(t.physical()) for t in tables)


def card_row(views: ViewDatabase, ref: PersonRef) -> Row:
    """The person's `cards` row, by a current or cancelled ID number or a person UUID
    (`UnknownPerson`, exit 4, for neither)."""
    columns = ", ".join(f"c.{column}" for column in CARDS.columns)
    found: list[tuple[Any, ...]] = []
    if isinstance(ref, IdNumber):
        if _built(views, CARDS, ID_NUMBERS):
            found = views.query(
                f"SELECT {columns} FROM {ID_NUMBERS.physical()} n "
                f"JOIN {CARDS.physical()} c ON c.person_id = n.person_id WHERE n.id_number = ?",
                (str(ref),),
            )
        missing = f"no person holds or held ID number {ref}"
    else:
        if _built(views, CARDS):
            found = views.query(
                f"SELECT {columns} FROM {CARDS.physical()} c WHERE c.person_id = ?", (str(ref),)
            )
        missing = f"no person record {ref}"
    if not found:
        raise UnknownPerson(missing)
    return dict(zip(CARDS.columns, found[0], strict=True))


def card_document(views: ViewDatabase, ref: PersonRef, on: date) -> dict[str, Any]:
    """The `card show --json` document of the person, with the status on `on`."""
    row = card_row(views, ref)
    return identity_of(row).document(holder_of(row), on)


def cards_due(
    views: ViewDatabase, by: date, province: str | None = None, limit: int = DUE_LIMIT
) -> list[dict[str, Any]]:
    """Holders who must renew on or before `by` (born in `province`, if given), soonest
    first (equal days by person id), at most `limit`: read from the index on the due day."""
    if not _built(views, CARDS):
        return []
    where = "due_on <= ?"
    params: list[Any] = [by.isoformat()]
    if province is not None:
        where = "birth_province = ? AND " + where
        params.insert(0, province)
    rows = views.query(
        f"SELECT id_number, name, due_reason, due_on, person_id FROM {CARDS.physical()} "
        f"WHERE {where} ORDER BY due_on, person_id LIMIT ?",
        (*params, limit),
    )
    return [
        {"id_number": number, "name": name, "reason": reason, "due": due, "person_id": person}
        for number, name, reason, due, person in rows
    ]


def card_counts(views: ViewDatabase, on: date) -> dict[str, int]:
    """The report's `cards` counts on `on`: cards by status among living, unmerged records;
    Vietnamese citizens with a number, aged 14 or over, whose card is none, expired or
    revoked; and electronic identities, active or locked, over every record."""
    counts = dict.fromkeys(CARD_REPORT_KEYS, 0)
    if not _built(views, CARDS):
        return counts
    day = on.isoformat()
    fourteen = years_after(on, -MANDATORY_AGE).isoformat()  # born on or before: 14 or over
    rows = views.query(
        f"SELECT status, citizen, eid, COUNT(*) FROM (SELECT {_STATUS} AS status, "
        "CASE WHEN nationality = ? AND id_number IS NOT NULL AND born <= ? THEN 1 ELSE 0 END "
        f"AS citizen, eid FROM {CARDS.physical()}) s GROUP BY status, citizen, eid",
        (day, day, Nationality.VIETNAMESE.value, fourteen),
    )
    for status, citizen, eid, found in rows:
        number = int(found)
        if status in counts:
            counts[status] += number
        if citizen and status in _WITHOUT_VALID:
            counts["citizens_14_and_over_without_valid_card"] += number
        if eid is not None:
            counts[f"eids_{eid}"] += number
    return counts
