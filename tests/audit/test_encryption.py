"""CIVLEDGER_CIPHER_KEY encrypts event payloads at rest; the Merkle log still verifies."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from eventsourcing.cipher import AESCipher
from typer.testing import Result

from application.register import CivilRegister
from audit.log import MerkleLogProjection
from domain.person import Person
from importer.pipeline import importer_for
from infrastructure.errors import EventsUnreadable
from infrastructure.store_url import StoreURL
from tests.audit.conftest import Invoke, birth
from tests.conftest import FixedClock

NAME = "Hoàng Thị Mai Hương"
BORN = "1987-12-25"


@pytest.fixture
def cipher_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = AESCipher.create_key(32)
    monkeypatch.setenv("CIVLEDGER_CIPHER_KEY", key)
    return key


def _stored_bytes(url: str) -> bytes:
    store = StoreURL.parse(url)
    if store.is_sqlite:
        chunks = []
        for suffix in ("", "-wal", "-journal"):
            try:
                with open(store.path + suffix, "rb") as file:
                    chunks.append(file.read())
            except FileNotFoundError:
                continue
        return b"".join(chunks)
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT topic, state FROM civledger_events").fetchall()
    return b"".join(topic.encode() + bytes(state) for topic, state in rows)


def _a_secret_birth(store_url: str, clock: FixedClock) -> Person:
    """Register the person whose data must not be stored in clear; the register is closed."""
    register = CivilRegister(store_url, clock=clock)
    try:
        return register.register_birth(*birth(NAME, BORN, "KS-SECRET", sex="female")).person
    finally:
        register.close()


def test_no_name_or_date_of_birth_is_stored_in_clear(
    store_url: str, clock: FixedClock, cipher_key: str
) -> None:
    register = CivilRegister(store_url, clock=clock)
    act, basis = birth(NAME, BORN, "KS-SECRET", sex="female")
    number = register.register_birth(act, basis).person.id_number
    assert number is not None
    assert register.person(number).name == NAME  # the key holder reads it back
    MerkleLogProjection(register).checkpoint()
    register.close()
    stored = _stored_bytes(store_url)
    assert b"civledger.person.BirthRegistered" in stored  # topics are not encrypted
    for secret in (NAME, BORN, "Mai", number):
        assert secret.encode() not in stored


def test_the_merkle_log_verifies_without_the_key(
    cli: Invoke,
    store_url: str,
    clock: FixedClock,
    cipher_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    person = _a_secret_birth(store_url, clock)
    assert cli("audit", "checkpoint", "--store", store_url).exit_code == 0
    proof = cli("audit", "prove", str(person.id), "--store", store_url)
    assert proof.exit_code == 0, proof.output
    monkeypatch.delenv("CIVLEDGER_CIPHER_KEY")
    result = cli("audit", "verify", "--store", store_url)
    assert result.exit_code == 0, result.output
    assert "verified: 4 events" in result.stdout


def test_the_command_line_keeps_the_store_file_free_of_personal_data(
    cli: Invoke, sqlite_url: str, tmp_path: Path, cipher_key: str
) -> None:
    views = f"sqlite:///{tmp_path / 'views.sqlite'}"  # read models hold names in clear
    for i in (1, 2):
        result = cli(
            "register-birth",
            "--name",
            f"{NAME} {i}",
            "--sex",
            "female",
            "--born",
            f"1987-12-2{i}",
            "--province",
            "001",
            "--reference",
            f"KS-{i}",
            "--store",
            sqlite_url,
            "--views",
            views,
        )
        assert result.exit_code == 0, result.output
    shown = cli("show", result.stdout.strip(), "--store", sqlite_url, "--json")
    assert json.loads(shown.stdout)["name"] == f"{NAME} 2"
    assert cli("audit", "checkpoint", "--store", sqlite_url).exit_code == 0
    assert cli("audit", "verify", "--store", sqlite_url).exit_code == 0
    stored = _stored_bytes(sqlite_url)
    for secret in (NAME, "1987-12-21", "1987-12-22", "hoang thi mai"):
        assert secret.encode() not in stored


def _one_line_naming_the_key(result: Result) -> None:
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "CIVLEDGER_CIPHER_KEY" in result.stderr
    assert "unexpected error" not in result.stderr


def test_proving_by_id_number_without_the_key_says_to_prove_by_uuid(
    cli: Invoke,
    store_url: str,
    clock: FixedClock,
    cipher_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    person = _a_secret_birth(store_url, clock)
    assert person.id_number is not None
    assert cli("audit", "checkpoint", "--store", store_url).exit_code == 0
    monkeypatch.delenv("CIVLEDGER_CIPHER_KEY")
    by_number = cli("audit", "prove", person.id_number, "--store", store_url)
    _one_line_naming_the_key(by_number)
    assert "UUID" in by_number.stderr
    by_uuid = cli("audit", "prove", str(person.id), "--store", store_url)
    assert by_uuid.exit_code == 0, by_uuid.output
    assert json.loads(by_uuid.stdout)["person_id"] == str(person.id)


def test_readers_without_the_key_name_it_in_one_line(
    cli: Invoke,
    store_url: str,
    tmp_path: Path,
    clock: FixedClock,
    cipher_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    person = _a_secret_birth(store_url, clock)
    assert person.id_number is not None
    monkeypatch.delenv("CIVLEDGER_CIPHER_KEY")
    views = f"sqlite:///{tmp_path / 'views.sqlite'}"
    for args in (
        ("show", person.id_number),
        ("show", str(person.id)),
        ("history", str(person.id)),
        ("audit", "log"),
        ("projections", "catch-up", "--views", views),
    ):
        result = cli(*args, "--store", store_url)
        _one_line_naming_the_key(result)
        assert "without CIVLEDGER_CIPHER_KEY" in result.stderr
    wrong = {"CIVLEDGER_CIPHER_KEY": AESCipher.create_key(32)}
    result = cli("show", str(person.id), "--store", store_url, env=wrong)
    _one_line_naming_the_key(result)
    assert "another key" in result.stderr


def _positions(url: str) -> int:
    register = CivilRegister(url)
    try:
        return register.recorder.max_notification_id() or 0
    finally:
        register.close()


def test_a_writer_without_the_key_writes_nothing_into_an_encrypted_log(
    cli: Invoke, store_url: str, clock: FixedClock, cipher_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _a_secret_birth(store_url, clock)
    # The read models are current, so the duplicate check decodes no event on its way.
    assert cli("projections", "catch-up", "--store", store_url).exit_code == 0
    before = _positions(store_url)
    monkeypatch.delenv("CIVLEDGER_CIPHER_KEY")

    result = cli(
        "register-birth", "--name", "Lê Văn Tám", "--sex", "male", "--born", "1990-01-01",
        "--province", "001", "--clerk", "Lê Thị Lan", "--office", "HN", "--reference", "KS-9",
        "--store", store_url,
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "without CIVLEDGER_CIPHER_KEY" in result.stderr
    assert _positions(store_url) == before


def test_a_writer_with_a_key_writes_nothing_into_a_clear_log(
    cli: Invoke, store_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    register = CivilRegister(store_url, clock=clock)
    register.register_birth(*birth(NAME, BORN, "KS-CLEAR", sex="female"))
    register.close()
    before = _positions(store_url)
    monkeypatch.setenv("CIVLEDGER_CIPHER_KEY", AESCipher.create_key(32))

    register = CivilRegister(store_url, clock=clock)
    with pytest.raises(EventsUnreadable, match="with this CIVLEDGER_CIPHER_KEY"):
        register.register_birth(*birth("Lê Văn Tám", "1990-01-01", "KS-9", sex="male"))
    with pytest.raises(EventsUnreadable):
        importer_for(register)
    register.close()
    assert _positions(store_url) == before
