"""Training: per-peril claim frequency and severity GLMs on a claims history.

For each peril:

* frequency: Poisson GLM, log link, log(exposure) as offset;
* severity: Gamma GLM, log link, on the average claim size of the facility-years
  with claims, weighted by their number of claims.

Every coefficient is a relativity exp(beta) an underwriter can read. Each
control's feature runs from 0 (worst answer) to 1 (best), and its coefficient is
bounded above by 0, so a better answer never raises expected loss; a history
answer's is bounded below by 0; a number's is bounded in size so that no answer
moves a peril's expected loss by more than its question allows (all declared in
:mod:`scoring.model.limits`). Numbers are capped at quantiles of the book before
the fit (:meth:`AnswerEncoder.learn_caps
<scoring.features.encoding.AnswerEncoder.learn_caps>`). Each categorical question
has a base level (its most common answer in the book) whose coefficient is pinned
at 0, so relativities read against the base; pinned features are left out of the
fit. A question that chooses the cover (limit, retention) is no feature at all.

The penalty is the lasso's (L1); its strength is chosen per model by k-fold
cross-validation on out-of-fold deviance, and the model is then fitted on every row
of the book. The penalty is *scale-free*: each coefficient's is weighted by its
feature's standard deviation over the rows fitted, which is the lasso on
standardised features with the bounds kept on the features' own scale, so that
whether an answer is kept does not depend on its unit (dollars, days, a 0/1 flag).

The lasso runs in two stages (the *adaptive* lasso): the first chooses which
answers have an effect; the second refits those only, each coefficient's penalty
weighted by 1 / |its first-stage value|, so that large effects are barely shrunk
and small ones, most of them noise, still are. A single lasso shrank the large
effects as much as the small ones and so compressed the risk: the default model
over-predicted the lowest ransomware decile by 8 % (benchmarks/README.md).
glum is the solver: it fits GLMs with
offsets, sample weights and coefficient bounds (scikit-learn's GLMs have no bounds;
see benchmarks/README.md).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from glum import GeneralizedLinearRegressor
from sklearn.exceptions import ConvergenceWarning
from tabmat import DenseMatrix
from threadpoolctl import threadpool_limits

from scoring._files import file_sha256
from scoring.errors import InputError, Issue
from scoring.features.encoder import FeatureEncoder
from scoring.model.claims_history import BOOK_AS_OF, ClaimsHistory, iter_claims_history
from scoring.model.limits import FeatureLimits, feature_limits
from scoring.model.loss_model import Glm, LossModel, PerilModel, QuestionnaireRef, TrainingInfo
from scoring.model.metrics import gamma_deviance, poisson_deviance
from scoring.questionnaire.definition import Questionnaire
from scoring.vocabulary import Encoding, Peril, Reason

PENALTIES = tuple(float(f"{10 ** (3 - step / 4):.4g}") for step in range(9))
"""Candidate penalties, strongest first (1000 down to 10, four to a decade), searched by
cross-validation. A penalty is weighed against the *total* deviance of the rows fitted
(it is glum's ``alpha`` times their total weight), so a candidate restrains a fit on a
fold of the book exactly as much as the fit on the whole book."""
L1_RATIO = 1.0
"""The penalty is the lasso's (L1): most answers have no effect on a given peril, and
the lasso sets those coefficients to zero instead of spreading a little of every real
effect over them, as the ridge (L2) penalty did. On the 1,000,000-row default book the
lasso gave a lower held-out deviance for every peril's frequency and severity, and
shrinks the large effects much less (benchmarks/README.md)."""
ADAPTIVE_PENALTIES = tuple(float(f"{10 ** (3 - step / 4):.4g}") for step in range(13))
"""Candidate penalties of the adaptive stage: the first stage's, and a decade lower (1000
down to 1, four to a decade). Each coefficient's penalty is this times 1 / |its
first-stage value| (a first-stage coefficient of 0.05 is penalised 20 times). Lower
candidates (down to 0.1) let cross-validation on device compromise, the peril with
fewest claims, pick noise: effects of 6-13 % for answers the truth gives none
(benchmarks/README.md)."""
ZERO = 1e-12
"""Coefficients smaller than this are 0 (the lasso set them there)."""
FOLDS = {"poisson": 2, "gamma": 3}
"""Cross-validation folds: frequency fits are the costly ones (every facility-year),
severity fits see only the facility-years with claims."""
CV_ROWS = 50_000
"""Frequency cross-validation fits every facility-year with a claim and a seeded
sample of at most this many of those without, each weighted by the inverse of its
sampling rate (claims are rare, so a facility-year without one tells little on its
own); the out-of-fold deviance is measured on every facility-year of the fold."""
HESSIAN_APPROX = 0.3
"""glum updates the Hessian only on the rows whose weight moved by at least this
fraction of the largest move since they were last counted; the gradient, and so the
solution, stays exact (see glum's IRLS documentation)."""
SMALL_FIT_THREADS = 1
"""Threads for the small fits: every cross-validation fit (claims plus a sample of the
other facility-years) and every severity fit (claims only). On matrices this small,
glum's parallel steps spend more time waiting for each other than working (a severity
cross-validation took 8 s on two threads and 0.3 s on one, benchmarks/README.md); only
the frequency fit on every facility-year runs on all threads."""
MIN_CLAIMS = 5
"""A peril needs at least this many claims in the book to be fitted."""


file_fingerprint = file_sha256
"""The training data fingerprint: the book file's sha256."""


def _base_levels(info: pd.DataFrame, features: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Each categorical question's base level (its most common answer), whose
    coefficient is pinned at 0: where they are, and their names."""
    pinned = np.zeros(len(info), dtype=bool)
    base: list[str] = []
    one_hot = info["encoding"] == Encoding.ONE_HOT.value
    for _, group in info[one_hot].groupby("question_id", sort=False):
        counts = features[:, group.index.to_numpy()].sum(axis=0)
        level = int(group.index.to_numpy()[int(np.argmax(counts))])
        pinned[level] = True
        base.append(str(info.loc[level, "feature"]))
    return pinned, base


def _spread(X: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each column's weighted standard deviation: the scale-free penalty's weights (a
    column that does not vary is given 1; the lasso leaves it at 0)."""
    total = float(weights.sum())
    spread = np.empty(X.shape[1])
    for k in range(X.shape[1]):
        column = X[:, k]
        mean = float(weights @ column) / total
        spread[k] = np.sqrt(float(weights @ np.square(column - mean)) / total)
    return np.where(spread > 1e-12, spread, 1.0)


@dataclass(frozen=True)
class _Rows:
    """The facility-years one GLM is fitted on: its response, weights and offset."""

    y: np.ndarray
    weights: np.ndarray
    offset: np.ndarray


@dataclass(frozen=True)
class _Bounds:
    """Coefficient bounds of one fit, over its columns."""

    lower: np.ndarray
    upper: np.ndarray

    def take(self, columns: np.ndarray) -> _Bounds:
        return _Bounds(lower=self.lower[columns], upper=self.upper[columns])


def _fit(
    family: str,
    X: np.ndarray,
    rows: _Rows,
    bounds: _Bounds,
    *,
    alphas: tuple[float, ...],
    start: np.ndarray | None = None,
    penalised: np.ndarray | None = None,
) -> GeneralizedLinearRegressor:
    """One fit at a single penalty, or the warm-started path over several."""
    model = GeneralizedLinearRegressor(
        family=family,
        alpha=alphas[0] if len(alphas) == 1 else np.asarray(alphas),
        alpha_search=len(alphas) > 1,
        l1_ratio=L1_RATIO,
        P1="identity" if penalised is None else penalised.astype(np.float64),
        lower_bounds=bounds.lower,
        upper_bounds=bounds.upper,
        start_params=start,
        hessian_approx=HESSIAN_APPROX,
        gradient_tol=1e-6,
        max_iter=200,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(DenseMatrix(X), rows.y, sample_weight=rows.weights, offset=rows.offset)
    model.converged_ = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return model


def _cv_sample(y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The rows cross-validation fits on, and the factor each one's weight is scaled by.

    Every row with a claim, and at most ``CV_ROWS`` of the rows without one (a seeded
    sample), each of those counting for the rows it stands for.
    """
    without = np.flatnonzero(y == 0)
    if len(without) <= CV_ROWS:
        return np.arange(len(y)), np.ones(len(y))
    sampled = rng.choice(without, size=CV_ROWS, replace=False)
    rows = np.sort(np.concatenate([np.flatnonzero(y != 0), sampled]))
    return rows, np.where(y[rows] == 0, len(without) / CV_ROWS, 1.0)


def _choose_penalty(
    family: str,
    X: np.ndarray,
    rows: _Rows,
    bounds: _Bounds,
    rng: np.random.Generator,
    penalties: tuple[float, ...] = PENALTIES,
    penalised: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """The penalty chosen by k-fold cross-validation, and where its fit should start.

    Each fold's fit is the warm-started path over ``penalties`` (strongest first);
    the start is the folds' average solution at the chosen penalty. ``penalised``
    weighs each coefficient's penalty (all 1 when not given).
    """
    folds = rng.permutation(len(rows.y)) % FOLDS[family]
    sample, scale = _cv_sample(rows.y, rng)
    deviance = poisson_deviance if family == "poisson" else gamma_deviance
    scores = np.zeros(len(penalties))
    solutions = np.zeros((len(penalties), X.shape[1] + 1))
    for fold in range(FOLDS[family]):
        fitted = folds[sample] != fold
        train = sample[fitted]
        weights = rows.weights[train] * scale[fitted]
        with threadpool_limits(limits=SMALL_FIT_THREADS):
            path = _fit(
                family,
                X[train],
                _Rows(y=rows.y[train], weights=weights, offset=rows.offset[train]),
                bounds,
                alphas=tuple(p / weights.sum() for p in penalties),
                penalised=penalised,
            )
        intercepts, coefficients = np.asarray(path.intercept_path_), np.asarray(path.coef_path_)
        test = folds == fold
        eta = (X @ coefficients.T)[test] + intercepts + rows.offset[test, None]
        for position in range(len(penalties)):
            mu = np.maximum(np.exp(eta[:, position]), 1e-12)
            scores[position] += deviance(rows.y[test], mu, rows.weights[test])
        solutions += np.column_stack([intercepts, coefficients]) / FOLDS[family]
    best = int(np.argmin(scores))
    return penalties[best], solutions[best]


def _glm(
    family: str,
    X: np.ndarray,
    rows: _Rows,
    free: np.ndarray,
    n_features: int,
    bounds: _Bounds,
    rng: np.random.Generator,
    base: tuple[str, ...] = (),
) -> Glm:
    """A GLM on every row: the scale-free lasso at the penalty cross-validation chose,
    then the adaptive lasso on the answers it kept, when it kept at least two (see the
    module docstring). ``X`` holds the ``free`` features of ``n_features`` (the others
    are pinned at 0, ``base`` names the pinned base levels); ``bounds`` are over the
    free features."""
    scale = _spread(X, rows.weights)
    penalty, start = _choose_penalty(family, X, rows, bounds, rng, penalised=scale)
    alpha = penalty / float(rows.weights.sum())
    first = _fit(family, X, rows, bounds, alphas=(alpha,), start=start, penalised=scale)
    coefficients = np.zeros(n_features)
    kept = np.flatnonzero(np.abs(first.coef_) >= ZERO)
    found = np.where(np.abs(first.coef_) < ZERO, 0.0, first.coef_)
    intercept, adaptive_alpha, converged = float(first.intercept_), None, bool(first.converged_)
    if kept.size >= 2:  # glum fits no single column; a lone effect keeps its first fit
        # 1 / |first-stage effect| is unit-free: the adaptive stage needs no scale
        weights = 1.0 / np.abs(first.coef_[kept])
        chosen = np.asfortranarray(X[:, kept])
        penalty, start = _choose_penalty(
            family, chosen, rows, bounds.take(kept), rng, ADAPTIVE_PENALTIES, penalised=weights
        )
        adaptive_alpha = penalty / float(rows.weights.sum())
        second = _fit(
            family,
            chosen,
            rows,
            bounds.take(kept),
            alphas=(adaptive_alpha,),
            start=start,
            penalised=weights,
        )
        found = np.zeros(X.shape[1])
        found[kept] = np.where(np.abs(second.coef_) < ZERO, 0.0, second.coef_)
        intercept, converged = float(second.intercept_), converged and bool(second.converged_)
    coefficients[free] = found
    return Glm(
        family=family,
        intercept=_significant(intercept),
        coefficients=tuple(_significant(float(c)) for c in coefficients),
        alpha=alpha,
        adaptive_alpha=adaptive_alpha,
        l1_ratio=L1_RATIO,
        base_features=base,
        converged=converged,
    )


def check_trainable(history: ClaimsHistory) -> None:
    """Refuse books a model cannot honestly be fitted on."""
    types = history.responses.answers["facility_type"].dropna().unique()
    _check_trainable(types, history.claims, history.source)


def _check_trainable(types: np.ndarray, claims: pd.DataFrame, source: str) -> None:
    issues = []
    if len(types) < 2:
        issues.append(
            Issue(
                Reason.OUT_OF_RANGE,
                "the book holds a single class of facility "
                f"({', '.join(map(str, types)) or 'none'}); a model needs at least "
                "two to tell classes apart",
                source=source,
                question_id="facility_type",
            )
        )
    for peril in Peril:
        counts = claims[f"claims_{peril.value}"]
        total, single = int(counts.sum()), int((counts == 1).sum())
        if total < MIN_CLAIMS or single < 2:
            issues.append(
                Issue(
                    Reason.OUT_OF_RANGE,
                    f"only {total} {peril.value} claim(s), {single} facility-year(s) "
                    f"with exactly one; at least {MIN_CLAIMS} claims, two of them alone "
                    "in their facility-year, are needed to fit a model",
                    source=source,
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


def _compacted(features: np.ndarray, free: np.ndarray) -> np.ndarray:
    """The ``free`` columns (ascending) of a column-major matrix, moved to its front in
    place and returned as a view: no second copy of a book's features is ever held.
    ``features`` must not be used again."""
    if not features.flags.f_contiguous:
        features = np.asfortranarray(features)
    for position, column in enumerate(free):
        if position != column:
            features[:, position] = features[:, column]
    return features[:, : len(free)]


@dataclass(frozen=True)
class _Design:
    """What every peril's fit shares: the features left free to fit, offset, limits, claims."""

    X: np.ndarray
    """The free features (every one but the pinned base levels), column-major for glum."""
    free: np.ndarray
    """Position of each free feature among all the encoder's features."""
    n_features: int
    offset: np.ndarray
    limits: FeatureLimits
    """Every feature's sign and size limits (scoring/model/limits.py)."""
    base: list[str]
    claims: pd.DataFrame
    seed: int

    @classmethod
    def of(
        cls, limits: FeatureLimits, info: pd.DataFrame, book: _TrainingBook, seed: int
    ) -> _Design:
        """The design of ``book``, whose features' buffer it takes over (see
        :func:`_compacted`)."""
        features = book.features
        pinned, base = _base_levels(info, features)
        free = np.flatnonzero(~pinned)
        return cls(
            X=_compacted(features, free),
            free=free,
            n_features=features.shape[1],
            offset=np.log(book.exposure),
            limits=limits,
            base=base,
            claims=book.claims,
            seed=seed,
        )

    def bounds(self, frequency: Glm | None = None) -> _Bounds:
        """The free features' coefficient bounds: of the frequency fit, or of the severity
        fit once ``frequency`` has used its share of each number's budget."""
        used = None
        if frequency is not None:
            spans = np.nan_to_num(self.limits.span)
            used = np.abs(np.asarray(frequency.coefficients)) * spans
        lower, upper = self.limits.bounds(used)
        return _Bounds(lower=lower[self.free], upper=upper[self.free])

    def fit(self, index: int) -> PerilModel:
        """Frequency and severity of one peril; its random draws depend on (seed, index)."""
        peril = list(Peril)[index]
        rng = np.random.default_rng([self.seed, index])
        counts = self.claims[f"claims_{peril.value}"].to_numpy()
        losses = self.claims[f"loss_{peril.value}"].to_numpy()
        frequency = _glm(
            "poisson",
            self.X,
            _Rows(y=counts, weights=np.ones_like(counts), offset=self.offset),
            self.free,
            self.n_features,
            self.bounds(),
            rng,
            tuple(self.base),
        )
        with_claims = counts > 0
        with threadpool_limits(limits=SMALL_FIT_THREADS):
            severity = _glm(
                "gamma",
                self.X[with_claims],
                _Rows(
                    y=losses[with_claims] / counts[with_claims],
                    weights=counts[with_claims],
                    offset=np.zeros(int(with_claims.sum())),
                ),
                self.free,
                self.n_features,
                self.bounds(frequency),
                rng,
                tuple(self.base),
            )
        return PerilModel(
            frequency=frequency,
            severity=severity,
            claim_sigma=_claim_sigma(self.X, self.free, counts, losses, severity),
        )


def _claim_sigma(
    X: np.ndarray, free: np.ndarray, counts: np.ndarray, losses: np.ndarray, severity: Glm
) -> float:
    """The lognormal shape of one claim, from the facility-years with exactly one claim.

    If a claim is lognormal with mean m and shape s, log(claim / m) has mean -s^2 / 2
    and variance s^2, whatever m; so s is the standard deviation of the log of each
    single claim over its fitted mean.
    """
    single = counts == 1
    coefficients = np.asarray(severity.coefficients)
    log_mean = severity.intercept + X[single] @ coefficients[free]
    residual = np.log(np.maximum(losses[single], 1e-9)) - log_mean
    # the fitted mean has used up degrees of freedom (a correction that matters only
    # on small books; capped so that a tiny book keeps half its rows)
    used = min(int(np.count_nonzero(coefficients)) + 1, len(residual) // 2)
    variance = float(np.sum((residual - residual.mean()) ** 2)) / (len(residual) - used)
    return _significant(float(np.clip(np.sqrt(variance), 1e-3, 5.0)))


def _fit_perils(design: _Design) -> dict[Peril, PerilModel]:
    return {peril: design.fit(index) for index, peril in enumerate(Peril)}


@dataclass
class _TrainingBook:
    """What training needs of a book, however it was read: its encoded features
    (column-major) and, row by row, exposure and claims."""

    features: np.ndarray
    exposure: np.ndarray
    claims: pd.DataFrame
    source: str


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
    last bit. :func:`train_book` fits the same model on a book read in parts.
    """
    check_trainable(history)
    table = history.responses.table
    encoder = FeatureEncoder(questionnaire).fit(table)
    features = encoder.transform(table)
    encoder.learn_caps(features)
    book = _TrainingBook(
        features=features,
        exposure=history.exposure,
        claims=history.claims,
        source=history.source,
    )
    return _train(
        book, encoder, questionnaire, model_id=model_id, fingerprint=fingerprint, seed=seed
    )


TRAINING_CHUNK_ROWS = 250_000
"""Facility-years :func:`train_book` reads, checks and encodes at a time."""


def train_book(
    path: Path,
    questionnaire: Questionnaire,
    *,
    model_id: str,
    fingerprint: str,
    seed: int = 0,
    as_of: dt.date = BOOK_AS_OF,
    chunk_rows: int = TRAINING_CHUNK_ROWS,
) -> LossModel:
    """:func:`train` on the book at ``path``, read, checked and encoded ``chunk_rows``
    facility-years at a time: only the encoded features of the whole book are held
    (8 bytes per feature and row), never its answers as text. The model is the one
    :func:`train` fits on the whole book read at once.

    Raises
    ------
    InputError
        The book does not follow the claims-history format (see
        :func:`scoring.model.claims_history.read_claims_history`), or cannot be
        trained on (:func:`check_trainable`).
    """
    encoder = FeatureEncoder.from_state(questionnaire, {})  # fill values learned below
    parts: list[np.ndarray] = []
    exposure: list[np.ndarray] = []
    claims: list[pd.DataFrame] = []
    types: set[str] = set()
    fill: dict[str, list[np.ndarray]] = {}
    source = str(path)
    for history in iter_claims_history(path, questionnaire, chunk_rows, as_of=as_of):
        table = history.responses.table
        parts.append(encoder.transform(table))
        for qid, values in encoder.fill_values(table).items():
            fill.setdefault(qid, []).append(values)
        exposure.append(history.exposure)
        claims.append(history.claims.reset_index(drop=True))
        types |= {str(t) for t in history.responses.answers["facility_type"].dropna().unique()}
        source = history.source
    claims_frame = pd.concat(claims, ignore_index=True)
    _check_trainable(np.array(sorted(types)), claims_frame, source)
    features = np.empty(
        (sum(len(part) for part in parts), len(encoder.feature_names_out_)), order="F"
    )
    start = 0
    while parts:  # each part let go once copied
        part = parts.pop(0)
        features[start : start + len(part)] = part
        start += len(part)
    encoder.refill(features, fill)
    encoder.learn_caps(features)
    book = _TrainingBook(
        features=features,
        exposure=np.concatenate(exposure),
        claims=claims_frame,
        source=source,
    )
    return _train(
        book, encoder, questionnaire, model_id=model_id, fingerprint=fingerprint, seed=seed
    )


def _train(
    book: _TrainingBook,
    encoder: FeatureEncoder,
    questionnaire: Questionnaire,
    *,
    model_id: str,
    fingerprint: str,
    seed: int,
) -> LossModel:
    from scoring import __version__

    feature_means = np.average(book.features, axis=0, weights=book.exposure)
    limits = feature_limits(encoder.answer_encoder_)
    design = _Design.of(limits, encoder.feature_info_, book, seed)
    book.features = np.empty((0, 0))  # its buffer now holds the design's free features
    perils = _fit_perils(design)
    return LossModel(
        model_id=model_id,
        questionnaire=QuestionnaireRef(id=questionnaire.id, version=questionnaire.version),
        features=tuple(str(f) for f in encoder.get_feature_names_out()),
        unknown_fill=encoder.unknown_fill_,
        feature_caps=encoder.caps_,
        feature_means=tuple(_significant(float(m)) for m in feature_means),
        perils=perils,
        training=TrainingInfo(
            source=Path(book.source).name,
            data_fingerprint=fingerprint,
            rows=len(book.exposure),
            exposure=round(float(book.exposure.sum()), 6),
            claims={p: int(book.claims[f"claims_{p.value}"].sum()) for p in Peril},
            seed=seed,
            carescore_version=__version__,
        ),
    )
