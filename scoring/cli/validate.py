"""``carescore validate FILE``: check responses and list every issue."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scoring.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    JsonOption,
    QuestionnaireOption,
    choose_questionnaire,
    echo_json,
    fail_input,
    issue_line,
    parse_as_of,
    require_files,
)
from scoring.errors import InputError
from scoring.vocabulary import Severity

if TYPE_CHECKING:
    from scoring.questionnaire.definition import Questionnaire


def validate_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="Responses: YAML or JSON (one facility), CSV, "
            "XLSX or Parquet (one row per facility).",
            exists=True,
            dir_okay=False,
        ),
    ],
    as_json: JsonOption = False,
    questionnaire: QuestionnaireOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Assessment date (YYYY-MM-DD) for rows without assessed_on; default: today.",
        ),
    ] = None,
    max_issues: Annotated[
        int,
        typer.Option("--max-issues", min=0, help="Issues to list in text output (JSON lists all)."),
    ] = 200,
    claims: Annotated[
        bool,
        typer.Option(
            "--claims",
            help="FILE is a claims-history book (for carescore train): check all of it.",
        ),
    ] = False,
) -> None:
    """Validate responses: exit 0 when every facility is valid, 1 otherwise.

    With --claims, FILE is a book in the claims-history format: every rule of the format
    and every answer is checked over the whole book, and every problem is listed.
    """
    from scoring.responses.intake import validate_file

    require_files(file, as_json=as_json)
    target = choose_questionnaire(questionnaire)
    if claims:
        _validate_claims(file, target, as_json=as_json, max_issues=max_issues)
    day = parse_as_of(as_of)
    try:
        result = validate_file(file, target, as_of=day)
    except InputError as exc:
        fail_input(exc, as_json=as_json)
    code = EXIT_OK if result.is_valid else EXIT_INVALID
    errors = result.count(Severity.ERROR)
    warnings = result.count(Severity.WARNING)
    if as_json:
        echo_json(
            {
                "source": result.source,
                "questionnaire": target.key,
                "migrated_from": result.migrated_from,
                "valid": result.is_valid,
                "rows": result.n_rows,
                "valid_rows": result.n_valid,
                "rejected_rows": result.n_rejected,
                "errors": errors,
                "warnings": warnings,
                "issues": [i.to_dict() for i in result.issue_list()],
            }
        )
        raise typer.Exit(code)
    for issue in result.issue_list(limit=max_issues):
        typer.echo(issue_line(issue))
    hidden = errors + warnings - max_issues
    if hidden > 0:
        typer.echo(f"... and {hidden:,} more issue(s); use --json to see all")
    noun = "facility" if result.n_rows == 1 else "facilities"
    verdict = "valid" if result.is_valid else "INVALID"
    typer.echo(
        f"{result.source}: {verdict} - {result.n_rows:,} {noun} read, {result.n_valid:,} "
        f"valid, {result.n_rejected:,} rejected; {errors:,} error(s), {warnings:,} warning(s) "
        f"[{target.key}"
        + (f", migrated from {result.migrated_from}" if result.migrated_from else "")
        + "]"
    )
    raise typer.Exit(code)


def _validate_claims(file: Path, target: Questionnaire, *, as_json: bool, max_issues: int) -> None:
    """``validate --claims``: a whole claims-history book checked; exit 0 or 1."""
    from scoring.model.claims_history import check_claims_history

    try:
        check = check_claims_history(file, target)
    except InputError as exc:
        fail_input(exc, as_json=as_json)
    code = EXIT_OK if check.is_valid else EXIT_INVALID
    if as_json:
        echo_json(
            {
                "source": check.source,
                "questionnaire": target.key,
                "valid": check.is_valid,
                "rows": check.rows,
                "issues": [i.to_dict() for i in check.issues],
                "unlisted_errors": check.unlisted,
            }
        )
        raise typer.Exit(code)
    for issue in check.issues[:max_issues]:
        typer.echo(issue_line(issue))
    hidden = len(check.issues) - max_issues + check.unlisted
    if hidden > 0:
        typer.echo(f"... and {hidden:,} more issue(s)")
    verdict = "valid" if check.is_valid else "INVALID"
    typer.echo(
        f"{check.source}: {verdict} claims history - {check.rows:,} facility-years read; "
        f"{len(check.issues) + check.unlisted:,} problem(s) [{target.key}]"
    )
    raise typer.Exit(code)
