"""Settings read from the environment, in one place. The domain reads none itself.

`configure_from_env()` runs where a process starts (the CLI, a parse worker); it hands the
domain the reference data it needs. Each reader here checks its value and names the variable
when it is bad (`InvalidInput`, exit 2).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping

from domain.errors import InvalidInput
from domain.policies import LateRegistration
from domain.reference import configure_abroad_codes, configure_communes
from infrastructure.communes import COMMUNES

ABROAD_CODES_VAR = "CIVLEDGER_ABROAD_CODES"
LATE_AFTER_DAYS_VAR = "CIVLEDGER_LATE_AFTER_DAYS"
#: A hundred years: more would mark nothing late, and a date cannot be moved that far.
MAX_LATE_AFTER_DAYS = 36_500


def abroad_codes_from_env() -> Mapping[str, str]:
    """`CIVLEDGER_ABROAD_CODES`, e.g. `"900=Registered abroad"` (comma separated). Items that
    are not a three-digit code are ignored, as they always were."""
    raw = os.environ.get(ABROAD_CODES_VAR, "").strip()
    codes: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        code, _, name = item.partition("=")
        code = code.strip()
        if len(code) == 3 and code.isascii() and code.isdigit():
            codes[code] = name.strip() or "registered abroad"
    return codes


def late_registration() -> LateRegistration:
    """The late-registration policy, with `CIVLEDGER_LATE_AFTER_DAYS` if it is set."""
    text = os.environ.get(LATE_AFTER_DAYS_VAR, "").strip()
    if not text:
        return LateRegistration()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_LATE_AFTER_DAYS:
        raise InvalidInput(
            f"{LATE_AFTER_DAYS_VAR} must be a whole number of days from 0 to "
            f"{MAX_LATE_AFTER_DAYS}, got {text!r}"
        )
    return LateRegistration(int(text))


#: The cipher key's variables, in the order the library looks them up for the application
#: `civledger` (`eventsourcing.utils.Environment`): the first one set is the key.
CIPHER_KEY_VARS = ("CIVLEDGER_CIPHER_KEY", "CIPHER_KEY")
#: AES-128, AES-192, AES-256.
CIPHER_KEY_SIZES = (16, 24, 32)


def check_cipher_key(environ: Mapping[str, str] | None = None) -> None:
    """Refuse a malformed `CIVLEDGER_CIPHER_KEY` (`InvalidInput`, exit 2, naming the variable
    and never showing the key) before the library builds its cipher from it: base64 (standard
    alphabet, padded) of 16, 24 or 32 bytes. Unset or empty, events are stored in clear."""
    environ = os.environ if environ is None else environ
    for variable in CIPHER_KEY_VARS:
        text = environ.get(variable)
        if text is None:
            continue
        if not text.strip():
            return
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(
                f"{variable} is not base64: it must be a base64 AES key of 16, 24 or 32 bytes"
            ) from None
        if len(key) not in CIPHER_KEY_SIZES:
            raise InvalidInput(
                f"{variable} decodes to {len(key)} bytes: an AES key has 16, 24 or 32"
            )
        return


APPEND_ROUTE_VAR = "CIVLEDGER_POSTGRES_APPEND_ROUTE"
APPEND_ROUTES = ("auto", "direct", "definer")


def append_route(text: str | None) -> str:
    """How events are appended on PostgreSQL (`CIVLEDGER_POSTGRES_APPEND_ROUTE`): `auto` when
    unset; anything but auto, direct or definer is bad input (exit 2)."""
    route = (text or "auto").strip().lower()
    if route not in APPEND_ROUTES:
        raise InvalidInput(
            f"{APPEND_ROUTE_VAR} must be {', '.join(APPEND_ROUTES[:-1])} or {APPEND_ROUTES[-1]}, "
            f"got {text!r}"
        )
    return route


#: The library's settings that name a class by topic (`module:Class`), as it looks them up.
TOPIC_VARS = (
    ("CIVLEDGER_COMPRESSOR_TOPIC", "COMPRESSOR_TOPIC"),
    ("CIVLEDGER_CIPHER_TOPIC", "CIPHER_TOPIC"),
)


def check_library_settings(environ: Mapping[str, str] | None = None) -> None:
    """Check what the library will read from the environment for the store, before it reads
    it: the cipher key, the compressor and cipher topics, and the append route (on either
    backend, so a bad value never waits for the day the store moves to PostgreSQL). A bad
    value is `InvalidInput` (exit 2) naming its variable."""
    environ = os.environ if environ is None else environ
    check_cipher_key(environ)
    for names in TOPIC_VARS:
        variable = next((name for name in names if environ.get(name) is not None), None)
        topic = environ.get(variable, "").strip() if variable else ""
        if not topic:
            continue
        from eventsourcing.utils import resolve_topic

        try:
            resolve_topic(topic)
        except Exception:  # the library's TopicError, or what importing the module raised
            raise InvalidInput(
                f"{variable} names no class that can be imported: {topic!r}"
            ) from None
    route = next(
        (environ[name] for name in (APPEND_ROUTE_VAR, "POSTGRES_APPEND_ROUTE") if name in environ),
        None,
    )
    append_route(route)


def configure_from_env() -> None:
    """Hand the domain what the environment configures: the codes for births abroad, and the
    commune directory (`infrastructure.communes`: read on the first code looked up, not here)."""
    configure_abroad_codes(abroad_codes_from_env())
    configure_communes(COMMUNES)
