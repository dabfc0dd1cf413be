"""Bulk commands: generate a synthetic population, import a file of acts (docs/import.md).

`import` exit codes: 0 every row is in the ledger; 3 the import ran to the end but some rows
were rejected (each is in the rejects file); 2 bad arguments or an unreadable file (nothing
written); 1 the store is unreachable (a re-run resumes where the ledger stands).
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, BinaryIO, TextIO

import typer

from cli.options import GENERATE_PEOPLE_MAX, IMPORT_BATCH_MAX, SEED_MAX, between, whole_number
from cli.progress import ProgressBar
from cli.runtime import (
    DebugOpt,
    JsonOpt,
    StoreOpt,
    emit_json,
    note,
    open_register,
    stopped_by,
    stops_between_batches,
)
from domain.errors import InvalidInput
from domain.values import counted

#: Exit code when the import finished but rows were rejected (as a rule refusing an act).
EXIT_REJECTED = 3


class _ReadAhead:
    """How far an import has read its file, to estimate the share of it done.

    Reading runs a few batches ahead of reporting: the share done is the bytes read, scaled by
    the rows reported over the lines read. A pipe or a device has no size: then no share."""

    def __init__(self, total_bytes: int) -> None:
        self.total = total_bytes
        self.bytes = 0
        self.lines = 0

    def share(self, rows: int, final: bool = False) -> float | None:
        """The share of the file done once `rows` rows are reported; all of it when `final`
        (the import ran to the end of the file)."""
        if self.total <= 0:
            return None
        if final:
            return 1.0
        read = self.bytes * min(rows / self.lines, 1.0) if self.lines else 0.0
        return min(read / self.total, 1.0)


def _same_file(path: Path, source: os.stat_result) -> bool:
    """Whether `path` is the file already open as `source` (a hard link included)."""
    try:
        found = path.stat()
    except OSError:
        return False
    return (found.st_dev, found.st_ino) == (source.st_dev, source.st_ino)


def _partial_file(out: Path) -> tuple[TextIO, Path]:
    """A new file beside `out`, to be renamed to it once complete."""
    descriptor, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    return open(descriptor, "w", encoding="utf-8", newline="\n"), Path(name)


def _lines(handle: BinaryIO, read: _ReadAhead) -> Iterator[bytes]:
    for data in handle:
        read.bytes += len(data)
        read.lines += 1
        yield data


def cpus_available() -> int:
    """The most parse workers an import may ask for: the CPUs this process may use."""
    from importer.workers import available_cpus

    return available_cpus()


def register(app: typer.Typer) -> None:
    @app.command("generate")
    def generate(
        people: Annotated[
            int,
            typer.Option(
                "--people",
                metavar="N",
                parser=whole_number,
                callback=between(0, GENERATE_PEOPLE_MAX),
                help=f"How many distinct persons, 0 to {GENERATE_PEOPLE_MAX}.",
            ),
        ],
        seed: Annotated[
            int,
            typer.Option(
                "--seed",
                metavar="N",
                parser=whole_number,
                callback=between(0, SEED_MAX),
                help="Random seed, 0 to 2^63-1; the same seed gives the same bytes.",
            ),
        ],
        out: Annotated[
            Path | None,
            typer.Option("--out", help="Write to this file (default: stdout).", show_default=False),
        ] = None,
        json_out: Annotated[
            bool,
            typer.Option(
                "--json",
                help="With --out, print a JSON summary (without --out, stdout is already JSON).",
            ),
        ] = False,
        debug: DebugOpt = False,
    ) -> None:
        """Write a synthetic population as JSON Lines of acts (format: docs/import.md)."""
        from importer.synthetic import PopulationGenerator

        generator = PopulationGenerator(
            people, seed, residence=True, household_refs=True, cards=True
        )
        if out is None:
            stream = io.TextIOWrapper(
                sys.stdout.buffer, encoding="utf-8", newline="\n", write_through=False
            )
            try:
                generator.write(stream)
            finally:
                stream.flush()
                stream.detach()
            return
        # Written beside OUT under another name, then renamed: an interrupted run leaves no
        # truncated file that an import would take for a whole population.
        try:
            handle, partial = _partial_file(out)
        except OSError as error:
            raise InvalidInput(f"cannot write {out}: {error.strerror}") from None
        bar = ProgressBar("generating", sys.stderr.isatty() and not json_out, unit="people")
        try:
            with handle:
                rows = generator.write(handle, progress=bar)
            os.replace(partial, out)
        except BaseException as error:
            bar.close()
            partial.unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise InvalidInput(f"cannot write {out}: {error.strerror}") from None
            raise
        bar.close()
        if json_out:
            emit_json({"out": str(out), "people": people, "seed": seed, "rows": rows})
        else:
            note(f"wrote {counted(rows, 'act')} of {counted(people, 'person', 'people')} to {out}")

    @app.command("import")
    def import_(
        file: Annotated[Path, typer.Argument(help="JSON Lines of acts (docs/import.md).")],
        rejects: Annotated[
            Path | None,
            typer.Option(
                "--rejects",
                help="Where rejected rows go, one JSON object per line "
                "with line and reason (default: FILE.rejects.jsonl).",
                show_default=False,
            ),
        ] = None,
        batch: Annotated[
            int,
            typer.Option(
                "--batch",
                metavar="N",
                parser=whole_number,
                callback=between(1, IMPORT_BATCH_MAX),
                help=f"Rows per transaction, 1 to {IMPORT_BATCH_MAX}.",
            ),
        ] = 2000,
        parse_workers: Annotated[
            int | None,
            typer.Option(
                "--parse-workers",
                metavar="N",
                parser=whole_number,
                callback=between(0, cpus_available),
                help="Processes validating rows ahead of the one deciding them, 0 to the "
                "number of CPUs this process may use; 0 validates in the importing process "
                "(default: 1 on a machine with more than one CPU).",
                show_default=False,
            ),
        ] = None,
        store: StoreOpt = None,
        json_out: JsonOpt = False,
        debug: DebugOpt = False,
    ) -> None:
        """Import acts in bulk: each row is judged as a clerk's act; re-runs append nothing."""
        from importer.pipeline import ImportTally, importer_for
        from importer.rows import Rejected, numbered_lines

        rejects_path = rejects or file.with_name(file.name + ".rejects.jsonl")
        try:
            handle = file.open("rb")
        except OSError as error:
            raise InvalidInput(f"cannot read {file}: {error.strerror}") from None
        with handle:
            source = os.fstat(handle.fileno())
            if rejects is None and not stat.S_ISREG(source.st_mode):
                raise InvalidInput(
                    f"{file} is not a regular file (a pipe or a device): give --rejects"
                )
            if rejects_path.resolve() == file.resolve() or _same_file(rejects_path, source):
                raise InvalidInput("the rejects file must not be the input file")
            existed = rejects_path.exists()
            try:  # appending: a bad path is found before the store is touched, and the
                # last run's rejects are kept until the store has been reached
                sink = rejects_path.open("a", encoding="utf-8")
            except OSError as error:
                raise InvalidInput(f"cannot write {rejects_path}: {error.strerror}") from None
            with sink:
                try:
                    importer = importer_for(open_register(store), batch, parse_workers)
                except BaseException:
                    if not existed:
                        rejects_path.unlink(missing_ok=True)
                    raise
                sink.truncate(0)
                size = source.st_size if stat.S_ISREG(source.st_mode) else 0
                read = _ReadAhead(size)
                bar = ProgressBar("importing", not json_out and sys.stderr.isatty(), unit="rows")
                started = time.monotonic()

                def reject(item: Rejected) -> None:
                    sink.write(
                        json.dumps(
                            {"line": item.line, "reason": item.reason, "row": item.text},
                            ensure_ascii=False,
                        )
                        + "\n"
                    )

                def after_batch(tally: ImportTally) -> None:
                    sink.flush()
                    bar.show(tally.rows, read.share(tally.rows))

                with bar, stops_between_batches() as stop:
                    tally = importer.run(
                        numbered_lines(_lines(handle, read)), reject, after_batch, stop
                    )
                    bar.show(
                        tally.rows, read.share(tally.rows, final=not tally.stopped), force=True
                    )
        seconds = time.monotonic() - started
        summary = {
            "file": str(file),
            **tally.as_document(),
            "stopped": tally.stopped,
            "rejects_file": str(rejects_path),
            "seconds": round(seconds, 3),
            "rows_per_second": round(tally.rows / seconds) if seconds > 0 else None,
        }
        # Stopped by Ctrl-C or SIGTERM between batches, the summary says what is committed (a
        # re-run does the rest), then the command ends as the signal ends it (130, 143).
        if json_out:
            emit_json(summary)
        else:
            typer.echo(
                f"{counted(tally.rows, 'row')}: {tally.recorded} recorded, "
                f"{tally.already_recorded} already recorded, {tally.rejected} rejected "
                f"({rejects_path}); {counted(tally.events, 'event')} in {seconds:.1f}s"
                + ("; stopped before the end of the file" if tally.stopped else "")
            )
        if tally.stopped:
            sys.stdout.flush()
            raise stopped_by()
        if tally.rejected:
            sys.exit(EXIT_REJECTED)  # not typer.Exit: the app runs click non-standalone
