"""The hostile-input corpus: one small file (or setup) per class of input that must not
destroy data, hang, exhaust memory or end in an internal error (issue 13), each with
the commands it applies to and the exit code they must give.

Bombs are built small and declared large: a zip member that decompresses to gigabytes
is a few megabytes on disk (``tests/hostile/zipfiles.py``), a Parquet row group of
millions of rows is a dictionary of one value (``tests/hostile/files.py``).
"""

from __future__ import annotations

from tests.hostile import files, setups
from tests.hostile.case import (
    AS_OF,
    COMMANDS,
    Case,
    Setup,
    file_case,
    long_name_whole,
    rows_in_errors_file,
)

__all__ = ["AS_OF", "CASES", "COMMANDS", "Case", "Setup", "runs"]

BOOK_COMMANDS = ("validate", "batch")

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
    Case("scored-book-invalid-utf8", "5 internal error", ("compare",), setups.compare_not_utf8),
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
        BOOK_COMMANDS,
        file_case(
            files.csv_long_header,
            never=("appears more than once", "cells; the header", "has no name"),
            outputs_allowed=True,
            check=long_name_whole,
        ),
        codes=frozenset({0, 1}),
    ),
    Case(
        "csv-many-columns",
        "7 false messages",
        BOOK_COMMANDS,
        file_case(
            files.csv_many_columns,
            never=("appears more than once", "cells; the header", "has no name"),
            outputs_allowed=True,
        ),
        codes=frozenset({0, 1}),
    ),
    Case(
        "csv-long-line",
        "7 false messages",
        BOOK_COMMANDS,
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
        setups.markup("Smith [/] Jones"),
        codes=frozenset({0}),
    ),
    Case(
        "markup-link",
        "5 names literal",
        ("score",),
        setups.markup("[link=https://example.org]x[/link]"),
        codes=frozenset({0}),
    ),
    Case(
        "markup-in-book",
        "5 names literal",
        ("batch",),
        setups.markup_in_book("Smith [/] Jones [link=https://example.org]x[/link]"),
        codes=frozenset({0}),
    ),
    # 1. outputs that would overwrite inputs
    Case(
        "batch-output-is-input",
        "1 overwrite",
        ("batch",),
        setups.clash(setups.output_is_input),
        frozenset({2}),
    ),
    Case(
        "batch-errors-is-input",
        "1 overwrite",
        ("batch",),
        setups.clash(setups.errors_is_input),
        frozenset({2}),
    ),
    Case(
        "batch-default-errors-is-input",
        "1 overwrite",
        ("batch",),
        setups.clash(setups.default_errors_is_input),
        frozenset({2}),
    ),
    Case(
        "batch-errors-is-output",
        "1 overwrite",
        ("batch",),
        setups.clash(setups.errors_is_output),
        frozenset({2}),
    ),
    Case(
        "batch-output-hard-link",
        "1 overwrite",
        ("batch",),
        setups.clash(setups.output_hard_link),
        frozenset({2}),
    ),
    Case(
        "batch-output-symlink",
        "1 overwrite",
        ("batch",),
        setups.clash(setups.output_symlink),
        frozenset({2}),
    ),
    Case(
        "score-html-is-applicant",
        "1 overwrite",
        ("score",),
        setups.clash(setups.html_is_applicant),
        frozenset({2}),
    ),
    Case(
        "compare-html-is-book",
        "1 overwrite",
        ("compare",),
        setups.clash(setups.html_is_compared_book),
        frozenset({2}),
    ),
    Case(
        "compare-csv-is-book",
        "1 overwrite",
        ("compare",),
        setups.clash(setups.csv_is_compared_book),
        frozenset({2}),
    ),
    Case(
        "compare-html-is-csv",
        "1 overwrite",
        ("compare",),
        setups.clash(setups.html_is_csv),
        frozenset({2}),
    ),
    # 2, 5. work files
    Case(
        "batch-partial-symlink",
        "2 concurrent runs",
        ("batch",),
        setups.planted_partial,
        frozenset({0, 1, 2}),
    ),
    Case(
        "batch-parts-symlink",
        "2 concurrent runs",
        ("batch",),
        setups.planted_parts,
        frozenset({0, 1, 2}),
    ),
    Case(
        "batch-resume-corrupt-settings",
        "5 internal error",
        ("batch",),
        setups.corrupt_settings,
        frozenset({0, 1}),
    ),
    Case(
        "score-html-missing-folder", "5 internal error", ("score",), setups.html_nowhere("missing")
    ),
    Case(
        "score-html-under-a-file",
        "5 internal error",
        ("score",),
        setups.html_nowhere("under-a-file"),
    ),
    # 6. models and plans checked when loaded
    Case(
        "model-coefficient-1e300",
        "6 load-time checks",
        ("score",),
        setups.model_case(setups.set_coefficient(1e300)),
    ),
    Case(
        "model-coefficient-minus-inf",
        "6 load-time checks",
        ("score",),
        setups.model_case(setups.set_coefficient(float("-inf"))),
    ),
    Case(
        "model-intercept-plus-50",
        "6 load-time checks",
        ("score",),
        setups.model_case(setups.raise_intercept),
    ),
    Case("model-no-perils", "6 load-time checks", ("score",), setups.model_case(setups.no_perils)),
    Case(
        "model-unknown-questionnaire-version",
        "6 load-time checks",
        ("score",),
        setups.model_case(setups.unknown_version),
    ),
    Case(
        "model-manifest-outside-folder", "6 load-time checks", ("score",), setups.manifest_outside
    ),
    Case(
        "plan-money-near-1e308",
        "6 load-time checks",
        ("score",),
        setups.plan_case(setups.huge_money),
    ),
    Case(
        "plan-rule-500-levels-deep",
        "6 load-time checks",
        ("score",),
        setups.rule("deep_rule", setups.DEEP_RULE),
    ),
    Case(
        "plan-selected-of-yes-no",
        "6 load-time checks",
        ("score",),
        setups.rule("selected_yes_no", "selected(${has_pacs}, 'yes')"),
    ),
    Case(
        "plan-dot-outside-constraint",
        "6 load-time checks",
        ("score",),
        setups.rule("dot_in_rule", ". > 3"),
    ),
    Case(
        "plan-number-compared-with-choice",
        "6 load-time checks",
        ("score",),
        setups.rule("number_vs_choice", "${facility_type} > 5"),
    ),
    Case(
        "plan-bad-date-literal",
        "6 load-time checks",
        ("score",),
        setups.rule("bad_date", "${last_restore_test} < '2026-13-45'"),
    ),
    Case(
        "plan-count-selected-of-number",
        "6 load-time checks",
        ("score",),
        setups.rule("count_of_number", "count-selected(${beds_or_residents}) > 1"),
    ),
)
"""Every class of hostile input of issue 13, with the commands it is run with."""


def runs() -> list[tuple[Case, str]]:
    """Each case with each of its commands."""
    return [(case, command) for case in CASES for command in case.commands]
