"""What a new user broke in one afternoon (issue 13), and the neighbours of each case.

Every refusal here is one line on stderr with the documented exit code, and writes nothing.
Cases that reach a store run on SQLite and on PostgreSQL (`store_url`).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from infrastructure.store_url import StoreURL
from tests.audit.conftest import disable_append_only, events_table, execute_raw

Invoke = Callable[..., Result]
CLERK = {"CIVLEDGER_CLERK": "Lê Thị Lan", "CIVLEDGER_OFFICE": "HN-BADINH"}
ROOT_ENV = (
    "CIVLEDGER_STORE",
    "CIVLEDGER_VIEWS",
    "CIVLEDGER_EVENTS_FROM",
    "CIVLEDGER_CIPHER_KEY",
    "CIPHER_KEY",
    "CIVLEDGER_LATE_AFTER_DAYS",
)
FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.chdir(tmp_path)
    for variable in ROOT_ENV:
        monkeypatch.delenv(variable, raising=False)
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), env={**CLERK, **(env or {})})

    return invoke


def events_in(url: str) -> int:
    """Events in the store, read around the register; 0 when there is no store or no log."""
    store = StoreURL.parse(url)
    if store.is_sqlite:
        if not Path(store.path).exists():
            return 0
        with sqlite3.connect(store.path) as conn:
            try:
                return int(conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0])
            except sqlite3.OperationalError:  # no table
                return 0
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT to_regclass('civledger_events')").fetchone()
        if found is None or found[0] is None:
            return 0
        row = conn.execute("SELECT COUNT(*) FROM civledger_events").fetchone()
        return int(row[0]) if row else 0


def one_line(result: Result, code: int, *parts: str) -> str:
    """The refusal's single stderr line, after checking the exit code and its parts."""
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("civledger: error: ")
    for part in parts:
        assert part in lines[0]
    assert "unexpected" not in lines[0]
    return lines[0]


BIRTH = (
    "--name", "Nguyễn Văn An", "--sex", "male", "--born", "1990-03-04", "--province", "001",
    "--registered-on", "1990-03-20",
)  # fmt: skip


def birth(run: Invoke, store: str, reference: str = "KS-1", *extra: str) -> str:
    """Register a birth and return the number (or UUID) it printed."""
    args = dict(zip(BIRTH[::2], BIRTH[1::2], strict=True))
    given = dict(zip(extra[::2], extra[1::2], strict=True))
    if "--born" in given:  # registered when that birth was, unless said
        args["--registered-on"] = given["--born"]
    args.update(given)
    flat = [part for pair in args.items() for part in pair]
    result = run("register-birth", *flat, "--reference", reference, "--store", store)
    assert result.exit_code == 0, result.output
    return str(result.stdout.strip())


# --------------------------------------------------------------- 2. text that hides


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("--name", "Nguyễn\u200b Văn An", "name"),
        ("--name", "\u202eAn Văn Nguyễn", "name"),
        ("--ethnicity", "Ki\u200dnh", "ethnicity"),
        ("--place-of-birth", "Hà Nội\u2066", "place of birth"),
        ("--reference", "KS\u200c-1", "reference"),
        ("--clerk", "Lê Thị\u00ad Lan", "clerk"),
        ("--office", "HN\u2067-BADINH", "office"),
    ],
)
def test_a_hidden_or_direction_changing_character_is_refused_naming_the_field(
    run: Invoke, store_url: str, option: str, value: str, field: str
) -> None:
    args = dict(zip(BIRTH[::2], BIRTH[1::2], strict=True))
    args.update({"--reference": "KS-1", option: value})
    flat = [part for pair in args.items() for part in pair]
    result = run("register-birth", *flat, "--store", store_url)
    one_line(result, 2, f"{field} contains an invisible or direction-changing character (U+")
    assert events_in(store_url) == 0


def test_later_acts_and_searches_refuse_them_too(run: Invoke, store_url: str) -> None:
    number = birth(run, store_url)
    before = events_in(store_url)
    refusals: list[tuple[tuple[str, ...], str]] = [
        (("record-death", number, "--died-on", "2020-01-01", "--place", "Hà\u202e Nội"), "place"),
        (
            ("change-record", number, "--field", "name", "--value", "Nguyễn\u200bAn"),
            "name contains",
        ),
        (
            ("change-record", number, "--field", "place_of_birth", "--value", "Hà\u2068 Nội"),
            "place of birth contains",
        ),
    ]
    for args, field in refusals:
        extra: tuple[str, ...] = ("--kind", "correction") if args[0] == "change-record" else ()
        result = run(*args, *extra, "--reference", "R-1", "--store", store_url)
        one_line(result, 2, field, "invisible or direction-changing")
    searches: list[tuple[str, ...]] = [
        ("find", "--name", "Nguy\u200bễn"),
        ("verify", number, "--born", "1990-03-04"),
    ]
    for args in searches:
        extra = ("--name", "An\u202e") if args[0] == "verify" else ()
        one_line(run(*args, *extra, "--store", store_url), 2, "name contains")
    assert events_in(store_url) == before


def test_import_rows_with_them_are_rejected_naming_the_field(
    run: Invoke, store_url: str, tmp_path: Path
) -> None:
    rows = [
        {"kind": "birth", "name": "Nguyễn\u200b An", "reference": "KS-1"},
        {"kind": "birth", "name": "Trần Bình", "reference": "KS\u202e-2"},
        {"kind": "birth", "name": "Lê Văn Tư", "reference": "KS-3"},
    ]
    base = {"sex": "male", "born": "1990-01-01", "province": "001", **{
        "clerk": "Lê Thị Lan", "office": "HN-BADINH"}}  # fmt: skip
    source = tmp_path / "acts.jsonl"
    source.write_text(
        "".join(json.dumps({**base, **row}, ensure_ascii=False) + "\n" for row in rows),
        encoding="utf-8",
    )
    result = run("import", str(source), "--store", store_url, "--json")
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["recorded"] == 1
    rejects = [json.loads(line) for line in (tmp_path / "acts.jsonl.rejects.jsonl").open()]
    assert [(r["line"], r["reason"].split(" contains")[0]) for r in rejects] == [
        (1, "name"),
        (2, "reference"),
    ]


@pytest.mark.parametrize("digit", ["last", "first"])
def test_an_id_in_other_scripts_digits_is_bad_input_wherever_an_id_is_read(
    run: Invoke, store_url: str, digit: str
) -> None:
    number = birth(run, store_url)
    other = birth(run, store_url, "KS-2", "--name", "Trần Văn Bình", "--born", "1991-01-01")
    odd = number[:-1] + number[-1].translate(FULL_WIDTH)
    if digit == "first":
        odd = number[0].translate(FULL_WIDTH) + number[1:]
    before = events_in(store_url)
    commands = [
        ("show", odd),
        ("history", odd),
        ("record-death", odd, "--died-on", "2020-01-01", "--reference", "KT-1"),
        ("renounce-nationality", odd, "--effective", "2020-01-01", "--reference", "QD-1"),
        ("merge-duplicate", other, "--into", odd, "--reference", "GB-1"),
        ("register-birth", *BIRTH[:5], "2010-01-01", *BIRTH[6:9], "2010-01-02", "--father",
         odd, "--reference", "KS-3"),
        ("verify", odd, "--name", "Nguyễn Văn An", "--born", "1990-03-04"),
        ("audit", "prove", odd),
    ]  # fmt: skip
    for command in commands:
        result = run(*command, "--store", store_url)
        one_line(result, 2, "12 digits (0-9)")
    assert events_in(store_url) == before


def test_import_rows_naming_people_in_other_digits_are_rejected(
    run: Invoke, store_url: str, tmp_path: Path
) -> None:
    number = birth(run, store_url)
    odd = number[:-1] + number[-1].translate(FULL_WIDTH)
    clerking = {"clerk": "Lê Thị Lan", "office": "HN-BADINH"}
    rows = [
        {"kind": "death", "person": odd, "died_on": "2020-01-01", "reference": "KT-1"},
        {"kind": "merge", "person": number, "into": odd, "reference": "GB-1"},
        {"kind": "birth", "name": "Nguyễn Con", "sex": "male", "born": "2015-01-01",
         "province": "001", "father": odd, "reference": "KS-9"},
        {"kind": "birth", "name": "Nguyễn Con", "sex": "male", "born": "2015-01-01",
         "province": "001", "mother": odd, "reference": "KS-8"},
    ]  # fmt: skip
    source = tmp_path / "acts.jsonl"
    source.write_text(
        "".join(json.dumps({**clerking, **row}, ensure_ascii=False) + "\n" for row in rows),
        encoding="utf-8",
    )
    before = events_in(store_url)
    result = run("import", str(source), "--store", store_url, "--json")
    assert result.exit_code == 3, result.output
    rejects = [json.loads(line) for line in (tmp_path / "acts.jsonl.rejects.jsonl").open()]
    assert len(rejects) == 4
    assert all("12 digits (0-9)" in r["reason"] for r in rejects), rejects
    assert events_in(store_url) == before


# ------------------------------------------------------------- 4. misleading messages

CHECKPOINT = {"root": "A" * 43 + "=", "at": "2024-01-01T00:00:00+00:00"}


@pytest.mark.parametrize("size", [-1, "12", 1.5, True, None, 2**63])
def test_a_bad_checkpoint_size_says_the_size_is_bad(
    run: Invoke, store_url: str, tmp_path: Path, size: Any
) -> None:
    birth(run, store_url)
    saved = tmp_path / "checkpoint.json"
    saved.write_text(json.dumps({"size": size, **CHECKPOINT}), encoding="utf-8")
    for command in (("audit", "verify", "--store", store_url), ("audit", "check-proof", "x")):
        result = run(*command, "--checkpoint", str(saved))
        line = one_line(result, 2, "checkpoint size must be a whole number from 0 to ")
        assert "time" not in line


def test_a_bad_checkpoint_time_still_says_the_time_is_bad(run: Invoke, tmp_path: Path) -> None:
    saved = tmp_path / "checkpoint.json"
    saved.write_text(json.dumps({"size": 1, **CHECKPOINT, "at": "noon"}), encoding="utf-8")
    one_line(run("audit", "check-proof", "x", "--checkpoint", str(saved)), 2, "bad time: 'noon'")


NOT_A_KEY = base64.b64encode(bytes(17)).decode()  # 17 bytes: not an AES key


@pytest.mark.parametrize("variable", ["CIVLEDGER_CIPHER_KEY", "CIPHER_KEY"])
@pytest.mark.parametrize(
    ("key", "said"),
    [
        ("not base64!", "is not base64"),
        ("c2VjcmV0", "decodes to 6 bytes: an AES key has 16, 24 or 32"),
        (NOT_A_KEY, "decodes to 17 bytes"),
        ("QUJD\nREVG", "is not base64"),
    ],
)
def test_a_malformed_cipher_key_is_bad_input_naming_the_variable(
    run: Invoke, store_url: str, tmp_path: Path, variable: str, key: str, said: str
) -> None:
    number = birth(run, store_url)
    before = events_in(store_url)
    source = tmp_path / "acts.jsonl"
    source.write_text("", encoding="utf-8")
    for command in (
        ("register-birth", *BIRTH, "--reference", "KS-2"),
        ("show", number),
        ("record-death", number, "--died-on", "2020-01-01", "--reference", "KT-1"),
        ("import", str(source)),
        ("report",),
        ("audit", "verify"),
    ):
        result = run(*command, "--store", store_url, env={variable: key})
        line = one_line(result, 2, f"{variable} {said}")
        assert key not in line
    assert events_in(store_url) == before


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("CIVLEDGER_COMPRESSOR_TOPIC", "nowhere:Nothing", "names no class that can be imported"),
        ("CIVLEDGER_CIPHER_TOPIC", "nowhere", "names no class that can be imported"),
        ("CIVLEDGER_POSTGRES_APPEND_ROUTE", "sideways", "must be auto, direct or definer"),
        (
            "CIVLEDGER_CONNECT_TIMEOUT",
            "99999999999999999999",
            "must be a whole number of seconds from 1 to 86400",
        ),
        (
            "CIVLEDGER_SQLITE_LOCK_TIMEOUT",
            "86401",
            "must be a whole number of seconds from 1 to 86400",
        ),
        (
            "CIVLEDGER_CONNECT_TIMEOUT",
            "\uff15",
            "must be a whole number of seconds from 1 to 86400",
        ),
    ],
)
def test_the_librarys_settings_are_checked_on_either_backend(
    run: Invoke, store_url: str, variable: str, value: str, said: str
) -> None:
    result = run("register-birth", *BIRTH, "--reference", "KS-1", "--store", store_url,
                 env={variable: value})  # fmt: skip
    one_line(result, 2, f"{variable} {said}")
    assert events_in(store_url) == 0


def test_a_late_threshold_out_of_range_is_bad_input(run: Invoke, store_url: str) -> None:
    number = birth(run, store_url)
    for value in ("36501", "99999999999999999999", "\uff16\uff10", "-1"):
        result = run("history", number, "--store", store_url,
                     env={"CIVLEDGER_LATE_AFTER_DAYS": value})  # fmt: skip
        one_line(result, 2, "CIVLEDGER_LATE_AFTER_DAYS must be a whole number of days from 0 to")


NUMERIC = [
    (("find", "--name", "An"), "--limit", 1, 10000),
    (("cards", "due", "--by", "2030-01-01"), "--limit", 1, 10000),
    (("projections", "catch-up"), "--batch-size", 1, 100000),
    (("projections", "rebuild"), "--batch-size", 1, 100000),
    (("import", "acts.jsonl"), "--batch", 1, 100000),
    (("generate", "--seed", "1"), "--people", 0, 100000000),
    (("generate", "--people", "1"), "--seed", 0, 2**63 - 1),
]


@pytest.mark.parametrize(("command", "option", "low", "high"), NUMERIC)
def test_every_numeric_option_has_a_range(
    run: Invoke, tmp_path: Path, command: tuple[str, ...], option: str, low: int, high: int
) -> None:
    (tmp_path / "acts.jsonl").write_text("", encoding="utf-8")
    out = ("--out", str(tmp_path / "out.jsonl")) if command[0] == "generate" else ()
    for bad in (low - 1, high + 1, 99999999999999999999 * 10**20, -(10**30)):
        result = run(*command, option, str(bad), *out)
        one_line(result, 2, f"{option} must be a whole number from {low} to {high}, got {bad}")
    for text in ("\uff18", "1_0", " 5", "2.5", "0x10", ""):
        result = run(*command, option, text, *out)
        one_line(result, 2, f"'{option}'", "is not a whole number (digits 0-9)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acts.jsonl"]  # nothing created


def test_parse_workers_are_at_most_the_cpus_this_process_may_use(
    run: Invoke, tmp_path: Path
) -> None:
    from importer.workers import available_cpus

    (tmp_path / "acts.jsonl").write_text("", encoding="utf-8")
    top = available_cpus()
    for bad in (-1, top + 1, 40 * top):
        result = run("import", "acts.jsonl", "--parse-workers", str(bad))
        one_line(result, 2, f"--parse-workers must be a whole number from 0 to {top}, got {bad}")
    assert not (tmp_path / "civledger.sqlite").exists()
    result = run("import", "acts.jsonl", "--parse-workers", str(top), "--json")
    assert result.exit_code == 0, result.output


def test_the_range_limits_themselves_are_accepted(run: Invoke, store_url: str) -> None:
    birth(run, store_url)
    for limit in ("1", "10000"):
        result = run("find", "--name", "An", "--limit", limit, "--store", store_url, "--json")
        assert result.exit_code == 0, result.output
        assert len(json.loads(result.stdout)) == 1


def _damaged_store(run: Invoke, tmp_path: Path) -> tuple[str, str, Path]:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    number = birth(run, url)
    for n in range(2, 40):
        birth(run, url, f"KS-{n}", "--name", f"Lê Văn Số {n}")
    assert run("report", "--store", url).exit_code == 0  # the read models, in the same file
    path = tmp_path / "ledger.sqlite"
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])  # truncated, as by a full disk or a bad copy
    return url, number, path


def test_a_truncated_sqlite_store_is_said_to_be_damaged(run: Invoke, tmp_path: Path) -> None:
    url, number, path = _damaged_store(run, tmp_path)
    size = path.stat().st_size
    (tmp_path / "acts.jsonl").write_text("", encoding="utf-8")
    for command in (
        ("show", number),
        ("history", number),
        ("report",),
        ("find", "--name", "An", "--no-catch-up"),
        ("audit", "verify"),
        ("audit", "checkpoint"),
        ("register-birth", *BIRTH, "--reference", "KS-99"),
        ("import", "acts.jsonl"),
        ("init",),
    ):
        result = run(*command, "--store", url)
        one_line(
            result,
            1,
            f"store {url}: the SQLite file is damaged (",
            "restore it from a backup",
            "`civledger audit verify`",
        )
    assert path.stat().st_size == size


def test_damaged_read_models_are_said_to_be_damaged(run: Invoke, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    birth(run, store)
    (tmp_path / "views").mkdir()
    views_url, _, _ = _damaged_store(run, tmp_path / "views")
    result = run("report", "--no-catch-up", "--store", store, "--views", views_url)
    one_line(result, 1, "the SQLite file is damaged", "`civledger projections rebuild`")


@pytest.fixture
def damaged_history(run: Invoke, store_url: str) -> tuple[str, str, str]:
    """A store where one person's first event (the birth) and another's second event were
    removed behind the register's back; their numbers and the store."""
    first = birth(run, store_url)
    second = birth(run, store_url, "KS-2", "--name", "Trần Văn Bình", "--born", "1991-01-01")
    died = run("record-death", second, "--died-on", "2020-01-01", "--reference", "KT-2",
               "--store", store_url)  # fmt: skip
    assert died.exit_code == 0, died.output  # version 3, after the number (2)
    ids = {
        n: json.loads(run("show", n, "--json", "--store", store_url).stdout)["person_id"]
        for n in (first, second)
    }
    disable_append_only(store_url)
    sqlite = StoreURL.parse(store_url).is_sqlite
    for number, removed in ((first, 1), (second, 2)):
        person = ids[number].replace("-", "") if sqlite else ids[number]
        execute_raw(
            store_url,
            f"DELETE FROM {events_table(store_url)} WHERE originator_id = '{person}' "
            f"AND originator_version = {removed}",
        )
    return store_url, first, second


def test_a_history_without_its_birth_is_a_ledger_mismatch_never_a_made_up_record(
    run: Invoke, damaged_history: tuple[str, str, str]
) -> None:
    store, first, second = damaged_history
    for extra in ((), ("--json",), ("--as-at", "2020-01-01"), ("--as-of", "2100-01-01")):
        result = run("show", first, *extra, "--store", store)
        one_line(
            result,
            5,
            "the ledger does not match what was recorded: the history of person",
            "does not start with the birth (its first event is IdNumberAssigned, version 2)",
            "`civledger audit verify`",
        )
    one_line(run("show", second, "--store", store), 5, "lacks version 2")
    before = events_in(store)
    for number in (first, second):
        result = run("record-death", number, "--died-on", "2020-01-01", "--reference", "KT-1",
                     "--store", store)  # fmt: skip
        one_line(result, 5, "does not match what was recorded")
    assert events_in(store) == before
    listed = run("history", first, "--json", "--store", store)  # what is there, as it is
    assert listed.exit_code == 0, listed.output
    assert [e["type"] for e in json.loads(listed.stdout)] == ["IdNumberAssigned"]


def test_the_readme_says_what_the_identity_of_an_act_is(run: Invoke, store_url: str) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "identified by its kind, its office and\nits reference" in readme
    number = birth(run, store_url)
    # The same reference, for another kind of act or at another office: different acts.
    death = run("record-death", number, "--died-on", "2020-01-01", "--reference", "KS-1",
                "--store", store_url)  # fmt: skip
    assert death.exit_code == 0, death.output
    elsewhere = birth(run, store_url, "KS-1", "--name", "Trần Bình", "--office", "HCM-Q1")
    assert elsewhere != number
    # Another birth under the same reference at the same office: refused.
    result = run("register-birth", BIRTH[0], "Phạm Hoa", *BIRTH[2:], "--reference", "KS-1",
                 "--store", store_url)  # fmt: skip
    one_line(result, 3, "reference 'KS-1' at office 'HN-BADINH' was already used")


# ------------------------------------------------------------------ 5. --json documents


def test_every_writes_json_says_whether_the_act_was_already_recorded(
    run: Invoke, store_url: str
) -> None:
    number = birth(run, store_url)
    hoa = birth(run, store_url, "KS-2", "--name", "Phạm Thị Hoa", "--sex", "female")
    ba = birth(run, store_url, "KS-5", "--name", "Lê Văn Ba")
    acts = [
        ("register-birth", "--name", "Lê Văn Tư", *BIRTH[2:], "--reference", "KS-3"),
        ("renounce-nationality", hoa, "--effective", "2021-07-01", "--reference", "QD-1"),
        ("change-record", number, "--field", "ethnicity", "--value", "Kinh", "--kind",
         "supplement", "--reference", "CC-1"),
        ("register-birth", *BIRTH, "--reference", "KS-4", "--allow-possible-duplicate"),
        ("record-death", ba, "--died-on", "2020-01-01", "--place", "Hà Nội",
         "--reference", "KT-1"),
    ]  # fmt: skip
    for act in acts:
        for already in (False, True):
            result = run(*act, "--store", store_url, "--json")
            assert result.exit_code == 0, result.output
            document = json.loads(result.stdout)
            assert document.pop("already_recorded") is already, act
            shown = run("show", document["person_id"], "--store", store_url, "--json")
            assert document == json.loads(shown.stdout)
    duplicate = json.loads(run(*acts[3], "--store", store_url, "--json").stdout)
    for already in (False, True):
        merged = run("merge-duplicate", duplicate["id_number"], "--into", number,
                     "--reference", "GB-1", "--store", store_url, "--json")  # fmt: skip
        assert merged.exit_code == 0, merged.output
        assert json.loads(merged.stdout)["already_recorded"] is already


# ----------------------------------------------------------------- 6. small things


def test_version(run: Invoke) -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout == f"civledger {version('civledger')}\n"


def _every_command() -> list[tuple[str, ...]]:
    import typer.main

    group = typer.main.get_command(app)
    found: list[tuple[str, ...]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(group, ())
    return found


@pytest.mark.parametrize("command", _every_command(), ids=" ".join)
def test_help_names_values_as_a_clerk_types_them(run: Invoke, command: tuple[str, ...]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
    usage = result.stdout.splitlines()[0]
    assert "{" not in usage
    for python_ish in ("<str>", "<int", "<path>", "<bool>", "<float>"):
        assert python_ish not in result.stdout, (python_ish, result.stdout)


def test_usage_lines_say_id_and_list_the_choices(run: Invoke) -> None:
    assert run("show", "--help").stdout.startswith("Usage: civledger show [OPTIONS] ID\n")
    birth_help = run("register-birth", "--help").stdout
    assert "--sex [male|female]" in birth_help
    assert "--nationality [vietnamese|undetermined|stateless]" in birth_help
    assert "--born DATE" in birth_help
    assert "--father ID" in birth_help
    change_help = run("change-record", "--help").stdout
    assert "--field [name|sex|born|birth_province|ethnicity|nationality|place_of_birth]" in (
        " ".join(change_help.split())
    )
    assert "--kind [change|correction|supplement|redetermination]" in change_help
    assert "--limit N" in run("find", "--help").stdout
    one_line(run("show"), 2, "Missing argument 'ID'")
    # The values are still the register's to check, with its messages.
    result = run("register-birth", *BIRTH[:3], "robot", *BIRTH[4:], "--reference", "KS-1")
    one_line(result, 2, "sex must be 'male' or 'female', got 'robot'")
    result = run("change-record", "001090000001", "--field", "colour", "--value", "x",
                 "--kind", "correction", "--reference", "CC-1")  # fmt: skip
    one_line(result, 2, "field")


def test_show_names_the_parents_the_registration_and_the_place_of_death(
    run: Invoke, store_url: str
) -> None:
    mother = birth(run, store_url, "KS-M", "--name", "Trần Thị Bình", "--sex", "female",
                   "--born", "1962-08-19", "--registered-on", "1962-09-01")  # fmt: skip
    father = birth(run, store_url, "KS-F", "--name", "Lê Văn Ba", "--born", "1960-01-01",
                   "--nationality", "stateless", "--registered-on", "1960-02-01")  # fmt: skip
    child = birth(run, store_url, "KS-C", "--mother", mother, "--father", father,
                  "--registered-on", "1990-03-20")  # fmt: skip
    died = run("record-death", child, "--died-on", "2020-01-01", "--place", "Hà Nội",
               "--reference", "KT-1", "--store", store_url)  # fmt: skip
    assert died.exit_code == 0, died.output
    shown = run("show", child, "--store", store_url).stdout
    assert f"  father         {father}\n" in shown  # no number: the person UUID
    assert f"  mother         {mother}\n" in shown  # the ID number
    assert "  registered on  1990-03-20\n" in shown
    assert "  died on        2020-01-01 in Hà Nội\n" in shown
    document = json.loads(run("show", child, "--store", store_url, "--json").stdout)
    keys = list(document)
    assert keys.index("death_place") == keys.index("renounced_on") + 1  # after the contract's
    assert document["death_place"] == "Hà Nội"
    assert (
        json.loads(run("show", mother, "--store", store_url, "--json").stdout)["death_place"]
        is None
    )


def test_find_prints_aligned_columns(run: Invoke, store_url: str) -> None:
    birth(run, store_url, "KS-1", "--name", "Nguyễn An")
    birth(run, store_url, "KS-2", "--name", "Nguyễn Thị Phương Thảo Anh", "--born", "1991-01-01")
    birth(run, store_url, "KS-3", "--name", "Nguyễn Văn Bê", "--nationality", "stateless")
    lines = run("find", "--name", "Nguyễn", "--store", store_url).stdout.splitlines()
    assert len(lines) == 3
    for column in ("born ", "[", "active"):
        assert len({line.index(column) for line in lines}) == 1, (column, lines)


def test_text_recorded_before_the_rule_is_printed_visibly(run: Invoke, tmp_path: Path) -> None:
    from cli.projections import _find_lines
    from cli.render import person_text

    document: dict[str, Any] = {
        "name": "An\u202eBình", "birth_province": "001", "id_number": None, "person_id": "p",
        "status": "active", "sex": "male", "born": "1990-01-01", "nationality": "vietnamese",
        "cancelled_id_numbers": [], "version": 1,
    }  # fmt: skip
    assert "An<U+202E>Bình" in person_text(document)
    (line,) = _find_lines([{**document, "name": "A\u200bn"}])
    assert "\u200b" in line  # `find` makes it visible as it prints (`domain.values.visible`)


def test_make_demo_leaves_no_temporary_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import tempfile

    from cli import demo

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    used: list[Path] = []

    def scenario(workdir: Path) -> None:
        used.append(workdir)
        (workdir / "demo.sqlite").write_bytes(b"")

    monkeypatch.setattr(demo, "scenario", scenario)
    demo.main()
    assert used
    assert list(tmp_path.iterdir()) == []

    def interrupted(workdir: Path) -> None:
        scenario(workdir)
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "scenario", interrupted)
    with pytest.raises(SystemExit) as stopped:
        demo.main()
    assert stopped.value.code == 130
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("option", ["--store", "--views", "--events-from"])
def test_an_empty_url_is_bad_input_not_the_default(
    run: Invoke, tmp_path: Path, option: str
) -> None:
    birth(run, "sqlite:///civledger.sqlite")  # the default store, in the working directory
    result = run("report", option, "")
    one_line(result, 2, f"{option} must not be empty")
    result = run("show", "001090000001", option, " ") if option != "--views" else result
    one_line(result, 2, f"{option} must not be empty")
    # An empty environment variable is as if it were unset: the default.
    assert run("report", env={"CIVLEDGER_STORE": ""}).exit_code == 0


def test_report_without_catching_up_creates_no_model_file(run: Invoke, tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    birth(run, store)
    result = run("report", "--no-catch-up", "--views", "sqlite:///new.sqlite", "--store", store)
    one_line(result, 1, "no SQLite store at new.sqlite")
    assert not (tmp_path / "new.sqlite").exists()


# ---------------------------------------------------- 5. a stop swallowed by a finaliser


class _ClosesOnCollection:
    """Like the library's `Application` and datastores: a `__del__` that does some work,
    here exactly when a signal arrives (`os.kill` runs the handler before returning)."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)


def test_a_stop_raised_inside_a_finaliser_is_delivered_again_not_printed(
    capfd: pytest.CaptureFixture[str],
) -> None:
    from cli import app as cli_app

    with pytest.raises(KeyboardInterrupt), cli_app._signals_stop():  # noqa: PT012
        _ClosesOnCollection()  # freed at once: its __del__ swallows the KeyboardInterrupt
        time.sleep(5)  # the stop arrives again, here
    assert "Exception ignored" not in capfd.readouterr().err


def test_a_stop_swallowed_just_before_the_end_still_ends_the_command(
    capfd: pytest.CaptureFixture[str],
) -> None:
    from cli import app as cli_app

    with pytest.raises(SystemExit) as ended, cli_app._signals_stop():
        _ClosesOnCollection()
    assert ended.value.code == 130
    assert capfd.readouterr().err == "civledger: interrupted\n"
    time.sleep(2 * cli_app.REDELIVERY_SECONDS)  # and no signal comes after the command
