"""``carescore compare BEFORE AFTER``: who moves when a book is rescored, and why."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scoring._outputs import partial_path, write_atomically
from scoring.cli._common import (
    EXIT_USAGE,
    fail_environment,
    fail_input,
    refuse_clashes,
    require_files,
)
from scoring.errors import InputError

if TYPE_CHECKING:
    from scoring.portfolio.compare_result import Comparison

_BOOK_HELP = "output of carescore batch (.parquet or .csv)"
_LISTED_RULES = 10
"""Rules, and facilities with changed answers, listed on the terminal (the reports list all)."""


def compare_command(
    before: Annotated[
        Path, typer.Argument(help=f"The book as it was: an {_BOOK_HELP}.", dir_okay=False)
    ],
    after: Annotated[
        Path, typer.Argument(help=f"The same book rescored: an {_BOOK_HELP}.", dir_okay=False)
    ],
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Write the dislocation report (HTML) here.", dir_okay=False),
    ] = None,
    csv_out: Annotated[
        Path | None,
        typer.Option(
            "--csv", help="Write one row per facility (CSV) here, for spreadsheets.", dir_okay=False
        ),
    ] = None,
    cap: Annotated[
        float | None,
        typer.Option(
            "--cap",
            help="Transition cap: keep each premium within +/- this share of its premium "
            "before, e.g. 0.10.",
        ),
    ] = None,
    movers: Annotated[
        int, typer.Option("--movers", min=0, help="Biggest movers to explain in the report.")
    ] = 20,
) -> None:
    """Compare two scored books of the same facilities: tier migration, premium changes,
    outcome changes and the rules behind them, the biggest movers and why.

    Exits 0 when compared, 1 when a book cannot be read, is not an output of
    carescore batch, misses columns or holds a facility twice, or a report cannot
    be written (nothing is written then), 2 for usage errors (a report that is a book,
    or the other report, among them).
    """
    if cap is not None and not 0 < cap <= 1:
        typer.echo(f"error: --cap must be greater than 0 and at most 1; got {cap:g}", err=True)
        raise typer.Exit(EXIT_USAGE)
    refuse_clashes(
        {"the book before": before, "the book after": after},
        {
            "--html": html,
            "--csv": csv_out,
            "the --html report's .partial file": html and partial_path(html),
            "the --csv file's .partial file": csv_out and partial_path(csv_out),
        },
    )
    require_files(before, after)
    # imported here: scoring a book does not need the comparison and its reports
    from scoring.portfolio.compare import compare_books
    from scoring.portfolio.dislocation_csv import dislocation_csv
    from scoring.portfolio.dislocation_html import render_dislocation_html

    try:
        comparison = compare_books(before, after, cap=cap, movers=movers)
    except InputError as exc:
        fail_input(exc, as_json=False)
    for path, render in ((html, render_dislocation_html), (csv_out, dislocation_csv)):
        if path is None:
            continue
        try:
            write_atomically(path, render(comparison).encode("utf-8"))
        except OSError as exc:
            fail_environment(exc, f"writing {path}")
    _report(comparison)
    for label, path in (("report", html), ("csv", csv_out)):
        if path is not None:
            typer.echo(f"{label}: {path}")


def _change(before: float, after: float) -> str:
    return f"{(after - before) / before * 100:+.1f}%" if before > 0 else "n/a"


def _report(comparison: Comparison) -> None:
    from scoring.report._words import money

    for side, book in (("before", comparison.before), ("after", comparison.after)):
        versions = book.versions
        typer.echo(
            f"{side}: {book.path}: {book.facilities:,} facilities, "
            f"{', '.join(versions.rating_plan) or '(no plan)'}, "
            f"{', '.join(versions.model_id) or '(no model)'} "
            f"({', '.join(v[:12] for v in versions.model_sha256)}), "
            f"{', '.join(versions.questionnaire) or '(no questionnaire)'}"
        )
    if comparison.questionnaire_differs:
        typer.echo("warning: the two books were scored with different questionnaires")
    for warning in comparison.version_warnings:
        typer.echo(f"warning: {warning}")
    counts, migration = comparison.counts, comparison.migration
    typer.echo(
        f"facilities: {counts['matched']:,} matched, {counts['answers_changed']:,} answers "
        f"changed, {counts['only_before']:,} only before (dropped), "
        f"{counts['only_after']:,} only after (added)"
    )
    typer.echo(
        f"tiers (matched): {migration.better:,} better, {migration.same:,} same, "
        f"{migration.worse:,} worse"
    )
    typer.echo(
        f"outcomes (matched): {comparison.moves('newly_quotable'):,} newly quotable, "
        f"{comparison.moves('newly_referred'):,} newly referred, "
        f"{comparison.moves('newly_declined'):,} newly declined"
    )
    before, after = comparison.premium_before, comparison.premium_after
    line = (
        f"premium (matched): before {money(before)}, after {money(after)} "
        f"({_change(before, after)})"
    )
    capping = comparison.capping
    if capping is not None:
        line += (
            f", capped at +/-{capping.cap * 100:g}% {money(capping.premium_capped)} "
            f"({money(capping.increase_forgone)} given up on {capping.capped_increases:,} "
            f"increase(s), {money(capping.decrease_withheld)} kept on "
            f"{capping.capped_decreases:,} decrease(s))"
        )
    typer.echo(line)
    _segments(comparison)
    unchanged = comparison.rules_unchanged_outcome
    if unchanged:
        typer.echo(
            "rules changed without an outcome change (matched): "
            + ", ".join(f"{t.rule} +{t.added:,}/-{t.removed:,}" for t in unchanged[:_LISTED_RULES])
            + (
                f" and {len(unchanged) - _LISTED_RULES:,} more"
                if len(unchanged) > _LISTED_RULES
                else ""
            )
        )
    changed = comparison.facilities[comparison.facilities["status"] == "answers_changed"]
    for row in changed.head(_LISTED_RULES).to_dict("records"):
        questions = str(row["changed_answers"] or "(not kept in these books)").replace(";", ", ")
        typer.echo(f"answers changed: {row['facility_id']}: {questions}")
    if len(changed) > _LISTED_RULES:
        typer.echo(f"answers changed: {len(changed) - _LISTED_RULES:,} more in the --csv file")


def _segments(comparison: Comparison) -> None:
    """One line per segment: each value's premium change over the matched facilities."""
    names = dict.fromkeys(s.segment for s in comparison.segments)
    for name in names:
        parts = [
            f"{s.value} {_change(s.premium_before, s.premium_after)} ({s.facilities:,})"
            for s in comparison.segments
            if s.segment == name
        ]
        typer.echo(f"premium by {name} (matched): " + ", ".join(parts))
