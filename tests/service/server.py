"""A real `civledger serve` on a free port, for the service's tests and its benchmark."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from cli.main import app

BY = ("--clerk", "Lê Thị Lan", "--office", "CA-HOANKIEM")
#: How long a server may take to answer its first /healthz (seconds).
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli(store: str, *args: str) -> Any:
    """Run a civledger command in-process; returns the result (asserts it succeeded)."""
    result = CliRunner().invoke(app, [*args, "--store", store])
    assert result.exit_code == 0, (args, result.output)
    return result


def born(store: str, reference: str, name: str, sex: str, day: str) -> str:
    """Register a birth; returns the new ID number."""
    result = cli(
        store, "register-birth", "--name", name, "--sex", sex, "--born", day,
        "--province", "001", "--registered-on", day, "--reference", reference, *BY,
    )  # fmt: skip
    return str(result.stdout.strip())


def add_partner(store: str, name: str, *options: str) -> str:
    """Add a partner; returns its key."""
    document = json.loads(cli(store, "admin", "partner", "add", name, *options).stdout)
    assert document["partner"] == name
    return str(document["key"])


class Server:
    """`civledger serve` in a subprocess on a free port; stderr goes to `log_path`."""

    def __init__(
        self,
        store: str,
        log_path: Path,
        *,
        workers: int = 1,
        extra: Sequence[str] = (),
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {**os.environ, "CIVLEDGER_STORE": store}
        for name in ("CIVLEDGER_VIEWS", "CIVLEDGER_EVENTS_FROM"):
            env.pop(name, None)
        self._log = log_path.open("ab")
        command = [sys.executable, "-m", "cli.main", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--workers", str(workers), *extra],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log_path.read_text()}")

    def kill(self) -> None:
        """kill -9 the server and every worker it started."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)
        self._log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")
