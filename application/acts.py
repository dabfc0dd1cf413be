"""Every act of the register, decided once: for a clerk's command and for an import row alike.

`decide()` takes an act, who records it, and the register's state through the `ActState` port
(`application.ports`). It checks whether the act is already recorded, lets the aggregates apply
the rules, draws any new ID number, and returns the aggregates whose pending events must be
saved together, in one transaction. It reads only through the port and writes nothing: saving,
and starting again when a concurrent writer won a uniqueness race, is the caller's part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from application.effect import Effect
from application.identity_acts import decide_identity
from application.ports import ActState
from application.residence_acts import decide_residence, leave_everything
from domain.aggregate import ActBasis, Aggregate
from domain.commands import (
    IDENTITY_COMMANDS,
    PEOPLE_FIELDS,
    PERSON_FIELDS,
    ChangeRecord,
    Clerking,
    Command,
    MergeDuplicate,
    RecordDeath,
    RegisterBirth,
    RenounceNationality,
)
from domain.errors import ReferenceConflict, RuleBroken
from domain.events import IdNumberAssignedReason
from domain.person import Person
from domain.registry import IdNumberClaim, RecordedAct, act_id, fingerprint, person_id_for_birth
from domain.rules import BirthMustNotDuplicateAPerson, check

#: How often an act (or an import batch) is decided again after a concurrent writer won a
#: uniqueness race on the same person, number or act.
MAX_ATTEMPTS = 12
#: How many random draws before a (province, century-sex, year) bucket is declared full.
MAX_DRAWS = 64


@dataclass(frozen=True)
class Decision:
    """What deciding an act produced.

    `aggregates` hold the pending events to save in one transaction: the person first, then
    any ID-number claim, then the act's record. None when the act was already recorded (an
    identical retry): nothing is to be written, and `person_id` names whom it was about."""

    person_id: UUID
    aggregates: tuple[Aggregate, ...] = ()
    assigned: str | None = None
    cancelled: str | None = None
    #: The look-alikes of a new birth that the clerk confirmed are other people.
    possible_duplicates: tuple[str, ...] = ()
    #: The household an act set up or placed the person in.
    household: str | None = None

    @property
    def already_recorded(self) -> bool:
        return not self.aggregates

    @property
    def person(self) -> Person:
        """The person after the act (only for an act newly decided)."""
        first = self.aggregates[0]
        assert isinstance(first, Person)  # noqa: S101 (decide() puts the person first)
        return first


def act_content(act: Command, resolve: Callable[[str], object]) -> dict[str, Any]:
    """The act's content as its fingerprint covers it, person references resolved to person
    ids by `resolve`. A merge is identified by the two records alone."""
    data = act.model_dump(mode="json")
    for key in PERSON_FIELDS:
        if data.get(key):
            data[key] = str(resolve(data[key]))
    for key in PEOPLE_FIELDS:
        if data.get(key):
            data[key] = [str(resolve(ref)) for ref in data[key]]
    if isinstance(act, MergeDuplicate):
        return {"person": data["person"], "into": data["into"]}
    return data


def act_fingerprint(act: Command, resolve: Callable[[str], object]) -> str:
    """SHA-256 of the act's canonical content: the same act always has the same one."""
    return fingerprint(act.KIND, act_content(act, resolve))


def decide(
    act: Command,
    clerking: Clerking,
    state: ActState,
    *,
    allow_possible_duplicate: bool = False,
    digest: str | None = None,
) -> Decision:
    """Decide one act against `state`. `digest` is the act's fingerprint when the caller
    already knows it (an import row naming nobody by ID number); `allow_possible_duplicate`
    confirms that a look-alike of a new birth is another person (it is not part of the act,
    so it never changes the fingerprint). Raises the rule's error when the act is refused."""
    kind = act.KIND
    if digest is None:
        digest = act_fingerprint(act, state.resolve)
    recorded = state.recorded_act(act_id(kind, clerking.office, clerking.reference))
    if recorded is not None:
        if recorded.fingerprint != digest:
            raise ReferenceConflict(
                f"reference {clerking.reference!r} at office {clerking.office!r} was already "
                f"used for a different {recorded.kind} act",
                rule="ReferenceIdentifiesOneAct",
            )
        assert recorded.person_id is not None  # noqa: S101 (set by ActRecorded)
        return Decision(recorded.person_id)
    basis = ActBasis(clerking.clerk, clerking.office, clerking.reference, state.recorded_at)
    if isinstance(act, RegisterBirth):
        effect = _birth(act, clerking, basis, state, allow_possible_duplicate)
    elif isinstance(act, RecordDeath):
        effect = _death(act, basis, state)
    elif isinstance(act, RenounceNationality):
        effect = _renunciation(act, basis, state)
    elif isinstance(act, ChangeRecord):
        effect = _change(act, basis, state)
    elif isinstance(act, MergeDuplicate):
        effect = _merge(act, basis, state)
    elif isinstance(act, IDENTITY_COMMANDS):
        effect = decide_identity(act, basis, state)
    else:
        effect = decide_residence(act, basis, state)
    person = effect.person
    pending = person.pending_events
    on = pending[0].occurred_on if pending else state.today
    record = RecordedAct.record(kind, digest, person.id, basis, on, household=effect.established)
    aggregates = (person, *effect.claims, *effect.others, *effect.guards, record)
    return Decision(
        person.id,
        aggregates,
        effect.assigned,
        effect.cancelled,
        effect.possible_duplicates,
        effect.household,
    )


# ----------------------------------------------------------------------- the acts


def _birth(
    act: RegisterBirth,
    clerking: Clerking,
    basis: ActBasis,
    state: ActState,
    allow_possible_duplicate: bool,
) -> Effect:
    person_id = person_id_for_birth(clerking.office, clerking.reference)
    father = state.person(act.father) if act.father else None
    mother = state.person(act.mother) if act.mother else None
    today = state.today
    registered_on = act.registered_on or today
    person = Person.register_birth(
        person_id,
        basis,
        name=act.name,
        sex=act.sex,
        born=act.born,
        birth_province=act.province,
        nationality=act.nationality,
        registered_on=registered_on,
        today=today,
        ethnicity=act.ethnicity,
        place_of_birth=act.place_of_birth,
        father=father,
        mother=mother,
    )
    candidates = state.possible_duplicates(act.name, act.born, act.province, excluding=person_id)
    check(BirthMustNotDuplicateAPerson(tuple(candidates), allow_possible_duplicate))
    guards = state.look_alike_guard(person, basis)
    effect = Effect(person, [], guards=guards, possible_duplicates=tuple(candidates))
    if person.may_hold_number:
        _assign_number(effect, basis, "birth_registered", registered_on, state)
    return effect


def _death(act: RecordDeath, basis: ActBasis, state: ActState) -> Effect:
    person = state.person(act.person)
    person.record_death(basis, act.died_on, act.place, state.today)
    return Effect(person, [], others=leave_everything(person, basis, act.died_on, "death", state))


def _renunciation(act: RenounceNationality, basis: ActBasis, state: ActState) -> Effect:
    person = state.person(act.person)
    person.renounce_nationality(basis, act.effective, state.today)
    others = leave_everything(person, basis, act.effective, "nationality_lost", state)
    return Effect(person, [], others=others)


def _change(act: ChangeRecord, basis: ActBasis, state: ActState) -> Effect:
    person = state.person(act.person)
    held = person.id_number
    effective = act.effective or state.today
    father = mother = None
    if act.field == "born":  # a new date of birth must suit the parents as a birth does
        father = state.person(person.father_id) if person.father_id else None
        mother = state.person(person.mother_id) if person.mother_id else None
    change = person.change_record(
        basis, act.field, act.value, act.kind, effective, state.today, father, mother
    )
    effect = Effect(person, [])
    if change.needs_number and person.may_hold_number:
        _assign_number(effect, basis, change.reason, effective, state)
    if held is not None and person.id_number != held:
        effect.cancelled = held
    return effect


def _merge(act: MergeDuplicate, basis: ActBasis, state: ActState) -> Effect:
    duplicate = state.person(act.person)
    survivor = state.person(act.into)
    held = duplicate.id_number
    duplicate.merge_into(basis, survivor, state.today)
    others = leave_everything(duplicate, basis, state.today, "merged_as_duplicate", state)
    return Effect(duplicate, [], cancelled=held, others=others)


def _assign_number(
    effect: Effect,
    basis: ActBasis,
    reason: IdNumberAssignedReason,
    on: Any,
    state: ActState,
) -> None:
    """Draw a number no one holds or ever held, claim it, and assign it to the person."""
    person = effect.person
    for _ in range(MAX_DRAWS):
        number = state.draw_number(person)
        if not state.number_is_claimed(number):
            break
    else:
        raise RuleBroken(
            f"no free ID number found in bucket {person.number_prefix} after {MAX_DRAWS} draws",
            rule="NumberBucketHasRoom",
        )
    claim = IdNumberClaim.claim(number, person.id, basis, on)
    person.assign_id_number(basis, number, reason, on)
    effect.claims.append(claim)
    effect.assigned = str(number)
