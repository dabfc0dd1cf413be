"""Which exit code each error of the register gets: the CLI's contract, kept in one table.

0 done; 1 store unreachable, outcome unknown, events that cannot be read, a helper process
that stopped, or an unexpected error; 2 bad input; 3 refused by a rule (or a reference reused
for another act); 4 unknown ID or household; 5 the ledger no longer matches what was recorded.
"""

from __future__ import annotations

from audit.errors import LedgerTampered
from domain.errors import (
    CivledgerError,
    InvalidInput,
    RuleBroken,
    UnknownHousehold,
    UnknownPerson,
)
from infrastructure.errors import LedgerMismatch

#: The most specific class wins: errors are looked up along their class's MRO.
EXIT_CODES: dict[type[CivledgerError], int] = {
    CivledgerError: 1,
    InvalidInput: 2,
    RuleBroken: 3,
    UnknownPerson: 4,
    UnknownHousehold: 4,
    LedgerMismatch: 5,
    LedgerTampered: 5,
}


def exit_code_of(error: CivledgerError) -> int:
    """The documented exit code of `error` (1 for any error not named above)."""
    for cls in type(error).__mro__:
        code = EXIT_CODES.get(cls)
        if code is not None:
            return code
    return 1
