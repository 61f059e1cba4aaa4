"""Blank templates of a questionnaire: what an agent sends to a facility.

* ``csv``: the header row of the table format, with one row whose
  questionnaire id and version are filled in;
* ``xlsx``: the same on a ``responses`` sheet with drop-down lists for choices,
  plus ``questions`` and ``choices`` sheets that explain every column;
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
            "questionnaire_version": {"const": questionnaire.version},
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


def xlsx_template(questionnaire: Questionnaire, path: Path) -> None:
    """Write the XLSX template (responses, questions and choices sheets) to ``path``."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

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
        if question.kind in (AnswerKind.YES_NO, AnswerKind.SINGLE_CHOICE):
            options = [
                *question.choice_codes,
                *(["unknown"] if question.allow_unknown else []),
                *(["n/a"] if question.allow_not_applicable else []),
            ]
            listed = ",".join(options)
            if len(listed) <= 255:  # Excel's limit for an inline list
                rule = DataValidation(type="list", formula1=f'"{listed}"', allow_blank=True)
                rule.add(f"{letter}2:{letter}10000")
                sheet.add_data_validation(rule)
    guide = workbook.create_sheet("questions")
    guide.append(
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
            guide.append(
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
    for extra in (guide, choices):
        for cell in extra[1]:
            cell.font = Font(bold=True)
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
