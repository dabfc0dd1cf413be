"""The synthetic population: reproducible bytes, valid rows, references only backwards."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from application.register import CivilRegister
from application.residence_queries import ResidenceReader
from domain.commands import ACT_COMMANDS
from domain.errors import CivledgerError
from domain.person import Person
from domain.reference import communes
from domain.registry import person_id_for_birth
from domain.residence import ADULT_AGE, age_on, years_after
from domain.values import Nationality, SystemClock, today_of
from importer.rows import parse_row
from importer.synthetic import DENSE, HORIZON, RESIDENCE_FROM, PopulationGenerator
from tests.bulk.helpers import run, write_lines
from tests.bulk.register_counts import register_counts


def test_the_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    first = run("generate", "--people", "300", "--seed", "42")
    second = run("generate", "--people", "300", "--seed", "42")
    to_file = run("generate", "--people", "300", "--seed", "42", "--out", str(tmp_path / "p"))

    assert first.exit_code == second.exit_code == to_file.exit_code == 0
    assert first.stdout_bytes == second.stdout_bytes
    assert (tmp_path / "p").read_bytes() == first.stdout_bytes
    assert len(first.stdout_bytes.splitlines()) > 300


def test_a_different_seed_gives_a_different_population() -> None:
    assert (
        run("generate", "--people", "100", "--seed", "1").stdout_bytes
        != run("generate", "--people", "100", "--seed", "2").stdout_bytes
    )


#: The kinds that name a household: a file can name one only by the act that set it up.
NAMING_A_HOUSEHOLD = {"change_head", "split_household"}
#: The kinds of the civil acts, which the generator wrote before residence.
CIVIL = {"birth", "death", "renunciation", "change", "merge"}
#: The kinds of the card and eid acts (`cards=True`).
IDENTITY = {
    "issue_card",
    "revoke_card",
    "withhold_card",
    "return_card",
    "create_eid",
    "lock_eid",
    "unlock_eid",
}
#: Identity certificates (`cards=True` with `residence=True`), dated after an abode.
CERTIFICATES = {"issue_identity_certificate", "revoke_identity_certificate"}


@pytest.mark.parametrize("household_refs", [False, True], ids=["by-number", "by-act"])
def test_every_row_is_a_valid_act_referring_only_to_earlier_births(household_refs: bool) -> None:
    """Every row passes the command models and names only people registered, and households
    set up, by earlier rows; residence acts are dated in the 2025 commune list's time.

    A household named by its act is replaced by a number to pass the models: the import does
    not resolve that name yet (docs/import.md, "Naming a household")."""
    rows = list(
        PopulationGenerator(
            400, seed=9, rates=DENSE, residence=True, household_refs=household_refs, cards=True
        ).rows()
    )
    registered: set[str] = set()
    households: set[tuple[str, str]] = set()
    for number, raw in enumerate(rows, 1):
        named = dict(raw)
        if isinstance(raw.get("household"), dict):
            assert (raw["household"]["office"], raw["household"]["reference"]) in households
            named["household"] = "HK0000000000"
        parsed = parse_row(number, json.dumps(named, ensure_ascii=False))
        assert raw["kind"] in ACT_COMMANDS
        for ref in [
            raw[key] for key in ("person", "into", "father", "mother", "head") if key in raw
        ]:
            assert str(person_id_for_birth(ref["office"], ref["reference"])) in registered
        for ref in raw.get("members", []):
            assert str(person_id_for_birth(ref["office"], ref["reference"])) in registered
        for key in ("born", "registered_on", "died_on", "effective"):
            if key in raw:
                assert raw[key] <= HORIZON.isoformat()
        if raw["kind"] not in CIVIL | IDENTITY | CERTIFICATES:
            assert raw["effective"] >= RESIDENCE_FROM.isoformat()
        if "until" in raw:
            assert raw["until"] <= years_after(date.fromisoformat(raw["effective"]), 2).isoformat()
        if raw["kind"] == "birth":
            registered.add(
                str(person_id_for_birth(parsed.clerking.office, parsed.clerking.reference))
            )
        if raw.get("new_household"):
            households.add((raw["office"], raw["reference"]))
    kinds = {raw["kind"] for raw in rows}
    assert kinds == set(ACT_COMMANDS) - (set() if household_refs else NAMING_A_HOUSEHOLD)
    assert household_refs == any(isinstance(raw.get("household"), dict) for raw in rows)


def test_residence_rows_are_placed_between_the_civil_rows_without_moving_them() -> None:
    civil = list(PopulationGenerator(1500, seed=4, rates=DENSE).rows())
    with_residence = list(
        PopulationGenerator(1500, seed=4, rates=DENSE, residence=True, household_refs=True).rows()
    )

    assert [row for row in with_residence if row["kind"] in CIVIL] == civil
    assert len(with_residence) > 2 * len(civil)


def test_communes_are_codes_of_the_2025_list_mostly_in_the_province_of_birth() -> None:
    directory = communes()
    rows = list(PopulationGenerator(600, seed=2, residence=True).rows())
    places = [r for r in rows if r["kind"] in ("residence", "abode")]
    for row in places:
        on = date.fromisoformat(row["effective"])
        assert directory.name_on(row["commune"], on) is not None, row
        assert row["office"].startswith(f"Công an {directory.name_on(row['commune'], on)}, ")
    assert len({row["commune"] for row in places}) > len(places) / 4


def test_a_generated_file_imports_without_a_rejected_row(sqlite_url: str, tmp_path: Path) -> None:
    """Every act of a generated file is lawful: civil acts, residence, households (named only
    when they are set up, without household references) and record cleaning. The counts the
    register keeps are those the file's rows give."""
    rows = list(PopulationGenerator(2000, seed=9, rates=DENSE, residence=True, cards=True).rows())
    source = write_lines(
        tmp_path / "people.jsonl", [json.dumps(r, ensure_ascii=False) for r in rows]
    )

    result = run("import", str(source), "--store", sqlite_url, "--json")

    assert result.exit_code == 0, (tmp_path / "people.jsonl.rejects.jsonl").read_text()[:2000]
    summary = json.loads(result.stdout)
    assert summary["rejected"] == 0
    assert summary["recorded_by_kind"] == dict(sorted(Counter(r["kind"] for r in rows).items()))
    assert ledger_counts(sqlite_url, rows, HORIZON) == register_counts(rows, HORIZON)
    assert ledger_cards(sqlite_url, rows) == file_cards(rows)


@pytest.mark.slow
def test_a_file_naming_households_by_their_acts_is_lawful_once_each_name_is_resolved(
    sqlite_url: str,
) -> None:
    """The acts of a file with household references, decided one by one as a clerk's are,
    each household named by its act replaced by the number that act set up: the resolution
    the import needs (docs/import.md, "Naming a household"). No act is refused, and the
    register's counts are those the file's rows give."""
    rows = list(
        PopulationGenerator(
            800, seed=10, rates=DENSE, residence=True, household_refs=True, cards=True
        ).rows()
    )
    register = CivilRegister(sqlite_url)
    numbers: dict[tuple[str, str], str] = {}
    refused = []
    for line, raw in enumerate(rows, 1):
        named = dict(raw)
        if isinstance(raw.get("household"), dict):
            named["household"] = numbers[
                (raw["household"]["office"], raw["household"]["reference"])
            ]
        row = parse_row(line, json.dumps(named, ensure_ascii=False))
        try:
            outcome = register.execute(row.act, row.clerking)
        except CivledgerError as error:
            refused.append((line, error.message))
            continue
        if raw.get("new_household") or raw["kind"] == "split_household":
            assert outcome.household is not None
            numbers[(raw["office"], raw["reference"])] = outcome.household

    assert refused == []
    assert {r["kind"] for r in rows} == set(ACT_COMMANDS)
    counts = register_counts(rows, HORIZON)
    assert counts["households_without_head"] > 0
    assert all(counts["special_cases"].values())
    assert ledger_counts(sqlite_url, rows, HORIZON) == counts


def test_an_import_resolves_households_named_by_their_acts(sqlite_url: str, tmp_path: Path) -> None:
    rows = PopulationGenerator(300, seed=9, rates=DENSE, residence=True, household_refs=True)
    source = tmp_path / "people.jsonl"
    with source.open("w", encoding="utf-8") as out:
        rows.write(out)

    result = run("import", str(source), "--store", sqlite_url, "--json")

    assert result.exit_code == 0
    assert json.loads(result.stdout)["rejected"] == 0


def ledger_counts(store_url: str, rows: list[dict[str, Any]], on: date) -> dict[str, Any]:
    """`register_counts`' categories read from the ledger's records of the file's people."""
    register = CivilRegister(store_url)
    reader = register.on_store
    people: dict[UUID, Person] = {}
    for row in rows:
        if row["kind"] == "birth":
            pid = person_id_for_birth(row["office"], row["reference"])
            person = reader.get(Person, pid)
            assert person is not None
            people[pid] = person
    current = [p for p in people.values() if p.merged_into is None]
    alive = [p for p in current if p.died_on is None]
    vietnamese = [p for p in alive if p.nationality is Nationality.VIETNAMESE]
    undetermined = [p for p in alive if p.nationality is Nationality.UNDETERMINED]
    numbers = {p.household for p in current if p.household is not None}
    households = [ResidenceReader(reader).household(number) for number in sorted(numbers)]

    def vietnamese_parent(person: Person) -> bool:
        parents = [people[p] for p in (person.father_id, person.mother_id) if p is not None]
        return any(parent.nationality is Nationality.VIETNAMESE for parent in parents)

    return {
        "people": len(current),
        "alive": len(alive),
        "households": len(households),
        "households_without_head": sum(h.head_id is None for h in households),
        "permanent_residents": sum(p.permanent is not None for p in alive),
        "temporary_residents": sum(p.current_temporary(on) is not None for p in alive),
        "without_permanent_residence": sum(p.permanent is None for p in vietnamese),
        "unconfirmed": sum(not p.confirmed for p in vietnamese),
        "proposed_for_deletion": sum(p.proposed_for_deletion for p in vietnamese),
        "numbers_in_service": sum(
            p.id_number is not None
            and p.confirmed
            and not p.proposed_for_deletion
            and p.permanent is not None
            for p in vietnamese
        ),
        "special_cases": {
            "non_vietnamese_residents": sum(
                p.nationality is not Nationality.VIETNAMESE and p.permanent is not None
                for p in alive
            ),
            "undetermined_without_residence": sum(p.permanent is None for p in undetermined),
            "undetermined_children": sum(
                age_on(p.born, on) < ADULT_AGE and vietnamese_parent(p) for p in undetermined
            ),
        },
    }


def test_names_are_vietnamese_with_diacritics_and_births_span_the_century() -> None:
    births = [r for r in PopulationGenerator(2000, seed=3).rows() if r["kind"] == "birth"]
    family_names = [b["name"].split()[0] for b in births]
    assert family_names.count("Nguyễn") > family_names.count("Trần") > 0
    assert sum(1 for b in births if not b["name"].isascii()) > len(births) / 2
    years = [int(b["born"][:4]) for b in births]
    assert min(years) < 1935
    assert max(years) >= 2020
    assert 0.45 < sum(b["sex"] == "male" for b in births) / len(births) < 0.57
    assert any("father" in b and "mother" in b for b in births)


def test_a_negative_population_is_refused_with_exit_code_2(tmp_path: Path) -> None:
    result = run("generate", "--people", "-1", "--seed", "1", "--out", str(tmp_path / "p"))

    assert result.exit_code == 2
    assert "--people" in result.stderr
    assert not (tmp_path / "p").exists()


def test_bulk_serials_are_six_random_digits_never_counted_up() -> None:
    from importer.batch import Serials

    serials = Serials()
    drawn = [serials.draw() for _ in range(5000)]
    assert all(0 <= s < 1_000_000 for s in drawn)
    assert len(set(drawn)) > 4900
    assert sum(b > a for a, b in pairwise(drawn)) < 3000


def test_an_interrupted_generate_leaves_no_file_an_import_could_take_for_whole(
    tmp_path: Path,
) -> None:
    out = tmp_path / "people.jsonl"
    out.write_text("the last complete file\n", encoding="utf-8")
    command = [
        sys.executable, "-m", "cli.main", "generate", "--people", "5000000", "--seed", "1",
        "--out", str(out),
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".partial") for p in tmp_path.iterdir()):
        assert time.monotonic() < deadline, "generate never started writing"
        time.sleep(0.05)
    time.sleep(0.5)  # well into the file
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)

    assert process.returncode == 130
    assert err.decode() == "civledger: interrupted\n"
    assert out.read_text(encoding="utf-8") == "the last complete file\n"
    assert [p.name for p in tmp_path.iterdir()] == ["people.jsonl"]


def test_the_report_of_an_imported_file_counts_what_the_file_says(
    sqlite_url: str, tmp_path: Path
) -> None:
    """`generate` then `import`: each residence category of `report --json` equals the count
    computed from the file's rows alone (tests/bulk/register_counts.py), on the report date."""
    source = tmp_path / "people.jsonl"
    assert run("generate", "--people", "1500", "--seed", "21", "--out", str(source)).exit_code == 0
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    assert {"change_head", "split_household", "abode"} <= {r["kind"] for r in rows}
    imported = run("import", str(source), "--store", sqlite_url, "--json")
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["rejected"] == 0

    report = json.loads(run("report", "--store", sqlite_url, "--json").stdout)

    expected = register_counts(rows, today_of(SystemClock()))
    for key in (
        "households",
        "households_without_head",
        "permanent_residents",
        "temporary_residents",
        "without_permanent_residence",
        "unconfirmed",
        "proposed_for_deletion",
        "numbers_in_service",
    ):
        assert report[key] == expected[key], key
    special, counted = report["special_cases"], expected["special_cases"]
    assert special["without_nationality_resident"] == counted["non_vietnamese_residents"]
    assert (
        special["undetermined_without_permanent_residence"]
        == counted["undetermined_without_residence"]
    )
    assert (
        special["undetermined_children_with_a_vietnamese_parent"]
        == counted["undetermined_children"]
    )
    assert report["households"] > 0


def file_cards(rows: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Per person (by birth act) with an identity act: the reasons of their cards in order,
    the revocations (a row's, or a renunciation's after a card), the withholdings, the eid."""
    people: dict[str, dict[str, Any]] = {}
    for raw in rows:
        ref = raw.get("person")
        if raw["kind"] not in IDENTITY | {"renunciation"} or not isinstance(ref, dict):
            continue
        key = f"{ref['office']}|{ref['reference']}"
        if raw["kind"] == "renunciation":
            if key in people and people[key]["cards"]:
                people[key]["revoked"].append("lost_nationality")
            continue
        person = people.setdefault(key, {"cards": [], "revoked": [], "withheld": 0, "eid": False})
        if raw["kind"] == "issue_card":
            person["cards"].append(raw["reason"])
        elif raw["kind"] == "revoke_card":
            person["revoked"].append(raw["ground"])
        elif raw["kind"] == "withhold_card":
            person["withheld"] += 1
        elif raw["kind"] == "create_eid":
            person["eid"] = True
    return {
        key: (tuple(p["cards"]), tuple(p["revoked"]), p["eid"])
        for key, p in people.items()
        if p["cards"]
    }


def ledger_cards(store_url: str, rows: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """`file_cards` read from the ledger's records of the file's people."""
    register = CivilRegister(store_url)
    found: dict[str, tuple[Any, ...]] = {}
    for raw in rows:
        if raw["kind"] != "birth":
            continue
        person = register.person(person_id_for_birth(raw["office"], raw["reference"]))
        identity = person.identity
        if identity.cards:
            found[f"{raw['office']}|{raw['reference']}"] = (
                tuple(card.reason for card in identity.cards),
                tuple(card.revoked for card in identity.cards if card.revoked),
                identity.eid is not None,
            )
    return found


def test_cards_follow_the_campaign_and_each_person_s_identity_acts_are_in_date_order() -> None:
    """Most citizens 14 or over in March 2021, alive through June 2021, get a card in the
    2021 campaign; a person's identity acts are in date order, after the registration, before
    any death or renunciation, and a renunciation has no revocation row of its own."""
    rows = list(PopulationGenerator(3000, seed=5, cards=True).rows())
    born: dict[str, date] = {}
    citizen: dict[str, bool] = {}
    ended: dict[str, date] = {}
    acts: dict[str, list[date]] = {}
    first_card: dict[str, date] = {}
    for raw in rows:
        if raw["kind"] == "birth":
            key = f"{raw['office']}|{raw['reference']}"
            born[key] = date.fromisoformat(raw["born"])
            citizen[key] = raw["nationality"] == "vietnamese"
            continue
        ref = raw.get("person")
        key = f"{ref['office']}|{ref['reference']}" if isinstance(ref, dict) else ""
        if raw["kind"] in ("death", "renunciation"):
            ended.setdefault(key, date.fromisoformat(raw.get("died_on") or raw["effective"]))
        if raw["kind"] not in IDENTITY:
            continue
        on = date.fromisoformat(raw["effective"])
        assert key not in ended, raw
        assert on > born[key]
        assert raw.get("ground") != "lost_nationality"
        acts.setdefault(key, []).append(on)
        if raw["kind"] == "issue_card":
            first_card.setdefault(key, on)
    assert all(days == sorted(days) for days in acts.values())
    campaign_age = [
        key
        for key, day in born.items()
        if citizen[key]
        and age_on(day, date(2021, 3, 1)) >= 14
        and ended.get(key, HORIZON) > date(2021, 6, 30)
    ]
    in_campaign = [
        key
        for key in campaign_age
        if date(2021, 3, 1) <= first_card.get(key, date.min) <= date(2021, 6, 30)
    ]
    assert len(in_campaign) > len(campaign_age) / 2
    reasons = Counter(r["reason"] for r in rows if r["kind"] == "issue_card")
    assert {"first", "age", "lost", "damaged", "request"} <= set(reasons)
