"""Settings read from the environment, in one place. The domain reads none itself.

`configure_from_env()` runs where a process starts (the CLI, a parse worker); it hands the
domain the reference data it needs. Each reader here checks its value and names the variable
when it is bad (`InvalidInput`, exit 2).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from domain.errors import InvalidInput
from domain.policies import LateRegistration
from domain.reference import configure_abroad_codes

ABROAD_CODES_VAR = "CIVLEDGER_ABROAD_CODES"
LATE_AFTER_DAYS_VAR = "CIVLEDGER_LATE_AFTER_DAYS"


def abroad_codes_from_env() -> Mapping[str, str]:
    """`CIVLEDGER_ABROAD_CODES`, e.g. `"900=Registered abroad"` (comma separated). Items that
    are not a three-digit code are ignored, as they always were."""
    raw = os.environ.get(ABROAD_CODES_VAR, "").strip()
    codes: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        code, _, name = item.partition("=")
        code = code.strip()
        if len(code) == 3 and code.isdigit():
            codes[code] = name.strip() or "registered abroad"
    return codes


def late_registration() -> LateRegistration:
    """The late-registration policy, with `CIVLEDGER_LATE_AFTER_DAYS` if it is set."""
    text = os.environ.get(LATE_AFTER_DAYS_VAR, "").strip()
    if not text:
        return LateRegistration()
    if not text.isdigit():
        raise InvalidInput(f"{LATE_AFTER_DAYS_VAR} must be a whole number of days, got {text!r}")
    return LateRegistration(int(text))


def configure_from_env() -> None:
    """Hand the domain what the environment configures: the codes for births abroad."""
    configure_abroad_codes(abroad_codes_from_env())
