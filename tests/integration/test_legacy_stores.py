"""Stores written by an older civledger read exactly as that civledger read them.

tests/fixtures/legacy/ holds a SQLite store and a PostgreSQL dump written, through the CLI
only, by the commit named in its README.md, with that code's answers to the read commands in
expected/<backend>/. Each case loads a fresh copy of the store, asks this tree's CLI the same
question as a subprocess, and requires the same JSON document, byte for byte.

Only the CLI, files and psql are used here, never the project's modules: the point is to
survive moving those modules around.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "legacy"
BACKENDS = ("sqlite", "postgres")
#: How this tree's CLI is started; run with the repository root as the working directory.
CLI = (sys.executable, "-m", "cli.main")
#: Files in expected/<backend>/ that are inputs of the cases, not answers.
INPUTS = frozenset({"people.json", "checkpoint.json"})
#: Keys a command's document gained after the fixture was written (docs/cli.md: added keys
#: extend the contract compatibly). They may only follow the recorded keys; they are set
#: aside, and the rest must be as before, byte for byte.
#: The report's keys added by the residence counts (after every key recorded before).
REPORT_ADDED = frozenset(
    {
        "households",
        "households_without_head",
        "permanent_residents",
        "temporary_residents",
        "without_permanent_residence",
        "unconfirmed",
        "proposed_for_deletion",
        "numbers_in_service",
        "special_cases",
        "cards",  # identity cards and electronic identities
    }
)
#: Read models whose layout changed since the fixtures were written: an upgraded register
#: rebuilds them first (`projections rebuild`, docs/projections.md); their digest changes.
RELAID_MODELS = frozenset({"statistics"})
#: Read models added since the fixtures were written: built from the first event by the
#: upgraded register's first catch-up (or rebuild), they have no recorded digest.
ADDED_MODELS = frozenset({"cards"})
#: The keys each act of `history` gained when rows were bound to logins (docs/adr/008): rows
#: written before name no login, and are not verified.
HISTORY_ADDED = {"recorded_by": None, "verified": False, "operator": False}
ADDED_KEYS = {
    "audit": frozenset({"clerks"}),
    "report": REPORT_ADDED,
    "show": frozenset(
        {
            "death_place",
            "residence",
            "confirmed",
            "proposed_for_deletion",
            "household",
            "card",
            "eid",
        }
    ),
}


@dataclass(frozen=True)
class Case:
    name: str  # the case's id in pytest's output
    args: tuple[str, ...]  # the command, without --store and --json
    expected: str  # the answer's file in expected/<backend>/


def people(backend: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(
        (FIXTURES / "expected" / backend / "people.json").read_text(encoding="utf-8")
    )
    return found


def cases(backend: str) -> list[Case]:
    """The questions make_stores.sh asked, derived from people.json the same way."""
    listed: list[Case] = []
    by_label = {person["label"]: person for person in people(backend)}
    for label, person in sorted(by_label.items()):
        uuid: str = person["person_id"]
        listed.append(Case(f"show-{label}-by-uuid", ("show", uuid), f"show_{uuid}.json"))
        if person["id_number"] is not None:
            number: str = person["id_number"]
            listed.append(Case(f"show-{label}-by-number", ("show", number), f"show_{number}.json"))
        for cancelled in person["cancelled_id_numbers"]:
            listed.append(
                Case(
                    f"show-{label}-by-cancelled-{cancelled}",
                    ("show", cancelled),
                    f"show_{cancelled}.json",
                )
            )
        listed.append(Case(f"history-{label}", ("history", uuid), f"history_{uuid}.json"))
    father: str = by_label["father"]["id_number"]
    checkpoint = str(FIXTURES / "expected" / backend / "checkpoint.json")
    listed += [
        Case("report", ("report",), "report.json"),
        Case("report-since", ("report", "--since", "2000-01-01"), "report_since_2000.json"),
        Case("projections-digest", ("projections", "digest"), "projections_digest.json"),
        Case(
            "audit-verify-checkpoint",
            ("audit", "verify", "--checkpoint", checkpoint),
            "audit_verify.json",
        ),
        Case("audit-prove-father", ("audit", "prove", father), "audit_prove_father.json"),
        Case("find-nguyen", ("find", "--name", "nguyen"), "find_nguyen.json"),
        Case(
            "find-binh-born-province",
            ("find", "--name", "bình", "--born", "1950-02-11", "--province", "001"),
            "find_binh_1950.json",
        ),
        Case("find-thi-limit", ("find", "--name", "thị", "--limit", "3"), "find_thi.json"),
        Case(
            "verify-father",
            ("verify", father, "--name", "nguyen van binh", "--born", "1950-02-11"),
            "verify_father.json",
        ),
    ]
    return listed


def all_cases() -> list[Any]:
    params: list[Any] = []
    for backend in BACKENDS:
        marks = [pytest.mark.postgres] if backend == "postgres" else []
        params += [
            pytest.param(backend, case, id=f"{backend}-{case.name}", marks=marks)
            for case in cases(backend)
        ]
    return params


def load_store(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store holding the fixture: a copy of the SQLite file, or the dump loaded into
    the empty database of `postgres_url` (dropped after the test)."""
    if backend == "sqlite":
        path = tmp_path / "ledger.sqlite"
        shutil.copyfile(FIXTURES / "ledger.sqlite", path)
        return f"sqlite:///{path}"
    url = str(request.getfixturevalue("postgres_url"))
    loaded = subprocess.run(
        ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(FIXTURES / "ledger.pg.sql")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert loaded.returncode == 0, f"psql could not load ledger.pg.sql:\n{loaded.stderr}"
    return url


def civledger(*args: str, store: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # Nothing from the caller's environment (CIVLEDGER_STORE, _VIEWS, _EVENTS_FROM,
    # _CIPHER_KEY, _LATE_AFTER_DAYS, ...) may change the answer.
    env = {key: value for key, value in os.environ.items() if not key.startswith("CIVLEDGER_")}
    return subprocess.run(
        [*CLI, *args, "--store", store, "--json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        check=False,
    )


def canonical(document: Any) -> str:
    """Type-exact (true is not 1), order-exact for lists, one line per value for the diff."""
    return json.dumps(document, ensure_ascii=False, sort_keys=True, indent=1)


@pytest.mark.parametrize(("backend", "case"), all_cases())
def test_the_legacy_store_answers_as_before(
    backend: str, case: Case, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    store = load_store(backend, request, tmp_path)
    if case.args[0] == "report" or case.args[:2] == ("projections", "digest"):
        outdated = civledger(*case.args, store=store, cwd=REPO_ROOT)
        assert outdated.returncode == 1  # the models built by the old code must be rebuilt
        assert "run `civledger projections rebuild statistics`" in outdated.stderr
        rebuilt = civledger("projections", "rebuild", store=store, cwd=REPO_ROOT)
        assert rebuilt.returncode == 0, rebuilt.stderr
    answered = civledger(*case.args, store=store, cwd=REPO_ROOT)
    assert answered.returncode == 0, (
        f"civledger {' '.join(case.args)} exited {answered.returncode}:\n{answered.stderr}"
    )
    expected_text = (FIXTURES / "expected" / backend / case.expected).read_text(encoding="utf-8")
    document = json.loads(answered.stdout)
    expected = json.loads(expected_text)
    if case.args[:2] == ("projections", "digest"):
        for model in RELAID_MODELS:
            assert document.pop(model) != expected.pop(model)
        for model in ADDED_MODELS:
            assert model not in expected
            document.pop(model)
        assert document == expected  # every model whose layout is unchanged digests alike
        return
    if case.args[0] == "history":
        for entry, was in zip(document, expected, strict=True):
            assert list(entry)[: len(was)] == list(was), "added keys come last"
            assert {key: entry.pop(key) for key in list(entry)[len(was) :]} == HISTORY_ADDED
        printed = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        assert printed == expected_text
        return
    added = [key for key in document if isinstance(expected, dict) and key not in expected]
    if added:
        assert set(added) <= ADDED_KEYS.get(case.args[0], frozenset()), f"new keys {added}"
        assert list(document)[: len(expected)] == list(expected), "added keys come last"
        for key in added:
            del document[key]
    assert canonical(document) == canonical(expected)
    printed = (
        json.dumps(document, ensure_ascii=False, indent=2) + "\n" if added else answered.stdout
    )
    assert printed == expected_text, "same document, but printed differently"


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_recorded_answer_is_checked(backend: str) -> None:
    recorded = {path.name for path in (FIXTURES / "expected" / backend).glob("*.json")}
    checked = {case.expected for case in cases(backend)}
    assert recorded - INPUTS == checked


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_fixture_covers_every_kind_of_record(backend: str) -> None:
    listed = people(backend)
    statuses = {person["status"] for person in listed}
    assert statuses == {"active", "deceased", "renounced", "merged"}
    assert any(person["cancelled_id_numbers"] for person in listed)
    assert any(person["id_number"] is None for person in listed)


@pytest.mark.parametrize(
    "backend",
    [pytest.param(b, marks=[pytest.mark.postgres] if b == "postgres" else []) for b in BACKENDS],
)
def test_the_card_readers_answer_a_store_older_than_cards(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A store written before identity cards holds no card event: its first catch-up builds
    an empty-handed `cards` model from the first event, and nobody holds a card or owes one."""
    store = load_store(backend, request, tmp_path)
    due = civledger("cards", "due", "--by", "2100-01-01", store=store, cwd=REPO_ROOT)
    assert (due.returncode, json.loads(due.stdout or "null")) == (0, []), due.stderr
    listed = people(backend)
    # One of each status (a subprocess each): active, deceased, renounced, merged.
    some = {person["status"]: person for person in listed}.values()
    for person in some:
        shown = civledger("card", "show", person["person_id"], store=store, cwd=REPO_ROOT)
        assert shown.returncode == 0, shown.stderr
        document = json.loads(shown.stdout)
        assert (document["status"], document["cards"]) == ("none", [])
        assert document["id_number"] == person["id_number"]
    status = civledger("projections", "status", store=store, cwd=REPO_ROOT)
    positions = json.loads(status.stdout)
    assert positions["cards"]["lag"] == 0
