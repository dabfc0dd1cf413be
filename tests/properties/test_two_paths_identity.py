"""Property: identity acts (cards, withholdings, the eid, certificates) imported and entered
act by act as a clerk give the same people, the same ledger and the same report.

The births of `test_two_paths_agree`, then a random run of identity acts of every kind among
changes, renunciations and deaths (which touch the cards by themselves), in any order and with
any reason or ground, refusals included.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from application.register import CivilRegister
from domain.errors import CivledgerError
from domain.identity import (
    CardReason,
    CertificateReason,
    CertificateRevocationGround,
    EidLockGround,
    RevocationGround,
    WithholdingGround,
)
from tests.conftest import FixedClock
from tests.properties.test_two_paths_agree import CHANGES, LABELS, births, person
from tests.two_paths import (
    Ref,
    act,
    as_clerk,
    as_import,
    compare_outcomes,
    ledger,
    people,
    person_id,
    report,
)

#: Dates of the acts: before and after the 14th birthday of someone born in 2001, in the
#: 2021 campaign, and later; the clock stands at 2026-06-01.
DATES = ["2010-10-10", "2016-02-02", "2021-04-04", "2023-03-03", "2025-05-05", "2026-05-31"]


def holder(draw: st.DrawFn) -> Ref:
    """One of the first three people (so that their acts build on each other), mostly by
    UUID; sometimes by number, as the other two-path property names them."""
    if draw(st.integers(0, 4)) == 0:
        return person(draw)
    return Ref(draw(st.sampled_from(LABELS[:3])))


@st.composite
def identity_acts(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = []
    kinds = [
        "issue_card", "issue_card", "issue_card", "revoke_card", "withhold_card",
        "return_card", "create_eid", "lock_eid", "unlock_eid", "change", "renunciation",
        "death", "abode", "issue_identity_certificate", "revoke_identity_certificate",
    ]  # fmt: skip
    # Often the 2021 campaign first, so that later acts find a card to act on.
    if draw(st.booleans()):
        rows = [
            act("issue_card", f"CAMPAIGN-{label}", person=Ref(label), reason="first",
                effective="2021-04-04")
            for label in LABELS[:3]
        ]  # fmt: skip
    # Mostly in date order, as a register's acts are; sometimes a step back.
    index = draw(st.integers(0, 2)) + (2 if rows else 0)
    for n in range(draw(st.integers(1, 16))):
        kind = draw(st.sampled_from(kinds))
        reference = f"{kind[:3].upper()}-{n}"
        index = min(max(index + draw(st.sampled_from([0, 0, 1, 1, -1])), 0), len(DATES) - 1)
        on = DATES[index]
        who = holder(draw)
        if kind == "issue_card":
            reason = draw(st.sampled_from(["first", "first", *[r.value for r in CardReason]]))
            rows.append(act(kind, reference, person=who, reason=reason, effective=on))
        elif kind == "revoke_card":
            ground = draw(st.sampled_from([g.value for g in RevocationGround]))
            rows.append(act(kind, reference, person=who, ground=ground, effective=on))
        elif kind == "withhold_card":
            ground = draw(st.sampled_from([g.value for g in WithholdingGround]))
            rows.append(act(kind, reference, person=who, ground=ground, effective=on))
        elif kind == "lock_eid":
            ground = draw(st.sampled_from([g.value for g in EidLockGround]))
            rows.append(act(kind, reference, person=who, ground=ground, effective=on))
        elif kind == "change":
            field, value, change_kind = draw(st.sampled_from(CHANGES))
            rows.append(
                act(kind, reference, person=who, field=field, value=value,
                    change_kind=change_kind, effective=on)
            )  # fmt: skip
        elif kind == "abode":  # a commune of the 2025 list, for a certificate's six months
            rows.append(
                act(kind, reference, person=who, commune="31246", address="Số 1, thôn 2",
                    effective="2025-08-01")
            )  # fmt: skip
        elif kind == "issue_identity_certificate":
            reason = draw(st.sampled_from([r.value for r in CertificateReason]))
            rows.append(act(kind, reference, person=who, reason=reason, effective=on))
        elif kind == "revoke_identity_certificate":
            ground = draw(st.sampled_from([g.value for g in CertificateRevocationGround]))
            rows.append(act(kind, reference, person=who, ground=ground, effective=on))
        elif kind == "death":
            rows.append(act(kind, reference, person=who, died_on=on))
        else:  # return_card, create_eid, unlock_eid, renunciation
            rows.append(act(kind, reference, person=who, effective=on))
    return rows


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(first=births(), then=identity_acts(), batch_size=st.sampled_from([1, 4, 500]))
def test_identity_acts_imported_and_entered_as_a_clerk_give_the_same_register(
    first: list[dict[str, Any]], then: list[dict[str, Any]], batch_size: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        clerk_url = f"sqlite:///{Path(folder) / 'clerk.sqlite'}"
        import_url = f"sqlite:///{Path(folder) / 'import.sqlite'}"
        clerk = CivilRegister(clerk_url, clock=FixedClock())
        imported = CivilRegister(import_url, clock=FixedClock())
        try:
            for rows in (first, then):
                outcomes = as_clerk(clerk, rows)
                compare_outcomes(outcomes, as_import(imported, rows, batch_size))
                if rows is then:
                    for raw, outcome in zip(rows, outcomes, strict=True):
                        event(f"{raw['kind']}: {outcome[0]}")
            assert people(imported, LABELS) == people(clerk, LABELS)
            assert ledger(imported) == ledger(clerk)
            for label in LABELS:
                shown = [register_card(register, label) for register in (clerk, imported)]
                assert shown[0] == shown[1]
        finally:
            clerk.close()
            imported.close()
        assert report(import_url) == report(clerk_url)


def register_card(register: CivilRegister, label: str) -> Any:
    """The person's card document as the record gives it (numbers masked by comparing
    only their prefix), or None for a person not registered."""
    try:
        record = register.person(person_id(label))
    except CivledgerError:
        return None
    document: dict[str, Any] = record.card_document(FixedClock().now().date())
    earlier: list[Any] = document.get("cards") or []
    for card in [document, *earlier]:
        if isinstance(card, dict) and isinstance(card.get("id_number"), str):
            card["id_number"] = card["id_number"][:6]
    return document
