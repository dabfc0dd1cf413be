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

from cli.synthetic import PopulationGenerator
from domain.application import CivilRegister
from tests.bulk.helpers import ledger_topics

ROOT = Path(__file__).resolve().parents[2]


def start_import(source: Path, store_url: str) -> subprocess.Popen[bytes]:
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
            "--json",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def kill_after(process: subprocess.Popen[bytes], register: CivilRegister, past: int) -> int:
    """SIGKILL the import once the log has grown past `past`; the position reached."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        position = register.recorder.max_notification_id() or 0
        if position > past:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return position
        time.sleep(0.01)
    pytest.fail(f"the import ended (or stalled) before the log passed {past}")


def test_an_import_killed_twice_and_resumed_records_every_row_exactly_once(
    store_url: str, tmp_path: Path
) -> None:
    rows = list(PopulationGenerator(2500, seed=21).rows())
    source = tmp_path / "people.jsonl"
    source.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
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
