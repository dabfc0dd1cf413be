"""The residence, household and record-cleaning acts, decided once for clerks and imports.

`decide_residence` is called by `application.acts.decide` for these acts, with the same port
for state; `leave_everything` is the cross-effect of a death, a merge and a renunciation on
the person's residences and household, applied inside those acts' own decisions.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from application.effect import Effect
from application.ports import ActState
from domain.aggregate import ActBasis, Aggregate
from domain.commands import (
    ChangeHead,
    Command,
    ConfirmRecord,
    DeclareAbode,
    EndResidence,
    ExtendResidence,
    ProposeDeletion,
    RegisterResidence,
    SplitHousehold,
    WithdrawDeletionProposal,
)
from domain.errors import RuleBroken, UnknownHousehold
from domain.household import Household
from domain.person import Person
from domain.residence import HouseholdNumber, Relation, ResidenceKind
from domain.rules import (
    ChangeMustDifferFromRecord,
    HeadMustBeAdult,
    HeadMustBeMember,
    HouseholdMustHaveMembers,
    NotAlreadyInHousehold,
    SplitLeavesMembersBehind,
    check,
)

#: How many random draws before the household numbers are declared full.
MAX_HOUSEHOLD_DRAWS = 64


def decide_residence(act: Command, basis: ActBasis, state: ActState) -> Effect:
    today = state.today
    if isinstance(act, RegisterResidence):
        return _register(act, basis, state)
    if isinstance(act, ChangeHead):
        return _change_head(act, basis, state)
    if isinstance(act, SplitHousehold):
        return _split(act, basis, state)
    if isinstance(act, EndResidence):
        person = state.person(act.person)
        on = act.effective or today
        kind = act.kind
        household = _household_of(person, state) if kind is ResidenceKind.PERMANENT else None
        person.end_residence(basis, kind, act.ground, on, today)
        others: list[Aggregate] = []
        if household is not None:
            household.leave(basis, on, person.id, act.ground)
            others.append(household)
        return Effect(person, others=others)
    person = state.person(getattr(act, "person"))  # noqa: B009 (every act left names one)
    on = getattr(act, "effective", None) or today
    if isinstance(act, ExtendResidence):
        person.extend_residence(basis, act.until, on, today)
    elif isinstance(act, DeclareAbode):
        person.declare_abode(basis, act.commune, act.address, on, today)
    elif isinstance(act, ConfirmRecord):
        person.confirm(basis, on, today)
    elif isinstance(act, ProposeDeletion):
        person.propose_deletion(basis, act.reason, on, today)
    elif isinstance(act, WithdrawDeletionProposal):
        person.withdraw_deletion_proposal(basis, on, today)
    else:  # pragma: no cover (every command kind is handled)
        raise TypeError(f"no decision for {act.KIND!r} acts")
    return Effect(person)


def leave_everything(
    person: Person, basis: ActBasis, on: date, ground: str, state: ActState
) -> list[Aggregate]:
    """End the person's residences and household membership on `ground` (death, a merge, a
    renunciation: Art. 24(1)(a), (đ); Art. 29(1)(a), (d)); the household loses its head if
    they were it. Returns the household changed, if any."""
    household = _household_of(person, state)
    person.end_residences(basis, on, ground)
    if household is None or person.id not in household.members:
        return []
    household.leave(basis, on, person.id, ground)
    return [household]


def household_named(ref: str, state: ActState) -> Household:
    """The household a reference names: its number, or the act that set it up (an import
    row's `{"office", "reference"}` of a residence with a new household, or of a split),
    whose record keeps the household it set up."""
    if ref.startswith("HK"):
        return state.household(ref)
    recorded = state.recorded_act(UUID(ref))
    if recorded is None or recorded.household is None:
        raise UnknownHousehold(f"no recorded act set up a household as {ref}")
    return state.household(recorded.household)


def _household_of(person: Person, state: ActState) -> Household | None:
    return state.household(person.household) if person.household else None


def _register(act: RegisterResidence, basis: ActBasis, state: ActState) -> Effect:
    person = state.person(act.person)
    today = state.today
    on = act.effective or today
    if act.kind is ResidenceKind.TEMPORARY:
        person.register_residence(
            basis, act.kind, act.commune, act.address, on, today, until=act.until
        )
        return Effect(person)
    leaving = _household_of(person, state)
    if act.new_household:
        number = _free_household_number(state)
        relation = Relation.HEAD
        household = None
    else:
        household = household_named(str(act.household), state)
        number = HouseholdNumber(household.number)
        relation = act.relation or Relation.OTHER
        check(HouseholdMustHaveMembers(household.number, len(household.members)))
        check(
            NotAlreadyInHousehold(
                person.display_id, household.number, person.id in household.members
            )
        )
    person.register_residence(
        basis,
        act.kind,
        act.commune,
        act.address,
        on,
        today,
        household=str(number),
        relation=relation,
    )
    if household is None:
        check(HeadMustBeAdult(person.display_id, person.born, on))
        household = Household.establish(
            number, basis, on, commune=act.commune, address=act.address, head_id=person.id
        )
    else:
        household.join(basis, on, person.id, relation)
    others: list[Aggregate] = [household]
    if leaving is not None and person.id in leaving.members:
        leaving.leave(basis, on, person.id, "new_permanent_residence")
        others.append(leaving)
    established = household.number if act.new_household else None
    return Effect(person, others=others, household=household.number, established=established)


def _change_head(act: ChangeHead, basis: ActBasis, state: ActState) -> Effect:
    household = household_named(act.household, state)
    head = state.person(act.head)
    today = state.today
    on = act.effective or today
    head.check_may_act("change of household head", on, today)
    check(
        HouseholdMustHaveMembers(household.number, len(household.members)),
        HeadMustBeMember(head.display_id, household.number, head.id in household.members),
        HeadMustBeAdult(head.display_id, head.born, on),
        ChangeMustDifferFromRecord(
            "head", str(household.head_id) if household.head_id else None, str(head.id)
        ),
    )
    former = household.head_id
    household.change_head(basis, on, head.id)
    head.take_household_role(basis, on, household.number, Relation.HEAD)
    others: list[Aggregate] = [household]
    if former is not None:
        previous = state.person(former)
        previous.take_household_role(basis, on, household.number, Relation.OTHER)
        others.append(previous)
    return Effect(head, others=others, household=household.number)


def _split(act: SplitHousehold, basis: ActBasis, state: ActState) -> Effect:
    household = household_named(act.household, state)
    today = state.today
    on = act.effective or today
    movers: dict[object, Person] = {}
    for ref in act.members:
        person = state.person(ref)
        movers.setdefault(person.id, person)
    head = movers.get(state.resolve(act.head))
    if head is None:  # the same person named two ways: the model could not tell
        raise RuleBroken("the new household's head is one of the members who move")
    for person in movers.values():
        person.check_may_act("household split", on, today)
        check(HeadMustBeMember(person.display_id, household.number, person.id in household.members))
    check(
        SplitLeavesMembersBehind(household.number, len(movers), len(household.members)),
        HeadMustBeAdult(head.display_id, head.born, on),
    )
    number = _free_household_number(state)
    new = Household.establish(
        number,
        basis,
        on,
        commune=household.commune,
        address=household.address,
        head_id=head.id,
        split_from=household.number,
    )
    relations = dict(household.members)
    for person in movers.values():
        household.leave(basis, on, person.id, "split")
        relation = Relation.HEAD
        if person is not head:
            kept = relations.get(person.id, Relation.OTHER.value)
            relation = Relation.OTHER if kept == Relation.HEAD.value else Relation(kept)
            new.join(basis, on, person.id, relation)
        person.take_household_role(basis, on, str(number), relation)
    others: list[Aggregate] = [household, new, *(p for p in movers.values() if p is not head)]
    return Effect(head, others=others, household=str(number), established=str(number))


def _free_household_number(state: ActState) -> HouseholdNumber:
    for _ in range(MAX_HOUSEHOLD_DRAWS):
        number = state.draw_household_number()
        if not state.household_number_is_taken(number):
            return number
    raise RuleBroken(
        f"no free household number found after {MAX_HOUSEHOLD_DRAWS} draws",
        rule="HouseholdNumbersHaveRoom",
    )
