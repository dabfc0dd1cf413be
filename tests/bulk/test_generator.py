"""The synthetic population: reproducible bytes, valid rows, references only backwards."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

from domain.commands import ACT_COMMANDS
from domain.registry import person_id_for_birth
from importer.rows import parse_row
from importer.synthetic import DENSE, HORIZON, PopulationGenerator
from tests.bulk.helpers import run


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


def test_every_row_is_a_valid_act_referring_only_to_earlier_births() -> None:
    rows = list(PopulationGenerator(400, seed=9, rates=DENSE).rows())
    registered: set[str] = set()
    for number, raw in enumerate(rows, 1):
        parsed = parse_row(number, json.dumps(raw, ensure_ascii=False))
        assert raw["kind"] in ACT_COMMANDS
        for key in ("person", "into", "father", "mother"):
            if key in raw:
                ref = raw[key]
                assert str(person_id_for_birth(ref["office"], ref["reference"])) in registered
        for key in ("born", "registered_on", "died_on", "effective"):
            if key in raw:
                assert raw[key] <= HORIZON.isoformat()
        if raw["kind"] == "birth":
            registered.add(
                str(person_id_for_birth(parsed.clerking.office, parsed.clerking.reference))
            )
    kinds = {raw["kind"] for raw in rows}
    assert kinds == set(ACT_COMMANDS)


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
