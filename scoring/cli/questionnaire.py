"""``carescore questionnaire show | lint | template``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from scoring._outputs import partial_path, remove_leftover, write_atomically
from scoring.cli._common import (
    EXIT_INVALID,
    EXIT_USAGE,
    JsonOption,
    QuestionnaireOption,
    choose_questionnaire,
    echo_json,
    fail_environment,
    fail_questionnaire,
    literal,
    refuse_clashes,
    require_files,
)
from scoring.cli._help import Command, Group
from scoring.errors import QuestionnaireError

questionnaire_app = typer.Typer(
    cls=Group, help="Show, lint and export the questionnaire.", no_args_is_help=True
)


@questionnaire_app.command("show", cls=Command)
def show(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="A questionnaire YAML file (default: the bundled questionnaire).",
            dir_okay=False,
        ),
    ] = None,
    as_json: JsonOption = False,
    questionnaire: Annotated[
        Path | None,
        typer.Option("--questionnaire", "-q", hidden=True, dir_okay=False),
    ] = None,
) -> None:
    """List the questions: id, the question asked, type, whether required, skip logic and
    perils."""
    if file is not None and questionnaire is not None and file != questionnaire:
        typer.echo("error: give the questionnaire once (FILE, or -q FILE)", err=True)
        raise typer.Exit(EXIT_USAGE)
    target = choose_questionnaire(file or questionnaire)
    if as_json:
        echo_json(target.model_dump(mode="json", by_alias=True, exclude_none=True))
        return
    console = Console(width=160, emoji=False)
    console.print(
        f"[bold]{literal(target.title)}[/bold]  {literal(target.key)}  "
        f"({len(target.questions)} questions, {len(target.controls)} controls)"
    )
    for section in target.sections:
        table = Table(title=literal(section.title), title_justify="left", show_lines=False)
        for column in ("id", "question", "type", "req", "shown only if", "control / perils"):
            table.add_column(column)
        for q in section.questions:
            perils = ", ".join(p.value for p in q.control.perils) if q.control else ""
            table.add_row(
                literal(q.id),
                literal(q.label),
                q.kind.value,
                "yes" if q.required else "",
                literal((q.relevant or "").replace("${", "").replace("}", "")),
                perils,
            )
        console.print(table)


@questionnaire_app.command("lint", cls=Command)
def lint_command(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="A questionnaire YAML file (default: the bundled questionnaire).",
            dir_okay=False,
            exists=True,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check a questionnaire: ids, references, cycles, dead branches, choices, controls."""
    from scoring.questionnaire.lint import lint
    from scoring.questionnaire.loader import (
        available_questionnaires,
        default_catalog,
        read_questionnaire_file,
    )

    if file is None:
        file = max(
            available_questionnaires().items(),
            key=lambda item: tuple(int(p) for p in item[0][1].split(".")),
        )[1]
    require_files(file, as_json=as_json)
    try:
        target = read_questionnaire_file(file)
        catalog = default_catalog()
    except QuestionnaireError as exc:
        fail_questionnaire(exc)
    findings = lint(target, catalog)
    errors = [f for f in findings if f.is_error]
    if as_json:
        echo_json(
            {
                "questionnaire": target.key,
                "errors": len(errors),
                "warnings": len(findings) - len(errors),
                "findings": [
                    {
                        "code": f.code,
                        "severity": f.severity.value,
                        "question_id": f.question_id,
                        "message": f.message,
                    }
                    for f in findings
                ],
            }
        )
    else:
        for finding in findings:
            typer.echo(finding.describe())
        typer.echo(f"{file}: {len(errors)} error(s), {len(findings) - len(errors)} warning(s)")
    if errors:
        raise typer.Exit(EXIT_INVALID)


@questionnaire_app.command("template", cls=Command)
def template(
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, xlsx, yaml or json-schema.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file (required for xlsx).", dir_okay=False
        ),
    ] = None,
    questionnaire: QuestionnaireOption = None,
) -> None:
    """Write a blank template to send to a facility, or the JSON Schema of a response."""
    from scoring.questionnaire.template import TEMPLATE_FORMATS, render, xlsx_template

    if fmt not in TEMPLATE_FORMATS:
        raise typer.BadParameter(
            f"must be one of {', '.join(TEMPLATE_FORMATS)}; got {fmt!r}", param_hint="--format"
        )
    if fmt == "xlsx" and output is None:
        raise typer.BadParameter("an XLSX template needs --output FILE", param_hint="--output")
    refuse_clashes(
        {"--questionnaire": questionnaire},
        {"--output": output, "the output's .partial file": output and partial_path(output)},
    )
    target = choose_questionnaire(questionnaire)
    if output is None:
        typer.echo(render(target, fmt), nl=False)
        return
    try:
        if fmt == "xlsx":
            remove_leftover(partial_path(output))  # a symlink there is removed, not followed
            xlsx_template(target, partial_path(output))
            partial_path(output).replace(output)
        else:
            write_atomically(output, render(target, fmt).encode("utf-8"))
    except OSError as exc:
        fail_environment(exc, f"writing {output}")
    typer.echo(f"wrote {output}", err=True)
