"""What every command shares: exit codes, error rendering, options.

Exit codes follow one rule, :func:`exit_code_for`: 0 when the command did what it
was asked, 1 when an input, a file or the environment cannot be used (a sentence,
never a traceback; a second run refused because another holds its output's lock is
one), 2 for usage errors (including an output that is an input or another output),
3 only for a bug in carescore.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.markup import escape

from scoring._files import require_regular_file
from scoring._outputs import PathClashError, check_outputs
from scoring.errors import DefinitionError, InputError, Issue, QuestionnaireError

if TYPE_CHECKING:
    from scoring.questionnaire.definition import Questionnaire

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130
"""Stopped by Ctrl-C (128 + SIGINT, as shells report it)."""


def exit_code_for(exc: BaseException) -> int:
    """The exit code of a command that failed with ``exc``: the one rule of every command."""
    if isinstance(exc, PathClashError):
        return EXIT_USAGE
    if isinstance(exc, InputError | DefinitionError | OSError | MemoryError):
        return EXIT_INVALID
    return EXIT_INTERNAL


def environment_message(exc: OSError) -> str:
    """A sentence for a file or environment failure (permission denied, disk full ...)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    files = [str(name) for name in (exc.filename, exc.filename2) if name is not None]
    where = f" ({' -> '.join(files)})" if files else ""
    return f"error: {reason}{where}"


def fail_environment(exc: OSError, doing: str = "") -> NoReturn:
    """Report a file or environment failure and exit with 1."""
    typer.echo(environment_message(exc) + (f" while {doing}" if doing else ""), err=True)
    raise typer.Exit(EXIT_INVALID) from exc


def questionnaire_dir() -> Path:
    """The folder of bundled questionnaires (imported when a command runs)."""
    from scoring.questionnaire.loader import questionnaire_dir as bundled

    return bundled()


def refuse_clashes(
    inputs: dict[str, Path | None],
    outputs: dict[str, Path | None],
    folders: dict[str, Path | None] | None = None,
) -> None:
    """Exit 2, before anything is read or written, when an output is an input or another
    output (:func:`scoring._outputs.check_outputs`). The bundled questionnaires are
    inputs of every command."""
    inputs = {**inputs, "the bundled questionnaires": questionnaire_dir()}
    try:
        check_outputs(inputs, outputs, folders)
    except PathClashError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc


def literal(text: object) -> str:
    """Text from a file (a facility name, an answer, a plan's reason) shown as it is
    written: rich markup in it is escaped, never run."""
    return escape(str(text))


QuestionnaireOption = Annotated[
    Path | None,
    typer.Option(
        "--questionnaire",
        "-q",
        help=(
            "A questionnaire YAML file, or a bundled version written id@version (e.g. "
            "care_cyber@1.0.0), instead of the newest bundled questionnaire."
        ),
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


def require_files(*paths: Path | None, as_json: bool = False) -> None:
    """Exit 1 when an input is not a regular file: a pipe, socket or device (which could
    make a command wait, or read without end) is refused before it is opened."""
    try:
        for path in paths:
            if path is not None:
                require_regular_file(path)
    except InputError as exc:
        fail_input(exc, as_json=as_json)


def choose_questionnaire(path: Path | None) -> Questionnaire:
    from scoring.questionnaire.loader import bundled_questionnaire, load_questionnaire

    bundled = _BUNDLED_KEY.fullmatch(path.name) if path is not None else None
    if path is not None and bundled is not None and not path.exists():
        path = None
    require_files(path)
    try:
        if bundled is not None and path is None:
            return bundled_questionnaire(bundled["id"], bundled["version"])
        return load_questionnaire(path) if path is not None else bundled_questionnaire()
    except QuestionnaireError as exc:
        fail_questionnaire(exc)


_BUNDLED_KEY = re.compile(r"(?P<id>[a-z][a-z0-9_]{0,63})@(?P<version>\d{1,4}\.\d{1,4}\.\d{1,4})")
"""``--questionnaire care_cyber@1.0.0``: a bundled questionnaire by id and version."""


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
