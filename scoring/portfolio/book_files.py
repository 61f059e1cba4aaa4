"""The files of a book's run: the output and errors file written as ``.partial`` files
in book order (:class:`BookFiles`), the work folder (``<output>.parts/``) with each
chunk's parts and the settings of the run it belongs to, and the input's hash.

Every file here is written through a ``.partial`` name created exclusively and never
through a symlink (:mod:`scoring._outputs`), and renamed into place when complete;
:func:`book_outputs` lists them all, for the check that no output is an input.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from scoring._outputs import (
    check_outputs,
    create_new,
    is_real_folder,
    lock_path,
    make_folder,
    write_through,
)
from scoring.errors import InputError, Issue
from scoring.portfolio.batch import book_schema, dictionary_columns
from scoring.portfolio.book_advice import ADVICE_SCHEMA
from scoring.responses.validation import ISSUE_COLUMNS
from scoring.vocabulary import Reason, Severity

MANIFEST_SUFFIX = ".manifest.json"
OUTPUT_SUFFIXES = (".parquet", ".csv")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def check_output(output: Path) -> None:
    """Refuse an output whose type cannot be written (before any work is done)."""
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(
            [
                Issue(
                    Reason.UNREADABLE_FILE,
                    f"the output must be {' or '.join(OUTPUT_SUFFIXES)}",
                    source=str(output),
                    value=output.suffix or "(none)",
                )
            ]
        )


def errors_path_for(output: Path) -> Path:
    """The default errors file beside an output: ``out.parquet`` -> ``out.errors.csv``."""
    return output.with_name(output.stem + ".errors.csv")


def warnings_path_for(output: Path) -> Path:
    """The warnings file beside an output: ``out.parquet`` -> ``out.warnings.csv``."""
    return output.with_name(output.stem + ".warnings.csv")


def parts_path_for(output: Path) -> Path:
    """The work folder of a run writing ``output``."""
    return output.with_name(output.name + ".parts")


def book_outputs(
    output: Path, errors: Path | None = None, advice: Path | None = None
) -> tuple[dict[str, Path], dict[str, Path]]:
    """Every file a run writing ``output`` makes (by role), and its work folder: what
    :func:`~scoring._outputs.check_outputs` compares with the inputs."""
    errors = errors or errors_path_for(output)
    warnings = warnings_path_for(output)
    files = {
        "the output": output,
        "the errors file": errors,
        "the warnings file": warnings,
        "the manifest": output.with_name(output.name + MANIFEST_SUFFIX),
        "the output's .partial file": output.with_name(output.name + ".partial"),
        "the errors file's .partial file": errors.with_name(errors.name + ".partial"),
        "the warnings file's .partial file": warnings.with_name(warnings.name + ".partial"),
        "the manifest's .partial file": output.with_name(
            output.name + MANIFEST_SUFFIX + ".partial"
        ),
        "the output's lock file": lock_path(output),
        "the errors file's lock file": lock_path(errors),
    }
    if advice is not None:
        files["the advice file"] = advice
        files["the advice file's .partial file"] = advice.with_name(advice.name + ".partial")
    return files, {"the work folder": parts_path_for(output)}


def check_book_paths(
    source: Path, output: Path, errors: Path | None = None, advice: Path | None = None
) -> None:
    """Refuse outputs that are the book or one another (``PathClashError``)."""
    files, folders = book_outputs(output, errors, advice)
    check_outputs({"the book": source}, files, folders)


def file_stamp(path: Path) -> list[int]:
    """Size and modification time: whether a file changed since it was fingerprinted."""
    status = path.stat()
    return [status.st_size, status.st_mtime_ns]


KINDS = ("scored", "errors")
"""A chunk's parts, in the order :class:`_Part` holds them."""


def part_path(parts: Path, kind: str, index: int) -> Path:
    """A chunk's part in the work folder: ``kind`` is ``scored`` or ``errors``."""
    return parts / f"{kind}-{index:06d}.arrow"


def write_part(table: pa.Table, path: Path) -> None:
    """A chunk's part as an Arrow file, written aside and renamed."""

    def write(sink: BinaryIO) -> None:
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)

    write_through(path, write)


def read_part(path: Path) -> pa.Table:
    with pa.OSFile(str(path), "rb") as source:
        return pa.ipc.open_file(source).read_all()


def read_parts(parts: Path, index: int) -> tuple[pa.Table, pa.Table]:
    """A finished chunk's scored rows and errors, as its parts hold them."""
    scored, errors = (read_part(part_path(parts, kind, index)) for kind in KINDS)
    return scored, errors


def read_advice_part(parts: Path, index: int, advice: bool) -> pa.Table | None:
    """A finished chunk's advice rows, when the run writes advice (else None)."""
    return read_part(part_path(parts, "advice", index)) if advice else None


def has_parts(parts: Path, index: int, advice: bool = False) -> bool:
    """Whether a chunk's scored and errors parts (and its advice, when the run writes
    advice) are all complete."""
    kinds = (*KINDS, "advice") if advice else KINDS
    return all(part_path(parts, kind, index).is_file() for kind in kinds)


def _safe_text(column: pa.Array) -> pa.Array:
    """Text a spreadsheet would run as a formula, prefixed with ' so it stays text."""
    values = column.to_pylist()
    return pa.array(
        ["'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v for v in values],
        column.type,
    )


def _for_csv(table: pa.Table) -> pa.Table:
    columns = [
        _safe_text(column.combine_chunks()) if pa.types.is_string(column.type) else column
        for column in table.columns
    ]
    return pa.Table.from_arrays(columns, names=table.column_names)


ERRORS_SCHEMA = pa.schema(
    [pa.field(name, pa.int64() if name == "row" else pa.string()) for name in ISSUE_COLUMNS]
)


def errors_table(frame: pd.DataFrame) -> pa.Table:
    """A chunk's errors (columns of ``ISSUE_COLUMNS``) as a table of ``ERRORS_SCHEMA``."""
    frame = frame.reindex(columns=list(ISSUE_COLUMNS)).reset_index(drop=True)
    arrays = []
    for field_ in ERRORS_SCHEMA:
        column = frame[field_.name]
        if field_.name == "row":
            arrays.append(pa.array(column.astype("Int64"), pa.int64(), from_pandas=True))
        else:
            values = column.astype("object").where(column.notna(), None)
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
    return pa.Table.from_arrays(arrays, schema=ERRORS_SCHEMA)


class BookFiles:
    """The output, the errors file and the warnings file of a run, written chunk by
    chunk in book order under names ending ``.partial``, and renamed into place by
    :meth:`commit` - so no file that looks complete exists before the run is.

    The errors file holds the errors of the rejected rows; the warnings file
    (:func:`warnings_path_for`), with the same columns, every warning (a warned row
    is scored)."""

    def __init__(self, output: Path, errors: Path, advice: Path | None = None) -> None:
        self.output, self.errors, self.advice = output, errors, advice
        self.warnings = warnings_path_for(output)
        self.rows_warned = 0
        """Scored rows with at least one warning, so far."""
        self._output_aside = output.with_name(output.name + ".partial")
        self._errors_aside = errors.with_name(errors.name + ".partial")
        self._warnings_aside = self.warnings.with_name(self.warnings.name + ".partial")
        self._advice_aside = advice.with_name(advice.name + ".partial") if advice else None
        self._advice_writer: pacsv.CSVWriter | None = None
        self._csv = output.suffix.lower() != ".parquet"
        schema = book_schema()
        # created exclusively, never through a symlink planted at the .partial name
        self._sinks: list[BinaryIO] = []
        try:
            self._errors_writer = pacsv.CSVWriter(self._sink(self._errors_aside), ERRORS_SCHEMA)
            self._warnings_writer = pacsv.CSVWriter(self._sink(self._warnings_aside), ERRORS_SCHEMA)
            if self._advice_aside is not None:
                self._advice_writer = pacsv.CSVWriter(self._sink(self._advice_aside), ADVICE_SCHEMA)
            self._output_writer: pq.ParquetWriter | pacsv.CSVWriter = (
                pacsv.CSVWriter(self._sink(self._output_aside), schema)
                if self._csv
                else pq.ParquetWriter(
                    self._sink(self._output_aside),
                    schema,
                    use_dictionary=dictionary_columns(schema),
                )
            )
        except BaseException:
            for sink in self._sinks:
                sink.close()
            asides = [self._errors_aside, self._warnings_aside]
            if self._advice_aside is not None:
                asides.append(self._advice_aside)
            for aside in [*asides, self._output_aside][: len(self._sinks)]:
                aside.unlink(missing_ok=True)
            raise

    def _sink(self, path: Path) -> BinaryIO:
        sink = create_new(path)
        self._sinks.append(sink)
        return sink

    def add(self, scored: pa.Table, issues: pa.Table, advice: pa.Table | None = None) -> None:
        """The next chunk's scored rows and issues (errors and warnings, each written to
        its own file), and its advice rows when the run writes advice."""
        if self._advice_writer is not None and advice is not None:
            self._advice_writer.write_table(_for_csv(advice))
        self._output_writer.write_table(_for_csv(scored) if self._csv else scored)
        if scored.num_rows:
            self.rows_warned += int(pc.sum(pc.greater(scored["warnings"], 0)).as_py() or 0)
        warned = pc.equal(issues["severity"], Severity.WARNING.value)
        self._errors_writer.write_table(_for_csv(issues.filter(pc.invert(warned))))
        self._warnings_writer.write_table(_for_csv(issues.filter(warned)))

    def commit(self) -> None:
        self._close()
        self._errors_aside.replace(self.errors)
        self._warnings_aside.replace(self.warnings)
        if self._advice_aside is not None and self.advice is not None:
            self._advice_aside.replace(self.advice)
        self._output_aside.replace(self.output)

    def abort(self) -> None:
        """Close and remove the unfinished files (best effort: the run is failing)."""
        with contextlib.suppress(OSError, ValueError, pa.ArrowException):
            self._close()
        asides = (self._output_aside, self._errors_aside, self._warnings_aside, self._advice_aside)
        for aside in filter(None, asides):
            with contextlib.suppress(OSError):
                aside.unlink(missing_ok=True)

    def _close(self) -> None:
        try:
            self._output_writer.close()
            self._errors_writer.close()
            self._warnings_writer.close()
            if self._advice_writer is not None:
                self._advice_writer.close()
        finally:
            for sink in self._sinks:
                sink.close()


def parts_folder(output: Path, settings: dict[str, Any], resume: bool) -> tuple[Path, bool]:
    """The work folder for this output; kept only when resuming the very same run.

    A folder without its settings has no parts (they are written after the settings,
    :func:`write_settings`), so there is nothing to resume in it; it is started afresh.
    So is a folder whose settings cannot be read (not written by a run), or a symlink
    in the work folder's place (never followed).
    """
    parts = parts_path_for(output)
    state = parts / "settings.json"
    if resume and is_real_folder(parts) and state.is_file() and not state.is_symlink():
        try:
            found = json.loads(state.read_bytes())
        except (OSError, ValueError):
            found = None  # unreadable: no part in it can be trusted; started afresh
        if found == settings:
            return parts, True
        if found is not None:
            raise InputError(
                [
                    Issue(
                        Reason.UNREADABLE_FILE,
                        "cannot resume: the unfinished run in this folder was for another "
                        "input, model, rating plan or settings; run again without --resume",
                        source=str(parts),
                    )
                ]
            )
    fresh_parts_folder(output)
    write_settings(parts, settings)
    return parts, False


def fresh_parts_folder(output: Path) -> Path:
    """An empty work folder for this output, made exclusively (an unfinished run's is
    removed; a symlink in its place is removed, never followed)."""
    return make_folder(parts_path_for(output))


def write_settings(parts: Path, settings: dict[str, Any]) -> None:
    """The settings of the run a work folder belongs to, written before any part."""

    def write(sink: BinaryIO) -> None:
        sink.write(json.dumps(settings, indent=1, sort_keys=True).encode("utf-8"))

    write_through(parts / "settings.json", write)
