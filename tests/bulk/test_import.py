"""`civledger import`: every row ends in the ledger or in the rejects file, exactly once.

Each test runs on a fresh SQLite file and on a fresh PostgreSQL database (`store_url`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from application.register import CivilRegister
from importer.synthetic import DENSE, PopulationGenerator
from tests.bulk.helpers import (
    BIRTH_OFFICE,
    birth_ref,
    ledger_topics,
    max_position,
    read_rejects,
    row,
    run,
    write_lines,
)

CLERK = {"clerk": "Trần Thị Hoa", "office": BIRTH_OFFICE}
AN = birth_ref("KS-2001-0001")


def mixed_file(path: Path) -> Path:
    """Two good acts among a malformed line of every kind."""
    return write_lines(
        path,
        [
            row(
                kind="birth",
                **CLERK,
                reference="KS-2001-0001",
                name="Nguyễn Văn An",
                sex="male",
                born="2001-03-04",
                province="001",
                registered_on="2001-03-20",
            ),
            '{"kind": "birth", "name": "Lê Thị Bình"',
            row(kind="adoption", **CLERK, reference="NCN-1", person=AN),
            row(
                kind="birth",
                **CLERK,
                reference="KS-1990-0002",
                name="Phạm Thị Cúc",
                sex="female",
                born="1990-13-01",
                province="001",
            ),
            row(
                kind="birth",
                **CLERK,
                reference="KS-1990-0003",
                name="Phạm Thị Dung",
                sex="female",
                born="1990-01-01",
                province="003",
            ),
            row(
                kind="death",
                **CLERK,
                reference="KT-1",
                person=birth_ref("KS-nowhere"),
                died_on="2020-01-01",
            ),
            row(kind="death", **CLERK, reference="KT-2", person=AN, died_on="1999-01-01"),
            row(
                kind="death",
                **CLERK,
                reference="KT-3",
                person=AN,
                died_on="2024-05-06",
                place="Hà Nội",
            ),
            row(kind="renunciation", **CLERK, reference="QĐ-1", person=AN, effective="2025-01-01"),
        ],
    )


def test_each_malformed_line_lands_in_the_rejects_file_with_its_reason(
    store_url: str, tmp_path: Path
) -> None:
    source = mixed_file(tmp_path / "acts.jsonl")
    rejects = tmp_path / "rejects.jsonl"

    result = run("import", str(source), "--rejects", str(rejects), "--store", store_url, "--json")

    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] == 9
    assert summary["recorded"] == 2
    assert summary["rejected"] == 7
    assert summary["recorded"] + summary["already_recorded"] + summary["rejected"] == 9
    reasons = {r["line"]: r["reason"] for r in read_rejects(rejects)}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 9]
    assert reasons[2].startswith("not JSON")
    assert "unknown kind 'adoption'" in reasons[3]
    assert "YYYY-MM-DD" in reasons[4]
    assert "003 is not a province code" in reasons[5]
    assert "no person record" in reasons[6]
    assert "cannot precede the birth" in reasons[7]
    assert "after death" in reasons[9]
    assert all("\n" not in reason for reason in reasons.values())
    assert ledger_topics(store_url)["ActRecorded"] == 2


def test_importing_the_same_file_again_appends_nothing(store_url: str, tmp_path: Path) -> None:
    source = mixed_file(tmp_path / "acts.jsonl")
    rejects = tmp_path / "rejects.jsonl"
    run("import", str(source), "--rejects", str(rejects), "--store", store_url)
    position = max_position(store_url)
    first_rejects = [r["line"] for r in read_rejects(rejects)]

    again = run("import", str(source), "--rejects", str(rejects), "--store", store_url, "--json")

    summary = json.loads(again.stdout)
    assert (summary["recorded"], summary["already_recorded"], summary["rejected"]) == (0, 2, 7)
    assert summary["events"] == 0
    assert max_position(store_url) == position
    # Rejected rows are judged again against the ledger as it now stands: the same lines
    # are refused (a reason may now cite a later row's act, e.g. the death of line 8).
    assert [r["line"] for r in read_rejects(rejects)] == first_rejects


def expected_counts(rows: list[dict[str, object]]) -> Counter[str]:
    """The events a file must produce, worked out from the file alone."""
    holds: dict[str, bool] = {}
    counts: Counter[str] = Counter()

    def key(ref: object) -> str:
        assert isinstance(ref, dict)
        return f"{ref['office']}|{ref['reference']}"

    for raw in rows:
        kind = raw["kind"]
        counts["ActRecorded"] += 1
        if kind == "birth":
            counts["BirthRegistered"] += 1
            holds[f"{raw['office']}|{raw['reference']}"] = raw["nationality"] == "vietnamese"
            counts["IdNumberAssigned"] += raw["nationality"] == "vietnamese"
        elif kind == "death":
            counts["DeathRegistered"] += 1
        elif kind == "renunciation":
            counts["NationalityRenounced"] += 1
        elif kind == "merge":
            counts["MergedAsDuplicate"] += 1
            counts["IdNumberCancelled"] += holds[key(raw["person"])]
        elif raw["field"] == "nationality":
            counts["NationalityDetermined"] += 1
            counts["IdNumberAssigned"] += 1
            holds[key(raw["person"])] = True
        else:
            counts["RecordChanged"] += 1
            if raw["field"] in ("born", "sex", "birth_province") and holds[key(raw["person"])]:
                counts["IdNumberCancelled"] += 1
                counts["IdNumberAssigned"] += 1
    counts["IdNumberClaimed"] = counts["IdNumberAssigned"]
    return counts


def test_counts_after_import_equal_counts_computed_from_the_file(
    store_url: str, tmp_path: Path
) -> None:
    rows = list(PopulationGenerator(300, seed=11, rates=DENSE).rows())
    source = write_lines(
        tmp_path / "people.jsonl", [json.dumps(r, ensure_ascii=False) for r in rows]
    )

    result = run("import", str(source), "--store", store_url, "--batch", "97", "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["recorded_by_kind"] == dict(sorted(Counter(r["kind"] for r in rows).items()))
    expected = expected_counts(rows)
    assert ledger_topics(store_url) == expected
    assert summary["events"] == sum(expected.values())


def test_imported_people_are_the_same_as_a_clerk_would_see(store_url: str, tmp_path: Path) -> None:
    source = mixed_file(tmp_path / "acts.jsonl")
    run("import", str(source), "--store", store_url)

    register = CivilRegister(store_url)
    from domain.registry import person_id_for_birth

    an = register.person(person_id_for_birth(BIRTH_OFFICE, "KS-2001-0001"))
    assert (an.name, an.status, str(an.died_on)) == ("Nguyễn Văn An", "deceased", "2024-05-06")
    assert an.id_number is not None
    assert an.id_number.startswith("001201")
    assert register.resolve(an.id_number) == an.id


def test_numbers_assigned_in_bulk_are_unique_and_encode_the_record(
    store_url: str, tmp_path: Path
) -> None:
    rows = list(PopulationGenerator(400, seed=5, rates=DENSE).rows())
    source = write_lines(
        tmp_path / "people.jsonl", [json.dumps(r, ensure_ascii=False) for r in rows]
    )
    run("import", str(source), "--store", store_url, "--batch", "50")

    register = CivilRegister(store_url)
    claims = [
        n
        for n in register.recorder.select_notifications(start=None, limit=10**6)
        if n.topic.endswith("IdNumberClaimed")
    ]
    numbers = [json.loads(n.state)["id_number"] for n in claims]
    assert len(numbers) == len(set(numbers)) > 400
    for number in numbers[:50]:
        person = register.person(number)
        assert number in (person.id_number, *person.cancelled_id_numbers)


def test_a_missing_file_is_bad_input_and_writes_nothing(store_url: str, tmp_path: Path) -> None:
    result = run("import", str(tmp_path / "absent.jsonl"), "--store", store_url)

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "cannot read" in result.stderr
    assert not (tmp_path / "absent.jsonl.rejects.jsonl").exists()


def test_an_unwritable_rejects_file_is_bad_input_before_anything_is_imported(
    store_url: str, tmp_path: Path
) -> None:
    source = mixed_file(tmp_path / "acts.jsonl")
    result = run(
        "import",
        str(source),
        "--rejects",
        str(tmp_path / "no" / "such" / "dir"),
        "--store",
        store_url,
    )

    assert result.exit_code == 2
    assert result.stderr.startswith("civledger: error: cannot write")
    assert not (tmp_path / "ledger.sqlite").exists()


def test_a_batch_below_one_is_bad_input(store_url: str, tmp_path: Path) -> None:
    source = mixed_file(tmp_path / "acts.jsonl")
    result = run("import", str(source), "--store", store_url, "--batch", "0")

    assert result.exit_code == 2
    assert "--batch" in result.stderr
    assert not (tmp_path / "acts.jsonl.rejects.jsonl").exists()


def test_rows_may_name_people_by_id_number_or_uuid_as_a_clerk_does(
    store_url: str, tmp_path: Path
) -> None:
    births = write_lines(
        tmp_path / "births.jsonl",
        [
            row(
                kind="birth",
                **CLERK,
                reference="KS-1960-1",
                name="Trần Văn Bình",
                sex="male",
                born="1960-02-03",
                province="079",
                registered_on="1960-02-10",
            ),
            row(
                kind="birth",
                **CLERK,
                reference="KS-1962-2",
                name="Lê Thị Cúc",
                sex="female",
                born="1962-04-05",
                province="079",
                registered_on="1962-04-20",
            ),
        ],
    )
    run("import", str(births), "--store", store_url)
    register = CivilRegister(store_url)
    from domain.registry import person_id_for_birth

    binh = register.person(person_id_for_birth(BIRTH_OFFICE, "KS-1960-1"))
    cuc = register.person(person_id_for_birth(BIRTH_OFFICE, "KS-1962-2"))
    assert binh.id_number is not None
    assert cuc.id_number is not None
    later = write_lines(
        tmp_path / "later.jsonl",
        [
            row(
                kind="birth",
                **CLERK,
                reference="KS-1990-3",
                name="Trần Thị Dung",
                sex="female",
                born="1990-06-07",
                province="079",
                father=binh.id_number,
                mother=str(cuc.id),
                registered_on="1990-06-15",
            ),
            row(
                kind="change",
                **CLERK,
                reference="CC-1",
                person=binh.id_number,
                field="born",
                value="1959-02-03",
                change_kind="correction",
                effective="2020-01-01",
            ),
            row(
                kind="death", **CLERK, reference="KT-1", person=binh.id_number, died_on="2023-03-03"
            ),
        ],
    )

    result = run("import", str(later), "--store", store_url, "--batch", "2", "--json")

    assert result.exit_code == 0, result.output
    dung = CivilRegister(store_url).person(person_id_for_birth(BIRTH_OFFICE, "KS-1990-3"))
    assert (dung.father_id, dung.mother_id) == (binh.id, cuc.id)
    binh_now = CivilRegister(store_url).person(binh.id)
    assert binh_now.cancelled_id_numbers == [binh.id_number]
    assert binh_now.id_number is not None
    assert binh_now.id_number.startswith("079059")
    assert str(binh_now.died_on) == "2023-03-03"


@pytest.mark.postgres
def test_a_role_that_may_not_lock_the_log_imports_through_the_definer_function(
    logins: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    assert run("admin", "roles", "--store", postgres_url).exit_code == 0
    enrol = ("admin", "clerk", "enrol", logins["lan"], "--name", CLERK["clerk"])
    assert run(*enrol, "--office", CLERK["office"], "--store", postgres_url).exit_code == 0
    as_clerk = postgres_url.replace("postgresql://postgres", f"postgresql://{logins['lan']}", 1)
    source = mixed_file(tmp_path / "acts.jsonl")

    first = run("import", str(source), "--store", as_clerk, "--json")
    again = run("import", str(source), "--store", as_clerk, "--json")

    assert first.exit_code == again.exit_code == 3, first.output
    assert json.loads(first.stdout)["recorded"] == 2
    assert json.loads(again.stdout)["already_recorded"] == 2
    assert ledger_topics(postgres_url)["ActRecorded"] == 2


def test_a_reference_reused_for_a_different_act_is_rejected_and_the_first_act_kept(
    store_url: str, tmp_path: Path
) -> None:
    source = mixed_file(tmp_path / "acts.jsonl")
    run("import", str(source), "--store", store_url)
    reused = write_lines(
        tmp_path / "reused.jsonl",
        [
            row(
                kind="birth",
                **CLERK,
                reference="KS-2001-0001",
                name="Nguyễn Văn Anh",
                sex="male",
                born="2001-03-04",
                province="001",
                registered_on="2001-03-20",
            ),
        ],
    )

    result = run("import", str(reused), "--store", store_url, "--json")

    assert result.exit_code == 3
    assert json.loads(result.stdout)["rejected"] == 1
    (reject,) = read_rejects(tmp_path / "reused.jsonl.rejects.jsonl")
    assert "already used for a different birth act" in reject["reason"]
    register = CivilRegister(store_url)
    from domain.registry import person_id_for_birth

    assert register.person(person_id_for_birth(BIRTH_OFFICE, "KS-2001-0001")).name == (
        "Nguyễn Văn An"
    )


def test_a_merge_that_would_keep_the_later_record_is_refused_as_for_a_clerk(
    store_url: str, tmp_path: Path
) -> None:
    early, late = birth_ref("KS-1970-1"), birth_ref("KS-1985-2")
    source = write_lines(
        tmp_path / "dup.jsonl",
        [
            row(
                kind="birth",
                **CLERK,
                reference="KS-1970-1",
                name="Phạm Văn Hùng",
                sex="male",
                born="1970-01-01",
                province="038",
                registered_on="1970-01-20",
            ),
            row(
                kind="birth",
                **CLERK,
                reference="KS-1985-2",
                name="Phạm Văn Hùng",
                sex="male",
                born="1970-01-01",
                province="038",
                registered_on="1985-06-01",
            ),
            row(kind="merge", **CLERK, reference="SN-1", person=early, into=late),
            row(kind="merge", **CLERK, reference="SN-2", person=late, into=early),
        ],
    )

    result = run("import", str(source), "--store", store_url, "--json")

    assert result.exit_code == 3
    (reject,) = read_rejects(tmp_path / "dup.jsonl.rejects.jsonl")
    assert reject["line"] == 3
    assert "the earliest record survives" in reject["reason"]
    assert ledger_topics(store_url)["MergedAsDuplicate"] == 1


def test_an_unreachable_store_keeps_the_last_runs_rejects_file(tmp_path: Path) -> None:
    source = mixed_file(tmp_path / "acts.jsonl")
    rejects = tmp_path / "rejects.jsonl"
    rejects.write_text('{"line": 7, "reason": "from the last run"}\n', encoding="utf-8")
    fresh = tmp_path / "fresh.jsonl"
    unreachable = "postgresql://postgres@127.0.0.1:1/nowhere"

    kept = run("import", str(source), "--rejects", str(rejects), "--store", unreachable)
    created = run("import", str(source), "--rejects", str(fresh), "--store", unreachable)

    assert (kept.exit_code, created.exit_code) == (1, 1)
    assert kept.stderr.count("\n") == 1
    assert read_rejects(rejects) == [{"line": 7, "reason": "from the last run"}]
    assert not fresh.exists()


def test_a_reachable_store_starts_the_rejects_file_afresh(store_url: str, tmp_path: Path) -> None:
    source = mixed_file(tmp_path / "acts.jsonl")
    rejects = tmp_path / "rejects.jsonl"
    rejects.write_text('{"line": 7, "reason": "from the last run"}\n' * 50, encoding="utf-8")

    result = run("import", str(source), "--rejects", str(rejects), "--store", store_url, "--json")

    lines = [r["line"] for r in read_rejects(rejects)]
    assert json.loads(result.stdout)["rejected"] == len(lines) > 0
    assert all("from the last run" not in r["reason"] for r in read_rejects(rejects))


def test_a_byte_order_mark_and_crlf_line_ends_are_not_part_of_any_row(
    store_url: str, tmp_path: Path
) -> None:
    source = mixed_file(tmp_path / "acts.jsonl")
    text = source.read_text(encoding="utf-8")
    windows = tmp_path / "windows.jsonl"
    windows.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))

    plain = json.loads(run("import", str(source), "--store", store_url, "--json").stdout)
    again = run("import", str(windows), "--store", store_url, "--json")

    summary = json.loads(again.stdout)
    assert summary["rows"] == plain["rows"]
    assert summary["recorded"] == 0  # the same acts, line for line: nothing new
    assert summary["already_recorded"] == plain["recorded"] + plain["already_recorded"]
    assert summary["rejected"] == plain["rejected"]


def test_a_rejects_path_that_is_a_hard_link_to_the_input_is_refused(
    store_url: str, tmp_path: Path
) -> None:
    source = mixed_file(tmp_path / "acts.jsonl")
    before = source.read_bytes()
    link = tmp_path / "link.jsonl"
    os.link(source, link)

    result = run("import", str(source), "--rejects", str(link), "--store", store_url)

    assert result.exit_code == 2
    assert result.stderr == "civledger: error: the rejects file must not be the input file\n"
    assert source.read_bytes() == before
    assert sum(ledger_topics(store_url).values()) == 0


def test_input_that_is_not_a_regular_file_needs_a_rejects_path(
    store_url: str, tmp_path: Path
) -> None:
    source = mixed_file(tmp_path / "acts.jsonl")
    fifo = tmp_path / "acts.fifo"
    os.mkfifo(fifo)
    command = [sys.executable, "-m", "cli.main", "import", str(fifo), "--store", store_url]

    def through_the_fifo(*extra: str) -> subprocess.CompletedProcess[bytes]:
        writer = subprocess.Popen(["sh", "-c", f"cat '{source}' > '{fifo}' 2>/dev/null"])
        try:
            return subprocess.run([*command, *extra], capture_output=True, check=False, timeout=120)
        finally:
            writer.wait(timeout=60)

    refused = through_the_fifo()
    assert refused.returncode == 2
    assert refused.stderr.count(b"\n") == 1
    assert b"not a regular file" in refused.stderr
    assert not (tmp_path / "acts.fifo.rejects.jsonl").exists()

    given = through_the_fifo("--rejects", str(tmp_path / "r.jsonl"), "--json")
    assert given.returncode == 3, given.stderr
    assert json.loads(given.stdout)["rows"] == len(source.read_text().splitlines())


def test_a_control_character_is_named_once_in_the_reason(store_url: str, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "acts.jsonl", ['{"kind": "bi\x00rth"}'])
    rejects = tmp_path / "rejects.jsonl"
    run("import", str(source), "--rejects", str(rejects), "--store", store_url)
    (reject,) = read_rejects(rejects)
    assert reject["reason"] == "not JSON: Invalid control character at column 13"
