"""The resident side of a person record: residences, household membership, record cleaning.

`Person` inherits this; it is kept apart so that each file stays one concept. The commands
check the residence rules (docs/residence.md) and trigger events; the `@applies` methods only
assign state, as everywhere in the domain.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, cast
from uuid import UUID

from domain.aggregate import ActBasis, Aggregate, applies
from domain.events import (
    AbodeDeclared,
    DeletionProposalWithdrawn,
    DeletionProposed,
    HouseholdRoleChanged,
    RecordConfirmed,
    ResidenceEnded,
    ResidenceRegistered,
    TemporaryResidenceExtended,
)
from domain.record import PersonRecord
from domain.residence import Relation, Residence, ResidenceKind
from domain.rules import (
    AbodeOnlyWithoutResidence,
    ActCannotPrecedeBirth,
    CommuneMustBeInForce,
    DateCannotBeInFuture,
    DeletionProposalMustBe,
    ExtensionMustLengthen,
    NoActOnDeceasedExceptCorrection,
    NoActOnMergedRecord,
    RecordNotYetConfirmed,
    ResidenceMustBeCurrent,
    TemporaryResidenceNeedsAnEnd,
    TemporaryResidenceOutsidePermanentCommune,
    check,
)


class ResidentRecord(Aggregate):
    """Residences, household and cleaning state of a person record (see `Person`)."""

    if TYPE_CHECKING:  # the civil facts, kept by `Person`
        born: date
        died_on: date | None
        merged_into: UUID | None

    def __init__(self, id: UUID) -> None:
        super().__init__(id)
        #: Residences as they stand (a temporary one is current only until its `until`).
        self.permanent: Residence | None = None
        self.temporary: Residence | None = None
        self.abode: Residence | None = None
        #: The household of the permanent residence, and the relation to its head.
        self.household: str | None = None
        self.relation: str | None = None
        #: Record cleaning: checked and confirmed by the police; proposed for deletion.
        self.confirmed = False
        self.proposed_for_deletion = False

    # ------------------------------------------------------- residence commands

    @property
    def _record(self) -> PersonRecord:
        return cast(PersonRecord, self)

    def check_may_act(self, act: str, on: date, today: date) -> None:
        """The rules every act of a living, unmerged person meets, dated `on`."""
        check(
            NoActOnMergedRecord(self._record),
            NoActOnDeceasedExceptCorrection(self._record, act),
            DateCannotBeInFuture("effective date", on, today),
            ActCannotPrecedeBirth(f"a {act}", on, self.born),
        )

    def current_temporary(self, on: date) -> Residence | None:
        """The temporary residence current on `on` (it lapses after its `until`)."""
        temporary = self.temporary
        return temporary if temporary and temporary.is_current_on(on) else None

    def register_residence(
        self,
        basis: ActBasis,
        kind: ResidenceKind,
        commune: str,
        address: str,
        on: date,
        today: date,
        *,
        until: date | None = None,
        household: str | None = None,
        relation: Relation | None = None,
    ) -> None:
        """Register a residence. A permanent one ends the previous permanent one in the same
        act (and a temporary one in the same commune: Art. 29(1)(đ)); `household` and
        `relation` say where the person now belongs."""
        self.check_may_act(f"{kind.value} residence registration", on, today)
        check(CommuneMustBeInForce(commune, on))
        if kind is ResidenceKind.TEMPORARY:
            permanent = self.permanent.commune if self.permanent else None
            check(
                TemporaryResidenceNeedsAnEnd(on, until),
                TemporaryResidenceOutsidePermanentCommune(commune, permanent),
            )
        else:
            if self.permanent is not None:
                self._trigger(
                    ResidenceEnded, basis, on, kind="permanent", ground="new_permanent_residence"
                )
            current = self.current_temporary(on)
            if current is not None and current.commune == commune:
                self._trigger(
                    ResidenceEnded, basis, on, kind="temporary", ground="permanent_at_same_place"
                )
        self._trigger(
            ResidenceRegistered,
            basis,
            on,
            kind=kind.value,
            commune=commune,
            address=address,
            until=until if kind is ResidenceKind.TEMPORARY else None,
            household=household,
            relation=relation.value if relation else None,
        )

    def end_residence(
        self, basis: ActBasis, kind: ResidenceKind, ground: str, on: date, today: date
    ) -> None:
        self.check_may_act(f"end of a {kind.value} residence", on, today)
        current = self.permanent if kind is ResidenceKind.PERMANENT else self.current_temporary(on)
        check(ResidenceMustBeCurrent(kind.value, current is not None, on))
        self._trigger(ResidenceEnded, basis, on, kind=kind.value, ground=ground)

    def extend_residence(self, basis: ActBasis, until: date, on: date, today: date) -> None:
        self.check_may_act("extension of a temporary residence", on, today)
        current = self.current_temporary(on)
        check(
            ResidenceMustBeCurrent("temporary", current is not None, on),
            TemporaryResidenceNeedsAnEnd(on, until, "temporary residence extension"),
            ExtensionMustLengthen(until, current.until if current else None),
        )
        self._trigger(TemporaryResidenceExtended, basis, on, until=until)

    def declare_abode(
        self, basis: ActBasis, commune: str, address: str, on: date, today: date
    ) -> None:
        self.check_may_act("declaration of a current abode", on, today)
        check(
            CommuneMustBeInForce(commune, on),
            AbodeOnlyWithoutResidence(
                self.permanent is not None or self.current_temporary(on) is not None
            ),
        )
        self._trigger(AbodeDeclared, basis, on, commune=commune, address=address)

    def end_residences(self, basis: ActBasis, on: date, ground: str) -> None:
        """The effect of a death, a merge or a renunciation: every residence ends, in the
        same act, on the same ground."""
        if self.permanent is not None:
            self._trigger(ResidenceEnded, basis, on, kind="permanent", ground=ground)
        if self.current_temporary(on) is not None:
            self._trigger(ResidenceEnded, basis, on, kind="temporary", ground=ground)

    def take_household_role(
        self, basis: ActBasis, on: date, household: str | None, relation: Relation | None
    ) -> None:
        self._trigger(
            HouseholdRoleChanged,
            basis,
            on,
            household=household,
            relation=relation.value if relation else None,
        )

    def confirm(self, basis: ActBasis, on: date, today: date) -> None:
        self.check_may_act("confirmation of the record", on, today)
        check(RecordNotYetConfirmed(self.confirmed))
        self._trigger(RecordConfirmed, basis, on)

    def propose_deletion(self, basis: ActBasis, reason: str, on: date, today: date) -> None:
        check(
            NoActOnMergedRecord(self._record),
            DateCannotBeInFuture("effective date", on, today),
            DeletionProposalMustBe(self.proposed_for_deletion, wanted=False),
        )
        self._trigger(DeletionProposed, basis, on, reason=reason)

    def withdraw_deletion_proposal(self, basis: ActBasis, on: date, today: date) -> None:
        check(
            NoActOnMergedRecord(self._record),
            DateCannotBeInFuture("effective date", on, today),
            DeletionProposalMustBe(self.proposed_for_deletion, wanted=True),
        )
        self._trigger(DeletionProposalWithdrawn, basis, on)

    def residence_document(self, today: date) -> dict[str, object]:
        """The `show --json` keys of residence and record cleaning (household's head apart)."""
        temporary = self.current_temporary(today)
        return {
            "residence": {
                "permanent": self.permanent.as_document() if self.permanent else None,
                "temporary": temporary.as_document() if temporary else None,
                "abode": self.abode.as_document() if self.abode else None,
            },
            "confirmed": self.confirmed,
            "proposed_for_deletion": self.proposed_for_deletion,
        }

    # ------------------------------------------------------------ state only

    @applies(ResidenceRegistered)
    def _residence_registered(self, e: ResidenceRegistered) -> None:
        residence = Residence(e.commune, e.address, e.occurred_on, e.until)
        if e.kind == "permanent":
            self.permanent = residence
            self.household = e.household
            self.relation = e.relation
        else:
            self.temporary = residence
        self.abode = None  # a residence replaces a declared abode

    @applies(ResidenceEnded)
    def _residence_ended(self, e: ResidenceEnded) -> None:
        if e.kind == "permanent":
            self.permanent = None
            self.household = None
            self.relation = None
        else:
            self.temporary = None
        if e.ground in ("death", "merged_as_duplicate"):
            self.abode = None

    @applies(TemporaryResidenceExtended)
    def _temporary_extended(self, e: TemporaryResidenceExtended) -> None:
        if self.temporary is not None:
            self.temporary = replace(self.temporary, until=e.until)

    @applies(AbodeDeclared)
    def _abode_declared(self, e: AbodeDeclared) -> None:
        self.abode = Residence(e.commune, e.address, e.occurred_on)

    @applies(HouseholdRoleChanged)
    def _household_role_changed(self, e: HouseholdRoleChanged) -> None:
        self.household = e.household
        self.relation = e.relation

    @applies(RecordConfirmed)
    def _confirmed(self, e: RecordConfirmed) -> None:
        self.confirmed = True

    @applies(DeletionProposed)
    def _deletion_proposed(self, e: DeletionProposed) -> None:
        self.proposed_for_deletion = True

    @applies(DeletionProposalWithdrawn)
    def _deletion_withdrawn(self, e: DeletionProposalWithdrawn) -> None:
        self.proposed_for_deletion = False
