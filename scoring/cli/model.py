"""``carescore synth``, ``train`` and ``evaluate``: the synthetic book and the loss model.

Each command imports what it runs (training and evaluation bring in glum and
scikit-learn), so the other commands start without them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from scoring._outputs import write_atomically
from scoring.cli._common import (
    QuestionnaireOption,
    choose_questionnaire,
    fail_environment,
    fail_input,
    refuse_clashes,
    require_files,
)
from scoring.errors import InputError


def synth_command(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The book to write (.parquet).", dir_okay=False)
    ],
    facilities: Annotated[
        int, typer.Option("--facilities", min=1, help="Facilities in the book.")
    ] = 10_000,
    years: Annotated[
        int, typer.Option("--years", min=1, max=50, help="Policy years of each facility.")
    ] = 3,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed: the same seed, the same book.")
    ] = 0,
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth",
            help="A ground-truth YAML (default: the bundled one).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    questionnaire: QuestionnaireOption = None,
) -> None:
    """Write a synthetic book of facility-years with claims, and its ground truth beside it."""
    from scoring.synthetic.book import resolve_truth, synthetic_blocks, write_blocks
    from scoring.synthetic.truth import bundled_truth_path, load_truth

    if output.suffix.lower() != ".parquet":
        raise typer.BadParameter(
            "the book is written as Parquet: use a .parquet file name", param_hint="--output"
        )
    refuse_clashes(
        {"--truth": truth, "--questionnaire": questionnaire},
        {
            "--output": output,
            "the ground truth's table": output.with_suffix(".truth.parquet"),
            "the ground truth's file": output.with_suffix(".truth.json"),
        },
    )
    require_files(truth)
    target = choose_questionnaire(questionnaire)
    resolved = resolve_truth(load_truth(truth or bundled_truth_path(target)), target)
    blocks = synthetic_blocks(target, resolved, facilities=facilities, years=years, seed=seed)
    try:
        rows = write_blocks(blocks, resolved, output)
    except OSError as exc:
        fail_environment(exc, f"writing {output}")
    typer.echo(
        f"wrote {output} ({rows:,} facility-years) and its ground truth "
        f"({output.with_suffix('.truth.parquet').name}, "
        f"{output.with_suffix('.truth.json').name})",
        err=True,
    )


def train_command(
    book: Annotated[
        Path,
        typer.Argument(
            help="A book in the claims-history format (Parquet or CSV).",
            exists=True,
            dir_okay=False,
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The model folder to write.", file_okay=False)
    ],
    model_id: Annotated[
        str | None,
        typer.Option("--model-id", help="The model's id (default: the output folder's name)."),
    ] = None,
    seed: Annotated[
        int,
        typer.Option("--seed", help="Seed of the cross-validation folds: the same, the same fit."),
    ] = 0,
    synthetic: Annotated[
        bool,
        typer.Option(
            "--synthetic/--claims-experience",
            help="Say in the model card whether the book is synthetic.",
        ),
    ] = False,
    questionnaire: QuestionnaireOption = None,
) -> None:
    """Fit per-peril frequency and severity GLMs and write the model folder."""
    from scoring.model.card import model_card
    from scoring.model.loss_model import CARD_FILE, MANIFEST_FILE, MODEL_FILE, save_model
    from scoring.model.training import file_fingerprint, train_book

    refuse_clashes(
        {"the book": book, "--questionnaire": questionnaire},
        {name: output / name for name in (MODEL_FILE, MANIFEST_FILE, CARD_FILE)},
    )
    require_files(book)
    target = choose_questionnaire(questionnaire)
    try:
        model = train_book(
            book,
            target,
            model_id=model_id or output.name,
            fingerprint=file_fingerprint(book),
            seed=seed,
        )
    except InputError as exc:
        fail_input(exc, as_json=False)
    try:
        save_model(model, output, model_card(model, synthetic=synthetic))
    except OSError as exc:
        fail_environment(exc, f"writing the model folder {output}")
    typer.echo(f"wrote model {model.model_id} to {output}", err=True)


def evaluate_command(
    book: Annotated[
        Path,
        typer.Argument(
            help="A held-out book in the claims-history format.", exists=True, dir_okay=False
        ),
    ],
    model: Annotated[
        Path, typer.Option("--model", "-m", help="The model folder.", exists=True, file_okay=False)
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Folder for evaluation.json and the plots.", file_okay=False
        ),
    ],
    questionnaire: QuestionnaireOption = None,
    challenger: Annotated[
        bool,
        typer.Option(
            "--challenger/--no-challenger",
            help="Also fit gradient-boosted Poisson trees on half the facilities and compare "
            "them with the model on the others.",
        ),
    ] = True,
) -> None:
    """Evaluate a model on a book; compare with the ground truth when it lies beside the book."""
    from scoring.model.evaluation import evaluate_book
    from scoring.model.loss_model import load_model

    refuse_clashes(
        {"the book": book, "--model": model, "--questionnaire": questionnaire},
        {"evaluation.json": output / "evaluation.json"},
    )
    require_files(book)
    target = choose_questionnaire(questionnaire)
    try:
        loss_model = load_model(model, target)
        report = evaluate_book(loss_model, book, target, plots=output, challenger=challenger)
        output.mkdir(parents=True, exist_ok=True)
        text = json.dumps(report, indent=1) + "\n"
        write_atomically(output / "evaluation.json", text.encode("utf-8"))
    except InputError as exc:
        fail_input(exc, as_json=False)
    except OSError as exc:
        fail_environment(exc, f"writing the evaluation to {output}")
    typer.echo(
        f"{'peril':<18} {'observed':>9} {'predicted':>10} {'ratio':>6} {'gini':>6} "
        f"{'oracle':>6} {'D2':>6}"
    )
    for peril, result in report["perils"].items():
        oracle_gini = result.get("oracle", {}).get("gini")
        typer.echo(
            f"{peril:<18} {result['observed_claims']:>9,} "
            f"{result['predicted_claims']:>10,.1f} "
            f"{result['predicted_over_observed']:>6.3f} {result['gini']:>6.3f} "
            f"{'-' if oracle_gini is None else f'{oracle_gini:.3f}':>6} "
            f"{result['d_squared']:>6.3f}"
        )
    if "challenger" in report:
        _echo_challenger(report["challenger"])
    typer.echo(f"wrote {output / 'evaluation.json'} and plots", err=True)


def _echo_challenger(found: dict[str, Any]) -> None:
    """The challenger's Poisson deviance and Gini beside the model's, peril by peril."""
    typer.echo(
        f"\nchallenger (gradient-boosted trees, fitted on {found['fit_rows']:,} facility-years, "
        f"compared on {found['scored_rows']:,})"
    )
    typer.echo(f"{'peril':<18} {'deviance':>9} {'model':>9} {'gini':>6} {'model':>6}  verdict")
    for peril, result in found["perils"].items():
        if "poisson_deviance" not in result:
            typer.echo(f"{peril:<18} {result.get('note', '')}")
            continue
        deviance, gini = result["poisson_deviance"], result["gini"]
        verdict = "clearly better: see evaluation.json" if result["clearly_better"] else "no"
        typer.echo(
            f"{peril:<18} {deviance['challenger']:>9.5f} {deviance['glm']:>9.5f} "
            f"{gini['challenger']:>6.3f} {gini['glm']:>6.3f}  {verdict}"
        )
