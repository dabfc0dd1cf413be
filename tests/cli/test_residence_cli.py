"""The residence, household and record-cleaning commands, as a clerk types them, on both
backends: their answers, their JSON documents and their exit codes."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from cli.main import app

BY = ("--clerk", "Lê Thị Lan", "--office", "CA-HOANKIEM")


def cli(store: str, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--store", store])


def born(store: str, reference: str, name: str, sex: str, year: int) -> str:
    result = cli(
        store, "register-birth", "--name", name, "--sex", sex, "--born", f"{year}-05-06",
        "--province", "001", "--registered-on", f"{year}-06-01", "--reference", reference, *BY,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return str(result.stdout.strip())


def test_a_household_from_its_first_resident_to_its_split(store_url: str) -> None:
    head = born(store_url, "KS-1", "Phạm Văn Hùng", "male", 1970)
    wife = born(store_url, "KS-2", "Vũ Thị Hoa", "female", 1972)
    son = born(store_url, "KS-3", "Phạm Văn Nam", "male", 1995)
    first = cli(
        store_url, "register-residence", head, "--kind", "permanent", "--commune", "00082",
        "--address", "12 Phố Huế", "--new-household", "--reference", "TT-1",
        "--effective", "2025-08-01", "--json", *BY,
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    set_up = json.loads(first.stdout)
    number = set_up["household"]
    assert number.startswith("HK")
    assert len(number) == 12
    assert set_up["already_recorded"] is False
    assert set_up["residence"]["permanent"]["since"] == "2025-08-01"
    for who, relation, reference in ((wife, "spouse", "TT-2"), (son, "child", "TT-3")):
        joined = cli(
            store_url, "register-residence", who, "--kind", "permanent", "--commune", "00082",
            "--address", "12 Phố Huế", "--household", number, "--relation", relation,
            "--reference", reference, "--effective", "2025-08-02", *BY,
        )  # fmt: skip
        assert joined.exit_code == 0, joined.output
        assert number in joined.stdout

    shown = json.loads(cli(store_url, "household", "show", number, "--json").stdout)
    assert set(shown) == {"household", "commune", "address", "head", "members"}
    assert shown["head"] == head
    assert [(m["id"], m["relation"]) for m in shown["members"]] == [
        (head, "head"), (wife, "spouse"), (son, "child"),
    ]  # fmt: skip
    assert json.loads(cli(store_url, "verify-head", son, "--head", head, "--json").stdout) == {
        "match": True
    }
    assert json.loads(cli(store_url, "verify-head", son, "--head", wife, "--json").stdout) == {
        "match": False
    }

    split = cli(
        store_url, "household", "split", number, "--members", son, "--head", son,
        "--reference", "TH-1", "--effective", "2026-01-05", "--json", *BY,
    )  # fmt: skip
    assert split.exit_code == 0, split.output
    new = json.loads(split.stdout)
    assert new["head"] == son
    assert new["household"] != number
    person = json.loads(cli(store_url, "show", son, "--json").stdout)
    assert person["household"] == {"household": new["household"], "relation": "head", "head": son}
    before = json.loads(
        cli(store_url, "household", "show", number, "--as-at", "2025-12-31", "--json").stdout
    )
    assert len(before["members"]) == 3  # as it stood before the split

    again = cli(
        store_url, "household", "split", number, "--members", son, "--head", son,
        "--reference", "TH-1", "--effective", "2026-01-05", "--json", *BY,
    )  # fmt: skip
    assert json.loads(again.stdout)["already_recorded"] is True


def test_bad_input_refusals_and_unknowns_get_their_exit_codes(store_url: str) -> None:
    person = born(store_url, "KS-1", "Phạm Văn Hùng", "male", 1970)
    minor = born(store_url, "KS-2", "Phạm Văn Bé", "male", 2015)
    cases = [
        (2, ("register-residence", person, "--kind", "temporary", "--commune", "00082",
             "--address", "x", "--reference", "TT-1")),  # no --until
        (2, ("register-residence", person, "--kind", "sometimes", "--commune", "00082",
             "--address", "x", "--new-household", "--reference", "TT-2")),
        (2, ("register-residence", person, "--kind", "permanent", "--commune", "12345",
             "--address", "x", "--new-household", "--reference", "TT-3",
             "--effective", "2025-08-01")),  # not a commune of the 2025 list
        (2, ("end-residence", person, "--kind", "temporary", "--ground", "settled_abroad",
             "--reference", "XT-1")),  # a ground of Art. 24(1) only
        (4, ("register-residence", person, "--kind", "permanent", "--commune", "00082",
             "--address", "x", "--household", "HK0000000000", "--relation", "child",
             "--reference", "TT-4", "--effective", "2025-08-01")),
        (3, ("register-residence", minor, "--kind", "permanent", "--commune", "00082",
             "--address", "x", "--new-household", "--reference", "TT-5",
             "--effective", "2025-08-01")),  # a head is an adult
        (3, ("end-residence", person, "--kind", "permanent", "--ground", "absent",
             "--reference", "XT-2")),  # nothing to end
        (4, ("household", "show", "HK0000000000")),
        (2, ("household", "show", "HK12")),
        (4, ("verify-head", "001070000001", "--head", person)),
    ]  # fmt: skip
    for code, args in cases:
        result = cli(store_url, *args, *(BY if args[0] != "household" else ()))
        if args[0] == "verify-head":
            result = cli(store_url, *args)
        assert result.exit_code == code, (args, result.output)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert json.loads(cli(store_url, "show", person, "--json").stdout)["residence"] == {
        "permanent": None,
        "temporary": None,
        "abode": None,
    }  # fmt: skip  (nothing written by any refusal)


def test_record_cleaning_is_shown_and_moves_one_way_at_a_time(store_url: str) -> None:
    person = born(store_url, "KS-1", "Phạm Văn Hùng", "male", 1970)
    assert cli(store_url, "confirm-record", person, "--reference", "XM-1", *BY).exit_code == 0
    assert cli(store_url, "confirm-record", person, "--reference", "XM-2", *BY).exit_code == 3
    proposed = cli(
        store_url, "propose-deletion", person, "--reason", "hồ sơ trùng", "--reference", "DX-1",
        "--json", *BY,
    )  # fmt: skip
    assert json.loads(proposed.stdout)["proposed_for_deletion"] is True
    shown = json.loads(cli(store_url, "show", person, "--json").stdout)
    assert (shown["confirmed"], shown["proposed_for_deletion"]) == (True, True)
    assert cli(store_url, "withdraw-deletion-proposal", person, "--reference", "DX-2",
               *BY).exit_code == 0  # fmt: skip
    assert cli(store_url, "withdraw-deletion-proposal", person, "--reference", "DX-3",
               *BY).exit_code == 3  # fmt: skip
