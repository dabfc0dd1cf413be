"""`statistics`: the counts of the register's report, kept as counters.

A person's standing (has a number, deceased, renounced, merged, nationality, residences, record
cleaning) is kept in a narrow table of its own, and so is each household's head and members, so
the projection needs no other model. For each batch, every touched person's (and household's)
contribution to the counts before the batch is taken away and the one after it is added; event
counts (record changes by kind, cancelled numbers, births by registration day) are added as they
come.

Two counts depend on the day of the report, so they are kept by day and summed when the report
is asked for, as births by registration day are: temporary residents by the last day of their
residence (`temporary_until`; a temporary residence lapses after it, with no event), and people
of undetermined nationality by date of birth and parents (`undetermined_with_parents`), whose
parents' nationality is looked up in the standing table when the report is asked for, since a
parent's acts change it and a batch touches only the rows its events name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from domain.events import (
    BirthRegistered,
    DeathRegistered,
    DeletionProposalWithdrawn,
    DeletionProposed,
    HouseholdEstablished,
    HouseholdEvent,
    HouseholdHeadChanged,
    HouseholdHeadVacated,
    HouseholdMemberJoined,
    HouseholdMemberLeft,
    IdNumberAssigned,
    IdNumberCancelled,
    MergedAsDuplicate,
    NationalityDetermined,
    NationalityRenounced,
    RecordChanged,
    RecordConfirmed,
    RegisterEvent,
    ResidenceEnded,
    ResidenceRegistered,
    TemporaryResidenceExtended,
)
from domain.values import Nationality
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
#: One row per person. The columns after `merged` were added with residence and record
#: cleaning: a model built before them must be rebuilt (`projections rebuild statistics`).
STANDING = Table(
    name="statistics_people",
    columns=(
        "person_id",
        "id_number",
        "died",
        "renounced",
        "merged",
        "nationality",
        "born",
        "father_id",
        "mother_id",
        "permanent",
        "temporary_until",
        "confirmed",
        "proposed",
    ),
    key=("person_id",),
    ints=frozenset({"died", "renounced", "merged", "permanent", "confirmed", "proposed"}),
)
#: One row per household (keyed by the household aggregate's id): its head and its members
#: (a JSON list of person ids, sorted), as the household aggregate holds them.
HOUSEHOLDS = Table(
    name="statistics_households",
    columns=("household_id", "head_id", "members"),
    key=("household_id",),
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
#: Single-valued metrics of residence, households and record cleaning: `report --json` gains
#: them after its earlier keys (with `temporary_residents` and `special_cases`).
RESIDENCE_SINGLE = (
    "households",
    "households_without_head",
    "permanent_residents",
    "without_permanent_residence",
    "unconfirmed",
    "proposed_for_deletion",
    "numbers_in_service",
)
#: The keys `report --json` gained with residence, households and record cleaning, in order.
RESIDENCE_REPORT_KEYS = (
    "households",
    "households_without_head",
    "permanent_residents",
    "temporary_residents",
    "without_permanent_residence",
    "unconfirmed",
    "proposed_for_deletion",
    "numbers_in_service",
    "special_cases",
)
#: Counted by the last day of a current temporary residence; summed from the report date on.
TEMPORARY_UNTIL = "temporary_until"
#: `special_cases` counters, by the key of their report entry.
SPECIAL_CASES = "special_cases"
WITHOUT_NATIONALITY_RESIDENT = "without_nationality_resident"
UNDETERMINED_WITHOUT_PERMANENT = "undetermined_without_permanent_residence"
UNDETERMINED_CHILDREN = "undetermined_children_with_a_vietnamese_parent"
#: People of undetermined nationality with a recorded parent, keyed `born father mother`
#: (`-` for a parent not recorded): the report counts the minors whose parent is Vietnamese.
UNDETERMINED_WITH_PARENTS = "undetermined_with_parents"
#: The `until` of a temporary residence recorded without one (the domain requires one): it
#: never lapses, as `Residence.is_current_on` reads it.
OPEN_ENDED = "9999-12-31"

_VIETNAMESE = Nationality.VIETNAMESE.value
_UNDETERMINED = Nationality.UNDETERMINED.value
_WITHOUT_NATIONALITY = frozenset({Nationality.UNDETERMINED.value, Nationality.STATELESS.value})


def parents_key(born: str, father_id: str | None, mother_id: str | None) -> str:
    return f"{born} {father_id or '-'} {mother_id or '-'}"


def parse_parents_key(key: str) -> tuple[str, list[str]]:
    """The date of birth and the recorded parents' ids of a `parents_key`."""
    born, father, mother = key.split(" ")
    return born, [parent for parent in (father, mother) if parent != "-"]


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
    counted.extend(_residence_contribution(row, active_number=number is not None and not standing))
    return tuple(counted)


def _residence_contribution(row: Row, active_number: bool) -> Iterable[tuple[str, str]]:
    """Residence and record cleaning. Every test of these columns reads them with `get`: a
    standing row written before they existed reads as a person without residence, unconfirmed
    and not proposed for deletion (and a model built then must be rebuilt anyway)."""
    if row["died"] or row["merged"]:
        return  # residents, record cleaning and special cases count the living records only
    permanent = bool(row.get("permanent"))
    confirmed = bool(row.get("confirmed"))
    proposed = bool(row.get("proposed"))
    nationality = row.get("nationality")
    if permanent:
        yield ("permanent_residents", "")
    until = row.get("temporary_until")
    if until is not None:
        yield (TEMPORARY_UNTIL, until)
    if nationality == _VIETNAMESE and not row["renounced"]:
        if not permanent:
            yield ("without_permanent_residence", "")
        if not confirmed:
            yield ("unconfirmed", "")
        if proposed:
            yield ("proposed_for_deletion", "")
    if active_number and permanent and confirmed and not proposed:
        yield ("numbers_in_service", "")
    if nationality in _WITHOUT_NATIONALITY and permanent:
        yield (SPECIAL_CASES, WITHOUT_NATIONALITY_RESIDENT)
    if nationality == _UNDETERMINED:
        if not permanent:
            yield (SPECIAL_CASES, UNDETERMINED_WITHOUT_PERMANENT)
        father, mother = row.get("father_id"), row.get("mother_id")
        if father is not None or mother is not None:
            yield (UNDETERMINED_WITH_PARENTS, parents_key(row["born"], father, mother))


def household_contribution(row: Row | None) -> tuple[tuple[str, str], ...]:
    """A household with a current member counts; one with members and no head counts too."""
    if row is None or not json.loads(row["members"]):
        return ()
    if row["head_id"] is None:
        return (("households", ""), ("households_without_head", ""))
    return (("households", ""),)


class StatisticsProjection(Projection):
    name = "statistics"
    tables = (COUNTS, STANDING, HOUSEHOLDS)
    person_table = STANDING
    originals = (STANDING, HOUSEHOLDS)

    def needs(self, event: RegisterEvent) -> Iterable[tuple[Table, str]]:
        table = HOUSEHOLDS if isinstance(event, HouseholdEvent) else STANDING
        return ((table, key_of(event.originator_id)),)

    def creates(self, event: RegisterEvent) -> Iterable[tuple[Table, str]]:
        if isinstance(event, BirthRegistered):
            return ((STANDING, key_of(event.originator_id)),)
        if isinstance(event, HouseholdEstablished):
            return ((HOUSEHOLDS, key_of(event.originator_id)),)
        return ()

    def _standing(self, event: RegisterEvent, changes: Changes) -> Row | None:
        return changes.touch(STANDING, key_of(event.originator_id))

    def _household(self, event: RegisterEvent, changes: Changes) -> Row | None:
        return changes.touch(HOUSEHOLDS, key_of(event.originator_id))

    # ------------------------------------------------------------------ people

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
                "nationality": e.nationality.value,
                "born": e.born.isoformat(),
                "father_id": str(e.father_id) if e.father_id else None,
                "mother_id": str(e.mother_id) if e.mother_id else None,
                "permanent": 0,
                "temporary_until": None,
                "confirmed": 0,
                "proposed": 0,
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
            row["nationality"] = Nationality.RENOUNCED.value

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
        if e.field in ("nationality", "born") and (row := self._standing(e, changes)) is not None:
            row[e.field] = e.new_value

    @handles(NationalityDetermined)
    def _nationality_determined(self, e: NationalityDetermined, changes: Changes) -> None:
        changes.count(COUNTS, ("record_changes", e.kind))
        if (row := self._standing(e, changes)) is not None:
            row["nationality"] = e.nationality.value

    @handles(ResidenceRegistered)
    def _residence_registered(self, e: ResidenceRegistered, changes: Changes) -> None:
        if (row := self._standing(e, changes)) is not None:
            if e.kind == "permanent":
                row["permanent"] = 1
            else:
                row["temporary_until"] = e.until.isoformat() if e.until else OPEN_ENDED

    @handles(ResidenceEnded)
    def _residence_ended(self, e: ResidenceEnded, changes: Changes) -> None:
        if (row := self._standing(e, changes)) is not None:
            if e.kind == "permanent":
                row["permanent"] = 0
            else:
                row["temporary_until"] = None

    @handles(TemporaryResidenceExtended)
    def _temporary_extended(self, e: TemporaryResidenceExtended, changes: Changes) -> None:
        row = self._standing(e, changes)
        if row is not None and row["temporary_until"] is not None:
            row["temporary_until"] = e.until.isoformat()

    @handles(RecordConfirmed)
    def _record_confirmed(self, e: RecordConfirmed, changes: Changes) -> None:
        if (row := self._standing(e, changes)) is not None:
            row["confirmed"] = 1

    @handles(DeletionProposed)
    def _deletion_proposed(self, e: DeletionProposed, changes: Changes) -> None:
        if (row := self._standing(e, changes)) is not None:
            row["proposed"] = 1

    @handles(DeletionProposalWithdrawn)
    def _deletion_withdrawn(self, e: DeletionProposalWithdrawn, changes: Changes) -> None:
        if (row := self._standing(e, changes)) is not None:
            row["proposed"] = 0

    # -------------------------------------------------------------- households

    @handles(HouseholdEstablished)
    def _household_established(self, e: HouseholdEstablished, changes: Changes) -> None:
        head = str(e.head_id)
        changes.put(
            HOUSEHOLDS,
            {
                "household_id": key_of(e.originator_id),
                "head_id": head,
                "members": json.dumps([head]),
            },
        )

    @handles(HouseholdMemberJoined)
    def _member_joined(self, e: HouseholdMemberJoined, changes: Changes) -> None:
        if (row := self._household(e, changes)) is not None:
            _set_members(row, _members(row) | {str(e.person_id)})

    @handles(HouseholdMemberLeft)
    def _member_left(self, e: HouseholdMemberLeft, changes: Changes) -> None:
        if (row := self._household(e, changes)) is not None:
            _set_members(row, _members(row) - {str(e.person_id)})

    @handles(HouseholdHeadChanged)
    def _head_changed(self, e: HouseholdHeadChanged, changes: Changes) -> None:
        if (row := self._household(e, changes)) is not None:
            head = str(e.head_id)
            row["head_id"] = head
            _set_members(row, _members(row) | {head})  # as the household aggregate does

    @handles(HouseholdHeadVacated)
    def _head_vacated(self, e: HouseholdHeadVacated, changes: Changes) -> None:
        if (row := self._household(e, changes)) is not None:
            row["head_id"] = None

    def finish(self, changes: Changes) -> None:
        counts = changes.counts[COUNTS.name]
        for table, contributes in (
            (STANDING, contribution),
            (HOUSEHOLDS, household_contribution),
        ):
            for key in changes.dirty[table.name]:
                before = contributes(changes.original(table, key))
                after = contributes(changes.get(table, key))
                if before != after:
                    for counted in before:
                        counts[counted] -= 1
                    for counted in after:
                        counts[counted] += 1


def _members(row: Row) -> set[str]:
    return set(json.loads(row["members"]))


def _set_members(row: Row, members: set[str]) -> None:
    row["members"] = json.dumps(sorted(members))
