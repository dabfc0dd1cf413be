"""What an audit finds wrong."""

from __future__ import annotations

from infrastructure.errors import LedgerMismatch


class LedgerTampered(LedgerMismatch):
    """The stored events no longer match the tamper-evident log."""
