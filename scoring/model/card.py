"""The model card written beside every model: intended use, data, limitations, relativities."""

from __future__ import annotations

import math
from typing import Any

from scoring.model.loss_model import LossModel
from scoring.questionnaire.definition import Questionnaire
from scoring.questionnaire.loader import bundled_questionnaire
from scoring.synthetic.market import Market
from scoring.vocabulary import AnswerKind, Encoding

_TOP = 12


def model_card(
    model: LossModel,
    *,
    synthetic: bool,
    evaluation: str | None = None,
    questionnaire: Questionnaire | None = None,
    market: Market | None = None,
) -> str:
    """A Markdown model card for ``model`` (``questionnaire``: the one it was trained for,
    the bundled one of its id and version when not given; ``market``: the synthetic
    market its training book was drawn from, when it was)."""
    training = model.training
    lines = [
        f"# Model card: {model.model_id}",
        "",
        "## Intended use",
        "",
        "Expected annual cyber loss of a care facility (nursing home, assisted living, "
        "home health, hospice, imaging centre), per peril, from its answers to the "
        f"`{model.questionnaire.id}` questionnaire version {model.questionnaire.version}: "
        "claim frequency (Poisson GLM with log exposure offset) times claim size (Gamma "
        "GLM), each factor a readable relativity. For pricing support, underwriting "
        "triage and remediation advice; not for use on other questionnaire versions, "
        "other classes of business, or without an underwriter's review.",
        "",
        "## Training data",
        "",
        f"- source: `{training.source}` (sha256 `{training.data_fingerprint}`)",
        f"- {training.rows:,} facility-years, {training.exposure:,.1f} years of exposure",
        "- claims: " + ", ".join(f"{p.value} {n:,}" for p, n in training.claims.items()),
        f"- seed {training.seed}, carescore {training.carescore_version}",
    ]
    if synthetic:
        lines += [
            "",
            "**This model is trained on a synthetic book, calibrated to cited public figures "
            "(models/synthetic-truth/), not to claims experience.** No insurer publishes its "
            "claims; an insurer should retrain on its own claims history "
            "(`carescore train`).",
        ]
    if market is not None:
        lines += _market_summary(market)
    lines += [
        "",
        "## Method",
        "",
        "Per peril, a Poisson frequency GLM and a Gamma severity GLM (log links) on the "
        "questionnaire's encoded answers. Each control is a level from 0 (worst answer) to 1 "
        "(best) with its coefficient bounded at 0, so a better answer never raises expected "
        "loss. Categorical answers read against a base level (the most common answer). The "
        "penalty is the adaptive lasso's (L1) in two stages: the lasso sets the answers without "
        "an effect to exactly 0, then the answers it kept are refitted, each penalised by one "
        "over its first-stage size, so large effects are barely shrunk; each stage's strength "
        "is chosen by cross-validation. One claim's size is lognormal around the "
        "severity GLM's mean, with a per-peril shape (sigma) estimated from the "
        "facility-years with a single claim; the rating plan prices layers with it. The "
        "first stage's penalty is scale-free: each coefficient's is weighted by its "
        "feature's standard deviation, so whether an answer is kept does not depend on its "
        "unit.",
        "",
        *_bounded_numbers(model, questionnaire),
        "## Limitations",
        "",
        "- Relativities are only as good as the data: the default model's effects come from "
        "public figures and stated assumptions (each cited in the ground-truth file).",
        "- Answers are attestations; overstated answers understate risk.",
        "- Catastrophic, correlated events (one vendor's breach hitting many insureds) are "
        "not modelled per facility.",
        "- Large, rare losses make severity estimates uncertain for small perils.",
        "- Effects multiply: a facility with many of the worst answers together reaches a "
        "relative risk far beyond the facilities of the training book, and its expected loss "
        "is then an extrapolation of the model, not an estimate the data supports; the "
        "rating plan's tier E refers it to an underwriter.",
    ]
    unconverged = [
        f"{peril.value} {part}"
        for peril, m in model.perils.items()
        for part in ("frequency", "severity")
        if not getattr(m, part).converged
    ]
    if unconverged:
        lines.append(f"- The solver stopped before its tolerance for: {', '.join(unconverged)}.")
    if evaluation:
        lines += ["", "## Evaluation", "", evaluation]
    lines += ["", "## Strongest relativities (best / worst answer, or per unit)", ""]
    for peril, parts in model.relativities().items():
        lines += [f"### {peril}", "", "| part | feature | relativity |", "|---|---|---|"]
        for part, values in parts.items():
            ranked = sorted(values.items(), key=lambda kv: -abs(math.log(kv[1])))[:_TOP]
            lines += [
                f"| {part} | `{name}` | {value:.3f} |" for name, value in ranked if value != 1.0
            ]
        lines.append("")
    return "\n".join(lines) + "\n"


def _market_summary(market: Market) -> list[str]:
    lines = [
        "",
        "## Synthetic market",
        "",
        f"The training book's applicants are drawn from the market `{market.id}` version "
        f"{market.version} (models/synthetic-truth/): each answer's share among applicants, "
        "with its source or marked as an assumption, and a latent maturity (loading "
        f"{market.maturity.loading:g}, {market.maturity.per_doubling:g} per doubling of "
        "revenue, shifted by facility type) that makes controls correlate. What 100,000 "
        "applicants must show (tests/test_synthetic_market.py):",
        "",
        "| target | share | why |",
        "|---|---|---|",
    ]
    for target in market.targets:
        what = f"`{target.question}`" if target.question else f"outcome {target.outcome}"
        answers = f" = {', '.join(target.answers)}" if target.answers else ""
        why = " ".join(target.why.split()).replace("|", "/")
        low, high = f"{100 * target.low:g} %", f"{100 * target.high:g} %"
        lines.append(f"| {what}{answers} | {low} to {high} | {why} |")
    return lines


def _bounded_numbers(model: LossModel, questionnaire: Questionnaire | None) -> list[str]:
    """The card's section on numbers, history and cover: each number's transform, its
    learned cap and declared factor; the questions that only raise; those left out."""
    if questionnaire is None:
        questionnaire = bundled_questionnaire(model.questionnaire.id, model.questionnaire.version)
    encoder = model.encoder(questionnaire)
    lines = [
        "## Numbers, history and cover",
        "",
        "No answer, against any other in the form's range, moves a peril's expected loss by "
        "more than its question's factor: training bounds each number's frequency and "
        "severity coefficients together (scoring/model/limits.py), and loading checks it. "
        "A number that is not a control is capped at quantiles of the training book, so an "
        "answer beyond the book's range is priced as the book's extreme.",
        "",
        "| question | feature | transform | cap (feature scale) | at most |",
        "|---|---|---|---|---|",
    ]
    capped = encoder.capped_features
    for question in questionnaire.questions:
        numeric = question.is_numeric or question.kind is AnswerKind.DATE
        if not numeric or question.effective_encoding is Encoding.NONE:
            continue
        name = next(str(f) for f in encoder.feature_names if str(f).startswith(question.id))
        if name in capped:
            low, high = model.feature_caps.get(name, (math.nan, math.nan))
            quantiles = list(question.transform.cap)
            shape = f"{question.effective_encoding.value}, capped at quantiles {quantiles}"
            cap = f"{low:.6g} .. {high:.6g}"
        elif question.transform.knots is not None:
            shape, cap = f"level through knots {list(question.transform.knots)}", "-"
        else:
            shape, cap = f"level ({question.effective_encoding.value})", "-"
        lines.append(
            f"| `{question.id}` | `{name}` | {shape} | {cap} | "
            f"x{question.transform.max_relativity:g} |"
        )
    history = [f"`{q.id}`" for q in questionnaire.questions if q.history]
    cover = [f"`{q.id}`" for q in questionnaire.questions if q.cover]
    lines += [
        "",
        f"History answers never lower expected loss (a larger number, or yes, is worse): "
        f"{', '.join(history) or 'none'}.",
        "",
        f"Cover questions are never features; the rating plan prices the layer they choose: "
        f"{', '.join(cover) or 'none'}.",
        "",
    ]
    return lines


def evaluation_summary(report: dict[str, object], *, book: str) -> str:
    """A Markdown summary of an evaluation report (from :func:`evaluate`)."""
    perils = report["perils"]
    assert isinstance(perils, dict)
    lines = [
        f"Held-out book `{book}`: {report['rows']:,} facility-years.",
        "",
        "| peril | observed claims | predicted | predicted / observed | Gini | oracle Gini "
        "| Gini / oracle | D-squared | deciles off by over 10 %: model / oracle / model "
        "against the truth's expected claims "
        "| relativities within 15 % of truth: sufficient exposure / all "
        "| misses beyond two standard errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for peril, result in perils.items():
        oracle = result.get("oracle", {})
        relativities = result.get("relativities", [])
        sufficient = [r for r in relativities if r["sufficient_exposure"]]
        beyond = sum(
            r["error"] > 0.15
            and abs(math.log(r["fitted"] / r["true"])) > 2 * r.get("standard_error", 0.0)
            for r in relativities
        )
        deciles = " / ".join(
            str(_decile_misses(table))
            for table in (
                result["calibration_by_decile"],
                oracle.get("calibration_by_decile", []),
                oracle.get("expected_by_model_decile", []),
            )
        )
        lines.append(
            f"| {peril} | {result['observed_claims']:,} | {result['predicted_claims']:,.1f} | "
            f"{result['predicted_over_observed']:.3f} | {result['gini']:.3f} | "
            f"{oracle.get('gini', float('nan')):.3f} | {oracle.get('gini_ratio') or 0:.3f} | "
            f"{result['d_squared']:.3f} | {deciles} | "
            f"{_close(sufficient)} of {len(sufficient)} / {_close(relativities)} of "
            f"{len(relativities)} | {beyond} |"
        )
    lines += [
        "",
        "A relativity's standard error (in `evaluation.json`) is that of an unpenalised fit "
        "on a book with the held-out book's mix of facilities and the training book's "
        "number of claims, from the truth's Fisher information: a miss within two of them "
        "is what the training book cannot tell apart from the truth. A relativity has "
        "sufficient exposure when its standard error is at most log(1.15) / 2.576 (the "
        "training book pins it within 15 % with 99 % confidence); the claim-size shape, "
        "from 100 training claims. The third count of deciles compares the model with the "
        "truth's expected claims instead of the held-out claims: the model's own error, "
        "without the held-out book's noise.",
        "",
        "Plots and the full report (calibration by decile, facility type and size "
        "band; every relativity against the truth) are in `evaluation/`.",
    ]
    challenger = report.get("challenger")
    if isinstance(challenger, dict) and challenger.get("perils"):
        lines += ["", *_challenger_summary(challenger)]
    return "\n".join(lines)


def _challenger_summary(challenger: dict[str, Any]) -> list[str]:
    """The challenger's comparison with the GLMs, as Markdown lines."""
    lines = [
        f"**Challenger.** Gradient-boosted Poisson trees, never rising in a control, fitted "
        f"on {challenger['fit_rows']:,} facility-years of {challenger['fit_share']:.0%} of the "
        f"held-out facilities and compared with the model on {challenger['scored_rows']:,} "
        "facility-years of the others (Poisson deviance per facility-year and Gini; the "
        "challenger is clearly better when its deviance is lower by over 2.576 standard "
        "errors of the difference, summed by facility).",
        "",
        "| peril | deviance: model / challenger / oracle | Gini: model / challenger / oracle "
        "| challenger clearly better | what explains the difference |",
        "|---|---|---|---|---|",
    ]
    for peril, result in challenger["perils"].items():
        if "poisson_deviance" not in result:
            lines.append(f"| {peril} | - | - | - | {result.get('note', '')} |")
            continue
        deviance, gini = result["poisson_deviance"], result["gini"]
        found = result.get("explanation", {})
        named = [row["feature"] for row in found.get("features", [])[:3]] + [
            " x ".join(row["features"]) for row in found.get("interactions", [])[:3]
        ]
        lines.append(
            f"| {peril} | {deviance['glm']:.5f} / {deviance['challenger']:.5f} / "
            f"{deviance.get('oracle', float('nan')):.5f} | {gini['glm']:.3f} / "
            f"{gini['challenger']:.3f} / {gini.get('oracle', float('nan')):.3f} | "
            f"{'yes' if result['clearly_better'] else 'no'} | {', '.join(named) or '-'} |"
        )
    return lines


def _close(relativities: list[dict[str, Any]]) -> int:
    return sum(r["error"] <= 0.15 for r in relativities)


def _decile_misses(deciles: list[dict[str, Any]]) -> int:
    """Deciles whose observed claims are more than 10 % off their prediction."""
    return sum(d["ratio"] is not None and round(abs(d["ratio"] - 1), 9) > 0.1 for d in deciles)
