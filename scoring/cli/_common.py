"""What every command shares: exit codes, error rendering, options."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from scoring.errors import InputError, Issue, QuestionnaireError
from scoring.questionnaire.definition import Questionnaire
from scoring.questionnaire.loader import bundled_questionnaire, load_questionnaire

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3

QuestionnaireOption = Annotated[
    Path | None,
    typer.Option(
        "--questionnaire",
        "-q",
        help="A questionnaire YAML file to use instead of the bundled one.",
        dir_okay=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Write JSON for other systems.")]


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def fail_input(exc: InputError, *, as_json: bool) -> NoReturn:
    """Report a file that cannot be used and exit with 1."""
    if as_json:
        echo_json({"valid": False, "issues": [i.to_dict() for i in exc.issues]})
    else:
        for issue in exc.issues:
            typer.echo(f"error: {issue.describe()}", err=True)
    raise typer.Exit(EXIT_INVALID)


def fail_questionnaire(exc: QuestionnaireError) -> NoReturn:
    typer.echo(f"error: questionnaire {exc.source} cannot be used:", err=True)
    for problem in exc.problems:
        typer.echo(f"  {problem}", err=True)
    raise typer.Exit(EXIT_INVALID)


def choose_questionnaire(path: Path | None) -> Questionnaire:
    try:
        return load_questionnaire(path) if path is not None else bundled_questionnaire()
    except QuestionnaireError as exc:
        fail_questionnaire(exc)


def parse_as_of(text: str | None) -> dt.date:
    """The assessment date: given, or today's date (read here, at the edge)."""
    if text is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"must be a date written YYYY-MM-DD; got {text!r}") from exc


def issue_line(issue: Issue) -> str:
    return f"{issue.severity.value}: {issue.describe()}"


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
