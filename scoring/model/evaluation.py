"""Evaluation of a loss model on a held-out book, against the truth when it is known.

Per peril: Poisson deviance of claim counts and D-squared (model and, for a
synthetic book, the oracle), Gamma deviance of claim sizes, Tweedie deviance of
losses, ordered Lorenz curves and Gini (model, oracle, random), total predicted
against observed claims, calibration by decile of prediction, by facility type
and by size band; and, where the truth is known, each fitted relativity against
the true one. Results are a JSON-ready dict and PNG plots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scoring._files import read_document
from scoring.errors import InputError, Issue
from scoring.model import metrics
from scoring.model.claims_history import ClaimsHistory
from scoring.model.loss_model import LossModel
from scoring.model.plots import plot_calibration, plot_lorenz
from scoring.questionnaire.definition import Questionnaire
from scoring.synthetic.truth import ResolvedTruth
from scoring.vocabulary import Peril, Reason

TWEEDIE_POWER = 1.5
SIZE_BANDS = (0, 2e6, 5e6, 1e7, 2.5e7, 5e7, math.inf)
"""Net patient revenue bands (USD) for calibration by size."""
MIN_RELATIVITY_CLAIMS = 100.0
"""A relativity has sufficient exposure when the facilities away from the feature's
median value carry at least this many expected claims (weighted by how far away)."""


@dataclass(frozen=True)
class Oracle:
    """The true expected claims and claim sizes of a synthetic book, row by row."""

    frames: pd.DataFrame
    truth: ResolvedTruth


def oracle_beside(book: Path, history: ClaimsHistory) -> Oracle | None:
    """The ground truth ``carescore synth`` wrote beside a book, aligned with its rows.

    Returns None for a book without one (an insurer's own claims history).
    """
    frames_path, truth_json = book.with_suffix(".truth.parquet"), book.with_suffix(".truth.json")
    if not (frames_path.is_file() and truth_json.is_file()):
        return None
    keys = pd.DataFrame({"facility_id": history.facility_id, "policy_year": history.policy_year})
    frames = pd.read_parquet(frames_path)
    aligned = keys.merge(frames, on=["facility_id", "policy_year"], how="left", validate="1:1")
    if aligned.isna().any().any():
        raise InputError(
            [
                Issue(
                    Reason.UNREADABLE_FILE,
                    "the ground truth beside the book does not cover every facility-year",
                    source=str(frames_path),
                )
            ]
        )
    truth = ResolvedTruth.model_validate(read_document(truth_json))
    return Oracle(frames=aligned, truth=truth)


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def evaluate(
    model: LossModel,
    history: ClaimsHistory,
    questionnaire: Questionnaire,
    *,
    oracle: Oracle | None = None,
    plots: Path | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` on ``history``; write plots into ``plots`` when given."""
    encoder = model.encoder(questionnaire)
    features = encoder.transform(history.responses.table)
    exposure = history.exposure
    answers = history.responses.answers
    revenue = answers["net_patient_revenue"].to_numpy(dtype=np.float64, na_value=np.nan)
    size_band = pd.cut(pd.Series(revenue), bins=list(SIZE_BANDS), right=False).astype(str)
    facility_type = answers["facility_type"].astype(str).to_numpy()
    report: dict[str, Any] = {
        "model_id": model.model_id,
        "rows": history.n_rows,
        "exposure": _round(float(exposure.sum())),
        "perils": {},
    }
    for peril in Peril:
        counts = history.claims[f"claims_{peril.value}"].to_numpy()
        losses = history.claims[f"loss_{peril.value}"].to_numpy()
        expected = model.frequency(peril, features) * exposure
        size = model.mean_claim(peril, features)
        null = metrics.null_prediction(counts, exposure)
        result: dict[str, Any] = {
            "observed_claims": int(counts.sum()),
            "predicted_claims": _round(float(expected.sum())),
            "predicted_over_observed": _round(float(expected.sum() / max(counts.sum(), 1))),
            "poisson_deviance": _round(metrics.poisson_deviance(counts, expected)),
            "poisson_deviance_null": _round(metrics.poisson_deviance(counts, null)),
            "gini": _round(metrics.gini(counts, expected, exposure)),
            "tweedie_deviance": _round(
                metrics.tweedie_deviance(losses, expected * size, TWEEDIE_POWER)
            ),
        }
        result["d_squared"] = _round(
            metrics.d_squared(result["poisson_deviance"], result["poisson_deviance_null"])
        )
        with_claims = counts > 0
        if with_claims.any():
            result["gamma_deviance"] = _round(
                metrics.gamma_deviance(
                    losses[with_claims] / counts[with_claims],
                    size[with_claims],
                    counts[with_claims],
                )
            )
            result["observed_mean_claim"] = _round(float(losses.sum() / counts.sum()))
            result["predicted_mean_claim"] = _round(float((expected * size).sum() / expected.sum()))
        deciles = metrics.decile_groups(expected, exposure)
        by_decile = metrics.calibration_table(counts, expected, deciles)
        result["calibration_by_decile"] = _records(by_decile)
        result["calibration_by_facility_type"] = _records(
            metrics.calibration_table(counts, expected, facility_type)
        )
        result["calibration_by_size"] = _records(
            metrics.calibration_table(counts, expected, size_band.to_numpy())
        )
        curves = {
            f"model (Gini {result['gini']:.3f})": metrics.lorenz_curve(counts, expected, exposure)
        }
        if oracle is not None:
            true_expected = oracle.frames[f"expected_claims_{peril.value}"].to_numpy()
            true_gini = metrics.gini(counts, true_expected, exposure)
            result["oracle"] = {
                "gini": _round(true_gini),
                "gini_ratio": _round(result["gini"] / true_gini) if true_gini else None,
                "poisson_deviance": _round(metrics.poisson_deviance(counts, true_expected)),
                "predicted_claims": _round(float(true_expected.sum())),
            }
            curves[f"oracle (Gini {true_gini:.3f})"] = metrics.lorenz_curve(
                counts, true_expected, exposure
            )
            result["relativities"] = _relativities(
                model, oracle.truth, peril, features, exposure, true_expected
            )
        report["perils"][peril.value] = result
        if plots is not None:
            plot_lorenz(
                curves, plots / f"lorenz-{peril.value}.png", f"{peril.value}: ordered Lorenz curve"
            )
            plot_calibration(
                by_decile,
                plots / f"calibration-{peril.value}.png",
                f"{peril.value}: observed and predicted claims by decile",
            )
    return report


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for record in table.to_dict("records"):
        row: dict[str, Any] = {}
        for key, value in record.items():
            if isinstance(value, float):
                value = _round(value) if math.isfinite(value) else None
            row[str(key)] = value
        rows.append(row)
    return rows


def _fitted_log_relativity(
    name: str,
    coefficients: tuple[float, ...],
    index: dict[str, int],
    features: np.ndarray,
    exposure: np.ndarray,
    named: frozenset[str],
) -> float:
    """A feature's fitted log relativity, read as the truth reads it (see :func:`_contrast`)."""
    return float(_contrast(name, index, features, exposure, named) @ np.asarray(coefficients))


def _contrast(
    name: str,
    index: dict[str, int],
    features: np.ndarray,
    exposure: np.ndarray,
    named: frozenset[str],
) -> np.ndarray:
    """The weights on the coefficients that give a feature's log relativity as the truth reads it.

    The truth gives one level of a choice (``has_imaging=yes``) an effect against all
    others; the model reads levels against its own base level, so the comparable figure
    is the level's coefficient minus the exposure-weighted mean of the other levels'.

    Some features only vary with the level: the answers to questions asked only of
    facilities at that level (the modality count and PACS questions of a facility with
    imaging) take one fixed value on every facility-year without it. The truth's
    relativity of the level holds its ``named`` features fixed and gives these others
    no effect, so it is the whole difference the level makes; the model's coefficient
    alone is that difference for a facility at the fixed values (an imaging facility
    with no modality and no PACS), which the book hardly holds. The comparable figure
    adds, for each feature tied to the level that the truth does not name, its
    coefficient times its exposure-weighted mean over the facility-years at the level,
    less its fixed value elsewhere.
    """
    weights = np.zeros(len(index))
    weights[index[name]] = 1.0
    if "=" not in name:
        return weights
    question = name.split("=", 1)[0]
    levels = [f for f in index if f.startswith(f"{question}=")]
    others = [index[f] for f in levels if f != name]
    shares = np.array([float(np.sum(exposure * features[:, j])) for j in others])
    if others and shares.sum() > 0:
        weights[others] -= shares / shares.sum()
    at_level = features[:, index[name]] > 0.5
    if not at_level.any() or at_level.all():
        return weights
    elsewhere = features[~at_level]
    for feature, j in index.items():
        if feature in named or feature in levels:
            continue
        fixed = float(elsewhere[0, j])
        if np.all(elsewhere[:, j] == fixed):
            mean_at_level = float(np.average(features[at_level, j], weights=exposure[at_level]))
            weights[j] += mean_at_level - fixed
    return weights


def _covariance(
    features: np.ndarray, free: np.ndarray, information_weights: np.ndarray
) -> np.ndarray:
    """Covariance of an unpenalised fit's coefficients on ``free`` features, from the truth.

    The inverse Fisher information ``(X' W X)^-1`` of a log-link GLM (with an intercept)
    whose rows carry ``information_weights``: a Poisson count, its expected number of
    claims; a Gamma claim size, its expected number of claims over the claims' squared
    coefficient of variation.
    """
    design = np.column_stack([np.ones(len(features)), features[:, free]])
    information = design.T @ (design * information_weights[:, None])
    return np.asarray(np.linalg.pinv(information, hermitian=True))[1:, 1:]


def _relativities(
    model: LossModel,
    truth: ResolvedTruth,
    peril: Peril,
    features: np.ndarray,
    exposure: np.ndarray,
    claims: np.ndarray,
) -> list[dict[str, Any]]:
    """Fitted against true relativity for each feature the truth gives an effect."""
    index = {name: i for i, name in enumerate(model.features)}
    spec = truth.perils[peril]
    fitted = model.perils[peril]
    rows = []
    # a claim's size is lognormal: its squared coefficient of variation is exp(sigma^2) - 1
    size_dispersion = math.expm1(spec.sigma**2)
    for part, true_effects, glm, information_weights in (
        ("frequency", spec.frequency, fitted.frequency, claims),
        ("severity", spec.severity, fitted.severity, claims / size_dispersion),
    ):
        named = frozenset(true_effects)
        base = set(glm.base_features)
        free = np.array([i for i, f in enumerate(model.features) if f not in base])
        covariance = _covariance(features, free, information_weights)
        for name, beta in true_effects.items():
            column = features[:, index[name]]
            spread = float(np.sum(claims * np.abs(column - np.median(column))))
            contrast = _contrast(name, index, features, exposure, named)
            true_rel = math.exp(beta)
            fit_rel = math.exp(float(contrast @ np.asarray(glm.coefficients)))
            standard_error = math.sqrt(max(float(contrast[free] @ covariance @ contrast[free]), 0))
            rows.append(
                {
                    "part": part,
                    "feature": name,
                    "true": _round(true_rel),
                    "fitted": _round(fit_rel),
                    "error": _round(abs(fit_rel / true_rel - 1)),
                    "sufficient_exposure": spread >= MIN_RELATIVITY_CLAIMS,
                    "standard_error": _round(standard_error),
                }
            )
    rows.append(
        {
            "part": "claim shape",
            "feature": "lognormal sigma",
            "true": _round(spec.sigma),
            "fitted": _round(fitted.claim_sigma),
            "error": _round(abs(fitted.claim_sigma / spec.sigma - 1)),
            "sufficient_exposure": float(np.sum(claims)) >= MIN_RELATIVITY_CLAIMS,
        }
    )
    return rows
