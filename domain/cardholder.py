"""The identity side of a person record: cards, the electronic identity, certificates.

`Person` inherits this, beside `ResidentRecord`. The commands check the rules of docs/cards.md
and trigger events; the effects another act has on the documents (a renunciation, a death, a
nationality determined) are the `follow_*` methods, called by that act's own command, so every
path to the act (a clerk's, an import row) carries them. The `@applies` methods only change
the `IdentityFile`, through its methods, which the `cards` read model calls as well.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from domain.aggregate import ActBasis, Aggregate, applies
from domain.events import (
    CardIssued,
    CardReturned,
    CardRevoked,
    CardWithheld,
    ElectronicIdentityCreated,
    ElectronicIdentityLocked,
    ElectronicIdentityUnlocked,
    IdentityCertificateIssued,
    IdentityCertificateRevoked,
)
from domain.identity import (
    EID_LOCKS_BY_FACT,
    Card,
    CardData,
    CardReason,
    Certificate,
    CertificateReason,
    Holder,
    IdentityFile,
    age_renewal_opens,
    card_expiry,
)
from domain.record import PersonRecord
from domain.residence import Residence, age_on
from domain.rules import (
    CardCannotPrecedeItsData,
    CardMustBeHeld,
    CardOnlyForCitizenWithNumber,
    CardWithheldOnce,
    CertificateMustBeHeld,
    CertificateNeedsSixMonthsInACommune,
    CertificateOnlyForUndeterminedNationality,
    CertificateReasonMustApply,
    EidLockMustFit,
    EidUnlockNeedsCauseEnded,
    ElectronicIdentityNeedsACard,
    FirstCardFitsAge,
    IdentityActsInOrder,
    LostNationalityNeedsItLost,
    NoNewCardWhileWithheld,
    OneElectronicIdentity,
    RenewalReasonMustApply,
    check,
)
from domain.values import Sex


class IdentityHolder(Aggregate):
    """Identity documents of a person record (see `Person`)."""

    if TYPE_CHECKING:  # the civil facts, kept by `Person` and `ResidentRecord`
        name: str
        sex: Sex
        born: date
        id_number: str | None
        died_on: date | None
        merged_into: UUID | None
        permanent: Residence | None
        temporary: Residence | None
        abode: Residence | None

        def check_may_act(self, act: str, on: date, today: date) -> None: ...

    def __init__(self, id: UUID) -> None:
        super().__init__(id)
        self.identity = IdentityFile()
        #: Since when the record's name, date of birth, sex and number are as they are.
        self.card_data_since: date | None = None

    # ------------------------------------------------------------------ queries

    @property
    def card_data(self) -> CardData:
        """What a card issued now would carry."""
        return CardData(self.id_number, self.name, self.born, self.sex.value)

    @property
    def holder(self) -> Holder:
        return Holder(self.card_data, self.died_on, self.merged_into is not None)

    def card_document(self, on: date, *, with_cards: bool = True) -> dict[str, Any]:
        return self.identity.document(self.holder, on, with_cards=with_cards)

    def _check_identity_act(self, act: str, on: date, today: date) -> None:
        self.check_may_act(act, on, today)
        check(IdentityActsInOrder(on, self.identity.latest_on))

    # ------------------------------------------------------------------- cards

    def issue_card(self, basis: ActBasis, reason: CardReason, on: date, today: date) -> CardIssued:
        """Issue, renew or re-issue a card (Art. 19, 21, 24); it replaces any earlier card."""
        self._check_identity_act("card issue", on, today)
        check(
            CardOnlyForCitizenWithNumber(cast(PersonRecord, self)),
            CardCannotPrecedeItsData(on, self.card_data_since),
        )
        file = self.identity
        card = file.card
        check(FirstCardFitsAge(reason.value, age_on(self.born, on), card is not None))
        if card is not None:
            check(NoNewCardWhileWithheld(file.withheld))
            applies, why_not = self._renewal_applies(reason, on)
            check(RenewalReasonMustApply(reason.value, applies, why_not))
        data = self.card_data
        return self._trigger(
            CardIssued,
            basis,
            on,
            reason=reason.value,
            expires_on=card_expiry(self.born, on),
            id_number=data.id_number,
            name=data.name,
            born=data.born,
            sex=data.sex,
        )

    def _renewal_applies(self, reason: CardReason, on: date) -> tuple[bool, str]:
        """Whether `reason` applies to a holder on `on`, and why not when it does not."""
        card = self.identity.card
        assert card is not None  # noqa: S101 (a holder's renewal)
        revoked = card.revoked
        if reason is CardReason.NATIONALITY_REGAINED or revoked == "lost_nationality":
            return (
                reason is CardReason.NATIONALITY_REGAINED and revoked == "lost_nationality",
                "only a card revoked for lost nationality is re-issued for nationality regained",
            )
        why = self.identity.mismatch(self.holder)
        opens = age_renewal_opens(card.expires_on) if card.expires_on else None
        verdicts: dict[CardReason, tuple[bool, str]] = {
            CardReason.AGE: (
                opens is not None and on >= opens,
                f"renewal for age opens on {opens}" if opens else "the card does not expire",
            ),
            CardReason.DATA_CHANGE: (
                why == "data_change",
                "the card's name, date of birth and sex match the record",
            ),
            CardReason.NUMBER_REISSUED: (
                why == "number_reissued",
                "the card's number is the record's number",
            ),
            CardReason.LOST: (revoked is None, "the card was revoked"),
            CardReason.DAMAGED: (revoked is None, "the card was revoked"),
        }
        return verdicts.get(reason, (True, ""))  # request: Art. 24(1)(g), any time

    def revoke_card(self, basis: ActBasis, ground: str, on: date, today: date) -> None:
        """Revoke the card (Art. 29(1)); the eid is locked with it (Art. 34)."""
        self._check_identity_act("card revocation", on, today)
        card = self.identity.card
        check(
            CardMustBeHeld("revoke", card is not None and card.revoked is None),
            LostNationalityNeedsItLost(ground, cast(PersonRecord, self).nationality),
        )
        self._revoke(basis, ground, on)

    def withhold_card(self, basis: ActBasis, ground: str, on: date, today: date) -> None:
        """Withhold the card (Art. 29(2)); the eid is locked while it is held."""
        self._check_identity_act("card withholding", on, today)
        card = self.identity.card
        check(
            CardMustBeHeld("withhold", card is not None and card.revoked is None),
            CardWithheldOnce(True, self.identity.withheld),
        )
        self._trigger(CardWithheld, basis, on, ground=ground)
        self._lock_eid_for("card_withheld", basis, on)

    def return_card(self, basis: ActBasis, on: date, today: date) -> None:
        """Return a withheld card on release; an eid locked for it is unlocked."""
        self._check_identity_act("card return", on, today)
        check(CardWithheldOnce(False, self.identity.withheld))
        self._trigger(CardReturned, basis, on)
        eid = self.identity.eid
        if eid is not None and eid.locked == "card_withheld":
            self._trigger(ElectronicIdentityUnlocked, basis, on)

    # --------------------------------------------------------------------- eid

    def create_eid(self, basis: ActBasis, on: date, today: date) -> None:
        self._check_identity_act("electronic identity", on, today)
        file = self.identity
        card = file.card
        check(
            CardOnlyForCitizenWithNumber(cast(PersonRecord, self), "an electronic identity"),
            OneElectronicIdentity(file.eid is not None),
            ElectronicIdentityNeedsACard(
                card is not None and card.revoked is None and file.withheld is None
            ),
        )
        self._trigger(ElectronicIdentityCreated, basis, on)

    def lock_eid(self, basis: ActBasis, ground: str, on: date, today: date) -> None:
        self._check_identity_act("electronic identity lock", on, today)
        eid = self.identity.eid
        check(
            EidLockMustFit(
                ground,
                eid.locked if eid else None,
                ground not in EID_LOCKS_BY_FACT or self._lock_cause_holds(ground),
                eid is not None,
            )
        )
        self._trigger(ElectronicIdentityLocked, basis, on, ground=ground)

    def unlock_eid(self, basis: ActBasis, on: date, today: date) -> None:
        self._check_identity_act("electronic identity unlock", on, today)
        eid = self.identity.eid
        locked = eid.locked if eid else None
        # Any cause that stands keeps it locked: a card withheld, then revoked, stays locked
        # after the withholding ends.
        holds = locked is not None and any(
            self._lock_cause_holds(ground) for ground in (locked, *EID_LOCKS_BY_FACT)
        )
        check(EidUnlockNeedsCauseEnded(locked, holds))
        self._trigger(ElectronicIdentityUnlocked, basis, on)

    def _lock_cause_holds(self, ground: str) -> bool:
        """Whether the fact behind a lock ground holds (other grounds end by an unlock)."""
        card = self.identity.card
        if ground == "card_revoked":
            return card is not None and card.revoked is not None
        if ground == "card_withheld":
            return self.identity.withheld is not None
        if ground == "death":
            return self.died_on is not None
        return False

    # ------------------------------------------------------------- certificates

    def issue_identity_certificate(
        self, basis: ActBasis, reason: CertificateReason, on: date, today: date
    ) -> None:
        """Issue an identity certificate (Art. 30), or a new one replacing it."""
        self._check_identity_act("identity certificate", on, today)
        check(
            CertificateOnlyForUndeterminedNationality(cast(PersonRecord, self)),
            CertificateNeedsSixMonthsInACommune(self._living_since(on), on),
        )
        held = self.identity.certificate
        if reason is CertificateReason.FIRST:
            applies, why_not = held is None, "the person holds a current certificate"
        elif held is None:
            applies, why_not = False, "the person holds no current certificate"
        elif reason is CertificateReason.DATA_CHANGE:
            same = (held.name, held.born, held.sex) == (self.name, self.born, self.sex.value)
            applies, why_not = not same, "the certificate matches the record"
        else:
            applies, why_not = True, ""
        check(CertificateReasonMustApply(reason.value, applies, why_not))
        self._trigger(
            IdentityCertificateIssued,
            basis,
            on,
            reason=reason.value,
            name=self.name,
            born=self.born,
            sex=self.sex.value,
        )

    def revoke_identity_certificate(
        self, basis: ActBasis, ground: str, on: date, today: date
    ) -> None:
        self._check_identity_act("identity certificate revocation", on, today)
        check(CertificateMustBeHeld(self.identity.certificate is not None))
        self._trigger(IdentityCertificateRevoked, basis, on, ground=ground)

    def _living_since(self, on: date) -> date | None:
        """Since when the person lives in the commune of a residence or abode current on `on`."""
        starts = [
            place.since
            for place in (self.permanent, self.temporary, self.abode)
            if place is not None and place.is_current_on(on)
        ]
        return min(starts) if starts else None

    # ----------------------------------------------- effects of the other acts

    def follow_renunciation(self, basis: ActBasis, on: date) -> None:
        """Art. 29(1)(a): a renunciation revokes the card; the eid is locked with it."""
        card = self.identity.card
        if card is not None and card.revoked is None:
            self._revoke(basis, "lost_nationality", on)
        else:
            self._lock_eid_for("card_revoked", basis, on)

    def follow_death(self, basis: ActBasis, on: date) -> None:
        """Art. 34: a death locks the eid (the card's status becomes `holder_deceased`)."""
        self._lock_eid_for("death", basis, on)

    def follow_nationality_determined(self, basis: ActBasis, on: date) -> None:
        """A determined nationality ends the identity certificate."""
        if self.identity.certificate is not None:
            self._trigger(IdentityCertificateRevoked, basis, on, ground="nationality_determined")

    def _revoke(self, basis: ActBasis, ground: str, on: date) -> None:
        self._trigger(CardRevoked, basis, on, ground=ground)
        self._lock_eid_for("card_revoked", basis, on)

    def _lock_eid_for(self, ground: str, basis: ActBasis, on: date) -> None:
        eid = self.identity.eid
        if eid is not None and eid.locked is None:
            self._trigger(ElectronicIdentityLocked, basis, on, ground=ground)

    # ------------------------------------------------------------ state only

    @applies(CardIssued)
    def _card_issued(self, e: CardIssued) -> None:
        self.identity = self.identity.issued(card_of(e))

    @applies(CardRevoked)
    def _card_revoked(self, e: CardRevoked) -> None:
        self.identity = self.identity.revoked(e.ground, e.occurred_on)

    @applies(CardWithheld)
    def _card_withheld(self, e: CardWithheld) -> None:
        self.identity = self.identity.withheld_for(e.ground, e.occurred_on)

    @applies(CardReturned)
    def _card_returned(self, e: CardReturned) -> None:
        self.identity = self.identity.returned(e.occurred_on)

    @applies(ElectronicIdentityCreated)
    def _eid_created(self, e: ElectronicIdentityCreated) -> None:
        self.identity = self.identity.eid_created(e.occurred_on)

    @applies(ElectronicIdentityLocked)
    def _eid_locked(self, e: ElectronicIdentityLocked) -> None:
        self.identity = self.identity.eid_locked(e.ground, e.occurred_on)

    @applies(ElectronicIdentityUnlocked)
    def _eid_unlocked(self, e: ElectronicIdentityUnlocked) -> None:
        self.identity = self.identity.eid_unlocked(e.occurred_on)

    @applies(IdentityCertificateIssued)
    def _certificate_issued(self, e: IdentityCertificateIssued) -> None:
        self.identity = self.identity.certificate_issued(certificate_of(e))

    @applies(IdentityCertificateRevoked)
    def _certificate_revoked(self, e: IdentityCertificateRevoked) -> None:
        self.identity = self.identity.certificate_revoked(e.ground, e.occurred_on)

    def _card_data_changed(self, on: date) -> None:
        """Called by `Person` when the name, date of birth, sex or number changes."""
        self.identity = self.identity.record_changed(on)
        if self.card_data_since is None or on > self.card_data_since:
            self.card_data_since = on


def card_of(e: CardIssued) -> Card:
    return Card(
        issued_on=e.occurred_on,
        expires_on=e.expires_on,
        reason=e.reason,
        data=CardData(e.id_number, e.name, e.born, e.sex.value),
    )


def certificate_of(e: IdentityCertificateIssued) -> Certificate:
    return Certificate(e.occurred_on, e.reason, e.name, e.born, e.sex.value)
