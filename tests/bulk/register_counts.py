"""The register's count (`report --json`, issue 14), computed from an import file alone.

Replays a file's rows in order with none of the rules: every row is taken to be recorded, as
an import of a generated file records every row (`test_generator.py` checks it). Households
are named as the generator names them: by the act that set them up (`{"office",
"reference"}` of a `residence` with `new_household`, or of a `split_household`), or by
number. People are named by their birth acts.

The categories, as the issue defines them, on the report date `on`:

- `households`: with at least one current member; `households_without_head`: with members
  but no head;
- `permanent_residents`, `temporary_residents`: people whose residence of that kind is
  current (a temporary one from its start to its `until`);
- among people alive, Vietnamese and not merged: `without_permanent_residence`,
  `unconfirmed`, `proposed_for_deletion`;
- `numbers_in_service`: people holding an active number (Vietnamese, not merged) who are
  alive, not renounced, not proposed for deletion, confirmed, with a permanent residence;
- `special_cases`: `non_vietnamese_residents` (alive, not merged, nationality other than
  Vietnamese, a permanent residence: the report's 507), `undetermined_without_residence`
  (nationality undetermined, no permanent residence: 15,227), `undetermined_children`
  (nationality undetermined, under 18, at least one parent Vietnamese: 870).

Also `people` (distinct records, merged duplicates apart) and `alive`, for scale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.residence import ADULT_AGE, age_on

Key = tuple[str, str]


@dataclass
class _Person:
    born: date
    nationality: str
    parents: tuple[Key, ...]
    dead: bool = False
    merged: bool = False
    confirmed: bool = False
    proposed: bool = False
    permanent: str | None = None  # commune
    household: Key | str | None = None
    temporary: tuple[str, date, date] | None = None  # commune, since, until

    @property
    def gone(self) -> bool:
        return self.dead or self.merged


@dataclass
class _Household:
    head: Key | None
    members: set[Key] = field(default_factory=set)


@dataclass
class RegisterCounts:
    """The file's people and households, replayed."""

    people: dict[Key, _Person] = field(default_factory=dict)
    households: dict[Key | str, _Household] = field(default_factory=dict)

    def apply(self, row: dict[str, Any]) -> None:
        kind = row["kind"]
        if kind == "birth":
            parents = tuple(_key(row[role]) for role in ("father", "mother") if role in row)
            self.people[(row["office"], row["reference"])] = _Person(
                date.fromisoformat(row["born"]), row.get("nationality", "vietnamese"), parents
            )
            return
        if kind in ("change_head", "split_household"):
            self._household_act(row)
            return
        who = _key(row["person"])
        if kind in ("death", "renunciation", "merge", "change"):
            self._civil(who, row)
        else:
            self._person_act(who, row)

    def _civil(self, who: Key, row: dict[str, Any]) -> None:
        person, kind = self.people[who], row["kind"]
        if kind == "death":
            person.dead = True
        elif kind == "renunciation":
            person.nationality = "renounced"
        elif kind == "merge":
            person.merged = True
        elif row["field"] == "nationality":
            person.nationality = row["value"]
        elif row["field"] == "born":
            person.born = date.fromisoformat(row["value"])
        if kind != "change":  # each ends every residence and the household membership
            self._leave(who)
            person.temporary = None

    def _person_act(self, who: Key, row: dict[str, Any]) -> None:
        person, kind = self.people[who], row["kind"]
        if kind == "residence":
            self._residence(who, row)
        elif kind == "end_residence":
            if row["residence_kind"] == "permanent":
                self._leave(who)
            else:
                person.temporary = None
        elif kind == "extend_residence" and person.temporary is not None:
            commune, since, _ = person.temporary
            person.temporary = (commune, since, date.fromisoformat(row["until"]))
        elif kind == "confirm_record":
            person.confirmed = True
        elif kind == "propose_deletion":
            person.proposed = True
        elif kind == "withdraw_deletion_proposal":
            person.proposed = False

    def _residence(self, who: Key, row: dict[str, Any]) -> None:
        person = self.people[who]
        on = date.fromisoformat(row["effective"])
        if row["residence_kind"] == "temporary":
            person.temporary = (row["commune"], on, date.fromisoformat(row["until"]))
            return
        self._leave(who)
        if row.get("new_household"):
            household: Key | str = (row["office"], row["reference"])
            self.households[household] = _Household(head=who)
        else:
            household = _household_key(row["household"])
        self.households[household].members.add(who)
        person.permanent, person.household = row["commune"], household
        if person.temporary is not None and person.temporary[0] == row["commune"]:
            person.temporary = None  # registered permanently at the same place

    def _household_act(self, row: dict[str, Any]) -> None:
        household = self.households[_household_key(row["household"])]
        head = _key(row["head"])
        if row["kind"] == "change_head":
            household.head = head
            return
        new: Key = (row["office"], row["reference"])
        self.households[new] = _Household(head=head)
        for ref in row["members"]:
            member = _key(ref)
            household.members.discard(member)
            if household.head == member:
                household.head = None
            self.households[new].members.add(member)
            self.people[member].household = new

    def _leave(self, who: Key) -> None:
        person = self.people[who]
        if person.household is not None:
            household = self.households[person.household]
            household.members.discard(who)
            if household.head == who:
                household.head = None
        person.permanent = person.household = None

    def counts(self, on: date) -> dict[str, Any]:
        """The report's categories on `on`."""
        people = [p for p in self.people.values() if not p.merged]
        alive = [p for p in people if not p.dead]
        vietnamese = [p for p in alive if p.nationality == "vietnamese"]
        undetermined = [p for p in alive if p.nationality == "undetermined"]
        current = [h for h in self.households.values() if h.members]
        return {
            "people": len(people),
            "alive": len(alive),
            "households": len(current),
            "households_without_head": sum(h.head is None for h in current),
            "permanent_residents": sum(p.permanent is not None for p in alive),
            "temporary_residents": sum(
                p.temporary is not None and p.temporary[1] <= on <= p.temporary[2] for p in alive
            ),
            "without_permanent_residence": sum(p.permanent is None for p in vietnamese),
            "unconfirmed": sum(not p.confirmed for p in vietnamese),
            "proposed_for_deletion": sum(p.proposed for p in vietnamese),
            "numbers_in_service": sum(
                p.confirmed and not p.proposed and p.permanent is not None for p in vietnamese
            ),
            "special_cases": {
                "non_vietnamese_residents": sum(
                    p.nationality != "vietnamese" and p.permanent is not None for p in alive
                ),
                "undetermined_without_residence": sum(p.permanent is None for p in undetermined),
                "undetermined_children": sum(
                    age_on(p.born, on) < ADULT_AGE
                    and any(self._vietnamese(parent) for parent in p.parents)
                    for p in undetermined
                ),
            },
        }

    def _vietnamese(self, who: Key) -> bool:
        parent = self.people.get(who)
        return parent is not None and parent.nationality == "vietnamese"


def register_counts(rows: Iterable[dict[str, Any]], on: date) -> dict[str, Any]:
    """The report's categories on `on` after every row of a file is recorded."""
    replay = RegisterCounts()
    for row in rows:
        replay.apply(row)
    return replay.counts(on)


def _key(ref: dict[str, str]) -> Key:
    return (ref["office"], ref["reference"])


def _household_key(ref: dict[str, str] | str) -> Key | str:
    return ref if isinstance(ref, str) else _key(ref)
