"""``carescore score FILE``: one applicant's outcome, tier, premium and fixes worth making."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from scoring._outputs import partial_path, write_atomically
from scoring.cli._common import (
    EXIT_INVALID,
    EXIT_USAGE,
    JsonOption,
    fail_environment,
    fail_input,
    issue_line,
    literal,
    parse_as_of,
    refuse_clashes,
    require_files,
)
from scoring.errors import InputError, Issue, RatingPlanError
from scoring.vocabulary import Reason, Severity

if TYPE_CHECKING:  # the engine, results and reading are imported when a command runs
    from scoring.rating.engine import RatingEngine
    from scoring.rating.result import ScoreResult
    from scoring.responses.validation import Validation

_OUTCOME_STYLE = {"quote": "bold green", "refer": "bold yellow", "decline": "bold red"}


def load_engine(model: Path | None, rating_plan: Path | None) -> RatingEngine:
    """The model and rating plan a command asked for; exit 1 with the reasons if unusable.

    A model folder without a rating plan of its own (one ``carescore train`` wrote) is
    priced with the bundled plan, and the command says so.
    """
    from scoring.model.loss_model import default_model_dir
    from scoring.rating.engine import RatingEngine
    from scoring.rating.plan import PLAN_FILE

    model_dir = model or default_model_dir()
    if rating_plan is None and not (model_dir / PLAN_FILE).is_file():
        rating_plan = default_model_dir() / PLAN_FILE
        typer.echo(
            f"note: {model_dir} holds no {PLAN_FILE}; pricing with the bundled rating plan "
            f"{rating_plan} (--rating-plan gives another)",
            err=True,
        )
    try:
        return RatingEngine.load(model_dir, rating_plan)
    except InputError as exc:
        fail_input(exc, as_json=False)
    except RatingPlanError as exc:
        typer.echo(f"error: {exc.source} cannot be used:", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(EXIT_INVALID) from exc


def cover_options(
    engine: RatingEngine, limit: str | None, retention: str | None
) -> tuple[str | None, str | None]:
    """``--limit`` and ``--retention`` as the plan's codes (a code or a label, as the reader
    takes them); one that is neither is a usage error (exit 2) naming the option."""
    codes: list[str | None] = []
    for option, what, text in (
        ("--limit", "limit", limit),
        ("--retention", "retention", retention),
    ):
        if text is None:
            codes.append(None)
            continue
        try:
            codes.append(engine.cover_code(what, text))
        except InputError as exc:
            issue = exc.issues[0]
            typer.echo(
                f"error: {option}: given {text!r}: {issue.message} (allowed: {issue.allowed})",
                err=True,
            )
            raise typer.Exit(EXIT_USAGE) from exc
    return codes[0], codes[1]


ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model", "-m", help="Model folder (default: the bundled model).", file_okay=False
    ),
]
PlanOption = Annotated[
    Path | None,
    typer.Option(
        "--rating-plan",
        help="Rating plan file (default: rating-plan.yaml in the model folder, else the "
        "bundled plan).",
        dir_okay=False,
    ),
]


def _pick(validation: Validation, facility: str | None) -> Validation:
    """The one facility to score: the only row, or the row whose facility_id is given."""
    if facility is None:
        if validation.n_rows == 1:
            return validation
        raise InputError(
            [
                Issue(
                    Reason.OUT_OF_RANGE,
                    f"the file holds {validation.n_rows:,} facilities; choose one with "
                    "--facility ID",
                    source=validation.source,
                )
            ]
        )
    ids = validation.facilities["facility_id"].astype("string")
    rows = (ids == facility).fillna(False).to_numpy(dtype=bool)
    if not rows.any():
        raise InputError(
            [
                Issue(
                    Reason.NOT_A_CHOICE,
                    "no facility with this id in the file",
                    source=validation.source,
                    question_id="facility_id",
                    value=facility,
                )
            ]
        )
    return validation.subset(rows)


def score_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="One facility's response: YAML or JSON, or a CSV/XLSX/Parquet row "
            "(with --facility when the file holds several).",
            exists=True,
            dir_okay=False,
        ),
    ],
    limit: Annotated[
        str | None,
        typer.Option(
            "--limit",
            help="Limit, as a code or label: limit_1m or '$1 million' (default: the one "
            "requested).",
        ),
    ] = None,
    retention: Annotated[
        str | None,
        typer.Option(
            "--retention",
            help="Retention, as a code or label: ret_10k or '$10,000' (default: the one "
            "requested).",
        ),
    ] = None,
    facility: Annotated[
        str | None,
        typer.Option("--facility", help="The facility_id to score in a many-facility file."),
    ] = None,
    model: ModelOption = None,
    rating_plan: PlanOption = None,
    as_json: JsonOption = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write a one-page HTML report here.", dir_okay=False),
    ] = None,
    fixes: Annotated[
        int, typer.Option("--fixes", min=0, help="Fixes to list in the terminal.")
    ] = 5,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Assessment date (YYYY-MM-DD) if the file gives none."),
    ] = None,
) -> None:
    """Score one applicant: quote / refer / decline, tier, premium, and the fixes worth making.

    Exits 0 when scored, 1 when the response, the model or the rating plan cannot be
    used (nothing is scored then) or the report cannot be written, 2 for usage errors
    (an --html report that is an input among them).
    """
    from scoring.model.loss_model import default_model_dir
    from scoring.rating.score import applicants, score_applicant
    from scoring.responses.intake import validate_file

    refuse_clashes(
        {
            "the response": file,
            "--model": model or default_model_dir(),
            "--rating-plan": rating_plan,
        },
        {"--html": html, "the report's .partial file": html and partial_path(html)},
    )
    require_files(file, rating_plan, as_json=as_json)
    engine = load_engine(model, rating_plan)
    limit, retention = cover_options(engine, limit, retention)
    day = parse_as_of(as_of)
    try:
        validation = _pick(validate_file(file, engine.questionnaire, as_of=day), facility)
        if not validation.is_valid:
            for issue in validation.issue_list(Severity.ERROR):
                typer.echo(issue_line(issue), err=True)
            typer.echo(f"{validation.source}: INVALID - not scored; fix the errors above", err=True)
            raise typer.Exit(EXIT_INVALID)
        (applicant,) = applicants(engine, validation)
        result = score_applicant(engine, applicant, limit=limit, retention=retention)
    except InputError as exc:
        fail_input(exc, as_json=as_json)
    if html is not None:
        facility_type = applicant.answers.get("facility_type")
        _write_html(engine, result, None if facility_type is None else str(facility_type), html)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        _print(result, fixes)


def _write_html(
    engine: RatingEngine, result: ScoreResult, facility_type: str | None, path: Path
) -> None:
    """Write the report aside, then rename it, so a half-written file never looks complete."""
    from scoring.rating.peers import peer_scores
    from scoring.report.html import render_html

    scores, label = peer_scores(engine, facility_type)
    text = render_html(result, peers=[int(s) for s in scores], peers_label=label)
    try:
        write_atomically(path, text.encode("utf-8"))
    except OSError as exc:
        fail_environment(exc, f"writing the report {path}")


def _money(value: float) -> str:
    return f"${value:,.0f}"


def _print(result: ScoreResult, fixes: int) -> None:
    from scoring.rating.result import FIND_OUT

    console = Console(highlight=False, soft_wrap=False, emoji=False)
    name = result.facility_name or result.facility_id or "applicant"
    style = _OUTCOME_STYLE[result.outcome]
    layer = result.layer
    head = (
        f"[{style}]{result.outcome.upper()}[/]   tier [bold]{literal(result.tier)}[/]   "
        f"score [bold]{result.score}[/]/1000   premium [bold]{_money(result.premium)}[/] "
        f"for {_money(layer.limit_amount)} limit, {_money(layer.retention_amount)} retention\n"
        f"{literal(result.tier_description)}; expected loss {_money(result.expected_loss)} a year "
        f"vs {_money(result.class_expected_loss)} for the class average "
        f"(x{result.relative_risk:.2f})"
    )
    head += f"\ntechnical premium {_money(result.technical_premium)} (before any cap)"
    if result.premium_cap_note is not None:
        head += f"\n{literal(result.premium_cap_note)}"
    if result.premium_note is not None:
        head += f"\n[{style}]{literal(result.premium_note)}[/]"
    title = Text(f"{name} - assessed {result.assessed_on}")  # literal text, never markup
    console.print(Panel(head, title=title, expand=False))
    for hit in result.rules:
        console.print(
            f"  [{_OUTCOME_STYLE[hit.outcome]}]{hit.outcome}[/]: {literal(hit.reason)} "
            f"({literal(hit.id)})"
        )
    advice = result.advice
    if advice is not None and advice.fixes and fixes:
        table = Table(
            title="Fixes worth making, at the best answer: those that get a quote or a better "
            "tier first, then by what each is worth"
        )
        for column in ("fix", "now", "worth", "off premium", "then", "cost"):
            table.add_column(column)
        for fix in advice.fixes[:fixes]:
            after = fix.best or fix.next
            table.add_row(
                literal(fix.question)
                + (f"\n[italic]{literal(FIND_OUT)}[/]" if fix.unknown else ""),
                literal(fix.answer),
                _money(after.technical_saving),
                _money(after.saving),
                f"tier {literal(after.tier)}, {after.outcome}",
                f"{_money(fix.cost_low)}-{_money(fix.cost_high)}",
            )
        console.print(table)
        if any(fix.capped for fix in advice.fixes[:fixes]):
            console.print(
                "[dim]worth: the technical premium a fix saves, before any cap; off premium: "
                "what it takes off the premium offered, which a cap holds[/]"
            )
    if advice is not None:
        for fix_set in (advice.insurable, advice.next_tier):
            if fix_set is None:
                continue
            goal = "to be quoted" if fix_set.goal == "insurable" else "to move up a tier"
            if fix_set.reached and fix_set.scenario is not None:
                console.print(
                    f"Fewest fixes {goal} (then tier {literal(fix_set.scenario.tier)}, "
                    f"{fix_set.scenario.outcome}, {_money(fix_set.scenario.premium)}):"
                )
                for question in fix_set.questions or fix_set.fixes:
                    console.print(f"  - {literal(question)}")
            else:
                console.print(f"No fixes {goal}: {literal(fix_set.note)}")
    for note in result.notes:
        about = "" if note.question is None else f"{note.question} - "
        console.print(f"[dim]note: {literal(about + note.message)}[/]")
    versions = result.versions
    console.print(
        f"[dim]{literal(versions.model_id)} ({literal(versions.model_sha256[:12])}), "
        f"{literal(versions.rating_plan)}, {literal(versions.questionnaire)}[/]"
    )
