"""Store configuration: a store URL becomes the library's environment, nothing more.

The domain never imports a storage backend. The backends live in `domain.storage` and are
named here only by topic strings, resolved by the library's infrastructure factory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit
from uuid import UUID

from eventsourcing.persistence import Notification

from domain.errors import InvalidInput, StoreUnavailable

DEFAULT_STORE = "sqlite:///civledger.sqlite"
SQLITE_MODULE = "domain.storage.sqlite:LedgerSQLiteFactory"
POSTGRES_MODULE = "domain.storage.postgres:LedgerPostgresFactory"


@dataclass(frozen=True)
class StoreURL:
    """`sqlite:///relative.sqlite`, `sqlite:////abs/path.sqlite` or `postgresql://u[:p]@h[:port]/db`."""

    url: str
    scheme: str
    path: str = ""
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = ""
    dbname: str = ""

    @classmethod
    def parse(cls, url: str) -> StoreURL:
        text = url.strip()
        if text.startswith("sqlite:///"):
            path = text[len("sqlite:///") :]
            if not path or path == "/":
                raise InvalidInput(f"store URL {url!r} names no SQLite file")
            return cls(url=text, scheme="sqlite", path=path)
        parts = urlsplit(text)
        if parts.scheme in ("postgresql", "postgres"):
            dbname = parts.path.lstrip("/")
            if not parts.hostname or not dbname:
                raise InvalidInput(
                    f"store URL {url!r} must be postgresql://user[:password]@host[:port]/dbname"
                )
            try:
                port = str(parts.port or 5432)
            except ValueError:
                raise InvalidInput(f"store URL {url!r} has a bad port") from None
            return cls(
                url=text,
                scheme="postgresql",
                host=parts.hostname,
                port=port,
                user=unquote(parts.username or "postgres"),
                password=unquote(parts.password or ""),
                dbname=unquote(dbname),
            )
        raise InvalidInput(
            f"store URL {url!r} is neither sqlite:///FILE nor postgresql://user@host[:port]/db"
        )

    @property
    def is_sqlite(self) -> bool:
        return self.scheme == "sqlite"

    def must_exist(self) -> StoreURL:
        """This URL, if its store is there. A SQLite path with no file behind it is refused
        (exit 1), so that a reader never creates an empty store at a mistyped path."""
        if self.is_sqlite and not Path(self.path).is_file():
            raise StoreUnavailable(f"no SQLite store at {self.path}")
        return self

    def redacted(self) -> str:
        """The URL without its password, for messages and logs."""
        if self.password:
            return self.url.replace(f":{self.password}@", ":***@")
        return self.url

    def environment(self) -> dict[str, str]:
        """The library's environment for this store."""
        if self.is_sqlite:
            return {
                "PERSISTENCE_MODULE": SQLITE_MODULE,
                "SQLITE_DBNAME": str(Path(self.path)),
                "SQLITE_LOCK_TIMEOUT": os.environ.get("CIVLEDGER_SQLITE_LOCK_TIMEOUT", "30"),
            }
        return {
            "PERSISTENCE_MODULE": POSTGRES_MODULE,
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": self.port,
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_CONNECT_TIMEOUT": os.environ.get("CIVLEDGER_CONNECT_TIMEOUT", "5"),
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "4",
        }


def store_from_env(url: str | None = None) -> StoreURL:
    return StoreURL.parse(url or os.environ.get("CIVLEDGER_STORE") or DEFAULT_STORE)


class PositionedRecorder(Protocol):
    """What the register needs from a recorder beyond the library's interface."""

    def select_originator_notifications(self, originator_id: UUID) -> Sequence[Notification]:
        """All events of one aggregate, oldest first, with their global log positions."""
        ...
