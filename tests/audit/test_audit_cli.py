"""The auditor's command line: checkpoint, prove, check-proof (offline), verify, log."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from application.register import CivilRegister
from tests.audit.conftest import Invoke, birth, register_people
from tests.conftest import FixedClock

NO_DATABASE = {"CIVLEDGER_STORE": "postgresql://nobody@127.0.0.1:1/nothing"}


@pytest.fixture
def ledger(store_url: str, clock: FixedClock) -> tuple[str, list[str]]:
    register = CivilRegister(store_url, clock=clock)
    numbers = register_people(register, 3)
    register.close()
    return store_url, numbers


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_checkpoint_prints_size_root_and_time(cli: Invoke, ledger: tuple[str, list[str]]) -> None:
    url, _ = ledger
    document = _json(cli("audit", "checkpoint", "--store", url, "--json"))
    assert set(document) == {"size", "root", "at"}
    assert document["size"] == 12
    assert len(base64.b64decode(document["root"])) == 32
    again = _json(cli("audit", "checkpoint", "--store", url, "--json"))
    assert again == document  # nothing new: the same checkpoint


def test_a_saved_proof_checks_offline(
    cli: Invoke, ledger: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, numbers = ledger
    checkpoint = cli("audit", "checkpoint", "--store", url)
    (tmp_path / "cp.json").write_text(checkpoint.stdout)
    proof = _json(cli("audit", "prove", numbers[1], "--store", url))
    assert [e["position"] for e in proof["events"]] == [5, 6]
    assert proof["checkpoint"] == json.loads(checkpoint.stdout)
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    result = cli("audit", "check-proof", "proof.json", "--checkpoint", "cp.json", env=NO_DATABASE)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "valid: positions 5, 6 are in the log of size 12"


@pytest.mark.parametrize(
    "tamper",
    ["flip_path", "truncate_path", "wrong_index", "forge_event", "swap_root"],
)
def test_a_tampered_proof_fails_with_exit_5(
    cli: Invoke, ledger: tuple[str, list[str]], tmp_path: Path, tamper: str
) -> None:
    url, numbers = ledger
    cli("audit", "checkpoint", "--store", url)
    proof = _json(cli("audit", "prove", numbers[0], "--store", url))
    event = proof["events"][0]
    if tamper == "flip_path":
        raw = bytearray(base64.b64decode(event["path"][0]))
        raw[0] ^= 1
        event["path"][0] = base64.b64encode(bytes(raw)).decode()
    elif tamper == "truncate_path":
        event["path"].pop()
    elif tamper == "wrong_index":
        event["leaf_index"] += 1
    elif tamper == "forge_event":
        event["topic"] = "civledger.person.DeathRegistered"
        event["leaf_hash"] = proof["events"][1]["leaf_hash"]
    else:
        proof["checkpoint"]["root"] = event["path"][-1]
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    result = cli("audit", "check-proof", "proof.json", env=NO_DATABASE)
    assert result.exit_code == 5
    assert "position 1" in result.stderr


def test_a_proof_against_another_checkpoint_fails(
    cli: Invoke, ledger: tuple[str, list[str]], tmp_path: Path, clock: FixedClock
) -> None:
    url, numbers = ledger
    (tmp_path / "old.json").write_text(cli("audit", "checkpoint", "--store", url).stdout)
    register = CivilRegister(url, clock=clock)
    register_people(register, 1, prefix="KS-NEW")
    register.close()
    cli("audit", "checkpoint", "--store", url)
    (tmp_path / "proof.json").write_text(cli("audit", "prove", numbers[0], "--store", url).stdout)
    result = cli("audit", "check-proof", "proof.json", "--checkpoint", "old.json")
    assert result.exit_code == 5
    assert "your checkpoint has size 12" in result.stderr


def test_verify_proves_the_log_extends_an_older_checkpoint(
    cli: Invoke, ledger: tuple[str, list[str]], tmp_path: Path, clock: FixedClock
) -> None:
    url, _ = ledger
    (tmp_path / "old.json").write_text(cli("audit", "checkpoint", "--store", url).stdout)
    register = CivilRegister(url, clock=clock)
    register_people(register, 2, prefix="KS-NEW")
    register.close()
    cli("audit", "checkpoint", "--store", url)
    report = _json(cli("audit", "verify", "--store", url, "--checkpoint", "old.json", "--json"))
    assert (report["events"], report["logged"], report["unlogged"]) == (20, 20, 0)
    assert report["consistency"]["old"]["size"] == 12
    assert report["consistency"]["new"]["size"] == 20
    assert report["consistency"]["proof"]
    (tmp_path / "report.json").write_text(json.dumps(report))
    offline = cli(
        "audit", "check-proof", "report.json", "--checkpoint", "old.json", env=NO_DATABASE
    )
    assert offline.exit_code == 0, offline.output
    assert "extends" in offline.stdout


def test_verify_reports_events_not_yet_logged(
    cli: Invoke, ledger: tuple[str, list[str]], clock: FixedClock
) -> None:
    url, _ = ledger
    cli("audit", "checkpoint", "--store", url)
    register = CivilRegister(url, clock=clock)
    register_people(register, 1, prefix="KS-NEW")
    register.close()
    result = cli("audit", "verify", "--store", url)
    assert result.exit_code == 0
    assert "4 events are not logged yet" in result.stdout


def test_prove_needs_a_checkpoint_and_a_known_person(
    cli: Invoke, ledger: tuple[str, list[str]]
) -> None:
    url, numbers = ledger
    no_checkpoint = cli("audit", "prove", numbers[0], "--store", url)
    assert no_checkpoint.exit_code == 3
    assert "audit checkpoint" in no_checkpoint.stderr
    cli("audit", "checkpoint", "--store", url)
    unknown = cli("audit", "prove", "001090999999", "--store", url)
    assert unknown.exit_code == 4


def test_prove_notes_events_newer_than_the_checkpoint(
    cli: Invoke, ledger: tuple[str, list[str]], clock: FixedClock
) -> None:
    url, _ = ledger
    cli("audit", "checkpoint", "--store", url)
    register = CivilRegister(url, clock=clock)
    act, basis = birth("Trần Văn Mới", "2000-01-01", "KS-NEWEST")
    person = register.register_birth(act, basis).person
    register.close()
    result = cli("audit", "prove", str(person.id), "--store", url)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["pending_positions"] == [13, 14]
    assert "newer than the latest checkpoint" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        ("[1, 2]", "one JSON object"),
        ('{"format": "something else"}', "unknown proof format"),
        ('{"format": "civledger/inclusion-proof/v1", "checkpoint": {"size": 1}}', "lacks 'root'"),
    ],
)
def test_check_proof_rejects_malformed_files_with_exit_2(
    cli: Invoke, tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "bad.json").write_text(content)
    result = cli("audit", "check-proof", "bad.json", env=NO_DATABASE)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_proof_of_a_missing_file_is_bad_input(cli: Invoke) -> None:
    result = cli("audit", "check-proof", "absent.json", env=NO_DATABASE)
    assert result.exit_code == 2


def test_log_lists_who_recorded_what_with_filters(store_url: str, cli: Invoke) -> None:
    clock = FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    register = CivilRegister(store_url, clock=clock)
    act, basis = birth("Lý Văn Một", "2000-01-01", "KS-A", clerk="Lan", office="HN-01")
    register.register_birth(act, basis)
    clock.advance(days=30)
    act, basis = birth(
        "Lý Văn Hai", "2001-01-01", "KS-B", clerk="Minh", office="HCM-02", province="079"
    )
    register.register_birth(act, basis)
    register.close()
    everything = _json(cli("audit", "log", "--store", store_url, "--json"))
    assert [(e["clerk"], e["type"]) for e in everything] == [
        ("Lan", "BirthRegistered"),
        ("Lan", "IdNumberAssigned"),
        ("Minh", "BirthRegistered"),
        ("Minh", "IdNumberAssigned"),
    ]
    assert everything[0]["late"] is True
    by_clerk = _json(cli("audit", "log", "--store", store_url, "--clerk", "Minh", "--json"))
    assert {e["office"] for e in by_clerk} == {"HCM-02"}
    by_office = _json(cli("audit", "log", "--store", store_url, "--office", "HN-01", "--json"))
    assert {e["clerk"] for e in by_office} == {"Lan"}
    since = _json(cli("audit", "log", "--store", store_url, "--since", "2026-02-01", "--json"))
    assert [e["position"] for e in since] == [5, 6]
    text = cli("audit", "log", "--store", store_url, "--clerk", "Lan")
    assert "Lan @ HN-01" in text.stdout
    bad = cli("audit", "log", "--store", store_url, "--since", "last week")
    assert bad.exit_code == 2


def test_auditing_a_missing_sqlite_file_fails_instead_of_creating_it(
    cli: Invoke, tmp_path: Path
) -> None:
    result = cli("audit", "verify", "--store", f"sqlite:///{tmp_path / 'typo.sqlite'}")
    assert result.exit_code == 1
    assert "no SQLite store" in result.stderr
    assert not (tmp_path / "typo.sqlite").exists()
