"""`id_numbers`: every number ever assigned, its person, and when and why it was assigned or
cancelled. A cancelled number stays, against the person it was cancelled from."""

from __future__ import annotations

from collections.abc import Iterable

from domain.events import IdNumberAssigned, IdNumberCancelled, RegisterEvent
from projections.projection import Changes, Projection, handles, key_of
from projections.tables import Table

ID_NUMBERS = Table(
    name="id_numbers",
    columns=(
        "id_number",
        "person_id",
        "status",
        "assigned_on",
        "assigned_reason",
        "assigned_recorded_at",
        "assigned_reference",
        "cancelled_on",
        "cancelled_reason",
        "cancelled_recorded_at",
        "cancelled_reference",
    ),
    key=("id_number",),
    indexes=(("person_id",),),
)


class IdRegistryProjection(Projection):
    name = "id_numbers"
    tables = (ID_NUMBERS,)

    def needs(self, event: RegisterEvent) -> Iterable[tuple[Table, str]]:
        if isinstance(event, IdNumberAssigned | IdNumberCancelled):
            return ((ID_NUMBERS, event.id_number),)
        return ()

    def creates(self, event: RegisterEvent) -> Iterable[tuple[Table, str]]:
        if isinstance(event, IdNumberAssigned):
            return ((ID_NUMBERS, event.id_number),)
        return ()

    @handles(IdNumberAssigned)
    def _id_number_assigned(self, e: IdNumberAssigned, changes: Changes) -> None:
        changes.put(
            ID_NUMBERS,
            {
                "id_number": e.id_number,
                "person_id": key_of(e.originator_id),
                "status": "assigned",
                "assigned_on": e.occurred_on.isoformat(),
                "assigned_reason": e.reason,
                "assigned_recorded_at": e.recorded_at.isoformat(),
                "assigned_reference": e.reference,
                "cancelled_on": None,
                "cancelled_reason": None,
                "cancelled_recorded_at": None,
                "cancelled_reference": None,
            },
        )

    @handles(IdNumberCancelled)
    def _id_number_cancelled(self, e: IdNumberCancelled, changes: Changes) -> None:
        row = changes.touch(ID_NUMBERS, e.id_number)
        if row is not None:
            row["status"] = "cancelled"
            row["cancelled_on"] = e.occurred_on.isoformat()
            row["cancelled_reason"] = e.reason
            row["cancelled_recorded_at"] = e.recorded_at.isoformat()
            row["cancelled_reference"] = e.reference
