"""Blank templates of a questionnaire: what an agent sends to a facility.

* ``csv``: the header row of the table format, with one row whose
  questionnaire id and version are filled in;
* ``xlsx``: an ``instructions`` sheet (how to fill it in, written from the
  questionnaire and the reader's rules), the same table on a ``responses``
  sheet with a cell check on every answer column (drop-down lists for choices;
  kind and min/max for numbers, percentages, whole numbers and dates), plus
  ``questions`` and ``choices`` sheets that explain every column;
* ``yaml``: a one-facility response to fill in, each question preceded by its
  label as a comment;
* ``json-schema``: a JSON Schema (2020-12) of the one-facility document, for
  other systems to validate against before sending.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from scoring.questionnaire.definition import Question, Questionnaire
from scoring.responses.coercion import describe_allowed
from scoring.responses.reading import METADATA_COLUMNS
from scoring.vocabulary import AnswerKind

TEMPLATE_FORMATS = ("csv", "xlsx", "yaml", "json-schema")


def columns(questionnaire: Questionnaire) -> list[str]:
    """Every column of the table format, in order."""
    return [*METADATA_COLUMNS, *(q.id for q in questionnaire.questions)]


def _prefilled(questionnaire: Questionnaire) -> dict[str, str]:
    return {"questionnaire": questionnaire.id, "questionnaire_version": questionnaire.version}


def csv_template(questionnaire: Questionnaire) -> str:
    """The CSV template as text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = columns(questionnaire)
    writer.writerow(names)
    filled = _prefilled(questionnaire)
    writer.writerow([filled.get(name, "") for name in names])
    return buffer.getvalue()


def _allowed(question: Question) -> str:
    text = describe_allowed(question)
    extra = [
        w
        for w, ok in (("unknown", question.allow_unknown), ("n/a", question.allow_not_applicable))
        if ok
    ]
    return text + (f"; or {' / '.join(extra)}" if extra else "")


def _frameworks(question: Question) -> str:
    if question.control is None:
        return ""
    refs = question.control.frameworks
    parts = (
        [f"HICP {r}" for r in refs.hicp]
        + [f"CPG {r}" for r in refs.cpg]
        + [f"CIS {r}" for r in refs.cis]
    )
    return "; ".join(parts)


def yaml_template(questionnaire: Questionnaire) -> str:
    """A one-facility response to fill in, with every question's label as a comment."""
    lines = [
        f"# {questionnaire.title} (version {questionnaire.version})",
        "# Fill in each answer after its colon. Leave blank what you cannot answer.",
        f"questionnaire: {questionnaire.id}",
        f'questionnaire_version: "{questionnaire.version}"',
        "facility_id:",
        "facility_name:",
        "assessed_on:        # YYYY-MM-DD",
        "answered_by:",
        "answers:",
    ]
    for section in questionnaire.sections:
        lines.append(f"  # --- {section.title} ---")
        for question in section.questions:
            lines.append(f"  # {question.label}")
            if question.relevant:
                lines.append(
                    f"  # (only if {question.relevant.replace('${', '').replace('}', '')})"
                )
            lines.append(f"  # {_allowed(question)}")
            lines.append(f"  {question.id}:")
    return "\n".join(lines) + "\n"


def _answer_schema(question: Question) -> dict[str, Any]:
    words = [
        *(["unknown"] if question.allow_unknown else []),
        *(["n/a"] if question.allow_not_applicable else []),
    ]
    schema: dict[str, Any]
    kind = question.kind
    if kind is AnswerKind.YES_NO:
        schema = {"anyOf": [{"enum": [*question.choice_codes, *words]}, {"type": "boolean"}]}
    elif kind is AnswerKind.SINGLE_CHOICE:
        schema = {"enum": [*question.choice_codes, *words]}
    elif kind is AnswerKind.MULTIPLE_CHOICE:
        schema = {
            "type": "array",
            "items": {"enum": list(question.choice_codes)},
            "uniqueItems": True,
        }
    elif kind in (AnswerKind.INTEGER, AnswerKind.NUMBER, AnswerKind.PERCENT):
        schema = {"type": "integer" if kind is AnswerKind.INTEGER else "number"}
        low = (
            question.min
            if question.min is not None
            else (0 if kind is AnswerKind.PERCENT else None)
        )
        high = (
            question.max
            if question.max is not None
            else (100 if kind is AnswerKind.PERCENT else None)
        )
        if low is not None:
            schema["minimum"] = low
        if high is not None:
            schema["maximum"] = high
    elif kind is AnswerKind.DATE:
        schema = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    else:
        schema = {"type": "string", "maxLength": question.max_length}
    if words and kind not in (AnswerKind.YES_NO, AnswerKind.SINGLE_CHOICE):
        schema = {"anyOf": [schema, {"enum": words}]}
    result: dict[str, Any] = {"title": question.label, "anyOf": [schema, {"type": "null"}]}
    if question.help:
        result["description"] = question.help
    return result


def json_schema(questionnaire: Questionnaire) -> dict[str, Any]:
    """A JSON Schema of one facility's response document."""
    text_field = {"type": ["string", "null"], "maxLength": 200}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:carescore:questionnaire:{questionnaire.id}:{questionnaire.version}",
        "title": f"{questionnaire.title} - one facility's response",
        "type": "object",
        "additionalProperties": False,
        "required": ["questionnaire", "questionnaire_version", "answers"],
        "properties": {
            "questionnaire": {"const": questionnaire.id},
            "questionnaire_version": {
                "enum": [
                    questionnaire.version,
                    *(m.from_version for m in questionnaire.migrations),
                ],
                "description": (
                    f"{questionnaire.version}, or an earlier version this one reads: its "
                    "answers are migrated and the questions added since stay unanswered"
                ),
            },
            "facility_id": text_field,
            "facility_name": text_field,
            "assessed_on": {"type": ["string", "null"], "format": "date"},
            "answered_by": text_field,
            "answers": {
                "type": "object",
                "additionalProperties": False,
                "properties": {q.id: _answer_schema(q) for q in questionnaire.questions},
            },
        },
    }


TEMPLATE_ROWS = 10_000
"""Rows of the ``responses`` sheet given drop-down lists and checks (facilities)."""
_EXCEL_MESSAGE = 250
"""Excel shows at most 255 characters of a cell check's prompt or message."""


def _formula(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def _cell_check(question: Question) -> Any | None:
    """The Excel cell check (data validation) of one question's column, if any.

    Yes/no and single choices get a drop-down list; numbers, percentages, whole
    numbers and dates a check of their kind and of the questionnaire's min and
    max; free text its length. A check only warns
    (``unknown`` and ``n/a`` are text in a number column), it never blocks.
    """
    from openpyxl.worksheet.datavalidation import DataValidation

    words = [
        *(["unknown"] if question.allow_unknown else []),
        *(["n/a"] if question.allow_not_applicable else []),
    ]
    kind = question.kind
    settings: dict[str, Any]
    if kind in (AnswerKind.YES_NO, AnswerKind.SINGLE_CHOICE):
        listed = ",".join([*question.choice_codes, *words])
        if len(listed) > 255:  # Excel's limit for an inline list
            return None
        settings = {"type": "list", "formula1": f'"{listed}"'}
    elif question.is_numeric:
        low, high = question.min, question.max
        if kind is AnswerKind.PERCENT:
            low = 0.0 if low is None else low
            high = 100.0 if high is None else high
        settings = {"type": "whole" if kind is AnswerKind.INTEGER else "decimal"}
        if low is not None and high is not None:
            settings |= {
                "operator": "between",
                "formula1": _formula(low),
                "formula2": _formula(high),
            }
        elif low is not None:
            settings |= {"operator": "greaterThanOrEqual", "formula1": _formula(low)}
        elif high is not None:
            settings |= {"operator": "lessThanOrEqual", "formula1": _formula(high)}
        else:  # any number: the widest range Excel holds exactly
            settings |= {"operator": "between", "formula1": "-1E15", "formula2": "1E15"}
    elif kind is AnswerKind.DATE:
        settings = {"type": "date", "operator": "greaterThan", "formula1": "DATE(1900,1,1)"}
    elif kind is AnswerKind.TEXT:
        settings = {"type": "textLength", "operator": "lessThanOrEqual"}
        settings["formula1"] = str(question.max_length)
    else:  # a multiple choice: Excel's lists take one item; the choices sheet lists them
        return None
    allowed = _allowed(question)[:_EXCEL_MESSAGE]
    return DataValidation(
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="warning",
        errorTitle=question.id[:32],
        error=allowed,
        showInputMessage=True,
        promptTitle=question.id[:32],
        prompt=allowed,
        **settings,
    )


def instructions(questionnaire: Questionnaire) -> list[tuple[str, str]]:
    """The ``instructions`` sheet of the XLSX template: (topic, what to do) rows.

    Written from the questionnaire and from the reader's own rules (the words
    it accepts, the policy for blank answers), so the instructions cannot say
    something the reader does not do.
    """
    from scoring.responses.coercion import (
        MAX_CELL_CHARS,
        NEVER_WORDS,
        NO_WORDS,
        NOT_APPLICABLE_WORDS,
        UNKNOWN_WORDS,
        YES_WORDS,
    )

    def listed(words: tuple[str, ...]) -> str:
        return ", ".join(w for w in words if w.isascii())

    date_controls = [q for q in questionnaire.questions if q.kind is AnswerKind.DATE and q.control]
    percents = [q for q in questionnaire.questions if q.kind is AnswerKind.PERCENT]
    required = sum(q.required for q in questionnaire.questions)
    return [
        ("questionnaire", f"{questionnaire.title}, version {questionnaire.version}"),
        (
            "one row per facility",
            "Fill in the 'responses' sheet: one row per facility, from row 2; row 1 holds "
            "the question ids and must stay as it is (do not rename or add columns; the "
            "order does not matter). Each facility_id must be unique in the file. Every row "
            f"you fill needs questionnaire {questionnaire.id} and questionnaire_version "
            f"{questionnaire.version}, as row 2 has them (copy them down).",
        ),
        (
            "the questions",
            f"The 'questions' sheet explains each of the {len(questionnaire.questions)} "
            f"columns ({required} to answer wherever they apply): its question, when it "
            "applies and the answers it allows. A question that does not apply to a "
            "facility (see 'shown only if') is left blank.",
        ),
        (
            "codes or labels",
            "For a choice, write its code or its label, in any case; the 'choices' sheet "
            "lists both. Several choices: separate them with ';' (in any order). Yes/no: "
            f"{listed(YES_WORDS)} or {listed(NO_WORDS)}.",
        ),
        (
            "don't know, does not apply",
            f"If you do not know, write unknown ({listed(UNKNOWN_WORDS)}); if it does not "
            f"apply, write n/a ({listed(NOT_APPLICABLE_WORDS)}) - each only where the "
            "question allows it ('allowed answers'). A safeguard left blank or unknown is "
            "priced as its worst answer, so find out where you can.",
        ),
        (
            "numbers",
            "Write 1234 or 1,234 (commas only between groups of three digits) and 1234.5; "
            "amounts in USD may start with $. A decimal comma (1,5) is refused. Type values, "
            "not formulas: a formula is read as its text and refused.",
        ),
        (
            "percentages",
            "Write 85 or 85% for 85 % (a cell formatted as a percentage is read as it shows). "
            "A number from 0 to 1 without % (0.85) is read as that percentage (0.85 %) and "
            "flagged for you to check."
            + (f" Columns: {', '.join(q.id for q in percents)}." if percents else ""),
        ),
        (
            "dates",
            "Write YYYY-MM-DD (2025-09-15) or enter an Excel date. A date with / or . and a "
            "four-digit year is read when only one order of day and month is a date "
            "(09/15/2025); where both are (03/04/2025) it is refused, so prefer YYYY-MM-DD."
            + (
                f" When a safeguard was never done, write {listed(NEVER_WORDS)} "
                f"({', '.join(q.id for q in date_controls)})."
                if date_controls
                else ""
            ),
        ),
        (
            "text",
            f"An answer is at most {MAX_CELL_CHARS:,} characters (free text: as the question "
            "says); line breaks are kept, other control characters are refused.",
        ),
        (
            "cell checks",
            "Cells warn when an answer is outside what the question allows; the warning can "
            "be passed for unknown or n/a.",
        ),
        (
            "how to send it",
            "Save the workbook as .xlsx with its sheet names (or the 'responses' sheet as "
            "CSV, UTF-8) and send the file to your agent or broker. It is checked with "
            "`carescore validate FILE`, which lists every problem with its row and column.",
        ),
    ]


def xlsx_template(questionnaire: Questionnaire, path: Path) -> None:
    """Write the XLSX template to ``path``.

    Sheets: ``instructions`` (how to fill it in, from :func:`instructions`),
    ``responses`` (the header and one row with the questionnaire filled in; a cell
    check on every answer column), ``questions`` and ``choices``.
    """
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "responses"
    names = columns(questionnaire)
    filled = _prefilled(questionnaire)
    sheet.append(names)
    sheet.append([filled.get(name) for name in names])
    sheet.freeze_panes = "B2"
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, name in enumerate(names, start=1):
        question = questionnaire.by_id.get(name)
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(14, min(40, len(name) + 2))
        if question is None:
            continue
        sheet.cell(row=1, column=index).comment = Comment(
            f"{question.label}\n{_allowed(question)}", "carescore"
        )
        rule = _cell_check(question)
        if rule is not None:
            rule.add(f"{letter}2:{letter}{TEMPLATE_ROWS}")
            sheet.add_data_validation(rule)
    guide = workbook.create_sheet("instructions", 0)
    guide.append(["topic", "what to do"])
    for topic, text in instructions(questionnaire):
        guide.append([topic, text])
    guide.column_dimensions["A"].width = 26
    guide.column_dimensions["B"].width = 100
    for row in guide.iter_rows(min_row=2):
        row[1].alignment = Alignment(wrap_text=True, vertical="top")
    questions = workbook.create_sheet("questions")
    questions.append(
        [
            "id",
            "section",
            "label",
            "help",
            "type",
            "required",
            "shown only if",
            "allowed answers",
            "unit",
            "frameworks",
        ]
    )
    for section in questionnaire.sections:
        for q in section.questions:
            questions.append(
                [
                    q.id,
                    section.title,
                    q.label,
                    q.help or "",
                    q.kind.value,
                    "yes" if q.required else "no",
                    q.relevant or "",
                    _allowed(q),
                    q.unit or "",
                    _frameworks(q),
                ]
            )
    choices = workbook.create_sheet("choices")
    choices.append(["question_id", "code", "label"])
    for q in questionnaire.questions:
        for code, label in q.choice_items:
            choices.append([q.id, code, label])
    for extra in (guide, questions, choices):
        for cell in extra[1]:
            cell.font = Font(bold=True)
    workbook.active = 0
    workbook.save(path)


def render(questionnaire: Questionnaire, fmt: str) -> str:
    """A text template (``csv``, ``yaml`` or ``json-schema``)."""
    if fmt == "csv":
        return csv_template(questionnaire)
    if fmt == "yaml":
        return yaml_template(questionnaire)
    if fmt == "json-schema":
        return json.dumps(json_schema(questionnaire), indent=2, ensure_ascii=False) + "\n"
    raise ValueError(f"format must be one of csv, yaml, json-schema; got {fmt!r}")
