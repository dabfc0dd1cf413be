"""Ctrl-C and SIGTERM at any moment of a command: one line, 130 or 143, nothing else (issue 13).

The command is the console script a clerk runs (`civledger`, entry `cli.main:main`), sent the
signal at delays from 0 to half a second: while the interpreter starts, while the command
line loads (a few hundred milliseconds of imports), while the command runs, and after it has
finished. Each run must end with exactly the signal's line and exit code, or have finished as
it would have without the signal.

Only the interpreter's own start is civledger's to put up with: a signal before Python has
installed its handler kills the process as the signal does (no output; a shell says 130), and
one while Python's `site` runs the installation's `.pth` files (an editable install's import
finder) is reported by Python itself. Neither runs any of civledger's code; the test tells them
apart by the traceback, which then holds no frame of civledger below the console script's
`from cli.main import main`.
"""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.test_hardening import BIRTH

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("civledger")
ENDINGS: dict[int, tuple[int, str]] = {
    signal.SIGINT: (130, "civledger: interrupted\n"),
    signal.SIGTERM: (143, "civledger: terminated\n"),
}
#: Delays from 0 to 0.5 s, in steps of 25 ms.
DELAYS = [step * 0.025 for step in range(21)]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SCRIPT.exists(), reason=f"no console script at {SCRIPT}"),
]


def _ours(path: str) -> bool:
    """A source file of civledger itself (not the interpreter, the venv or a library)."""
    resolved = Path(path)
    return resolved.is_relative_to(ROOT) and not resolved.is_relative_to(ROOT / ".venv")


def _startup(path: str, function: str) -> bool:
    """A frame of the interpreter's start: the standard library, `site` and the `.pth` files'
    modules, the console script, and `cli/main.py` itself loading (which imports only `os` and
    `signal`). Not civledger's command line, nor a library it imports (typer, pydantic...)."""
    if path.endswith("cli/main.py"):
        return function == "<module>"
    if "/site-packages/" in path:
        return "__editable__" in path or "_distutils_hack" in path
    return not _ours(path)


def before_civledger_ran(returncode: int, stderr: str, signum: int) -> bool:
    """Whether the signal came before any of civledger's code ran (see the module's doc)."""
    if returncode == -signum and stderr == "":
        return True  # killed before the interpreter installed a handler
    frames = re.findall(r'File "([^"]+)", line \d+, in (\S+)', stderr)
    if not frames or "KeyboardInterrupt" not in stderr:
        return False
    return all(_startup(path, function) for path, function in frames)


def outcomes(args: list[str], env: dict[str, str], signum: int) -> collections.Counter[str]:
    """Send `signum` to `civledger ARGS` at each delay; count how each run ended, and fail on
    any other ending than the three allowed."""
    code, line = ENDINGS[signum]
    counted: collections.Counter[str] = collections.Counter()
    for delay in DELAYS:
        process = subprocess.Popen(
            [str(SCRIPT), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            # As a terminal starts it: whatever runs the tests may ignore Ctrl-C.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
        )
        time.sleep(delay)
        process.send_signal(signum)
        _, err = process.communicate(timeout=120)
        stderr = err.decode()
        if (process.returncode, stderr) == (code, line):
            counted["stopped"] += 1
        elif process.returncode == 0 and "Traceback" not in stderr and "Exception" not in stderr:
            counted["finished"] += 1
        elif before_civledger_ran(process.returncode, stderr, signum):
            counted["before civledger"] += 1
        else:
            pytest.fail(f"at {delay:.3f}s: exit {process.returncode}, stderr:\n{stderr}")
    return counted


def _env(store: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVLEDGER_")}
    return {**env, "CIVLEDGER_STORE": store, "CIVLEDGER_CLERK": "Lan", "CIVLEDGER_OFFICE": "HN"}


@pytest.fixture
def ledger(store_url: str) -> tuple[str, str]:
    """A store with one person; the store and the person's number."""
    done = subprocess.run(
        [str(SCRIPT), "register-birth", *BIRTH, "--reference", "KS-1"],
        env=_env(store_url),
        capture_output=True,
        text=True,
        check=True,
    )
    return store_url, done.stdout.strip()


def test_ctrl_c_at_any_moment_of_show_is_one_line_and_130(ledger: tuple[str, str]) -> None:
    store, number = ledger
    counted = outcomes(["show", number], _env(store), signal.SIGINT)
    assert counted["stopped"] > 0, counted


def test_ctrl_c_at_any_moment_of_help_is_one_line_and_130(store_url: str) -> None:
    counted = outcomes(["--help"], _env(store_url), signal.SIGINT)
    assert counted["stopped"] > 0, counted


def test_ctrl_c_at_any_moment_of_an_act_is_one_line_and_130(ledger: tuple[str, str]) -> None:
    store, number = ledger
    args = ["record-death", number, "--died-on", "2020-01-01", "--reference", "KT-1"]
    counted = outcomes(args, _env(store), signal.SIGINT)
    assert counted["stopped"] > 0, counted


def test_sigterm_at_any_moment_of_show_is_one_line_and_143(ledger: tuple[str, str]) -> None:
    store, number = ledger
    counted = outcomes(["show", number, "--json"], _env(store), signal.SIGTERM)
    assert counted["stopped"] > 0, counted


def test_a_process_started_ignoring_ctrl_c_keeps_ignoring_it(ledger: tuple[str, str]) -> None:
    """A shell starts a script's background jobs with Ctrl-C ignored: so does civledger."""
    store, number = ledger
    process = subprocess.Popen(
        [str(SCRIPT), "show", number],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(store),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # noqa: PLW1509
    )
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert (process.returncode, err) == (0, b"")
    assert number in out.decode()
