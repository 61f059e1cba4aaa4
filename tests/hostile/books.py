"""Well-formed starting points the hostile cases are made from: a small book, a workbook,
an applicant, a model folder and a rating plan, all taken from the bundled files."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent.parent
EXAMPLES = ROOT / "questionnaires" / "examples"
DEFAULT_MODEL = ROOT / "models" / "care-cyber-default"
APPLICANT = EXAMPLES / "imaging-centre-exposed-pacs.yaml"
MODEL_FILES = ("model.json", "MODEL_CARD.md", "manifest.json", "rating-plan.yaml")


@functools.cache
def _portfolio() -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    with (EXAMPLES / "portfolio.csv").open(newline="", encoding="utf-8") as book:
        rows = [tuple(row) for row in csv.reader(book)]
    return rows[0], tuple(rows[1:9])


def header() -> list[str]:
    """The columns of a book: metadata and every question of the bundled questionnaire."""
    return list(_portfolio()[0])


def rows(count: int = 3) -> list[list[str]]:
    """The first ``count`` facilities of the example portfolio (all valid), as text cells."""
    return [list(row) for row in _portfolio()[1][:count]]


def with_cell(row: list[str], column: str, value: str) -> list[str]:
    """``row`` with the cell of ``column`` replaced."""
    changed = list(row)
    changed[header().index(column)] = value
    return changed


def csv_text(table: list[list[str]]) -> str:
    """Rows of cells as CSV text (the first row is the header)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(table)
    return out.getvalue()


def write_book_csv(path: Path, count: int = 3) -> Path:
    """A valid book of ``count`` facilities."""
    path.write_text(csv_text([header(), *rows(count)]), encoding="utf-8")
    return path


def workbook_bytes(
    table: list[list[str] | None], edit: Callable[[Any], None] | None = None
) -> bytes:
    """An XLSX workbook whose ``responses`` sheet holds ``table`` (None: a blank row)."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "responses"
    for index, row in enumerate(table, start=1):
        for column, value in enumerate(row or [], start=1):
            if value != "":
                sheet.cell(row=index, column=column, value=value)
    if edit is not None:
        edit(sheet)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@functools.cache
def base_workbook_members() -> dict[str, bytes]:
    """The parts of a valid three-facility workbook, by name."""
    import zipfile

    data = workbook_bytes([header(), *rows(3)])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def applicant_text(**changes: str) -> str:
    """The bundled imaging-centre applicant (YAML), with top-level or answer lines replaced."""
    lines = APPLICANT.read_text(encoding="utf-8").splitlines()
    for key, value in changes.items():
        for index, line in enumerate(lines):
            if line.lstrip().startswith(f"{key}:"):
                indent = line[: len(line) - len(line.lstrip())]
                lines[index] = f"{indent}{key}: {value}"
                break
        else:
            raise KeyError(key)
    return "\n".join(lines) + "\n"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def model_folder(folder: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the default model whose ``model.json`` is edited and hashed again.

    ``float('inf')`` in the edited model is written as ``1e999`` (JSON has no infinity;
    a JSON reader turns that number into one).
    """
    folder.mkdir()
    for name in MODEL_FILES:
        shutil.copyfile(DEFAULT_MODEL / name, folder / name)
    model = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    edit(model)
    text = json.dumps(model, indent=1, allow_nan=True)
    text = text.replace("-Infinity", "-1e999").replace("Infinity", "1e999")
    (folder / "model.json").write_text(text + "\n", encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["sha256"]["model.json"] = sha256(folder / "model.json")
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return folder


def plan_text() -> str:
    """The default rating plan, whose rules come last (new rules are appended)."""
    text = (DEFAULT_MODEL / "rating-plan.yaml").read_text(encoding="utf-8")
    assert text.rstrip().splitlines()[-1].startswith("    source:"), "rules no longer last"
    return text


def plan_with_rule(rule_id: str, when: str) -> str:
    """The default plan with one more referral rule."""
    return plan_text().rstrip("\n") + (
        f'\n  - id: {rule_id}\n    outcome: refer\n    when: "{when}"\n'
        '    reason: "a rule under test"\n    source: "tests"\n'
    )
