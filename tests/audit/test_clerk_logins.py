"""Clerks are who they say: every act is bound to the PostgreSQL login that appended it.

Two clerks, each enrolled with their own login at their own office, record acts through the
command line as a clerk would, on a real PostgreSQL server. The database stamps each row with
its login; the register refuses an act naming anyone else; a retired login is refused by the
database itself; and an act forged through the append function is caught by `audit verify`.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from domain.events import BirthRegistered
from domain.values import Nationality, Sex
from infrastructure.mapper import encode_state
from tests.audit.conftest import Invoke
from tests.audit.test_roles import as_role

pytestmark = pytest.mark.postgres

LAN = ("Lê Thị Lan", "UBND phường Ba Đình")
MINH = ("Trần Văn Minh", "UBND phường Bến Nghé")


@pytest.fixture
def enrolled(logins: dict[str, str], postgres_url: str, cli: Invoke) -> dict[str, str]:
    """Lan and Minh enrolled by the tables' owner; returns their store URLs by key, and the
    owner's as `owner`."""
    for key, (name, office) in (("lan", LAN), ("minh", MINH)):
        result = cli(
            "admin", "clerk", "enrol", logins[key], "--name", name, "--office", office,
            "--store", postgres_url, "--json",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        assert (document["login"], document["name"], document["office"]) == (
            logins[key],
            name,
            office,
        )
        assert document["enrolled_by"] == "postgres"
    return {
        "owner": postgres_url,
        "lan": as_role(postgres_url, logins["lan"]),
        "minh": as_role(postgres_url, logins["minh"]),
    }


def birth_as(
    cli: Invoke, store: str, own: tuple[str, str], reference: str, tmp_path: Path, **how: str
) -> tuple[int, str, str]:
    """`register-birth` through the CLI as a clerk types it, naming the clerk and office
    `own` unless `how` says otherwise; (exit code, stdout, stderr)."""
    env = {
        "CIVLEDGER_CLERK": how.get("clerk", own[0]),
        "CIVLEDGER_OFFICE": how.get("office", own[1]),
    }
    result = cli(
        "register-birth", "--name", how.get("person", "Võ Văn Nam"), "--sex", "male",
        "--born", "1999-09-09", "--province", "079", "--reference", reference,
        "--store", store, "--views", f"sqlite:///{tmp_path / 'views.sqlite'}", "--json",
        env=env,
    )  # fmt: skip
    return result.exit_code, result.stdout, result.stderr


def rows(url: str) -> list[tuple[int, str | None]]:
    """Each row's position and login (None for every row of a store without the column)."""
    with psycopg.connect(url) as conn:
        stamped = conn.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'civledger_events' AND column_name = 'recorded_by'"
        ).fetchone() == (1,)
        login = "recorded_by" if stamped else "NULL"
        found = conn.execute(
            f"SELECT notification_id, {login} FROM civledger_events ORDER BY notification_id"
        ).fetchall()
    return [(int(row[0]), row[1]) for row in found]


def test_each_clerk_records_under_their_own_name_and_the_database_names_their_login(
    cli: Invoke, enrolled: dict[str, str], logins: dict[str, str], tmp_path: Path
) -> None:
    code, out, err = birth_as(cli, enrolled["lan"], LAN, "KS-LAN-1", tmp_path)
    assert code == 0, err
    lan_person = json.loads(out)["person_id"]
    code, out, err = birth_as(cli, enrolled["minh"], MINH, "KS-MINH-1", tmp_path, person="Hà Thu")
    assert code == 0, err
    minh_person = json.loads(out)["person_id"]

    for person, login in ((lan_person, logins["lan"]), (minh_person, logins["minh"])):
        history = cli("history", person, "--store", enrolled["owner"], "--json")
        assert history.exit_code == 0, history.output
        entries = json.loads(history.stdout)
        assert entries
        assert {(e["recorded_by"], e["verified"], e["operator"]) for e in entries} == {
            (login, True, False)
        }
    log = cli("audit", "log", "--store", enrolled["owner"], "--json")
    assert {(e["clerk"], e["recorded_by"]) for e in json.loads(log.stdout)} == {
        (LAN[0], logins["lan"]),
        (MINH[0], logins["minh"]),
    }
    verified = cli("audit", "verify", "--store", enrolled["owner"], "--json")
    assert verified.exit_code == 0, verified.output
    clerks = json.loads(verified.stdout)["clerks"]
    assert clerks["skipped"] is None
    assert clerks["checked"] == sum(
        1 for _, login in rows(enrolled["owner"]) if login != "postgres"
    )
    assert clerks["checked"] > 0


@pytest.mark.parametrize(
    "naming",
    [{"clerk": MINH[0]}, {"office": MINH[1]}, {"clerk": MINH[0], "office": MINH[1]}],
    ids=["other-name", "other-office", "other-name-and-office"],
)
def test_a_clerk_naming_the_other_clerk_or_office_is_refused_and_nothing_is_written(
    cli: Invoke, enrolled: dict[str, str], logins: dict[str, str], tmp_path: Path,
    naming: dict[str, str],
) -> None:  # fmt: skip
    before = rows(enrolled["owner"])
    code, out, err = birth_as(cli, enrolled["lan"], LAN, "KS-FORGED", tmp_path, **naming)
    assert code == 3
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert logins["lan"] in lines[0]
    assert f"clerk {LAN[0]} at office {LAN[1]}" in lines[0]
    assert rows(enrolled["owner"]) == before


def test_a_retired_clerk_is_refused_by_the_register_and_by_the_database(
    cli: Invoke, enrolled: dict[str, str], logins: dict[str, str], tmp_path: Path
) -> None:
    assert birth_as(cli, enrolled["minh"], MINH, "KS-MINH-1", tmp_path)[0] == 0
    retired = cli("admin", "clerk", "retire", logins["minh"], "--store", enrolled["owner"])
    assert retired.exit_code == 0, retired.output
    listed = cli("admin", "clerk", "list", "--store", enrolled["owner"], "--json")
    by_login = {e["login"]: e for e in json.loads(listed.stdout)}
    assert by_login[logins["minh"]]["active"] is False
    assert by_login[logins["minh"]]["retired_on"] is not None
    assert by_login[logins["lan"]]["active"] is True
    before = rows(enrolled["owner"])

    code, _, err = birth_as(cli, enrolled["minh"], MINH, "KS-MINH-2", tmp_path, person="Lò Văn Pá")

    assert code != 0
    assert "permission denied" in err or "retired" in err
    with (
        psycopg.connect(enrolled["minh"]) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(
            "SELECT * FROM civledger_events_append(ARRAY[ROW(%s, 1, 'forged', '')"
            "::stored_event_uuid])",
            (uuid4(),),
        )
    assert rows(enrolled["owner"]) == before
    again = cli("admin", "clerk", "retire", logins["minh"], "--store", enrolled["owner"])
    assert again.exit_code == 3
    assert "already retired" in again.stderr


def test_a_login_that_is_not_enrolled_is_refused(
    cli: Invoke, enrolled: dict[str, str], logins: dict[str, str], tmp_path: Path
) -> None:
    stranger = logins["stranger"]
    with psycopg.connect(enrolled["owner"], autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(stranger)))
        conn.execute(sql.SQL("GRANT civledger_clerk TO {}").format(sql.Identifier(stranger)))
    before = rows(enrolled["owner"])

    code, out, err = birth_as(cli, as_role(enrolled["owner"], stranger), LAN, "KS-X", tmp_path)

    assert (code, out) == (3, "")
    assert f"login {stranger} is not enrolled" in err
    assert rows(enrolled["owner"]) == before


def test_the_operator_records_under_any_name_and_its_acts_are_marked_as_the_operators(
    cli: Invoke, enrolled: dict[str, str], tmp_path: Path
) -> None:
    code, out, err = birth_as(
        cli, enrolled["owner"], ("Nguyễn Thị Cúc", "Sở Tư pháp"), "KS-OP-1", tmp_path
    )
    assert code == 0, err
    history = cli("history", json.loads(out)["person_id"], "--store", enrolled["owner"], "--json")
    entries = json.loads(history.stdout)
    assert {(e["recorded_by"], e["operator"], e["verified"]) for e in entries} == {
        ("postgres", True, False)
    }
    assert cli("audit", "verify", "--store", enrolled["owner"]).exit_code == 0


def forged_birth(clerk: tuple[str, str]) -> tuple[object, str, bytes]:
    """A birth naming `clerk`, encoded as the register would store it (no cipher)."""
    person = uuid4()
    event = BirthRegistered(
        originator_id=person,
        originator_version=1,
        recorded_at=datetime.now(UTC),
        occurred_on=date(2001, 1, 1),
        clerk=clerk[0],
        office=clerk[1],
        reference="KS-FORGED",
        name="Đặng Văn Giả",
        sex=Sex.MALE,
        born=date(2001, 1, 1),
        birth_province="001",
        nationality=Nationality.VIETNAMESE,
        registered_on=date(2001, 1, 5),
    )
    return person, BirthRegistered.TOPIC, encode_state(event)


def test_a_forged_clerk_pushed_through_the_append_function_is_caught_by_audit_verify(
    cli: Invoke, enrolled: dict[str, str], logins: dict[str, str], tmp_path: Path
) -> None:
    assert birth_as(cli, enrolled["lan"], LAN, "KS-LAN-1", tmp_path)[0] == 0
    assert cli("audit", "checkpoint", "--store", enrolled["owner"]).exit_code == 0
    assert cli("audit", "verify", "--store", enrolled["owner"]).exit_code == 0
    person, topic, state = forged_birth(MINH)
    with psycopg.connect(enrolled["lan"]) as conn:  # the clerk role's own connection
        (position,) = conn.execute(
            "SELECT * FROM civledger_events_append(ARRAY[ROW(%s, 1, %s, %s)::stored_event_uuid])",
            (person, topic, state),
        ).fetchone() or (None,)

    assert rows(enrolled["owner"])[-1] == (position, logins["lan"])
    verified = cli("audit", "verify", "--store", enrolled["owner"])
    assert verified.exit_code == 5
    assert f"position {position}: appended by login {logins['lan']}" in verified.stderr
    assert f"names clerk {MINH[0]} at office {MINH[1]}" in verified.stderr
    history = cli("history", str(person), "--store", enrolled["owner"], "--json")
    assert [(e["recorded_by"], e["verified"]) for e in json.loads(history.stdout)] == [
        (logins["lan"], False)
    ]


def test_an_enrolment_pushed_by_a_clerk_proves_nothing(
    cli: Invoke, enrolled: dict[str, str], logins: dict[str, str]
) -> None:
    """A clerk cannot re-enrol itself under another name through the append function: only
    the tables' owner's enrolment events count, and audit verify names the intruder."""
    from domain.clerks import enrolment_id
    from domain.events import ClerkEnrolled

    login = logins["lan"]
    event = ClerkEnrolled(
        originator_id=enrolment_id(login),
        originator_version=2,
        recorded_at=datetime.now(UTC),
        occurred_on=date(2020, 1, 1),
        clerk=login,
        office=MINH[1],
        reference="self",
        login=login,
        name=MINH[0],
        enrolled_by="postgres",
    )
    with psycopg.connect(enrolled["lan"]) as conn:
        conn.execute(
            "SELECT * FROM civledger_events_append(ARRAY[ROW(%s, 2, %s, %s)::stored_event_uuid])",
            (event.originator_id, ClerkEnrolled.TOPIC, encode_state(event)),
        )
    listed = cli("admin", "clerk", "list", "--store", enrolled["owner"], "--json")
    assert {e["login"]: e["name"] for e in json.loads(listed.stdout)}[login] == LAN[0]
    verified = cli("audit", "verify", "--store", enrolled["owner"])
    assert verified.exit_code == 5
    assert f"enrolment was appended by login {login}" in verified.stderr


def test_the_enrolled_clerk_still_cannot_update_delete_or_truncate(
    enrolled: dict[str, str],
) -> None:
    for statement in (
        "UPDATE civledger_events SET recorded_by = 'someone'",
        "DELETE FROM civledger_events",
        "TRUNCATE civledger_events",
        "INSERT INTO civledger_events (originator_id, originator_version, topic, state, "
        "recorded_by) VALUES (gen_random_uuid(), 1, 'forged', '', 'postgres')",
    ):
        with (
            psycopg.connect(enrolled["lan"]) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute(statement.encode())


def test_enrolling_again_alike_is_a_retry_and_for_another_office_is_refused(
    cli: Invoke, enrolled: dict[str, str], logins: dict[str, str]
) -> None:
    same = cli(
        "admin", "clerk", "enrol", logins["lan"], "--name", LAN[0], "--office", LAN[1],
        "--store", enrolled["owner"], "--json",
    )  # fmt: skip
    assert same.exit_code == 0
    assert json.loads(same.stdout)["already_enrolled"] is True
    moved = cli(
        "admin", "clerk", "enrol", logins["lan"], "--name", LAN[0], "--office", MINH[1],
        "--store", enrolled["owner"],
    )  # fmt: skip
    assert moved.exit_code == 3
    assert "retire it first" in moved.stderr


def test_with_encrypted_payloads_the_clerks_are_checked_with_the_key_and_skipped_without(
    cli: Invoke, logins: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    from eventsourcing.cipher import AESCipher

    key = {"CIVLEDGER_CIPHER_KEY": AESCipher.create_key(32)}
    enrol = ("admin", "clerk", "enrol", logins["lan"], "--name", LAN[0], "--office", LAN[1])
    assert cli(*enrol, "--store", postgres_url, env=key).exit_code == 0
    result = cli(
        "register-birth", "--name", "Võ Thị Sáu", "--sex", "female", "--born", "2002-02-02",
        "--province", "001", "--reference", "KS-ENC", "--clerk", LAN[0], "--office", LAN[1],
        "--store", as_role(postgres_url, logins["lan"]),
        "--views", f"sqlite:///{tmp_path / 'views.sqlite'}", env=key,
    )  # fmt: skip
    assert result.exit_code == 0, result.output

    with_key = cli("audit", "verify", "--store", postgres_url, "--json", env=key)
    without = cli("audit", "verify", "--store", postgres_url, "--json")

    assert with_key.exit_code == without.exit_code == 0, without.output
    assert json.loads(with_key.stdout)["clerks"]["checked"] > 0
    assert json.loads(with_key.stdout)["clerks"]["skipped"] is None
    skipped = json.loads(without.stdout)["clerks"]["skipped"]
    assert "CIVLEDGER_CIPHER_KEY" in skipped
    text = cli("audit", "verify", "--store", postgres_url)
    assert "clerks: not checked" in text.stdout


def test_a_store_written_before_logins_were_stamped_verifies_after_new_stamped_acts(
    cli: Invoke, logins: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    """The legacy fixture keeps its leaves (format 1); rows appended after the owner opens it
    get the login column and format-2 leaves, and the whole log verifies against the
    checkpoint saved by the old code."""
    from tests.integration.test_legacy_stores import FIXTURES, load_store

    class Loaded:
        def getfixturevalue(self, name: str) -> str:
            assert name == "postgres_url"
            return postgres_url

    store = load_store("postgres", Loaded(), tmp_path)  # type: ignore[arg-type]
    before = rows(store)
    enrol = ("admin", "clerk", "enrol", logins["lan"], "--name", LAN[0], "--office", LAN[1])
    assert cli(*enrol, "--store", store).exit_code == 0
    assert birth_as(cli, as_role(store, logins["lan"]), LAN, "KS-NEW", tmp_path)[0] == 0
    after = rows(store)
    assert after[: len(before)] == before
    assert {login for _, login in before} == {None}
    assert {login for _, login in after[len(before) :]} == {"postgres", logins["lan"]}

    checkpoint = str(FIXTURES / "expected" / "postgres" / "checkpoint.json")
    assert cli("audit", "checkpoint", "--store", store).exit_code == 0
    verified = cli("audit", "verify", "--checkpoint", checkpoint, "--store", store, "--json")
    assert verified.exit_code == 0, verified.output
    clerks = json.loads(verified.stdout)["clerks"]
    assert clerks["unstamped"] == len(before)
    assert clerks["checked"] == sum(1 for _, login in after if login == logins["lan"])


def test_an_import_by_an_enrolled_clerk_rejects_the_rows_naming_someone_else(
    cli: Invoke, enrolled: dict[str, str], logins: dict[str, str], tmp_path: Path
) -> None:
    def row(clerk: tuple[str, str], reference: str, name: str) -> str:
        return json.dumps(
            {
                "kind": "birth", "clerk": clerk[0], "office": clerk[1], "reference": reference,
                "name": name, "sex": "female", "born": "2003-03-03", "province": "001",
                "registered_on": "2003-03-10",
            },
            ensure_ascii=False,
        )  # fmt: skip

    source = tmp_path / "acts.jsonl"
    source.write_text(
        row(LAN, "KS-2003-1", "Lê Thị Một") + "\n" + row(MINH, "KS-2003-2", "Lê Thị Hai") + "\n",
        encoding="utf-8",
    )
    rejects = tmp_path / "rejects.jsonl"
    result = cli(
        "import", str(source), "--rejects", str(rejects), "--store", enrolled["lan"], "--json"
    )

    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["recorded"] == 1
    (rejected,) = [json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()]
    assert rejected["line"] == 2
    assert f"login {logins['lan']} is enrolled as clerk {LAN[0]}" in json.dumps(
        rejected, ensure_ascii=False
    )
    assert cli("audit", "verify", "--store", enrolled["owner"]).exit_code == 0


def test_an_inclusion_proof_carries_the_login_and_a_changed_login_fails_the_check(
    cli: Invoke, enrolled: dict[str, str], logins: dict[str, str], tmp_path: Path
) -> None:
    code, out, _ = birth_as(cli, enrolled["lan"], LAN, "KS-LAN-1", tmp_path)
    assert code == 0
    person = json.loads(out)["person_id"]
    assert cli("audit", "checkpoint", "--store", enrolled["owner"]).exit_code == 0
    proved = cli("audit", "prove", person, "--store", enrolled["owner"], "--json")
    assert proved.exit_code == 0, proved.output
    proof = json.loads(proved.stdout)
    assert proof["events"]
    assert {entry["recorded_by"] for entry in proof["events"]} == {logins["lan"]}
    good = tmp_path / "proof.json"
    good.write_text(json.dumps(proof), encoding="utf-8")
    assert cli("audit", "check-proof", str(good)).exit_code == 0

    forged = tmp_path / "forged.json"
    forged.write_text(
        json.dumps(proof).replace(json.dumps(logins["lan"]), json.dumps(logins["minh"])),
        encoding="utf-8",
    )
    checked = cli("audit", "check-proof", str(forged))
    assert checked.exit_code == 5, checked.output
