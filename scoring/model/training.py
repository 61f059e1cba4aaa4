"""Training: per-peril claim frequency and severity GLMs on a claims history.

For each peril:

* frequency: Poisson GLM, log link, log(exposure) as offset;
* severity: Gamma GLM, log link, on the average claim size of the facility-years
  with claims, weighted by their number of claims.

Every coefficient is a relativity exp(beta) an underwriter can read. Each
control's feature runs from 0 (worst answer) to 1 (best), and its coefficient is
bounded above by 0, so a better answer never raises expected loss. Each
categorical question has a base level (its most common answer in the book)
whose coefficient is pinned at 0, so relativities read against the base. The L2
penalty is chosen per model by k-fold cross-validation on out-of-fold deviance.
glum is the solver: it fits GLMs with offsets, sample weights and coefficient
bounds (scikit-learn's GLMs have no bounds; see benchmarks/README.md).
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from glum import GeneralizedLinearRegressor
from sklearn.exceptions import ConvergenceWarning

from scoring.errors import InputError, Issue
from scoring.features.encoder import FeatureEncoder
from scoring.model.claims_history import ClaimsHistory
from scoring.model.loss_model import Glm, LossModel, PerilModel, QuestionnaireRef, TrainingInfo
from scoring.model.metrics import gamma_deviance, poisson_deviance
from scoring.questionnaire.definition import Questionnaire
from scoring.vocabulary import Encoding, Peril, Reason

ALPHAS = {"poisson": (1e-2, 1e-3, 1e-4, 1e-5), "gamma": (1.0, 1e-1, 1e-2, 1e-3)}
"""Candidate L2 penalties, searched by cross-validation. Severity sees only the
facility-years with claims (hundreds, not hundreds of thousands), so its
candidates are stronger."""
FOLDS = 3
CV_ROWS = 50_000
"""Cross-validation uses at most this many facility-years (a seeded sample)."""
MIN_CLAIMS = 5
"""A peril needs at least this many claims in the book to be fitted."""


def file_fingerprint(path: Path) -> str:
    """sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _bounds(info: pd.DataFrame, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Upper bound 0 for controls; both bounds 0 for each categorical base level."""
    lower = np.full(len(info), -np.inf)
    upper = np.where(info["is_control"].to_numpy(dtype=bool), 0.0, np.inf)
    base: list[str] = []
    one_hot = info["encoding"] == Encoding.ONE_HOT.value
    for _, group in info[one_hot].groupby("question_id", sort=False):
        counts = features[:, group.index.to_numpy()].sum(axis=0)
        pinned = int(group.index.to_numpy()[int(np.argmax(counts))])
        lower[pinned] = upper[pinned] = 0.0
        base.append(str(info.loc[pinned, "feature"]))
    return lower, upper, base


def _fit(
    family: str,
    alpha: float | None,
    X: np.ndarray,
    y: np.ndarray,
    *,
    lower: np.ndarray,
    upper: np.ndarray,
    weights: np.ndarray | None = None,
    offset: np.ndarray | None = None,
    alphas: tuple[float, ...] | None = None,
) -> GeneralizedLinearRegressor:
    """One fit at ``alpha``, or, with ``alphas``, the warm-started path over them."""
    model = GeneralizedLinearRegressor(
        family=family,
        alpha=alpha if alphas is None else np.asarray(alphas),
        alpha_search=alphas is not None,
        l1_ratio=0.0,
        lower_bounds=lower,
        upper_bounds=upper,
        gradient_tol=1e-6,
        max_iter=200,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(X, y, sample_weight=weights, offset=offset)
    model.converged_ = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return model


def _choose_alpha(
    family: str,
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    offset: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    rng: np.random.Generator,
) -> float:
    """The penalty for a fit on all rows, chosen by k-fold CV on a sample.

    glum's objective is the mean deviance plus ``alpha`` times the penalty, so the
    same ``alpha`` regularises a fit on n rows as strongly as one on the CV
    folds' m rows would be with ``alpha * n / m``: the chosen penalty is scaled by
    m / n for the full fit.
    """
    rows = np.arange(len(y))
    if len(rows) > CV_ROWS:
        rows = np.sort(rng.choice(rows, size=CV_ROWS, replace=False))
    folds = rng.permutation(len(rows)) % FOLDS
    alphas = ALPHAS[family]  # strongest first: each fit warm-starts the next on the path
    deviance = poisson_deviance if family == "poisson" else gamma_deviance
    scores = np.zeros(len(alphas))
    for fold in range(FOLDS):
        train, test = rows[folds != fold], rows[folds == fold]
        path = _fit(
            family,
            None,
            X[train],
            y[train],
            lower=lower,
            upper=upper,
            weights=weights[train],
            offset=offset[train],
            alphas=alphas,
        )
        for position, (intercept, coefficients) in enumerate(
            zip(path.intercept_path_, path.coef_path_, strict=True)
        ):
            eta = intercept + X[test] @ coefficients + offset[test]
            mu = np.maximum(np.exp(eta), 1e-12)
            scores[position] += deviance(y[test], mu, weights[test])
    fold_rows = len(rows) * (FOLDS - 1) / FOLDS
    return alphas[int(np.argmin(scores))] * fold_rows / len(y)


def _glm(
    family: str,
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    offset: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    base: list[str],
    rng: np.random.Generator,
) -> Glm:
    alpha = _choose_alpha(family, X, y, weights, offset, lower, upper, rng)
    model = _fit(family, alpha, X, y, lower=lower, upper=upper, weights=weights, offset=offset)
    coefficients = np.where(np.abs(model.coef_) < 1e-12, 0.0, model.coef_)
    return Glm(
        family=family,
        intercept=_significant(float(model.intercept_)),
        coefficients=tuple(_significant(float(c)) for c in coefficients),
        alpha=alpha,
        base_features=tuple(base),
        converged=bool(model.converged_),
    )


def check_trainable(history: ClaimsHistory) -> None:
    """Refuse books a model cannot honestly be fitted on."""
    issues = []
    types = history.responses.answers["facility_type"].dropna().unique()
    if len(types) < 2:
        issues.append(
            Issue(
                Reason.OUT_OF_RANGE,
                "the book holds a single class of facility "
                f"({', '.join(map(str, types)) or 'none'}); a model needs at least "
                "two to tell classes apart",
                source=history.source,
                question_id="facility_type",
            )
        )
    for peril in Peril:
        counts = history.claims[f"claims_{peril.value}"]
        claims, single = int(counts.sum()), int((counts == 1).sum())
        if claims < MIN_CLAIMS or single < 2:
            issues.append(
                Issue(
                    Reason.OUT_OF_RANGE,
                    f"only {claims} {peril.value} claim(s), {single} facility-year(s) "
                    f"with exactly one; at least {MIN_CLAIMS} claims, two of them alone "
                    "in their facility-year, are needed to fit a model",
                    source=history.source,
                    question_id=f"claims_{peril.value}",
                )
            )
    if issues:
        raise InputError(issues)


SIGNIFICANT_DIGITS = 8
"""Coefficients are stored to this many significant digits: far finer than any rating
table needs, and coarse enough that the last-bit differences of the solver's parallel
floating-point sums do not reach the model file."""


def _significant(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


@dataclass(frozen=True)
class _Design:
    """What every peril's fit shares: features, offset, bounds, base levels, claims."""

    X: np.ndarray
    offset: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    base: list[str]
    claims: pd.DataFrame
    seed: int

    def fit(self, index: int) -> PerilModel:
        """Frequency and severity of one peril; its random draws depend on (seed, index)."""
        peril = list(Peril)[index]
        rng = np.random.default_rng([self.seed, index])
        counts = self.claims[f"claims_{peril.value}"].to_numpy()
        losses = self.claims[f"loss_{peril.value}"].to_numpy()
        frequency = _glm(
            "poisson",
            self.X,
            counts,
            np.ones_like(counts),
            self.offset,
            self.lower,
            self.upper,
            self.base,
            rng,
        )
        with_claims = counts > 0
        severity = _glm(
            "gamma",
            self.X[with_claims],
            losses[with_claims] / counts[with_claims],
            counts[with_claims],
            np.zeros(int(with_claims.sum())),
            self.lower,
            self.upper,
            self.base,
            rng,
        )
        return PerilModel(
            frequency=frequency,
            severity=severity,
            claim_sigma=_claim_sigma(self.X, counts, losses, severity),
        )


def _claim_sigma(X: np.ndarray, counts: np.ndarray, losses: np.ndarray, severity: Glm) -> float:
    """The lognormal shape of one claim, from the facility-years with exactly one claim.

    If a claim is lognormal with mean m and shape s, log(claim / m) has mean -s^2 / 2
    and variance s^2, whatever m; so s is the standard deviation of the log of each
    single claim over its fitted mean.
    """
    single = counts == 1
    coefficients = np.asarray(severity.coefficients)
    log_mean = severity.intercept + X[single] @ coefficients
    residual = np.log(np.maximum(losses[single], 1e-9)) - log_mean
    # the fitted mean has used up degrees of freedom (a correction that matters only
    # on small books; capped so that a tiny book keeps half its rows)
    used = min(int(np.count_nonzero(coefficients)) + 1, len(residual) // 2)
    variance = float(np.sum((residual - residual.mean()) ** 2)) / (len(residual) - used)
    return _significant(float(np.clip(np.sqrt(variance), 1e-3, 5.0)))


def _fit_perils(design: _Design) -> dict[Peril, PerilModel]:
    return {peril: design.fit(index) for index, peril in enumerate(Peril)}


def train(
    history: ClaimsHistory,
    questionnaire: Questionnaire,
    *,
    model_id: str,
    fingerprint: str,
    seed: int = 0,
) -> LossModel:
    """Fit per-peril frequency and severity GLMs on a validated claims history.

    Coefficients are stored to ``SIGNIFICANT_DIGITS`` digits, so the model file is
    the same on every run although the solver's parallel sums may differ in the
    last bit.
    """
    from scoring import __version__

    check_trainable(history)
    table = history.responses.table
    encoder = FeatureEncoder(questionnaire).fit(table)
    X = encoder.transform(table)
    lower, upper, base = _bounds(encoder.feature_info_, X)
    offset = np.log(history.exposure)
    design = _Design(
        X=X, offset=offset, lower=lower, upper=upper, base=base, claims=history.claims, seed=seed
    )
    perils = _fit_perils(design)
    return LossModel(
        model_id=model_id,
        questionnaire=QuestionnaireRef(id=questionnaire.id, version=questionnaire.version),
        features=tuple(str(f) for f in encoder.get_feature_names_out()),
        unknown_fill=encoder.unknown_fill_,
        feature_means=tuple(
            _significant(float(m)) for m in np.average(X, axis=0, weights=history.exposure)
        ),
        perils=perils,
        training=TrainingInfo(
            source=Path(history.source).name,
            data_fingerprint=fingerprint,
            rows=history.n_rows,
            exposure=round(float(history.exposure.sum()), 6),
            claims={p: int(history.claims[f"claims_{p.value}"].sum()) for p in Peril},
            seed=seed,
            carescore_version=__version__,
        ),
    )
