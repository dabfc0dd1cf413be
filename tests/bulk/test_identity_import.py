"""Identity acts as import rows: cards, withholdings, the electronic identity, certificates.

One file mixes births, card issues and renewals, a revocation, a withholding and its return,
an eid with a lock and an unlock, a renunciation (which revokes the card by itself) and an
identity certificate; the refused rows get the rule's reason, as any other row. Each test
runs on a fresh SQLite file and a fresh PostgreSQL database (`store_url`).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from application.register import CivilRegister
from domain.identity import card_expiry
from domain.registry import person_id_for_birth
from tests.bulk.helpers import (
    BIRTH_OFFICE,
    birth_ref,
    ledger_topics,
    read_rejects,
    row,
    run,
    write_lines,
)

CLERK = {"clerk": "Trần Thị Hoa", "office": BIRTH_OFFICE}
AN = birth_ref("KS-1990-1")  # a citizen whose card is renewed, lost, withheld, revoked
BINH = birth_ref("KS-2012-2")  # a child with a card on request
CUONG = birth_ref("KS-1975-3")  # renounces: the card is revoked by the renunciation
DUNG = birth_ref("KS-2000-4")  # of undetermined nationality: a certificate, no card
#: A commune code of the 2025 list (Cần Thơ), for Dũng's abode.
COMMUNE = "31246"


def act(kind: str, reference: str, **fields: Any) -> str:
    return row(kind=kind, **CLERK, reference=reference, **fields)


def birth(reference: str, name: str, sex: str, born: str, **fields: Any) -> str:
    return act(
        "birth", reference, name=name, sex=sex, born=born, province="001", **fields
    )  # fmt: skip


#: (row, refused because ...) in file order; None for rows the rules accept.
ROWS: list[tuple[str, str | None]] = [
    (birth("KS-1990-1", "Nguyễn Văn An", "male", "1990-05-10", registered_on="1990-06-01"), None),
    (birth("KS-2012-2", "Lê Thị Bình", "female", "2012-02-02", registered_on="2012-03-01"), None),
    (birth("KS-1975-3", "Phạm Văn Cường", "male", "1975-07-07", registered_on="1975-08-01"), None),
    (
        birth(
            "KS-2000-4",
            "Hoàng Thị Dung",
            "female",
            "2000-01-20",
            registered_on="2000-02-01",
            nationality="undetermined",
        ),
        None,
    ),
    (act("issue_card", "CC-1", person=AN, reason="first", effective="2021-04-02"), None),
    (act("issue_card", "CC-2", person=AN, reason="first", effective="2021-06-01"), "first"),
    (
        act(
            "change",
            "TĐ-1",
            person=AN,
            field="name",
            value="Nguyễn Văn Anh",
            change_kind="change",
            effective="2022-01-10",
        ),
        None,
    ),
    (act("issue_card", "CC-3", person=AN, reason="data_change", effective="2022-03-01"), None),
    (act("issue_card", "CC-4", person=AN, reason="lost", effective="2023-05-05"), None),
    (act("create_eid", "ID-1", person=AN, effective="2023-06-01"), None),
    (act("withhold_card", "TG-1", person=AN, ground="detention", effective="2024-01-01"), None),
    (act("issue_card", "CC-5", person=AN, reason="request", effective="2024-02-01"), "withheld"),
    (act("return_card", "TG-2", person=AN, effective="2024-06-01"), None),
    (act("lock_eid", "ID-2", person=AN, ground="request", effective="2024-08-01"), None),
    (act("unlock_eid", "ID-3", person=AN, effective="2024-09-01"), None),
    (act("revoke_card", "TH-1", person=AN, ground="tampered", effective="2025-01-01"), None),
    (act("issue_card", "CC-6", person=AN, reason="lost", effective="2025-02-01"), "revoked"),
    (act("issue_card", "CC-7", person=AN, reason="request", effective="2025-02-02"), None),
    (act("issue_card", "CC-8", person=BINH, reason="first", effective="2024-08-01"), "14"),
    (act("issue_card", "CC-9", person=BINH, reason="request", effective="2024-08-02"), None),
    (act("issue_card", "CC-10", person=CUONG, reason="first", effective="2021-05-03"), None),
    (act("create_eid", "ID-4", person=CUONG, effective="2022-09-09"), None),
    (act("renunciation", "QĐ-1", person=CUONG, effective="2023-01-01"), None),
    (act("issue_card", "CC-11", person=CUONG, reason="request", effective="2024-01-01"), "nation"),
    (act("revoke_card", "TH-2", person=CUONG, ground="tampered", effective="2024-01-02"), "revoke"),
    (act("issue_card", "CC-12", person=DUNG, reason="first", effective="2025-03-03"), "nation"),
    (
        act(
            "abode",
            "CT-1",
            person=DUNG,
            commune=COMMUNE,
            address="Số 12, thôn 3",
            effective="2025-08-01",
        ),
        None,
    ),
    (act("issue_identity_certificate", "GX-1", person=DUNG, effective="2025-12-01"), "months"),
    (act("issue_identity_certificate", "GX-2", person=DUNG, effective="2026-03-01"), None),
    (act("issue_card", "CC-13", person=AN, reason="sideways", effective="2025-03-01"), "reason"),
    (act("revoke_card", "TH-3", person=AN, ground="whim", effective="2025-03-01"), "ground"),
]


def person(register: CivilRegister, reference: str) -> Any:
    return register.person(person_id_for_birth(BIRTH_OFFICE, reference))


def test_a_file_of_identity_acts_imports_and_refuses_what_the_rules_refuse(
    store_url: str, tmp_path: Path
) -> None:
    source = write_lines(tmp_path / "cards.jsonl", [text for text, _ in ROWS])
    rejects = tmp_path / "rejects.jsonl"

    result = run("import", str(source), "--rejects", str(rejects), "--store", store_url, "--json")

    refused = {line: why for line, (_, why) in enumerate(ROWS, 1) if why is not None}
    summary = json.loads(result.stdout)
    assert result.exit_code == 3, result.output
    assert (summary["recorded"], summary["rejected"]) == (len(ROWS) - len(refused), len(refused))
    reasons = {r["line"]: r["reason"] for r in read_rejects(rejects)}
    assert sorted(reasons) == sorted(refused)
    for line, why in refused.items():
        assert why in reasons[line], (line, reasons[line])
    assert summary["recorded_by_kind"] == {
        "abode": 1,
        "birth": 4,
        "change": 1,
        "create_eid": 2,
        "issue_card": 6,
        "issue_identity_certificate": 1,
        "lock_eid": 1,
        "renunciation": 1,
        "return_card": 1,
        "revoke_card": 1,
        "unlock_eid": 1,
        "withhold_card": 1,
    }

    topics = ledger_topics(store_url)
    assert topics["CardIssued"] == 6
    # tampered (a row), lost nationality (by the renunciation)
    assert topics["CardRevoked"] == 2
    assert (topics["CardWithheld"], topics["CardReturned"]) == (1, 1)
    # An's: the withholding, the request, the revocation; Cường's: the renunciation.
    assert topics["ElectronicIdentityLocked"] == 4
    # An's: the return, the row
    assert topics["ElectronicIdentityUnlocked"] == 2
    assert topics["IdentityCertificateIssued"] == 1

    register = CivilRegister(store_url)
    try:
        an = person(register, "KS-1990-1")
        card = an.identity.card
        assert (card.issued_on, card.reason, card.revoked) == (date(2025, 2, 2), "request", None)
        assert card.data.name == "Nguyễn Văn Anh"
        assert card.data.id_number == an.id_number
        assert card.expires_on == card_expiry(date(1990, 5, 10), date(2025, 2, 2))
        assert an.identity.eid is not None
        assert an.identity.eid.locked == "card_revoked"  # the new card does not unlock it
        binh = person(register, "KS-2012-2")
        assert (binh.identity.card.reason, binh.identity.card.issued_on) == (
            "request",
            date(2024, 8, 2),
        )
        cuong = person(register, "KS-1975-3")
        assert cuong.identity.card.revoked == "lost_nationality"
        assert cuong.identity.eid.locked == "card_revoked"
        dung = person(register, "KS-2000-4")
        assert dung.identity.card is None
        assert dung.identity.certificate is not None
    finally:
        register.close()  # its pool closed here, not by a collector on another thread


def test_identity_rows_import_once_and_the_refused_ones_again(
    store_url: str, tmp_path: Path
) -> None:
    """A second run appends nothing and refuses the same rows again (judged against the ledger
    as it stands then, so a reason may name a later act: docs/import.md, "Re-running")."""
    source = write_lines(tmp_path / "cards.jsonl", [text for text, _ in ROWS])
    rejects = tmp_path / "rejects.jsonl"
    run("import", str(source), "--rejects", str(rejects), "--store", store_url)
    first = read_rejects(rejects)
    before = ledger_topics(store_url)

    again = run("import", str(source), "--rejects", str(rejects), "--store", store_url, "--json")

    summary = json.loads(again.stdout)
    assert summary["recorded"] == 0
    assert summary["already_recorded"] == len(ROWS) - len(first)
    assert [r["line"] for r in read_rejects(rejects)] == [r["line"] for r in first]
    assert ledger_topics(store_url) == before
