"""Hostile setups beyond one input file: outputs that would overwrite inputs, work files
planted beside an output, reports written where no file can be, names that look like
terminal markup, and model folders and rating plans that must be refused when loaded."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.hostile import books, files
from tests.hostile.case import (
    AS_OF,
    OUTPUT,
    Setup,
    name_in_scored_csv,
    no_partial_files,
    standard_argv,
)

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


def output_is_input(folder: Path, _: Path) -> tuple[list[str], Path]:
    book = _book(folder)
    return _batch(book, book), book


def errors_is_input(folder: Path, _: Path) -> tuple[list[str], Path]:
    book = _book(folder)
    return _batch(book, folder / OUTPUT, "--errors", str(book)), book


def default_errors_is_input(folder: Path, _: Path) -> tuple[list[str], Path]:
    book = _book(folder, "x.errors.csv")
    return _batch(book, folder / "x.csv"), book


def errors_is_output(folder: Path, _: Path) -> tuple[list[str], Path]:
    book = _book(folder)
    out = folder / "out.csv"
    return _batch(book, out, "--errors", str(out)), out


def output_hard_link(folder: Path, _: Path) -> tuple[list[str], Path]:
    book = _book(folder)
    link = folder / "linked.csv"
    os.link(book, link)
    return _batch(book, link), link


def output_symlink(folder: Path, _: Path) -> tuple[list[str], Path]:
    book = _book(folder)
    link = folder / "pointing.csv"
    link.symlink_to(book.name)
    return _batch(book, link), link


def html_is_applicant(folder: Path, _: Path) -> tuple[list[str], Path]:
    applicant = folder / "app.yaml"
    applicant.write_text(books.applicant_text(), encoding="utf-8")
    return ["score", str(applicant), "--as-of", AS_OF, "--html", str(applicant)], applicant


def _books_to_compare(folder: Path, scored_book: Path) -> tuple[Path, Path]:
    before, after = folder / "a.parquet", folder / "b.parquet"
    shutil.copyfile(scored_book, before)
    shutil.copyfile(scored_book, after)
    return before, after


def html_is_compared_book(folder: Path, scored_book: Path) -> tuple[list[str], Path]:
    before, after = _books_to_compare(folder, scored_book)
    return ["compare", str(before), str(after), "--html", str(before)], before


def csv_is_compared_book(folder: Path, scored_book: Path) -> tuple[list[str], Path]:
    before, after = _books_to_compare(folder, scored_book)
    return ["compare", str(before), str(after), "--csv", str(after)], after


def html_is_csv(folder: Path, scored_book: Path) -> tuple[list[str], Path]:
    before, after = _books_to_compare(folder, scored_book)
    report = folder / "moves.out"
    return ["compare", str(before), str(after), "--html", str(report), "--csv", str(report)], report


# --- work files planted beside the output ---------------------------------------------


def planted_partial(folder: Path, scored_book: Path) -> Setup:
    """``scored.parquet.partial`` is a link to a file the run must not write through."""
    book = _book(folder)
    victim = folder / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    (folder / f"{OUTPUT}.partial").symlink_to(victim.name)
    return Setup(argv={"batch": _batch(book, folder / OUTPUT)}, outputs_allowed=True)


def planted_parts(folder: Path, scored_book: Path) -> Setup:
    """``scored.parquet.parts`` is a link to a folder the run must not empty."""
    book = _book(folder)
    victim = folder / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep me\n", encoding="utf-8")
    (folder / f"{OUTPUT}.parts").symlink_to(victim.name)
    return Setup(argv={"batch": _batch(book, folder / OUTPUT)}, outputs_allowed=True)


def corrupt_settings(folder: Path, scored_book: Path) -> Setup:
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


def html_nowhere(where: str) -> Callable[[Path, Path], Setup]:
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


def set_coefficient(value: float) -> Callable[[dict[str, Any]], None]:
    def edit(model: dict[str, Any]) -> None:
        coefficients = _first_frequency(model)["coefficients"]
        index = next(i for i, c in enumerate(coefficients) if c != 0.0)
        coefficients[index] = value

    return edit


def raise_intercept(model: dict[str, Any]) -> None:
    _first_frequency(model)["intercept"] += 50.0


def no_perils(model: dict[str, Any]) -> None:
    model["perils"] = {}


def unknown_version(model: dict[str, Any]) -> None:
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


def manifest_outside(folder: Path, scored_book: Path) -> Setup:
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


def huge_money() -> str:
    text = books.plan_text()
    for old, new in (
        ("fixed_per_policy: 250", "fixed_per_policy: 1.7e+308"),
        ("{code: limit_5m, amount: 5000000}", "{code: limit_5m, amount: 1.0e+308}"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    return text


def rule(rule_id: str, when: str) -> Callable[[Path, Path], Setup]:
    return plan_case(lambda: books.plan_with_rule(rule_id, when), rule_id)


DEEP_RULE = "(" * 500 + "${rdp_exposed} = 'yes'" + ")" * 500


def markup(name: str) -> Callable[[Path, Path], Setup]:
    """A facility name that rich would read as markup: shown literally by score."""

    def build(folder: Path, scored_book: Path) -> Setup:
        applicant = files.applicant_named(name)(folder)
        argv = {"score": ["score", str(applicant), "--as-of", AS_OF]}
        return Setup(argv=argv, also=(name,), outputs_allowed=True)

    return build


def markup_in_book(name: str) -> Callable[[Path, Path], Setup]:
    """The same name in a book: written as given to the scored CSV."""

    def build(folder: Path, scored_book: Path) -> Setup:
        book = files.csv_book_with_name(name)(folder)
        argv = {"batch": _batch(book, folder / "scored.csv")}
        return Setup(argv=argv, outputs_allowed=True, check=name_in_scored_csv(name))

    return build


def compare_not_utf8(folder: Path, scored_book: Path) -> Setup:
    path = files.scored_book_invalid_utf8(folder, scored_book)
    return Setup(argv=standard_argv(path, folder, scored_book), names=(path.name,))
