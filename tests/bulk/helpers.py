"""Shared helpers of the bulk tests: run the CLI, write rows, read back the ledger."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from application.register import CivilRegister
from cli.main import app

BIRTH_OFFICE = "UBND phường Cửa Nam, Hà Nội"


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def row(**fields: Any) -> str:
    return json.dumps(fields, ensure_ascii=False)


def birth_ref(reference: str, office: str = BIRTH_OFFICE) -> dict[str, str]:
    return {"office": office, "reference": reference}


def ledger_topics(store_url: str) -> Counter[str]:
    """How many events of each type the store holds (short names)."""
    register = CivilRegister(store_url)
    notifications = register.recorder.select_notifications(start=None, limit=10**7)
    return Counter(n.topic.rsplit(".", 1)[1] for n in notifications)


def max_position(store_url: str) -> int:
    register = CivilRegister(store_url)  # keep it referenced: it owns the connections
    return register.recorder.max_notification_id() or 0


def read_rejects(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
