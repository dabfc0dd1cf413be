"""Rows validated in parse worker processes: the same rows, the same rejects, the same ledger;
a worker that dies stops the import with nothing lost."""

from __future__ import annotations

import io
import json
import os
import pickle
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from application.register import CivilRegister
from importer import pipeline, wire, workers
from importer.pipeline import importer_for
from importer.rows import Parsed, Rejected, numbered_lines, parse_chunk
from importer.synthetic import PopulationGenerator
from infrastructure.errors import WorkerFailed
from tests.bulk.helpers import BIRTH_OFFICE, birth_ref, ledger_topics, row, run, write_lines

CLERK = {"clerk": "Trần Thị Hoa", "office": BIRTH_OFFICE}


def mixed_lines() -> list[bytes]:
    """A generated population (births, deaths by ID number and by birth act, changes,
    merges), plus rows that every kind of check rejects."""
    text = io.StringIO()
    PopulationGenerator(1000, seed=7).write(text)
    lines = text.getvalue().splitlines()
    lines[10:10] = [
        "{not json",
        row(kind="adoption", **CLERK, reference="X-1"),
        row(kind="death", **CLERK, reference="X-2", person=birth_ref("X"), died_on="2020-13-01"),
        row(kind="birth", **CLERK, reference="X-3", name="A", sex="male", born="1990-01-01",
            province="999"),
        row(kind="death", **CLERK, reference="X-4", person="001090000000", died_on="2020-01-01"),
    ]  # fmt: skip
    return [line.encode() for line in lines] + [b"\xff\xfe not utf-8"]


LINES = mixed_lines()


def test_a_row_comes_back_from_a_worker_equal_to_the_row_parsed_here() -> None:
    parsed = parse_chunk(list(numbered_lines(LINES)))
    assert len(parsed.rows) > 1000
    assert len(parsed.rejected) == 5  # not JSON, unknown kind, bad date, bad province, not UTF-8
    kinds = {r.act.KIND for r in parsed.rows}
    assert kinds == {"birth", "death", "change", "merge", "renunciation"}
    assert any(r.digest is None for r in parsed.rows)  # a person named by ID number
    assert any(r.act.model_fields_set != set(type(r.act).model_fields) for r in parsed.rows)

    back = pickle.loads(pickle.dumps(parsed))  # noqa: S301 (its own bytes)

    assert back.rows == parsed.rows
    assert [r.act.model_fields_set for r in back.rows] == [
        r.act.model_fields_set for r in parsed.rows
    ]
    assert back.rejected == parsed.rejected
    assert back.lines == parsed.lines


def outcome(store_url: str, parse_workers: int, batch: int) -> dict[str, Any]:
    register = CivilRegister(store_url)
    rejected: list[Rejected] = []
    tally = importer_for(register, batch, parse_workers).run(numbered_lines(LINES), rejected.append)
    people = sorted(
        (p.name, p.born.isoformat(), p.status, p.id_number is not None)
        for p in (register.person(n.originator_id) for n in _births(register))
    )
    register.close()
    return {
        "tally": tally.as_document(),
        "rejected": [(r.line, r.reason, r.text) for r in rejected],
        "people": people,
    }


def _births(register: CivilRegister) -> list[Any]:
    return [
        n
        for n in register.recorder.select_notifications(start=None, limit=10**6)
        if n.topic.endswith("BirthRegistered")
    ]


@pytest.mark.parametrize("workers", [1, 3])
def test_workers_give_what_parsing_here_gives(store_url: str, tmp_path: Path, workers: int) -> None:
    here = outcome(f"sqlite:///{tmp_path / 'here.sqlite'}", 0, 150)
    assert here["tally"]["rejected"] >= 5
    assert outcome(store_url, workers, 150) == here


def test_a_worker_that_dies_stops_the_import_and_a_rerun_completes_it(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed: list[int] = []
    take = workers.ParseWorkers.take

    def take_then_kill(self: workers.ParseWorkers) -> Parsed:
        parsed = take(self)
        if not killed:  # the worker now parses the next chunk: kill it
            killed.append(self.processes[0].pid)
            os.kill(self.processes[0].pid, signal.SIGKILL)
        return parsed

    monkeypatch.setattr(workers.ParseWorkers, "take", take_then_kill)
    register = CivilRegister(store_url)
    with pytest.raises(WorkerFailed, match="parse worker stopped"):
        importer_for(register, 150, 1).run(numbered_lines(LINES), lambda rejected: None)
    assert killed
    monkeypatch.undo()

    rejected: list[Rejected] = []
    tally = importer_for(register, 150, 1).run(numbered_lines(LINES), rejected.append)

    assert tally.rows == len(LINES)
    assert tally.recorded + tally.already_recorded + tally.rejected == len(LINES)
    assert tally.already_recorded > 0  # what landed before the worker died
    topics = ledger_topics(store_url)
    assert topics["ActRecorded"] == tally.recorded + tally.already_recorded


def test_parse_workers_below_zero_is_bad_input_and_writes_nothing(
    store_url: str, tmp_path: Path
) -> None:
    source = write_lines(tmp_path / "rows.jsonl", [line.decode() for line in LINES[:3]])
    result = run("import", str(source), "--store", store_url, "--parse-workers", "-1")
    assert result.exit_code == 2
    assert "--parse-workers must be a whole number from 0 to " in result.output
    assert not (tmp_path / "rows.jsonl.rejects.jsonl").exists()
    assert sum(ledger_topics(store_url).values()) == 0


def test_the_cli_imports_with_parse_workers(store_url: str, tmp_path: Path) -> None:
    source = write_lines(
        tmp_path / "rows.jsonl", [line.decode("utf-8", "replace") for line in LINES]
    )
    result = run(
        "import", str(source), "--store", store_url, "--batch", "64", "--parse-workers", "2",
        "--json",
    )  # fmt: skip
    summary = json.loads(result.stdout)
    assert result.exit_code == 3  # some rows rejected
    assert summary["rows"] == len(LINES)
    assert summary["recorded"] + summary["rejected"] == len(LINES)


def test_a_worker_failure_names_its_cause_in_one_line() -> None:
    with workers.ParseWorkers(1) as pool:
        worker = pool.processes[0]
        assert worker.stdin is not None
        worker.stdin.write(wire.HEADER.pack(5) + b"\x80\x05junk")  # not a pickle
        worker.stdin.flush()
        pool.order.append(pool.idle.pop(0))
        with pytest.raises(WorkerFailed) as failed:
            pool.take()
    message = failed.value.message
    assert "\n" not in message
    assert "a parse worker stopped (exit code 1: " in message
    assert "Error" in message  # the last line of the worker's traceback


def test_a_worker_gets_neither_the_cipher_key_nor_the_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CIVLEDGER_CIPHER_KEY", "a-secret-key")
    monkeypatch.setenv("CIVLEDGER_STORE", "postgresql://clerk:secret@db/register")
    monkeypatch.setenv("CIVLEDGER_BATCH_NOTE", "kept")
    with workers.ParseWorkers(1, report_environment=True) as pool:
        environ = pool.environment_of(0)  # as the worker itself sees it
    assert "CIVLEDGER_CIPHER_KEY" not in environ
    assert "CIVLEDGER_STORE" not in environ
    assert environ["CIVLEDGER_BATCH_NOTE"] == "kept"  # the rest of the environment is passed on
    root = str(Path(pipeline.__file__).resolve().parent.parent)
    assert environ["PYTHONPATH"].startswith(root)


def test_a_stop_request_ends_the_import_between_batches(store_url: str) -> None:
    register = CivilRegister(store_url)
    stop = threading.Event()
    batches: list[int] = []

    def after_batch(tally: Any) -> None:
        batches.append(tally.rows)
        stop.set()  # as the first Ctrl-C does

    tally = importer_for(register, 150, 1).run(
        numbered_lines(LINES), lambda rejected: None, after_batch, stop
    )

    assert tally.stopped
    assert tally.rows == 300 == batches[-1]  # the batch in flight when asked landed too
    assert ledger_topics(store_url)["ActRecorded"] == tally.recorded + tally.already_recorded
    rest = importer_for(register, 150, 1).run(numbered_lines(LINES), lambda rejected: None)
    assert not rest.stopped
    assert rest.already_recorded == tally.recorded
