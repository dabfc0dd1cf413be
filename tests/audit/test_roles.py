"""PostgreSQL roles: clerks append and read, auditors only read; the triggers hold for both."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from application.register import CivilRegister
from audit.log import MerkleLogProjection
from domain.errors import InvalidInput, RuleBroken
from infrastructure.store_url import StoreURL
from tests.audit.conftest import Invoke, birth, register_people
from tests.conftest import FixedClock

pytestmark = pytest.mark.postgres

DENIED = psycopg.errors.InsufficientPrivilege


def as_role(url: str, role: str) -> str:
    store = StoreURL.parse(url)
    return f"postgresql://{role}@{store.host}:{store.port}/{store.dbname}"


@pytest.fixture
def roles(role_cleanup: None, cli: Invoke, postgres_url: str, clock: FixedClock) -> str:
    register = CivilRegister(postgres_url, clock=clock)
    register_people(register, 2)
    register.close()
    result = cli("admin", "roles", "--store", postgres_url, "--json")
    assert result.exit_code == 0, result.output
    assert "civledger_clerk" in result.stdout
    assert "civledger_auditor" in result.stdout
    return postgres_url


def _refused(url: str, statement: str) -> None:
    with psycopg.connect(url) as conn, pytest.raises(DENIED):
        conn.execute(statement.encode())


def test_an_enrolled_clerk_registers_a_birth_through_the_register(
    logins: dict[str, str], roles: str, cli: Invoke, clock: FixedClock
) -> None:
    enrol = ("admin", "clerk", "enrol", logins["lan"], "--name", "Lê Thị Lan")
    assert cli(*enrol, "--office", "HN-BADINH", "--store", roles).exit_code == 0
    register = CivilRegister(as_role(roles, logins["lan"]), clock=clock)
    act, basis = birth("Phạm Thị Hoa", "2001-02-03", "KS-CLERK", sex="female")
    outcome = register.register_birth(act, basis)
    assert outcome.person.id_number is not None
    assert register.person(outcome.person.id_number).name == "Phạm Thị Hoa"
    register.close()


def test_the_group_role_is_not_a_clerk_and_records_nothing(roles: str, clock: FixedClock) -> None:
    register = CivilRegister(as_role(roles, "civledger_clerk"), clock=clock)
    act, basis = birth("Phạm Thị Hoa", "2001-02-03", "KS-CLERK", sex="female")
    with pytest.raises(RuleBroken, match="login civledger_clerk is not enrolled"):
        register.register_birth(act, basis)
    register.close()


def test_an_enrolled_clerk_registers_a_birth_from_the_command_line(
    logins: dict[str, str], cli: Invoke, roles: str, tmp_path: Path
) -> None:
    enrol = ("admin", "clerk", "enrol", logins["lan"], "--name", "Lê Thị Lan")
    assert cli(*enrol, "--office", "HN-BADINH", "--store", roles).exit_code == 0
    result = cli(
        "register-birth",
        "--name",
        "Võ Văn Nam",
        "--sex",
        "male",
        "--born",
        "1999-09-09",
        "--province",
        "079",
        "--reference",
        "KS-CLI",
        "--store",
        as_role(roles, logins["lan"]),
        "--views",
        f"sqlite:///{tmp_path / 'clerk-views.sqlite'}",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith("079099")


def test_the_clerk_cannot_update_delete_truncate_or_bypass_the_append_path(roles: str) -> None:
    clerk = as_role(roles, "civledger_clerk")
    _refused(clerk, "UPDATE civledger_events SET topic = 'forged'")
    _refused(clerk, "DELETE FROM civledger_events")
    _refused(clerk, "TRUNCATE civledger_events")
    _refused(clerk, "LOCK TABLE civledger_events IN EXCLUSIVE MODE")
    _refused(
        clerk,
        "INSERT INTO civledger_events (originator_id, originator_version, topic, state) "
        "VALUES (gen_random_uuid(), 1, 'forged', '')",
    )
    _refused(clerk, "DELETE FROM civledger_merkle_checkpoints")


def test_the_auditor_cannot_write(roles: str, clock: FixedClock) -> None:
    auditor = as_role(roles, "civledger_auditor")
    _refused(
        auditor,
        "INSERT INTO civledger_events (originator_id, originator_version, topic, state) "
        "VALUES (gen_random_uuid(), 1, 'forged', '')",
    )
    _refused(auditor, "SELECT * FROM civledger_events_append(ARRAY[]::stored_event_uuid[])")
    _refused(auditor, "UPDATE civledger_events SET topic = 'forged'")
    _refused(auditor, "DELETE FROM civledger_events")
    _refused(auditor, "TRUNCATE civledger_events")
    _refused(auditor, "INSERT INTO civledger_merkle_checkpoints VALUES (99, '', 'now')")
    register = CivilRegister(auditor, clock=clock)
    act, basis = birth("Đỗ Văn Tư", "1980-01-01", "KS-AUDITOR")
    with pytest.raises(RuleBroken, match="login civledger_auditor is not enrolled"):
        register.register_birth(act, basis)
    register.close()


def test_the_auditor_verifies_and_computes_checkpoints_without_storing_them(
    cli: Invoke, roles: str
) -> None:
    auditor = as_role(roles, "civledger_auditor")
    computed = cli("audit", "checkpoint", "--store", auditor, "--json")
    assert computed.exit_code == 0, computed.output
    assert "computed, not stored" in computed.stderr
    assert cli("audit", "verify", "--store", auditor).exit_code == 0
    stored = cli("audit", "checkpoint", "--store", roles, "--json")
    assert stored.exit_code == 0
    assert '"size": 8' in stored.stdout
    # The auditor's own computation and the stored checkpoint agree on size and root.
    assert computed.stdout.split('"at"')[0] == stored.stdout.split('"at"')[0]


def test_roles_need_postgresql(cli: Invoke, sqlite_url: str) -> None:
    result = cli("admin", "roles", "--store", sqlite_url)
    assert result.exit_code == 2
    assert "roles need PostgreSQL" in result.stderr
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()  # nothing written


def test_the_merkle_log_of_clerk_appended_events_verifies(
    logins: dict[str, str], roles: str, cli: Invoke, clock: FixedClock
) -> None:
    enrol = ("admin", "clerk", "enrol", logins["lan"], "--name", "Lê Thị Lan")
    assert cli(*enrol, "--office", "HN-BADINH", "--store", roles).exit_code == 0
    register = CivilRegister(as_role(roles, logins["lan"]), clock=clock)
    register_people(register, 2, prefix="KS-BY-CLERK")
    register.close()
    owner = CivilRegister(roles, clock=clock)
    projection = MerkleLogProjection(owner)
    # 8 events of the owner's two births, 1 enrolment, 8 of the clerk's two births
    assert projection.checkpoint().checkpoint.size == 17
    assert projection.verify().events == 17
    owner.close()


def test_the_append_route_can_be_forced_by_configuration(
    postgres_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVLEDGER_POSTGRES_APPEND_ROUTE", "definer")
    register = CivilRegister(postgres_url, clock=clock)
    register_people(register, 2)
    assert register.recorder.append_route == "definer"  # type: ignore[attr-defined]
    assert register.recorder.max_notification_id() == 8
    register.close()
    monkeypatch.setenv("CIVLEDGER_POSTGRES_APPEND_ROUTE", "sideways")
    # A bad value is bad input (exit 2), naming the variable, on either backend.
    with pytest.raises(
        InvalidInput, match="CIVLEDGER_POSTGRES_APPEND_ROUTE must be auto, direct or definer"
    ):
        CivilRegister(postgres_url, clock=clock)
