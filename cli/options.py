"""What the CLI's options share beyond their type: documented ranges, and help that names
values as a clerk types them (`ID`, `DATE`, `[male|female]`) rather than as Python types.

Values are still parsed, and refused, by the domain (`domain.values`, `domain.commands`), so
messages and exit codes stay those of docs/cli.md: a metavar here only changes the help.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperOption

from domain.errors import InvalidInput

#: The ranges of the numeric options (docs/cli.md, "Numeric options").
FIND_LIMIT_MAX = 10_000
IMPORT_BATCH_MAX = 100_000
PROJECTION_BATCH_MAX = 100_000
GENERATE_PEOPLE_MAX = 100_000_000
SEED_MAX = 2**63 - 1


def between(low: int, high: int | Callable[[], int]) -> Callable[..., Any]:
    """A typer callback refusing a whole number outside `low`..`high` (inclusive) with one
    line naming the option and the range (`InvalidInput`, exit 2). `high` may be computed
    when the option is read (the CPUs available)."""

    def check(param: typer.CallbackParam, value: int | None) -> int | None:
        top = high() if callable(high) else high
        if value is not None and not low <= value <= top:
            name = param.opts[0] if param.opts else param.name
            raise InvalidInput(f"{name} must be a whole number from {low} to {top}, got {value}")
        return value

    return check


def whole_number(text: str | int) -> int:
    """A typer parser for a whole number written in ASCII digits (`int()` also reads U+FF18,
    `1_000` and ` 5`): anything else is a usage error (exit 2) naming the option."""
    if isinstance(text, int):  # the default, given as a number
        return text
    if not re.fullmatch("-?[0-9]+", text):
        raise typer.BadParameter(f"{text!r} is not a whole number (digits 0-9)")
    return int(text)


def not_empty(param: typer.CallbackParam, value: str | None) -> str | None:
    """A typer callback refusing an empty URL (`--store ""`): left out, an option takes its
    default; given empty, it is a mistake, not a request for the default (exit 2)."""
    if value is not None and not value.strip():
        name = param.opts[0] if param.opts else param.name
        raise InvalidInput(f"{name} must not be empty: give a URL, or leave the option out")
    return value


def choices(values: Iterable[str]) -> str:
    """The metavar of an option taking one of `values`: `[male|female]`."""
    return f"[{'|'.join(values)}]"


#: Metavars of option types that have none of their own.
_TYPE_NAMES = {"<str>": "TEXT", "<int>": "N", "<int range>": "N", "<path>": "FILE"}


class _Argument(TyperArgument):
    """An argument named in usage and help by its metavar (`ID`), upper case, without the
    braces typer puts around a required one or the Python type after it."""

    def _shown(self) -> str:
        return (self.metavar or self.name or "").upper()

    def _usage_display_name(self) -> str:
        return self._shown() if self.required else f"[{self._shown()}]"

    def _rich_display_name(self) -> str:
        return self._shown()

    def get_error_hint(self) -> str:
        return f"'{self._shown()}'"

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


class _Option(TyperOption):
    """An option whose value is named by its metavar, else `TEXT`, `N` or `FILE`."""

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.metavar is not None:
            return self.metavar
        shown = super().display_type_rich(ctx)
        return _TYPE_NAMES.get(shown, shown) if shown is not None else None


class ClerkCommand(TyperCommand):
    """A command whose help says `ID`, `DATE` and `[male|female]`, not `{id}` and `<str>`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument:
                param.__class__ = _Argument
            elif type(param) is TyperOption:
                param.__class__ = _Option


def use_clerk_commands(app: typer.Typer) -> None:
    """Build every command of `app`, and of its groups, as a `ClerkCommand`."""
    for command in app.registered_commands:
        if command.cls in (None, TyperCommand):
            command.cls = ClerkCommand
    for group in app.registered_groups:
        if group.typer_instance is not None:
            use_clerk_commands(group.typer_instance)
