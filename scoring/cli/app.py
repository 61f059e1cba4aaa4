"""The ``carescore`` application: one sub-command per module."""

from __future__ import annotations

import sys

import typer

from scoring import __version__
from scoring.cli._common import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    environment_message,
    exit_code_for,
)
from scoring.cli._help import Command, Group
from scoring.cli.accumulate import accumulate_command
from scoring.cli.batch import batch_command
from scoring.cli.compare import compare_command
from scoring.cli.model import evaluate_command, synth_command, train_command
from scoring.cli.questionnaire import questionnaire_app
from scoring.cli.score import score_command
from scoring.cli.serve import admin_app, serve_command
from scoring.cli.validate import validate_command

app = typer.Typer(
    name="carescore",
    help="Cyber-insurance risk scoring for care facilities.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
)
app.add_typer(questionnaire_app, name="questionnaire")
app.command("validate", cls=Command)(validate_command)
app.command("score", cls=Command)(score_command)
app.command("batch", cls=Command)(batch_command)
app.command("compare", cls=Command)(compare_command)
app.command("accumulate", cls=Command)(accumulate_command)
app.command("synth", cls=Command)(synth_command)
app.command("train", cls=Command)(train_command)
app.command("evaluate", cls=Command)(evaluate_command)
app.command("serve", cls=Command)(serve_command)
app.add_typer(admin_app, name="admin")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"carescore {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Cyber-insurance risk scoring for care facilities."""


def main() -> None:
    """Console entry point: run the app. A failure no command turned into a message is
    one line too: exit 1 for a file or the environment (:func:`exit_code_for`), exit 3
    for a bug."""
    try:
        app(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("carescore: interrupted\n")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # the last line of defence: never a traceback for a user
        code = exit_code_for(exc)
        if isinstance(exc, OSError):
            sys.stderr.write(environment_message(exc) + "\n")
            sys.exit(code)
        if code != EXIT_INTERNAL:
            sys.stderr.write(f"error: {exc}\n")
            sys.exit(code)
        sys.stderr.write(
            f"carescore: internal error ({type(exc).__name__}: {exc}); "
            "please report it with the command you ran\n"
        )
        sys.exit(EXIT_INTERNAL)
