"""The card, eid and certificate acts as a clerk types them, on both backends: their answers,
JSON documents, exit codes, and nothing written when an act is refused."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from cli.main import app
from tests.two_paths import communes_known

BY = ("--clerk", "Lê Thị Lan", "--office", "CA-HOANKIEM")


def cli(store: str, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--store", store])


def born(store: str, reference: str, year: int, nationality: str = "vietnamese") -> str:
    result = cli(
        store, "register-birth", "--name", "Trần Thị Mai", "--sex", "female",
        "--born", f"{year}-05-06", "--province", "079", "--registered-on", f"{year}-06-01",
        "--nationality", nationality, "--reference", reference, *BY,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return str(result.stdout.strip())


def history_length(store: str, who: str) -> int:
    return len(json.loads(cli(store, "history", who, "--json").stdout))


def test_a_card_s_life_from_first_issue_to_revocation(store_url: str) -> None:
    who = born(store_url, "KS-1", 1990)
    first = cli(store_url, "issue-card", who, "--reason", "first", "--reference", "CC-1",
                "--effective", "2021-04-01", *BY)  # fmt: skip
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "2030-05-05"  # the day before the 40th birthday
    again = cli(store_url, "issue-card", who, "--reason", "first", "--reference", "CC-1",
                "--effective", "2021-04-01", "--json", *BY)  # fmt: skip
    assert json.loads(again.stdout) == {
        "id_number": who, "issued_on": "2021-04-01", "expires_on": "2030-05-05",
        "reason": "first", "already_recorded": True,
    }  # fmt: skip
    eid = cli(store_url, "create-eid", who, "--reference", "EID-1", "--effective", "2022-03-01",
              "--json", *BY)  # fmt: skip
    assert json.loads(eid.stdout)["eid"]["status"] == "active"
    withheld = cli(store_url, "withhold-card", who, "--ground", "detention", "--reference", "TG-1",
                   "--effective", "2023-01-01", "--json", *BY)  # fmt: skip
    document = json.loads(withheld.stdout)
    assert (document["status"], document["eid"]["status"], document["eid"]["ground"]) == (
        "withheld", "locked", "card_withheld",
    )  # fmt: skip
    returned = cli(store_url, "return-card", who, "--reference", "TG-2", "--effective",
                   "2023-06-01", "--json", *BY)  # fmt: skip
    assert json.loads(returned.stdout)["eid"]["status"] == "active"
    renounced = cli(store_url, "renounce-nationality", who, "--effective", "2025-01-02",
                    "--reference", "QT-1", *BY)  # fmt: skip
    assert renounced.exit_code == 0, renounced.output
    shown = json.loads(cli(store_url, "show", who, "--json").stdout)
    assert shown["card"]["status"] == "revoked"
    assert "cards" not in shown["card"]
    assert shown["eid"]["status"] == "locked"
    assert shown["eid"]["ground"] == "card_revoked"
    before = json.loads(cli(store_url, "show", who, "--as-at", "2024-12-31", "--json").stdout)
    assert before["card"]["status"] == "valid"
    assert before["eid"]["status"] == "active"


def test_a_refused_act_writes_nothing_and_says_why_in_one_line(store_url: str) -> None:
    who = born(store_url, "KS-2", 2015)
    length = history_length(store_url, who)
    cases = [
        (("issue-card", who, "--reason", "first", "--reference", "X-1"), 3, "only on request"),
        (("issue-card", who, "--reason", "lost", "--reference", "X-2", "--effective", "2014-01-01"),
         3, "cannot precede the birth"),
        (("issue-card", who, "--reason", "stolen", "--reference", "X-3"), 2, "reason must be one"),
        (("issue-card", who, "--reason", "request", "--reference", "X-4", "--effective",
          "2999-01-01"), 2, "in the future"),
        (("revoke-card", who, "--ground", "tampered", "--reference", "X-5"), 3, "no card"),
        (("return-card", who, "--reference", "X-6"), 3, "not withheld"),
        (("create-eid", who, "--reference", "X-7"), 3, "needs a card"),
        (("lock-eid", who, "--ground", "request", "--reference", "X-8"), 3, "no electronic"),
        (("issue-card", "001099999999", "--reason", "first", "--reference", "X-9"), 4, "no person"),
        (("issue-card", who, "--reason", "request"), 2, "--reference"),
    ]  # fmt: skip
    for args, code, message in cases:
        result = cli(store_url, *args, *BY)
        assert result.exit_code == code, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert history_length(store_url, who) == length


def test_an_identity_certificate_for_undetermined_nationality(store_url: str) -> None:
    who = born(store_url, "KS-3", 1980, nationality="undetermined")
    with communes_known("00082"):
        abode = cli(store_url, "declare-abode", who, "--commune", "00082", "--address", "Ấp 3",
                    "--reference", "NO-1", "--effective", "2025-01-01", *BY)  # fmt: skip
        assert abode.exit_code == 0, abode.output
        issued = cli(store_url, "issue-identity-certificate", who, "--reference", "GCN-1",
                     "--effective", "2025-08-01", "--json", *BY)  # fmt: skip
        assert issued.exit_code == 0, issued.output
        certificate = json.loads(issued.stdout)["certificate"]
        assert (certificate["issued_on"], certificate["ended_on"]) == ("2025-08-01", None)
        card = cli(store_url, "issue-card", who, "--reason", "first", "--reference", "CC-3", *BY)
        assert card.exit_code == 3
        assert "not a Vietnamese citizen" in card.stderr
        ended = cli(store_url, "revoke-identity-certificate", who, "--ground", "issued_wrongly",
                    "--reference", "GCN-2", "--json", *BY)  # fmt: skip
        assert json.loads(ended.stdout)["certificate"]["ended_by"] == "issued_wrongly"
