"""`statistics`: the counts of the register's report, kept as counters.

A person's standing (has a number, deceased, renounced, merged) is kept in a narrow table of its
own, so the projection needs no other model. For each batch, every touched person's contribution
to the counts before the batch is taken away and the one after it is added; event counts (record
changes by kind, cancelled numbers, births by registration day) are added as they come.
"""

from __future__ import annotations

from domain.events import (
    BirthRegistered,
    DeathRegistered,
    IdNumberAssigned,
    IdNumberCancelled,
    MergedAsDuplicate,
    NationalityDetermined,
    NationalityRenounced,
    RecordChanged,
    RegisterEvent,
)
from projections.projection import Changes, Projection, handles, key_of
from projections.tables import Table
from projections.views import Row

COUNTS = Table(
    name="statistics",
    columns=("metric", "key", "value"),
    key=("metric", "key"),
    ints=frozenset({"value"}),
    counter=True,
)
STANDING = Table(
    name="statistics_people",
    columns=("person_id", "id_number", "died", "renounced", "merged"),
    key=("person_id",),
    ints=frozenset({"died", "renounced", "merged"}),
)

#: Metrics with a single value are stored under the empty key.
SINGLE = (
    "people",
    "active_id_numbers",
    "cancelled_id_numbers",
    "deceased",
    "renounced",
    "merged_duplicates",
    "without_id_number",
)


def contribution(row: Row | None) -> tuple[tuple[str, str], ...]:
    """The counters one person adds one to, by the register's report definitions."""
    if row is None:
        return ()
    counted = [("people", "")]
    if row["merged"]:
        counted.append(("merged_duplicates", ""))
    elif row["died"]:
        counted.append(("deceased", ""))
    elif row["renounced"]:
        counted.append(("renounced", ""))
    number = row["id_number"]
    standing = bool(row["merged"] or row["died"] or row["renounced"])
    if number is None and not standing:
        # DOMAIN's "special cases kept without a number": living people of the register
        # (undetermined nationality, stateless); merged duplicates, the dead and people who
        # renounced nationality are counted under their own metrics instead.
        counted.append(("without_id_number", ""))
    elif number is not None and not standing:
        counted.append(("active_id_numbers", ""))
        counted.append(("by_province", number[:3]))
    return tuple(counted)


class StatisticsProjection(Projection):
    name = "statistics"
    tables = (COUNTS, STANDING)
    person_table = STANDING
    originals = (STANDING,)

    def _standing(self, event: RegisterEvent, changes: Changes) -> Row | None:
        return changes.touch(STANDING, key_of(event.originator_id))

    @handles(BirthRegistered)
    def _birth_registered(self, e: BirthRegistered, changes: Changes) -> None:
        changes.put(
            STANDING,
            {
                "person_id": key_of(e.originator_id),
                "id_number": None,
                "died": 0,
                "renounced": 0,
                "merged": 0,
            },
        )
        changes.count(COUNTS, ("births", e.registered_on.isoformat()))

    @handles(IdNumberAssigned)
    def _id_number_assigned(self, e: IdNumberAssigned, changes: Changes) -> None:
        if (row := self._standing(e, changes)) is not None:
            row["id_number"] = e.id_number

    @handles(IdNumberCancelled)
    def _id_number_cancelled(self, e: IdNumberCancelled, changes: Changes) -> None:
        if (row := self._standing(e, changes)) is not None and row["id_number"] == e.id_number:
            row["id_number"] = None
        changes.count(COUNTS, ("cancelled_id_numbers", ""))

    @handles(NationalityRenounced)
    def _nationality_renounced(self, e: NationalityRenounced, changes: Changes) -> None:
        if (row := self._standing(e, changes)) is not None:
            row["renounced"] = 1

    @handles(DeathRegistered)
    def _death_registered(self, e: DeathRegistered, changes: Changes) -> None:
        if (row := self._standing(e, changes)) is not None:
            row["died"] = 1

    @handles(MergedAsDuplicate)
    def _merged_as_duplicate(self, e: MergedAsDuplicate, changes: Changes) -> None:
        if (row := self._standing(e, changes)) is not None:
            row["merged"] = 1

    @handles(RecordChanged)
    def _record_changed(self, e: RecordChanged, changes: Changes) -> None:
        changes.count(COUNTS, ("record_changes", e.kind))

    @handles(NationalityDetermined)
    def _nationality_determined(self, e: NationalityDetermined, changes: Changes) -> None:
        changes.count(COUNTS, ("record_changes", e.kind))

    def finish(self, changes: Changes) -> None:
        counts = changes.counts[COUNTS.name]
        for key in changes.dirty[STANDING.name]:
            before = contribution(changes.original(STANDING, key))
            after = contribution(changes.get(STANDING, key))
            if before != after:
                for counted in before:
                    counts[counted] -= 1
                for counted in after:
                    counts[counted] += 1
