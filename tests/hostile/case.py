"""What a hostile case is: the files it builds, the commands it is run with, and what
those commands must do (exit code, message, files left as they were)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.hostile import files

COMMANDS = ("validate", "score", "batch", "compare")
AS_OF = "2026-11-29"
OUTPUT = "scored.parquet"
"""The output of ``batch`` in a case's folder."""

Check = Callable[[Path, str], None]
"""A further check after a run: given the case's folder and the run's output text."""


@dataclass(frozen=True)
class Setup:
    """What a case built: a command line per command, and what the output must say."""

    argv: dict[str, list[str]]
    names: tuple[str, ...] = ()
    """The message names at least one of these (the file, as given or resolved)."""
    also: tuple[str, ...] = ()
    """The output holds every one of these too (a row, a rule id, a name shown literally)."""
    never: tuple[str, ...] = ()
    """False or internal messages the output must not hold."""
    outputs_allowed: bool = False
    """Whether the run may add files (otherwise the folder must be exactly as built)."""
    check: Check | None = None


@dataclass(frozen=True)
class Case:
    """One class of hostile input, the commands it is run with, and the expected exit."""

    name: str
    issue: str
    commands: tuple[str, ...]
    build: Callable[[Path, Path], Setup] = field(repr=False)
    """``build(folder, scored_book)``: make the files; ``scored_book`` is a good batch output."""
    codes: frozenset[int] = frozenset({1})
    seconds: float = 30.0
    slow: bool = False


def standard_argv(path: Path, folder: Path, scored_book: Path) -> dict[str, list[str]]:
    """Each command run on ``path`` the ordinary way (outputs in ``folder``)."""
    as_of = ["--as-of", AS_OF]
    return {
        "validate": ["validate", str(path), *as_of],
        "score": ["score", str(path), *as_of],
        "batch": [
            "batch",
            str(path),
            "-o",
            str(folder / OUTPUT),
            "--quiet",
            "--threads",
            "1",
            *as_of,
        ],
        "compare": ["compare", str(path), str(scored_book), "--html", str(folder / "moves.html")],
    }


def file_case(make: Callable[[Path], Path], **setup: object) -> Callable[[Path, Path], Setup]:
    """A builder for a case that is one input file, run the standard way."""

    def build(folder: Path, scored_book: Path) -> Setup:
        path = make(folder)
        return Setup(
            argv=standard_argv(path, folder, scored_book),
            names=(path.name, str(path.resolve())),
            **setup,  # type: ignore[arg-type]
        )

    return build


def rows_in_errors_file(folder: Path, output: str) -> None:
    """The errors file names the spreadsheet rows of the invalid facilities."""
    import csv

    path = folder / "scored.errors.csv"
    assert path.is_file(), f"no errors file; output: {output}"
    with path.open(newline="", encoding="utf-8") as errors:
        found = {int(row["row"]) for row in csv.DictReader(errors)}
    assert found == set(files.BAD_ROWS), f"errors file rows {sorted(found)}, not {files.BAD_ROWS}"


def name_in_scored_csv(name: str) -> Check:
    """The scored CSV shows ``name`` exactly as given."""

    def check(folder: Path, output: str) -> None:
        import csv

        path = folder / "scored.csv"
        assert path.is_file(), f"no output; output: {output}"
        with path.open(newline="", encoding="utf-8") as scored:
            names = {row["facility_name"] for row in csv.DictReader(scored)}
        assert name in names, f"{name!r} not among the names written: {sorted(names)[:5]}"

    return check


def long_name_whole(folder: Path, output: str) -> None:
    """The long column's name is shown whole, or not at all (the header refused as too long)."""
    import re

    runs = {len(run) for run in re.findall(r"n{1000,}", output)}
    assert runs <= {files.LONG_NAME}, f"the long column is named with {sorted(runs)} characters"


def no_partial_files(folder: Path, output: str) -> None:
    """Nothing that looks like an unfinished output is left."""
    left = sorted(p.name for p in folder.rglob("*") if p.name.endswith(".partial"))
    assert not left, f"left behind: {left}"
