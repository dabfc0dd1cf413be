"""Deciding the acts on identity documents: cards, the electronic identity, certificates.

Each act is about one person and changes only that record; the rules and the effects on the
other documents (a withholding locks the eid, a return unlocks it) are the record's own
(`domain/cardholder.py`). The date of an act is its `effective` date, today when left out.
"""

from __future__ import annotations

from application.effect import Effect
from application.ports import ActState
from domain.aggregate import ActBasis
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


def decide_identity(act: Command, basis: ActBasis, state: ActState) -> Effect:
    """Apply one identity act to its person; the effect holds that person alone."""
    person = state.person(act.person)  # type: ignore[attr-defined]
    today = state.today
    on = act.effective or today  # type: ignore[attr-defined]
    if isinstance(act, IssueCard):
        person.issue_card(basis, act.reason, on, today)
    elif isinstance(act, RevokeCard):
        person.revoke_card(basis, act.ground.value, on, today)
    elif isinstance(act, WithholdCard):
        person.withhold_card(basis, act.ground.value, on, today)
    elif isinstance(act, ReturnCard):
        person.return_card(basis, on, today)
    elif isinstance(act, CreateEid):
        person.create_eid(basis, on, today)
    elif isinstance(act, LockEid):
        person.lock_eid(basis, act.ground.value, on, today)
    elif isinstance(act, UnlockEid):
        person.unlock_eid(basis, on, today)
    elif isinstance(act, IssueIdentityCertificate):
        person.issue_identity_certificate(basis, act.reason, on, today)
    elif isinstance(act, RevokeIdentityCertificate):
        person.revoke_identity_certificate(basis, act.ground.value, on, today)
    else:  # pragma: no cover (decide() routes only identity acts here)
        raise TypeError(f"not an identity act: {act.KIND}")
    return Effect(person)
