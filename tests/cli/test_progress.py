"""Long jobs show progress on a terminal's stderr, and never with --json or off a terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def on_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run `civledger ARGS` with stderr on a pseudo-terminal: exit code, stdout, stderr."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal's other end closed
            break
        if not chunk:
            break
        shown += chunk
    out = process.stdout.read() if process.stdout else b""
    code = process.wait(timeout=120)
    os.close(controller)
    return code, out.decode(), shown.decode(errors="replace")


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A SQLite store holding an imported population of 3,000 people, and its file."""
    workdir = tmp_path_factory.mktemp("progress")
    source = workdir / "people.jsonl"
    store = f"sqlite:///{workdir / 'ledger.sqlite'}"
    code, _, shown = on_a_terminal(
        "generate", "--people", "3000", "--seed", "3", "--out", str(source)
    )
    assert code == 0, shown
    assert "generating [" in shown
    assert "3,000/3,000 people" in shown
    code, _, shown = on_a_terminal("import", str(source), "--store", store, "--batch", "500")
    assert code == 0, shown
    assert "importing [" in shown
    assert "rows/s" in shown
    return store, source


@pytest.mark.parametrize(
    ("args", "label"),
    [
        (["projections", "catch-up"], "catching up all ["),
        (["projections", "rebuild"], "rebuilding all ["),
        (["audit", "verify"], "verifying ["),
    ],
)
def test_a_long_job_shows_progress_on_a_terminal_and_not_with_json(
    imported: tuple[str, Path], args: list[str], label: str
) -> None:
    store, _ = imported
    if args[0] == "audit":
        assert on_a_terminal("audit", "checkpoint", "--store", store)[0] == 0

    code, _, shown = (
        on_a_terminal(*args, "--store", store, "--batch-size", "1000")
        if (args[0] == "projections")
        else on_a_terminal(*args, "--store", store)
    )

    assert code == 0, shown
    assert label in shown
    assert "events/s" in shown
    assert "ETA" in shown
    code, out, shown = on_a_terminal(*args, "--store", store, "--json")
    assert code == 0, shown
    assert label not in shown
    json.loads(out)  # stdout stays one JSON document


def test_no_progress_off_a_terminal(imported: tuple[str, Path]) -> None:
    store, _ = imported
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "projections", "rebuild", "--store", store],
        cwd=ROOT,
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0
    assert done.stderr == b""
