"""Read-model tables, described once and created alike on SQLite and PostgreSQL.

Every column is text or a 64-bit integer, on both backends, so a model's canonical contents (and
so its digest) are the same whichever database holds it. Dates are ISO strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Physical tables are named `view_<name>`; a rebuild builds `view_<name>__rebuild` beside them.
PREFIX = "view_"
REBUILD_SUFFIX = "__rebuild"
TRACKING_TABLE = "view_tracking"


@dataclass(frozen=True)
class Table:
    """One read-model table. `key` is its primary key; `ints` are its integer columns."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    ints: frozenset[str] = frozenset()
    indexes: tuple[tuple[str, ...], ...] = ()
    #: A counter table: rows are (key..., value) and batches add to `value`.
    counter: bool = False
    value_columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "value_columns", tuple(c for c in self.columns if c not in self.key)
        )

    def physical(self, rebuilding: bool = False) -> str:
        return f"{PREFIX}{self.name}{REBUILD_SUFFIX if rebuilding else ''}"

    def column_type(self, column: str) -> str:
        return "BIGINT" if column in self.ints else "TEXT"
