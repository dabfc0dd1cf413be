"""Identity documents: the clerk's commands for cards, the electronic identity and certificates.

Each command parses its options into one act (domain/commands.py), has the register decide and
record it, and prints the answer; the rules are the record's (domain/cardholder.py,
docs/cards.md).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from application.register import ActOutcome
from cli.options import choices
from cli.residence import EffectiveOpt, IdArg
from cli.runtime import (
    ClerkOpt,
    DebugOpt,
    JsonOpt,
    OfficeOpt,
    ReferenceOpt,
    StoreOpt,
    answer_write,
    clerking,
    open_register,
)
from domain.commands import (
    Command,
    CreateEid,
    IssueCard,
    IssueIdentityCertificate,
    LockEid,
    ReturnCard,
    RevokeCard,
    RevokeIdentityCertificate,
    UnlockEid,
    WithholdCard,
)
from domain.identity import (
    CardReason,
    CertificateReason,
    CertificateRevocationGround,
    EidLockGround,
    RevocationGround,
    WithholdingGround,
)
from domain.values import SystemClock, today_of


def _names(values: type[Any]) -> str:
    return choices(value.value for value in values)


def _write(
    command: Command, clerk: str | None, office: str | None, reference: str, store: str | None
) -> ActOutcome:
    return open_register(store).execute(command, clerking(clerk, office, reference))


def _card_answer(outcome: ActOutcome, json_out: bool, summary: str) -> None:
    """The card's document (without the earlier cards) and the eid, for `--json`."""
    person = outcome.person

    def document() -> dict[str, Any]:
        card = person.card_document(today_of(SystemClock()), with_cards=False)
        return {"person_id": str(person.id), **card, "eid": person.identity.eid_document()}

    answer_write(json_out, document, outcome.already_recorded, summary)


def register(app: typer.Typer) -> None:
    @app.command("issue-card")
    def issue_card(
        id: IdArg,
        reason: Annotated[
            str,
            typer.Option(
                metavar=_names(CardReason),
                help="first (14 or over, never held one), request (under 14, or a holder's "
                "wish), age, data_change, number_reissued, lost, damaged, nationality_regained.",
            ),
        ],
        reference: ReferenceOpt,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Issue, renew or re-issue an identity card; prints its expiry date (or `never`)."""
        act = IssueCard.parse(person=id, reason=reason, effective=effective)
        outcome = _write(act, clerk, office, reference, store)
        card = outcome.person.identity.card
        assert card is not None  # noqa: S101 (the act issued it, or a retry found it)
        expires = card.expires_on.isoformat() if card.expires_on else None

        def document() -> dict[str, Any]:
            return {
                "id_number": card.data.id_number,
                "issued_on": card.issued_on.isoformat(),
                "expires_on": expires,
                "reason": card.reason,
            }

        answer_write(json_out, document, outcome.already_recorded, expires or "never")

    @app.command("revoke-card")
    def revoke_card(
        id: IdArg,
        ground: Annotated[
            str, typer.Option(metavar=_names(RevocationGround), help="Art. 29(1) ground.")
        ],
        reference: ReferenceOpt,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Revoke the card (its electronic identity is locked with it)."""
        act = RevokeCard.parse(person=id, ground=ground, effective=effective)
        outcome = _write(act, clerk, office, reference, store)
        _card_answer(outcome, json_out, f"{outcome.person.display_id}: card revoked")

    @app.command("withhold-card")
    def withhold_card(
        id: IdArg,
        ground: Annotated[
            str, typer.Option(metavar=_names(WithholdingGround), help="Art. 29(2) ground.")
        ],
        reference: ReferenceOpt,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Withhold the card while its holder is held (the electronic identity is locked)."""
        act = WithholdCard.parse(person=id, ground=ground, effective=effective)
        outcome = _write(act, clerk, office, reference, store)
        _card_answer(outcome, json_out, f"{outcome.person.display_id}: card withheld")

    @app.command("return-card")
    def return_card(
        id: IdArg,
        reference: ReferenceOpt,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Return a withheld card on release (an electronic identity locked for it unlocks)."""
        act = ReturnCard.parse(person=id, effective=effective)
        outcome = _write(act, clerk, office, reference, store)
        _card_answer(outcome, json_out, f"{outcome.person.display_id}: card returned")

    @app.command("create-eid")
    def create_eid(
        id: IdArg,
        reference: ReferenceOpt,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Create the citizen's electronic identity."""
        act = CreateEid.parse(person=id, effective=effective)
        outcome = _write(act, clerk, office, reference, store)
        _card_answer(outcome, json_out, f"{outcome.person.display_id}: electronic identity active")

    @app.command("lock-eid")
    def lock_eid(
        id: IdArg,
        ground: Annotated[str, typer.Option(metavar=_names(EidLockGround), help="Art. 34 ground.")],
        reference: ReferenceOpt,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Lock the electronic identity."""
        act = LockEid.parse(person=id, ground=ground, effective=effective)
        outcome = _write(act, clerk, office, reference, store)
        _card_answer(outcome, json_out, f"{outcome.person.display_id}: electronic identity locked")

    @app.command("unlock-eid")
    def unlock_eid(
        id: IdArg,
        reference: ReferenceOpt,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Unlock the electronic identity once the cause of its lock has ended."""
        act = UnlockEid.parse(person=id, effective=effective)
        outcome = _write(act, clerk, office, reference, store)
        _card_answer(outcome, json_out, f"{outcome.person.display_id}: electronic identity active")

    @app.command("issue-identity-certificate")
    def issue_identity_certificate(
        id: IdArg,
        reference: ReferenceOpt,
        reason: Annotated[
            str,
            typer.Option(
                metavar=_names(CertificateReason),
                help="first, or a new one for data_change, lost or damaged.",
            ),
        ] = "first",
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Issue an identity certificate to a person of undetermined nationality (Art. 30)."""
        act = IssueIdentityCertificate.parse(person=id, reason=reason, effective=effective)
        outcome = _write(act, clerk, office, reference, store)
        _certificate_answer(outcome, json_out, "identity certificate issued")

    @app.command("revoke-identity-certificate")
    def revoke_identity_certificate(
        id: IdArg,
        ground: Annotated[
            str,
            typer.Option(
                metavar=_names(CertificateRevocationGround),
                help="nationality_determined, issued_wrongly or tampered.",
            ),
        ],
        reference: ReferenceOpt,
        effective: EffectiveOpt = None,
        clerk: ClerkOpt = None,
        office: OfficeOpt = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """End a person's identity certificate."""
        act = RevokeIdentityCertificate.parse(person=id, ground=ground, effective=effective)
        outcome = _write(act, clerk, office, reference, store)
        _certificate_answer(outcome, json_out, "identity certificate revoked")


def _certificate_answer(outcome: ActOutcome, json_out: bool, what: str) -> None:
    person = outcome.person
    latest = person.identity.certificates[-1] if person.identity.certificates else None

    def document() -> dict[str, Any]:
        return {
            "person_id": str(person.id),
            "id_number": person.id_number,
            "certificate": latest.document() if latest else None,
        }

    answer_write(json_out, document, outcome.already_recorded, f"{person.display_id}: {what}")
