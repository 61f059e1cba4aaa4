"""The hostile-input corpus: one small file (or setup) per class of input that must not
destroy data, hang, exhaust memory or end in an internal error.

Each :class:`Case` names the commands it applies to and what they must do; its ``build``
makes the files in a given folder and returns the command lines (:class:`Setup`).
Bombs are built small and declared large: a zip member that decompresses to gigabytes
is a few megabytes on disk (``tests/hostile/zipfiles.py``), a Parquet row group of
millions of rows is a dictionary of one value.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.hostile import books, files

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


# --- outputs that would overwrite inputs (usage errors, exit 2) -----------------------


def _book(folder: Path, name: str = "in.csv") -> Path:
    return books.write_book_csv(folder / name)


def _batch(source: Path, output: Path, *extra: str) -> list[str]:
    return ["batch", str(source), "-o", str(output), "--quiet", "--threads", "1",
            "--as-of", AS_OF, *extra]  # fmt: skip


def clash(make: Callable[[Path, Path], tuple[list[str], Path]]) -> Callable[[Path, Path], Setup]:
    """A builder for a clash: ``make`` gives the command line and the path it clashes on."""

    def build(folder: Path, scored_book: Path) -> Setup:
        argv, clashing = make(folder, scored_book)
        command = argv[0]
        return Setup(argv={command: argv}, names=(clashing.name, str(clashing.resolve())))

    return build


def _output_is_input(folder: Path, _: Path) -> tuple[list[str], Path]:
    book = _book(folder)
    return _batch(book, book), book


def _errors_is_input(folder: Path, _: Path) -> tuple[list[str], Path]:
    book = _book(folder)
    return _batch(book, folder / OUTPUT, "--errors", str(book)), book


def _default_errors_is_input(folder: Path, _: Path) -> tuple[list[str], Path]:
    book = _book(folder, "x.errors.csv")
    return _batch(book, folder / "x.csv"), book


def _errors_is_output(folder: Path, _: Path) -> tuple[list[str], Path]:
    book = _book(folder)
    out = folder / "out.csv"
    return _batch(book, out, "--errors", str(out)), out


def _output_hard_link(folder: Path, _: Path) -> tuple[list[str], Path]:
    book = _book(folder)
    link = folder / "linked.csv"
    os.link(book, link)
    return _batch(book, link), link


def _output_symlink(folder: Path, _: Path) -> tuple[list[str], Path]:
    book = _book(folder)
    link = folder / "pointing.csv"
    link.symlink_to(book.name)
    return _batch(book, link), link


def _html_is_applicant(folder: Path, _: Path) -> tuple[list[str], Path]:
    applicant = folder / "app.yaml"
    applicant.write_text(books.applicant_text(), encoding="utf-8")
    return ["score", str(applicant), "--as-of", AS_OF, "--html", str(applicant)], applicant


def _books_to_compare(folder: Path, scored_book: Path) -> tuple[Path, Path]:
    before, after = folder / "a.parquet", folder / "b.parquet"
    shutil.copyfile(scored_book, before)
    shutil.copyfile(scored_book, after)
    return before, after


def _html_is_compared_book(folder: Path, scored_book: Path) -> tuple[list[str], Path]:
    before, after = _books_to_compare(folder, scored_book)
    return ["compare", str(before), str(after), "--html", str(before)], before


def _csv_is_compared_book(folder: Path, scored_book: Path) -> tuple[list[str], Path]:
    before, after = _books_to_compare(folder, scored_book)
    return ["compare", str(before), str(after), "--csv", str(after)], after


def _html_is_csv(folder: Path, scored_book: Path) -> tuple[list[str], Path]:
    before, after = _books_to_compare(folder, scored_book)
    report = folder / "moves.out"
    return ["compare", str(before), str(after), "--html", str(report), "--csv", str(report)], report


# --- work files planted beside the output ---------------------------------------------


def _planted_partial(folder: Path, scored_book: Path) -> Setup:
    """``scored.parquet.partial`` is a link to a file the run must not write through."""
    book = _book(folder)
    victim = folder / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    (folder / f"{OUTPUT}.partial").symlink_to(victim.name)
    return Setup(argv={"batch": _batch(book, folder / OUTPUT)}, outputs_allowed=True)


def _planted_parts(folder: Path, scored_book: Path) -> Setup:
    """``scored.parquet.parts`` is a link to a folder the run must not empty."""
    book = _book(folder)
    victim = folder / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep me\n", encoding="utf-8")
    (folder / f"{OUTPUT}.parts").symlink_to(victim.name)
    return Setup(argv={"batch": _batch(book, folder / OUTPUT)}, outputs_allowed=True)


def _corrupt_settings(folder: Path, scored_book: Path) -> Setup:
    """An unfinished run's settings file is not JSON; ``--resume`` must not crash on it."""
    book = _book(folder)
    parts = folder / f"{OUTPUT}.parts"
    parts.mkdir()
    (parts / "settings.json").write_text('{"as_of": "2026-11-29", ', encoding="utf-8")
    return Setup(
        argv={"batch": _batch(book, folder / OUTPUT, "--resume")},
        outputs_allowed=True,
        check=no_partial_files,
    )


def _html_nowhere(where: str) -> Callable[[Path, Path], Setup]:
    """``score --html`` into a folder that does not exist, or below a regular file."""

    def build(folder: Path, scored_book: Path) -> Setup:
        applicant = folder / "app.yaml"
        applicant.write_text(books.applicant_text(), encoding="utf-8")
        if where == "under-a-file":
            (folder / "a-file").write_text("not a folder\n", encoding="utf-8")
            report = folder / "a-file" / "report.html"
        else:
            report = folder / "missing" / "report.html"
        argv = ["score", str(applicant), "--as-of", AS_OF, "--html", str(report)]
        return Setup(argv={"score": argv}, names=("report.html",))

    return build


# --- models and rating plans checked when loaded --------------------------------------

MODEL = "model-under-test"
PLAN = "plan-under-test.yaml"


def _perils(model: dict[str, Any]) -> dict[str, Any]:
    return model["perils"]  # type: ignore[no-any-return]


def _first_frequency(model: dict[str, Any]) -> dict[str, Any]:
    return next(iter(_perils(model).values()))["frequency"]  # type: ignore[no-any-return]


def _set_coefficient(value: float) -> Callable[[dict[str, Any]], None]:
    def edit(model: dict[str, Any]) -> None:
        coefficients = _first_frequency(model)["coefficients"]
        index = next(i for i, c in enumerate(coefficients) if c != 0.0)
        coefficients[index] = value

    return edit


def _raise_intercept(model: dict[str, Any]) -> None:
    _first_frequency(model)["intercept"] += 50.0


def _no_perils(model: dict[str, Any]) -> None:
    model["perils"] = {}


def _unknown_version(model: dict[str, Any]) -> None:
    model["questionnaire"]["version"] = "9.9.9"


def model_case(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path, Path], Setup]:
    """``score`` with a copy of the default model edited and hashed again (``-m``)."""

    def build(folder: Path, scored_book: Path) -> Setup:
        model = books.model_folder(folder / MODEL, edit)
        applicant = folder / "app.yaml"
        applicant.write_text(books.applicant_text(), encoding="utf-8")
        argv = ["score", str(applicant), "--as-of", AS_OF, "-m", str(model)]
        return Setup(argv={"score": argv}, names=(MODEL, "model.json", "manifest.json"))

    return build


def _manifest_outside(folder: Path, scored_book: Path) -> Setup:
    """The manifest lists ``../outside.txt``, correctly hashed: a file outside the folder."""
    setup = model_case(lambda model: None)(folder, scored_book)
    outside = folder / "outside.txt"
    outside.write_text("not part of the model\n", encoding="utf-8")
    manifest_path = folder / MODEL / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["sha256"]["../outside.txt"] = books.sha256(outside)
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return setup


def plan_case(text: Callable[[], str], rule: str | None = None) -> Callable[[Path, Path], Setup]:
    """``score --rating-plan`` with a plan made by ``text``; ``rule`` is named in the message."""

    def build(folder: Path, scored_book: Path) -> Setup:
        plan = folder / PLAN
        plan.write_text(text(), encoding="utf-8")
        applicant = folder / "app.yaml"
        applicant.write_text(books.applicant_text(), encoding="utf-8")
        argv = ["score", str(applicant), "--as-of", AS_OF, "--rating-plan", str(plan)]
        return Setup(argv={"score": argv}, names=(PLAN,), also=(rule,) if rule else ())

    return build


def _huge_money() -> str:
    text = books.plan_text()
    for old, new in (
        ("fixed_per_policy: 250", "fixed_per_policy: 1.7e+308"),
        ("{code: limit_5m, amount: 5000000}", "{code: limit_5m, amount: 1.0e+308}"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    return text


def _rule(rule_id: str, when: str) -> Callable[[Path, Path], Setup]:
    return plan_case(lambda: books.plan_with_rule(rule_id, when), rule_id)


DEEP = "(" * 500 + "${rdp_exposed} = 'yes'" + ")" * 500

_BOOK_COMMANDS = ("validate", "batch")


def _markup(name: str) -> Callable[[Path, Path], Setup]:
    """A facility name that rich would read as markup: shown literally by score."""

    def build(folder: Path, scored_book: Path) -> Setup:
        applicant = files.applicant_named(name)(folder)
        argv = {"score": ["score", str(applicant), "--as-of", AS_OF]}
        return Setup(argv=argv, also=(name,), outputs_allowed=True)

    return build


def _markup_in_book(name: str) -> Callable[[Path, Path], Setup]:
    """The same name in a book: written as given to the scored CSV."""

    def build(folder: Path, scored_book: Path) -> Setup:
        book = files.csv_book_with_name(name)(folder)
        argv = {"batch": _batch(book, folder / "scored.csv")}
        return Setup(argv=argv, outputs_allowed=True, check=name_in_scored_csv(name))

    return build


def _compare_not_utf8(folder: Path, scored_book: Path) -> Setup:
    path = files.scored_book_invalid_utf8(folder, scored_book)
    return Setup(argv=standard_argv(path, folder, scored_book), names=(path.name,))


CASES: tuple[Case, ...] = (
    # 3, 4, 5. workbooks
    Case(
        "xlsx-shared-strings-bomb",
        "3 memory",
        ("validate", "batch"),
        file_case(files.xlsx_shared_strings_bomb),
    ),
    Case("xlsx-zip-bomb", "3 memory", ("validate", "score"), file_case(files.xlsx_zip_bomb)),
    Case(
        "xlsx-entity-expansion",
        "5 internal error",
        ("validate", "batch"),
        file_case(files.xlsx_entity_expansion),
    ),
    Case(
        "xlsx-truncated-sheet",
        "5 internal error",
        ("validate", "score"),
        file_case(files.xlsx_truncated_sheet),
    ),
    Case(
        "xlsx-bad-workbook-part",
        "5 internal error",
        ("validate", "batch"),
        file_case(files.xlsx_bad_workbook_part),
    ),
    Case("xlsx-too-many-parts", "3 memory", ("validate",), file_case(files.xlsx_too_many_parts)),
    Case("xlsx-far-cell", "4 hang", ("validate", "batch"), file_case(files.xlsx_far_cell)),
    Case(
        "xlsx-stray-note",
        "5 internal error",
        ("validate", "score", "batch"),
        file_case(files.xlsx_stray_note),
    ),
    # 3, 5. Parquet
    Case(
        "parquet-rows-bomb",
        "3 memory",
        ("validate", "score", "batch"),
        file_case(files.parquet_rows_bomb),
        codes=frozenset({1}),
        seconds=60.0,
    ),
    Case(
        "parquet-long-cells", "3 memory", ("validate", "batch"), file_case(files.parquet_long_cells)
    ),
    Case(
        "parquet-invalid-utf8",
        "5 internal error",
        ("validate", "score", "batch"),
        file_case(files.parquet_invalid_utf8),
    ),
    Case("scored-book-invalid-utf8", "5 internal error", ("compare",), _compare_not_utf8),
    # 3, 4. devices and FIFOs behind ordinary names
    Case(
        "dev-zero-csv",
        "3 memory, 4 hang",
        ("validate", "batch", "compare"),
        file_case(files.device("zero.csv")),
    ),
    Case("dev-zero-yaml", "3 memory", ("validate", "score"), file_case(files.device("zero.yaml"))),
    Case("dev-zero-json", "3 memory", ("score",), file_case(files.device("zero.json"))),
    Case("dev-zero-xlsx", "3 memory", ("validate", "batch"), file_case(files.device("zero.xlsx"))),
    Case(
        "dev-zero-parquet",
        "3 memory",
        ("validate", "compare"),
        file_case(files.device("zero.parquet")),
    ),
    Case("fifo-csv", "4 hang", COMMANDS, file_case(files.fifo("book.csv"))),
    Case("fifo-yaml", "4 hang", ("validate", "score"), file_case(files.fifo("app.yaml"))),
    Case("fifo-xlsx", "4 hang", ("batch",), file_case(files.fifo("book.xlsx"))),
    Case("fifo-parquet", "4 hang", ("compare",), file_case(files.fifo("book.parquet"))),
    # 5. documents
    Case(
        "yaml-huge-integer",
        "5 internal error",
        ("validate", "score"),
        file_case(files.yaml_huge_integer),
    ),
    Case("yaml-deep-nesting", "3 memory", ("validate",), file_case(files.yaml_deep_nesting)),
    Case("yaml-aliases", "3 memory", ("score",), file_case(files.yaml_aliases)),
    Case("json-deep-nesting", "3 memory", ("validate",), file_case(files.json_deep_nesting)),
    # 7. CSV and row numbers
    Case(
        "csv-long-header",
        "7 false messages",
        _BOOK_COMMANDS,
        file_case(
            files.csv_long_header,
            never=("appears more than once", "cells; the header"),
            outputs_allowed=True,
            check=long_name_whole,
        ),
        codes=frozenset({0, 1}),
    ),
    Case(
        "csv-long-line",
        "7 false messages",
        _BOOK_COMMANDS,
        file_case(files.csv_long_line, never=("straddl", "block"), outputs_allowed=True),
        seconds=60.0,
        slow=True,
    ),
    Case(
        "csv-blank-lines",
        "7 row numbers",
        ("validate",),
        file_case(files.csv_blank_lines, also=("row 4 (", "row 7 (")),
    ),
    Case(
        "csv-blank-lines-errors-file",
        "7 row numbers",
        ("batch",),
        file_case(files.csv_blank_lines, outputs_allowed=True, check=rows_in_errors_file),
    ),
    Case(
        "xlsx-blank-rows",
        "7 row numbers",
        ("validate",),
        file_case(files.xlsx_blank_rows, also=("row 4 (", "row 7 (")),
    ),
    Case(
        "xlsx-blank-rows-errors-file",
        "7 row numbers",
        ("batch",),
        file_case(files.xlsx_blank_rows, outputs_allowed=True, check=rows_in_errors_file),
    ),
    # 5. names shown literally
    Case(
        "markup-closing-tag",
        "5 internal error",
        ("score",),
        _markup("Smith [/] Jones"),
        codes=frozenset({0}),
    ),
    Case(
        "markup-link",
        "5 names literal",
        ("score",),
        _markup("[link=https://example.org]x[/link]"),
        codes=frozenset({0}),
    ),
    Case(
        "markup-in-book",
        "5 names literal",
        ("batch",),
        _markup_in_book("Smith [/] Jones [link=https://example.org]x[/link]"),
        codes=frozenset({0}),
    ),
    # 1. outputs that would overwrite inputs
    Case(
        "batch-output-is-input", "1 overwrite", ("batch",), clash(_output_is_input), frozenset({2})
    ),
    Case(
        "batch-errors-is-input", "1 overwrite", ("batch",), clash(_errors_is_input), frozenset({2})
    ),
    Case(
        "batch-default-errors-is-input",
        "1 overwrite",
        ("batch",),
        clash(_default_errors_is_input),
        frozenset({2}),
    ),
    Case(
        "batch-errors-is-output",
        "1 overwrite",
        ("batch",),
        clash(_errors_is_output),
        frozenset({2}),
    ),
    Case(
        "batch-output-hard-link",
        "1 overwrite",
        ("batch",),
        clash(_output_hard_link),
        frozenset({2}),
    ),
    Case("batch-output-symlink", "1 overwrite", ("batch",), clash(_output_symlink), frozenset({2})),
    Case(
        "score-html-is-applicant",
        "1 overwrite",
        ("score",),
        clash(_html_is_applicant),
        frozenset({2}),
    ),
    Case(
        "compare-html-is-book",
        "1 overwrite",
        ("compare",),
        clash(_html_is_compared_book),
        frozenset({2}),
    ),
    Case(
        "compare-csv-is-book",
        "1 overwrite",
        ("compare",),
        clash(_csv_is_compared_book),
        frozenset({2}),
    ),
    Case("compare-html-is-csv", "1 overwrite", ("compare",), clash(_html_is_csv), frozenset({2})),
    # 2, 5. work files
    Case(
        "batch-partial-symlink",
        "2 concurrent runs",
        ("batch",),
        _planted_partial,
        frozenset({0, 1, 2}),
    ),
    Case(
        "batch-parts-symlink", "2 concurrent runs", ("batch",), _planted_parts, frozenset({0, 1, 2})
    ),
    Case(
        "batch-resume-corrupt-settings",
        "5 internal error",
        ("batch",),
        _corrupt_settings,
        frozenset({0, 1}),
    ),
    Case("score-html-missing-folder", "5 internal error", ("score",), _html_nowhere("missing")),
    Case("score-html-under-a-file", "5 internal error", ("score",), _html_nowhere("under-a-file")),
    # 6. models and plans checked when loaded
    Case(
        "model-coefficient-1e300",
        "6 load-time checks",
        ("score",),
        model_case(_set_coefficient(1e300)),
    ),
    Case(
        "model-coefficient-minus-inf",
        "6 load-time checks",
        ("score",),
        model_case(_set_coefficient(float("-inf"))),
    ),
    Case("model-intercept-plus-50", "6 load-time checks", ("score",), model_case(_raise_intercept)),
    Case("model-no-perils", "6 load-time checks", ("score",), model_case(_no_perils)),
    Case(
        "model-unknown-questionnaire-version",
        "6 load-time checks",
        ("score",),
        model_case(_unknown_version),
    ),
    Case("model-manifest-outside-folder", "6 load-time checks", ("score",), _manifest_outside),
    Case("plan-money-near-1e308", "6 load-time checks", ("score",), plan_case(_huge_money)),
    Case("plan-rule-500-levels-deep", "6 load-time checks", ("score",), _rule("deep_rule", DEEP)),
    Case(
        "plan-selected-of-yes-no",
        "6 load-time checks",
        ("score",),
        _rule("selected_yes_no", "selected(${has_pacs}, 'yes')"),
    ),
    Case(
        "plan-dot-outside-constraint",
        "6 load-time checks",
        ("score",),
        _rule("dot_in_rule", ". > 3"),
    ),
    Case(
        "plan-number-compared-with-choice",
        "6 load-time checks",
        ("score",),
        _rule("number_vs_choice", "${facility_type} > 5"),
    ),
    Case(
        "plan-bad-date-literal",
        "6 load-time checks",
        ("score",),
        _rule("bad_date", "${last_restore_test} < '2026-13-45'"),
    ),
    Case(
        "plan-count-selected-of-number",
        "6 load-time checks",
        ("score",),
        _rule("count_of_number", "count-selected(${beds_or_residents}) > 1"),
    ),
)
"""Every class of hostile input of issue 13, with the commands it is run with."""


def runs() -> list[tuple[Case, str]]:
    """Each case with each of its commands."""
    return [(case, command) for case in CASES for command in case.commands]
