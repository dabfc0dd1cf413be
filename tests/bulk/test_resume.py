"""Kill the import with SIGKILL mid-way, run it again: every row ends in the ledger once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from application.register import CivilRegister
from importer.synthetic import PopulationGenerator
from tests.bulk.helpers import ledger_topics

ROOT = Path(__file__).resolve().parents[2]


def start_import(source: Path, store_url: str) -> subprocess.Popen[bytes]:
    """The import as a terminal starts it: Ctrl-C (SIGINT) not ignored, whatever runs the
    tests (a shell's background job starts with it ignored)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "import",
            str(source),
            "--store",
            store_url,
            "--batch",
            "20",
            "--parse-workers",
            "1",
            "--json",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )


def write_rows(path: Path, rows: list[dict[str, object]]) -> Path:
    """Rows as a JSON Lines import file."""
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def children_of(pid: int) -> list[int]:
    """Processes whose parent is `pid` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def kill_after(
    process: subprocess.Popen[bytes],
    register: CivilRegister,
    past: int,
    signal_number: int = signal.SIGKILL,
) -> int:
    """Signal (SIGKILL) the import once the log has grown past `past`; the position reached.
    Its parse worker, which nobody signals, must exit on its own."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        position = register.recorder.max_notification_id() or 0
        if position > past:
            workers = children_of(process.pid)
            process.send_signal(signal_number)
            process.wait()
            assert workers, "the import had started no parse worker"
            gone_by = time.monotonic() + 20
            while any(alive(pid) for pid in workers) and time.monotonic() < gone_by:
                time.sleep(0.05)
            assert not any(alive(pid) for pid in workers), "a parse worker outlived its import"
            return position
        time.sleep(0.01)
    pytest.fail(f"the import ended (or stalled) before the log passed {past}")


def test_an_import_killed_twice_and_resumed_records_every_row_exactly_once(
    store_url: str, tmp_path: Path
) -> None:
    rows = list(PopulationGenerator(2500, seed=21).rows())
    source = write_rows(tmp_path / "people.jsonl", rows)
    register = CivilRegister(store_url)

    first = kill_after(start_import(source, store_url), register, 0)
    second = kill_after(start_import(source, store_url), register, first + 500)
    final = start_import(source, store_url)
    out, err = final.communicate(timeout=300)

    assert final.returncode == 0, err.decode()
    summary = json.loads(out)
    assert summary["rows"] == len(rows)
    assert summary["rejected"] == 0
    assert summary["already_recorded"] > 0
    assert summary["recorded"] > 0
    topics = ledger_topics(store_url)
    assert 0 < first < second < sum(topics.values())  # both kills landed mid-import
    assert topics["ActRecorded"] == len(rows)
    assert topics["BirthRegistered"] == Counter(r["kind"] for r in rows)["birth"]
    acts = [
        n.originator_id
        for n in register.recorder.select_notifications(start=None, limit=10**6)
        if n.topic.endswith("ActRecorded")
    ]
    assert len(set(acts)) == len(rows)


@pytest.mark.parametrize(
    ("signal_number", "code", "said"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
def test_ctrl_c_or_sigterm_stops_the_import_between_batches_and_a_rerun_completes_it(
    store_url: str, tmp_path: Path, signal_number: int, code: int, said: str
) -> None:
    rows = list(PopulationGenerator(1500, seed=22).rows())
    source = write_rows(tmp_path / "people.jsonl", rows)
    register = CivilRegister(store_url)
    interrupted = start_import(source, store_url)

    kill_after(interrupted, register, 0, signal_number)
    out, err = interrupted.communicate(timeout=60)
    assert interrupted.returncode == code
    assert err.decode() == f"civledger: {said}\n"
    landed = ledger_topics(store_url)["ActRecorded"]
    assert 0 < landed < len(rows)  # stopped mid-import, between whole batches
    stopped = json.loads(out)  # --json: the summary of what it committed, before exiting
    assert stopped["stopped"] is True
    assert stopped["recorded"] + stopped["already_recorded"] == landed
    assert stopped["rows"] == landed + stopped["rejected"]

    final = start_import(source, store_url)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()
    summary = json.loads(out)
    assert summary["already_recorded"] == landed
    assert ledger_topics(store_url)["ActRecorded"] == len(rows)
