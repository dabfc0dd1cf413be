"""Store configuration: a store URL becomes the library's environment, nothing more.

The domain never imports a storage backend. The backends live in `domain.storage` and are
named here only by topic strings, resolved by the library's infrastructure factory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

from eventsourcing.persistence import Notification

from domain.errors import InvalidInput
from infrastructure.errors import StoreUnavailable
from infrastructure.settings import check_library_settings

DEFAULT_STORE = "sqlite:///civledger.sqlite"
SQLITE_MODULE = "infrastructure.sqlite:LedgerSQLiteFactory"
POSTGRES_MODULE = "infrastructure.postgres:LedgerPostgresFactory"

#: The library environment key that carries a URL's `target_session_attrs` to the factory
#: (`infrastructure.postgres.LedgerPostgresFactory`), which hands it to libpq.
TARGET_SESSION_ATTRS_VAR = "POSTGRES_TARGET_SESSION_ATTRS"

#: The store's numeric settings, in whole seconds: each environment variable and its default.
CONNECT_TIMEOUT_VAR = "CIVLEDGER_CONNECT_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT = 5
SQLITE_LOCK_TIMEOUT_VAR = "CIVLEDGER_SQLITE_LOCK_TIMEOUT"
DEFAULT_SQLITE_LOCK_TIMEOUT = 30

_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """`url` with its password replaced by `***`, even when the URL is malformed.

    Everything between the first `:` of the user part and the last `@` is masked, so that a
    password holding `@`, `/` or `:` is masked whole (at worst, more than the password is).
    """
    head, slashes, rest = url.partition("//")
    if not slashes:
        head, rest = "", url
    userinfo, at, tail = rest.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    if at and colon and "/" not in user:
        rest = f"{user}:***@{tail}"
    return _QUERY_PASSWORD.sub(r"\1***", f"{head}{slashes}{rest}")


#: The longest wait either timeout may name: a day.
MAX_TIMEOUT = 86_400


def whole_seconds(variable: str, default: int) -> int:
    """The whole number of seconds (1 to `MAX_TIMEOUT`) in the environment `variable`, or
    `default`."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_TIMEOUT:
        raise InvalidInput(
            f"{variable} must be a whole number of seconds from 1 to {MAX_TIMEOUT}, got {text!r}"
        )
    return int(text)


@dataclass(frozen=True)
class StoreURL:
    """`sqlite:///relative.sqlite`, `sqlite:////abs/path.sqlite` or `postgresql://u[:p]@h[:port]/db`.

    A PostgreSQL URL may name several hosts, libpq's way: `postgresql://u@h1:p1,h2:p2/db`,
    with `?target_session_attrs=read-write` (the writers) or `prefer-standby` (the readers);
    `host` and `port` then hold comma-separated lists, which libpq reads as such."""

    url: str
    scheme: str
    path: str = ""
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = ""
    dbname: str = ""
    #: libpq's `target_session_attrs` from the query string ("" when absent): with several
    #: hosts, which of them a connection settles on (docs/operations.md, ## Clients).
    target_session_attrs: str = ""

    @classmethod
    def parse(cls, url: str) -> StoreURL:
        text = url.strip()
        shown = redact_url(url)
        if text.startswith("sqlite:///"):
            path = text[len("sqlite:///") :]
            if not path or path == "/":
                raise InvalidInput(f"store URL {shown!r} names no SQLite file")
            return cls(url=text, scheme="sqlite", path=path)
        try:
            parts = urlsplit(text)
            scheme = parts.scheme
        except ValueError:  # an unclosed `[` of an IPv6 address
            raise InvalidInput(f"store URL {shown!r} is malformed") from None
        if scheme in ("postgresql", "postgres"):
            userinfo, _, hostlist = parts.netloc.rpartition("@")
            user, _, password = userinfo.partition(":")
            dbname = parts.path.lstrip("/")
            hosts, ports = _hosts_and_ports(hostlist, shown)
            if not hosts or not dbname:
                raise InvalidInput(
                    f"store URL {shown!r} must be postgresql://user[:password]@host[:port]/dbname"
                )
            return cls(
                url=text,
                scheme="postgresql",
                host=",".join(hosts),
                port=",".join(ports),
                user=unquote(user or "postgres"),
                password=unquote(password),
                dbname=unquote(dbname),
                target_session_attrs=_target_session_attrs(parts.query, shown),
            )
        raise InvalidInput(
            f"store URL {shown!r} is neither sqlite:///FILE nor postgresql://user@host[:port]/db"
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
        return redact_url(self.url)

    @property
    def connect_timeout(self) -> int:
        """Seconds to wait for a PostgreSQL connection (`CIVLEDGER_CONNECT_TIMEOUT`)."""
        return whole_seconds(CONNECT_TIMEOUT_VAR, DEFAULT_CONNECT_TIMEOUT)

    def connection_kwargs(self) -> dict[str, Any]:
        """psycopg's keyword arguments for this PostgreSQL store: every host, and
        `target_session_attrs` when the URL sets it, so that a connection opened after a
        failover settles on the node the URL asks for (the new primary, for the writers)."""
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password or None,
            "dbname": self.dbname,
            "connect_timeout": self.connect_timeout,
        }
        if self.target_session_attrs:
            kwargs["target_session_attrs"] = self.target_session_attrs
        return kwargs

    def environment(self) -> dict[str, str]:
        """The library's environment for this store. Both backends' settings are checked,
        whichever backend this is, so a bad value never waits for the day the store moves;
        so are the cipher key and the settings the library reads (`check_library_settings`)."""
        connect_timeout = self.connect_timeout
        lock_timeout = whole_seconds(SQLITE_LOCK_TIMEOUT_VAR, DEFAULT_SQLITE_LOCK_TIMEOUT)
        check_library_settings()  # what the library reads from the environment itself
        if self.is_sqlite:
            return {
                "PERSISTENCE_MODULE": SQLITE_MODULE,
                "SQLITE_DBNAME": str(Path(self.path)),
                "SQLITE_LOCK_TIMEOUT": str(lock_timeout),
            }
        return {
            "PERSISTENCE_MODULE": POSTGRES_MODULE,
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": self.port,
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_CONNECT_TIMEOUT": str(connect_timeout),
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "4",
            TARGET_SESSION_ATTRS_VAR: self.target_session_attrs,
        }


#: The values libpq (PostgreSQL 14 and later) accepts for `target_session_attrs`.
TARGET_SESSION_ATTRS = ("any", "read-write", "read-only", "primary", "standby", "prefer-standby")


def _hosts_and_ports(hostlist: str, shown: str) -> tuple[list[str], list[str]]:
    """The hosts and ports of `h1[:p1],h2[:p2],...` (IPv6 hosts in brackets)."""
    hosts: list[str] = []
    ports: list[str] = []
    for entry in hostlist.split(",") if hostlist else []:
        try:
            one = urlsplit(f"//{entry}")
            host, port = one.hostname, one.port
        except ValueError:
            raise InvalidInput(f"store URL {shown!r} has a bad host or port") from None
        if not host:
            raise InvalidInput(f"store URL {shown!r} has an empty host in its host list")
        hosts.append(host)
        ports.append(str(port or 5432))
    return hosts, ports


def _target_session_attrs(query: str, shown: str) -> str:
    values = parse_qs(query).get("target_session_attrs", [])
    if not values:
        return ""
    if len(values) > 1 or values[0] not in TARGET_SESSION_ATTRS:
        raise InvalidInput(
            f"store URL {shown!r}: target_session_attrs must be one of "
            f"{', '.join(TARGET_SESSION_ATTRS)}"
        )
    return values[0]


def store_from_env(url: str | None = None) -> StoreURL:
    return StoreURL.parse(url or os.environ.get("CIVLEDGER_STORE") or DEFAULT_STORE)


class PositionedRecorder(Protocol):
    """What the register needs from a recorder beyond the library's interface."""

    def select_originator_notifications(self, originator_id: UUID) -> Sequence[Notification]:
        """All events of one aggregate, oldest first, with their global log positions."""
        ...
