"""`admin partner add|list|revoke|rotate|roles`, `access-log` and `serve`'s own checks, as an
administrator types them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from infrastructure.access_log import SERVICE_ROLE, AccessEntry, AccessLogStore, key_hash
from infrastructure.store_url import StoreURL


def run(store: str, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--store", store])


def test_a_key_is_printed_once_and_kept_only_as_a_hash(store_url: str) -> None:
    added = run(store_url, "admin", "partner", "add", "portal", "--scopes", "verify,household",
                "--rate", "50")  # fmt: skip
    assert added.exit_code == 0, added.output
    document = json.loads(added.stdout)
    assert set(document) == {"partner", "key"}
    key = document["key"]
    assert len(key) == 43  # 256 bits, URL-safe base64
    listed = run(store_url, "admin", "partner", "list", "--json")
    assert key not in listed.stdout
    (partner,) = json.loads(listed.stdout)
    assert partner == {
        "partner": "portal", "scopes": ["household", "verify"], "fields": [], "rate": 50,
        "created_at": partner["created_at"], "revoked_at": None,
    }  # fmt: skip
    log = AccessLogStore.open(store_url)
    try:
        (stored,) = log.partners()
    finally:
        log.close()
    assert stored.key_hash == key_hash(key)
    assert key not in repr(stored)


def test_rotate_gives_a_new_key_and_revoke_keeps_the_partner_on_record(store_url: str) -> None:
    first = json.loads(run(store_url, "admin", "partner", "add", "bank", "--scopes",
                           "verify").stdout)["key"]  # fmt: skip
    rotated = run(store_url, "admin", "partner", "rotate", "bank")
    assert rotated.exit_code == 0
    second = json.loads(rotated.stdout)["key"]
    assert second != first
    revoked = run(store_url, "admin", "partner", "revoke", "bank", "--json")
    assert revoked.exit_code == 0
    assert json.loads(revoked.stdout)["revoked_at"] is not None
    assert "revoked" in run(store_url, "admin", "partner", "list").stdout


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("add", "Bank!", "--scopes", "verify"), 2, "partner name"),
        (("add", "bank", "--scopes", "verify,teleport"), 2, "unknown scope 'teleport'"),
        (("add", "bank", "--scopes", "lookup"), 2, "needs --fields"),
        (("add", "bank", "--scopes", "lookup", "--fields", "name,soul"), 2, "unknown field"),
        (("add", "bank", "--scopes", "verify", "--fields", "name"), 2, "lookup scope"),
        (("add", "bank", "--scopes", "verify", "--rate", "0"), 2, "--rate"),
        (("revoke", "nobody"), 2, "no partner named 'nobody'"),
    ],
)
def test_bad_partner_commands_are_one_line_and_write_nothing(
    store_url: str, args: tuple[str, ...], code: int, says: str
) -> None:
    run(store_url, "admin", "partner", "add", "other", "--scopes", "verify")
    result = run(store_url, "admin", "partner", *args)
    assert result.exit_code == code, result.output
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    names = [p["partner"] for p in json.loads(run(store_url, "admin", "partner", "list",
                                                  "--json").stdout)]  # fmt: skip
    assert names == ["other"]


def test_a_partner_name_is_taken_once(store_url: str) -> None:
    assert run(store_url, "admin", "partner", "add", "bank", "--scopes", "verify").exit_code == 0
    again = run(store_url, "admin", "partner", "add", "bank", "--scopes", "verify")
    assert again.exit_code == 3
    assert "rotate" in again.stderr


def test_access_log_lists_newest_first_and_since_a_date(store_url: str) -> None:
    log = AccessLogStore.open(store_url, create=True)
    try:
        log.append([
            AccessEntry("2026-01-02T03:04:05.000000Z", "bank", "kyc", "001090000001", "verify",
                        "match", "t-1"),
            AccessEntry("2026-03-02T03:04:05.000000Z", "portal", "benefit", "001090000001",
                        "verify-household-head", "no-match", "t-2"),
            AccessEntry("2026-03-03T03:04:05.000000Z", "bank", "kyc", "001090000002", "verify",
                        "match", "t-3"),
        ])  # fmt: skip
    finally:
        log.close()
    every = json.loads(run(store_url, "access-log", "001090000001", "--json").stdout)
    assert [e["transaction"] for e in every] == ["t-2", "t-1"]
    since = run(store_url, "access-log", "001090000001", "--since", "2026-02-01")
    assert since.exit_code == 0
    assert "portal" in since.stdout
    assert "kyc" not in since.stdout
    assert (
        run(store_url, "access-log", "001090000009")
        .stdout.strip()
        .endswith("no requests on record")
    )
    assert run(store_url, "access-log", "not-a-number").exit_code == 2
    assert run(store_url, "access-log", "001090000001", "--since", "soon").exit_code == 2


def test_serve_refuses_bad_options_before_starting(sqlite_url: str, tmp_path: Any) -> None:
    run(sqlite_url, "init")
    for args, says in [
        (("--workers", "0"), "--workers"),
        (("--port", "70000"), "--port"),
        (("--certfile", str(tmp_path / "c.pem")), "both --certfile and --keyfile"),
    ]:
        result = run(sqlite_url, "serve", *args)
        assert result.exit_code == 2, result.output
        assert says in result.stderr
    missing = run(f"sqlite:///{tmp_path / 'none.sqlite'}", "serve")
    assert missing.exit_code == 1
    assert "no SQLite store" in missing.stderr


@pytest.fixture
def service_role_cleanup(postgres_admin_url: str) -> Iterator[None]:
    """Drop the service role after the test, if it made it (ask before `postgres_url`, so
    the database that holds its privileges is dropped first)."""
    import psycopg

    def exists() -> bool:
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            row = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (SERVICE_ROLE,))
            return row.fetchone() is not None

    before = exists()
    yield
    if not before and exists():
        with (
            psycopg.connect(postgres_admin_url, autocommit=True) as conn,
            contextlib.suppress(psycopg.errors.DependentObjectsStillExist),
        ):
            conn.execute(f'DROP ROLE "{SERVICE_ROLE}"')


@pytest.mark.postgres
def test_the_service_role_appends_and_reads_but_never_changes_anything(
    role_cleanup: None, service_role_cleanup: None, postgres_url: str
) -> None:
    import psycopg

    assert run(postgres_url, "admin", "partner", "add", "bank", "--scopes", "verify").exit_code == 0
    made = run(postgres_url, "admin", "partner", "roles", "--json")
    assert made.exit_code == 0, made.output
    assert set(json.loads(made.stdout)["roles"]) == {SERVICE_ROLE, "civledger_auditor"}
    as_service = StoreURL.parse(postgres_url)
    url = f"postgresql://{SERVICE_ROLE}@{as_service.host}:{as_service.port}/{as_service.dbname}"
    log = AccessLogStore.open(url)
    try:
        log.append([AccessEntry("2026-01-01T00:00:00.000000Z", "bank", "kyc", "001090000001",
                                "verify", "match", "t-1")])  # fmt: skip
        assert [p.policy.name for p in log.partners()] == ["bank"]
        assert [e.transaction for e in log.entries("001090000001")] == ["t-1"]
    finally:
        log.close()
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in (
            "UPDATE civledger_partners SET revoked_at = NULL",
            "DELETE FROM civledger_access_log",
            "TRUNCATE civledger_access_log",
            "INSERT INTO civledger_partners (name, key_hash, scopes, fields, created_at) "
            "VALUES ('x', 'y', 'verify', '[]', 'now')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_roles_need_postgresql(sqlite_url: str) -> None:
    result = run(sqlite_url, "admin", "partner", "roles")
    assert result.exit_code == 2
    assert "PostgreSQL" in result.stderr
