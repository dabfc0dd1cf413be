"""A ledger with a few people and partners, served by a real `civledger serve`, once per
backend for a module (starting a server costs a second or two)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import create_database, drop_database
from tests.service.server import Server, add_partner, born, cli

AN = ("Nguyễn Văn An", "1990-03-04")
BINH = ("Trần Thị Bình", "1985-11-20")
#: The fields the lookup partner may see.
LOOKUP_FIELDS = "name,born,status"


@dataclass
class Served:
    store: str
    server: Server
    an: str
    binh: str
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def auth(self, partner: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[partner]}"}


def populate(store: str) -> tuple[str, str, dict[str, str]]:
    an = born(store, "KS-1", AN[0], "male", AN[1])
    binh = born(store, "KS-2", BINH[0], "female", BINH[1])
    cli(store, "projections", "catch-up")
    keys = {
        "portal": add_partner(store, "portal", "--scopes", "verify,household,access-log"),
        "bank": add_partner(store, "bank", "--scopes", "verify"),
        "insurance": add_partner(
            store, "insurance", "--scopes", "lookup", "--fields", LOOKUP_FIELDS
        ),
        "everything": add_partner(
            store,
            "everything",
            "--scopes",
            "verify,household,lookup,access-log",
            "--fields",
            "id_number,name,sex,born,birth_province,nationality,status",
        ),
        "slow": add_partner(store, "slow", "--scopes", "verify", "--rate", "1"),
    }
    return an, binh, keys


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def module_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('served') / 'ledger.sqlite'}"
        return
    admin = request.getfixturevalue("postgres_admin_url")
    url = create_database(admin)
    try:
        yield url
    finally:
        drop_database(admin, url)


@pytest.fixture(scope="module")
def served(module_store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    an, binh, keys = populate(module_store)
    log = tmp_path_factory.mktemp("server") / "server.log"
    server = Server(module_store, Path(log), workers=2)
    try:
        yield Served(module_store, server, an, binh, keys)
    finally:
        server.stop()
