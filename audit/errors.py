"""What an audit finds wrong."""

from __future__ import annotations

from domain.errors import CivledgerError


class LedgerTampered(CivledgerError):
    """The stored events no longer match the tamper-evident log."""
