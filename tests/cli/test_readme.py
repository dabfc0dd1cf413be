"""The README's clerk synopsis runs as written (docs must not drift from the code)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def console_lines() -> list[str]:
    block = re.search(r"```console\n(.*?)```", README.read_text(), re.DOTALL)
    assert block, "the README has no console block"
    return [line[2:] for line in block.group(1).splitlines() if line.startswith("$ ")]


def test_the_readme_synopsis_runs(tmp_path: Path) -> None:
    env = {**os.environ, "CIVLEDGER_STORE": f"sqlite:///{tmp_path / 'readme.sqlite'}"}
    number = ""
    for line in console_lines():
        words = shlex.split(line)
        if words[0] == "export":
            env.update(tuple(word.split("=", 1)) for word in words[1:])  # type: ignore[misc]
            continue
        assert words[0] == "civledger"
        args = [number if word == "KS-NUMBER" else word for word in words[1:]]
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"{line}: {done.stderr}"
        if words[1] == "register-birth":
            number = done.stdout.strip()
        if "--json" in args:
            assert json.loads(done.stdout)
