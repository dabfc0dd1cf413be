"""The port through which the register asks whether a birth may duplicate a recorded person.

The register only states the question; a read model answers it (see `projections.duplicates`).
Matching is on the folded name (case and Vietnamese diacritics ignored), the date of birth and
the birth province.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol
from uuid import UUID


class PossibleDuplicates(Protocol):
    """Finds recorded people who may be the person a new birth registration describes."""

    def possible_duplicates(
        self, name: str, born: date, birth_province: str, *, excluding: UUID
    ) -> Sequence[str]:
        """Display ids (ID number, else person UUID) of matching people, `excluding` one id."""
        ...
