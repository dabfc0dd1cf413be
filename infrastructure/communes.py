"""The official commune codes by date: `domain.reference.CommuneDirectory`, from a package.

Two lists, each read from the data that the `vietnamadminunits` package ships (not a table
copied by hand):

- from 1 July 2025, the 2025 two-tier list: the 3,321 communes (xã, phường, đặc khu) of the 34
  provinces, whose codes come from Decision 19/2025/QĐ-TTg;
- before, the three-tier list as it was last in force (30 June 2025): the 10,035 communes (xã,
  phường, thị trấn) of the 63 provinces. Only the commune level is read: a province (2 digits)
  or district (3 digits) code is never a commune code.

Why this package and not `vietnam-provinces` 2025.10.1 (they disagree on 123 current codes),
and how to move to a newer list: docs/residence.md, "Commune codes".

Nothing is read when this module is imported or the directory configured: the first question
opens the package's SQLite file, read-only, without importing the package (its import pulls in
shapely and numpy, ~0.3 s), reads the one list asked for (a few milliseconds) and keeps it for
the life of the process. Two threads asking at once may both read it; the answers are equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType

from domain.errors import CivledgerError

#: The package whose data this directory reads.
SOURCE_PACKAGE = "vietnamadminunits"
#: Its dataset: the file its own `vietnamadminunits.database.get_data()` reads.
DATASET = ("data", "dataset.db")
#: The day the two-tier system and its code list (Decision 19/2025/QĐ-TTg) came into force.
TWO_TIER_FROM = date(2025, 7, 1)
COMMUNE_CODE_LENGTH = 5


class CommuneDataUnavailable(CivledgerError):
    """The commune list cannot be read: the package is missing, or its data is not what this
    module reads (a new version changed it). A broken installation, not bad input."""


@dataclass(frozen=True)
class CommuneList:
    """One version of the commune list, in force from `effective_from` until the next one.

    `table` and its columns are the package's: code and name of each commune."""

    name: str
    effective_from: date
    table: str
    code_column: str = "wardCode"
    name_column: str = "ward"


#: Before 1 July 2025, every date gets the three-tier list as it was last in force: communes
#: merged away before 2025 are not in it (the package keeps no older versions).
THREE_TIER = CommuneList(
    name="pre-2025 three-tier list, as in force on 30 June 2025",
    effective_from=date.min,
    table="admin_units_legacy",
)
TWO_TIER_2025 = CommuneList(
    name="2025 two-tier list",
    effective_from=TWO_TIER_FROM,
    table="admin_units",
)
LISTS: tuple[CommuneList, ...] = (THREE_TIER, TWO_TIER_2025)


def is_commune_code(code: str) -> bool:
    """Five ASCII digits: the shape of a commune code (a district code has 3, a province 2)."""
    return len(code) == COMMUNE_CODE_LENGTH and code.isascii() and code.isdigit()


def dataset_path() -> Path:
    """Where the package's dataset is, found without importing the package."""
    from importlib.util import find_spec

    spec = find_spec(SOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CommuneDataUnavailable(
            f"the commune list needs the {SOURCE_PACKAGE} package, which is not installed"
        )
    path = Path(next(iter(spec.submodule_search_locations)), *DATASET)
    if not path.is_file():
        raise CommuneDataUnavailable(f"{SOURCE_PACKAGE} has no dataset at {path}")
    return path


def source_version() -> str:
    """The installed version of the package the lists come from."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(SOURCE_PACKAGE)
    except PackageNotFoundError:
        raise CommuneDataUnavailable(
            f"the commune list needs the {SOURCE_PACKAGE} package, which is not installed"
        ) from None


def read_list(commune_list: CommuneList, path: Path) -> Mapping[str, str]:
    """Code -> name of every commune of one list, read from the dataset at `path`. Rows
    without a commune (five island districts had none) are skipped; a code that is not five
    digits, or that names two communes, means the data changed shape: refused, not guessed."""
    import sqlite3
    from contextlib import closing

    query = (
        f'SELECT "{commune_list.code_column}", "{commune_list.name_column}" '
        f'FROM "{commune_list.table}" WHERE "{commune_list.code_column}" IS NOT NULL'
    )
    try:
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as connection:
            rows = connection.execute(query).fetchall()
    except sqlite3.Error as error:
        raise CommuneDataUnavailable(
            f"cannot read the {commune_list.name} from {path}: {error}"
        ) from None
    names: dict[str, str] = {}
    for code, name in rows:
        text = " ".join(str(name or "").split())
        if not (isinstance(code, str) and is_commune_code(code)) or not text:
            raise CommuneDataUnavailable(
                f"the {commune_list.name} in {path} has a row that is not a commune: "
                f"{code!r} {name!r}"
            )
        if names.setdefault(code, text) != text:
            raise CommuneDataUnavailable(
                f"the {commune_list.name} in {path} gives code {code} two names"
            )
    return MappingProxyType(names)


class PackagedCommunes:
    """The commune directory the register uses (`configure_communes(COMMUNES)`, done by
    `infrastructure.settings.configure_from_env`). Each list is read when first asked for."""

    def __init__(self, lists: tuple[CommuneList, ...] = LISTS, path: Path | None = None) -> None:
        self.lists = tuple(sorted(lists, key=lambda each: each.effective_from))
        self._path = path
        self._read: dict[str, Mapping[str, str]] = {}
        self._version: str | None = None

    def list_on(self, on: date) -> CommuneList:
        """The newest list in force on `on` (the oldest for a date before every list)."""
        in_force = [each for each in self.lists if each.effective_from <= on]
        return in_force[-1] if in_force else self.lists[0]

    def codes_on(self, on: date) -> Mapping[str, str]:
        """Code -> name of every commune of the list in force on `on` (read on first use)."""
        commune_list = self.list_on(on)
        codes = self._read.get(commune_list.table)
        if codes is None:
            if self._path is None:
                self._path = dataset_path()
            codes = self._read[commune_list.table] = read_list(commune_list, self._path)
        return codes

    def name_on(self, code: str, on: date) -> str | None:
        if not is_commune_code(code):
            return None
        return self.codes_on(on).get(code)

    def version_on(self, on: date) -> str:
        if self._version is None:
            self._version = source_version()
        return f"{self.list_on(on).name} ({SOURCE_PACKAGE} {self._version})"

    def loaded(self) -> tuple[str, ...]:
        """The names of the lists read so far (none until a code is looked up)."""
        return tuple(each.name for each in self.lists if each.table in self._read)


#: The one directory of the process, so its lists are read once however often it is configured.
COMMUNES = PackagedCommunes()
