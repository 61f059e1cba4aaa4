"""Evaluation of a loss model on a held-out book, against the truth when it is known.

Per peril: Poisson deviance of claim counts and D-squared (model and, for a
synthetic book, the oracle), Gamma deviance of claim sizes, Tweedie deviance of
losses, ordered Lorenz curves and Gini (model, oracle, random), total predicted
against observed claims, calibration by decile of prediction, by facility type
and by size band; and, where the truth is known, each fitted relativity against
the true one; and, on a declared share of the book, a challenger (gradient-boosted
Poisson trees, :mod:`scoring.model.challenger`) beside the GLM and the oracle. Results
are a JSON-ready dict and PNG plots.

A book is read and encoded in chunks (:func:`evaluate_book`): each chunk leaves
only a few numbers per row and peril, and the sums the relativities need, so a
held-out book of tens of millions of facility-years fits in memory.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import ValidationError

from scoring._files import read_document
from scoring.errors import InputError, Issue
from scoring.model import metrics
from scoring.model.challenger import Challenger
from scoring.model.claims_history import BOOK_AS_OF, ClaimsHistory, iter_claims_history
from scoring.model.loss_model import LossModel
from scoring.model.plots import plot_calibration, plot_lorenz
from scoring.questionnaire.definition import Questionnaire
from scoring.synthetic.truth import ResolvedTruth
from scoring.vocabulary import Peril, Reason

TWEEDIE_POWER = 1.5
SIZE_BANDS = (0, 2e6, 5e6, 1e7, 2.5e7, 5e7, math.inf)
"""Net patient revenue bands (USD) for calibration by size."""
RELATIVITY_TOLERANCE = 0.15
"""A fitted relativity is close to the truth when within 15 % of it."""
SUFFICIENT_STANDARD_ERROR = math.log1p(RELATIVITY_TOLERANCE) / 2.576
"""A relativity has sufficient exposure when the training book pins it down within the
tolerance with 99 % confidence: the standard error of its log, for an unpenalised fit
on the training book, is at most log(1.15) / 2.576 (about 0.054)."""
MIN_SHAPE_CLAIMS = 100.0
"""The claim-size shape (lognormal sigma) has sufficient exposure from 100 claims."""
PLOTTED_POINTS = 200_001
"""A Lorenz curve is drawn through at most this many points (a plot is 500 pixels wide)."""
EVALUATION_CHUNK_ROWS = 250_000
"""Facility-years read, validated and encoded at a time by :func:`evaluate_book`."""


@dataclass(frozen=True)
class Oracle:
    """The true expected claims and claim sizes of a synthetic book, row by row."""

    frames: pd.DataFrame
    truth: ResolvedTruth


def _truth_files(book: Path) -> tuple[Path, Path] | None:
    """The two files of the ground truth ``carescore synth`` writes beside a book, or None
    when neither is there; one without the other is refused (evaluating without the
    oracle would pass for an insurer's own book)."""
    frames, truth = book.with_suffix(".truth.parquet"), book.with_suffix(".truth.json")
    if frames.is_file() and truth.is_file():
        return frames, truth
    for found, missing in ((frames, truth), (truth, frames)):
        if found.is_file():
            raise _uncovered(
                found,
                f"is incomplete: {missing.name} is missing; restore it to evaluate against "
                f"the truth, or move {found.name} away to evaluate without it",
            )
    return None


def _uncovered(path: Path, what: str) -> InputError:
    return InputError(
        [
            Issue(
                Reason.UNREADABLE_FILE,
                f"the ground truth beside the book {what}",
                source=str(path),
            )
        ]
    )


def _load_truth(path: Path) -> ResolvedTruth:
    try:
        return ResolvedTruth.model_validate(read_document(path))
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        what = f"is not one carescore synth wrote: {where}: {problem['msg']}"
        raise _uncovered(path, what) from exc


def oracle_beside(book: Path, history: ClaimsHistory) -> Oracle | None:
    """The ground truth ``carescore synth`` wrote beside a book, aligned with its rows.

    Returns None for a book without one (an insurer's own claims history).
    """
    files = _truth_files(book)
    if files is None:
        return None
    frames_path, truth_json = files
    truth = _load_truth(truth_json)
    keys = pd.DataFrame({"facility_id": history.facility_id, "policy_year": history.policy_year})
    frames = pd.read_parquet(frames_path)
    aligned = keys.merge(frames, on=["facility_id", "policy_year"], how="left", validate="1:1")
    if aligned.isna().any().any():
        raise _uncovered(frames_path, "does not cover every facility-year")
    return Oracle(frames=aligned, truth=truth)


def _round(value: float) -> float:
    return float(f"{value:.6g}")


@dataclass
class _Peril:
    """What each facility-year leaves for one peril, chunk by chunk."""

    expected: list[np.ndarray] = field(default_factory=list)
    size: list[np.ndarray] = field(default_factory=list)
    counts: list[np.ndarray] = field(default_factory=list)
    losses: list[np.ndarray] = field(default_factory=list)
    true_expected: list[np.ndarray] = field(default_factory=list)
    information: np.ndarray | None = None
    """Fisher information of a log-link fit with an intercept, each row weighted by its
    true expected claims: ``sum w [1, x] [1, x]'``."""


class _Level:
    """Sums over the facility-years at one level of a choice, and the range elsewhere."""

    def __init__(self, features: int) -> None:
        self.exposure_at = 0.0
        self.weighted_at = np.zeros(features)
        """Exposure-weighted sum of each feature at the level."""
        self.rows_at = 0
        self.rows_elsewhere = 0
        self.low_elsewhere = np.full(features, np.inf)
        self.high_elsewhere = np.full(features, -np.inf)

    def add(self, features: np.ndarray, exposure: np.ndarray, at: np.ndarray) -> None:
        self.weighted_at += exposure[at] @ features[at]
        self.exposure_at += float(exposure[at].sum())
        self.rows_at += int(at.sum())
        elsewhere = features[~at]
        if len(elsewhere):
            self.rows_elsewhere += len(elsewhere)
            self.low_elsewhere = np.minimum(self.low_elsewhere, elsewhere.min(axis=0))
            self.high_elsewhere = np.maximum(self.high_elsewhere, elsewhere.max(axis=0))


class _Gathered:
    """An evaluation gathered chunk by chunk; :meth:`report` finishes it."""

    def __init__(
        self,
        model: LossModel,
        questionnaire: Questionnaire,
        truth: ResolvedTruth | None,
        *,
        challenger: bool = True,
    ):
        self.model = model
        self.encoder = model.encoder(questionnaire)
        self.challenger = None
        if challenger:
            info = self.encoder.feature_info.set_index("feature")
            is_control = info.loc[list(model.features), "is_control"].to_numpy(dtype=bool)
            self.challenger = Challenger(list(model.features), is_control)
        self.truth = truth
        self.index = {name: i for i, name in enumerate(model.features)}
        self.perils = {peril: _Peril() for peril in Peril}
        self.exposure: list[np.ndarray] = []
        self.revenue: list[np.ndarray] = []
        self.type_codes: list[np.ndarray] = []
        self.type_names: dict[str, int] = {}
        self.weighted = np.zeros(len(model.features))
        """Exposure-weighted sum of each feature over the book."""
        levels: set[str] = set()
        if truth is not None:
            for spec in truth.perils.values():
                levels |= {name for name in (*spec.frequency, *spec.severity) if "=" in name}
        self.levels = {name: _Level(len(model.features)) for name in sorted(levels)}

    def add(self, history: ClaimsHistory, oracle: pd.DataFrame | None) -> None:
        """Take in one chunk of the book (and the truth's rows for it, when known)."""
        features = self.encoder.transform(history.responses.table)
        exposure = history.exposure
        answers = history.responses.answers
        # every array kept is a copy of its own: a view would keep the whole chunk's
        # block of answers, claims or truth alive
        self.exposure.append(np.array(exposure, dtype=np.float64))
        self.revenue.append(
            np.array(answers["net_patient_revenue"].to_numpy(dtype=np.float64, na_value=np.nan))
        )
        codes, names = pd.factorize(answers["facility_type"].astype(str).to_numpy())
        mapping = np.array([self.type_names.setdefault(n, len(self.type_names)) for n in names])
        self.type_codes.append(mapping[codes].astype(np.int32))
        for peril, gathered in self.perils.items():
            gathered.expected.append(self.model.frequency(peril, features) * exposure)
            gathered.size.append(self.model.mean_claim(peril, features))
            counts = history.claims[f"claims_{peril.value}"].to_numpy()
            gathered.counts.append(counts.astype(np.int32))  # whole numbers, checked on reading
            gathered.losses.append(
                np.array(history.claims[f"loss_{peril.value}"].to_numpy(), dtype=np.float64)
            )
            if oracle is None:
                continue
            true_expected = np.array(
                oracle[f"expected_claims_{peril.value}"].to_numpy(), dtype=np.float64
            )
            gathered.true_expected.append(true_expected)
            information = _information(features, true_expected)
            if gathered.information is None:
                gathered.information = information
            else:
                gathered.information += information
        if self.challenger is not None:
            self.challenger.add(
                features,
                exposure,
                history.facility_id,
                counts={p: g.counts[-1] for p, g in self.perils.items()},
                glm={p: g.expected[-1] for p, g in self.perils.items()},
                oracle=None
                if oracle is None
                else {p: g.true_expected[-1] for p, g in self.perils.items()},
            )
        if oracle is None:
            return
        self.weighted += exposure @ features
        for name, level in self.levels.items():
            level.add(features, exposure, features[:, self.index[name]] > 0.5)

    def report(self, plots: Path | None) -> dict[str, Any]:
        """Finish the evaluation (once: the rows gathered are let go as they are joined);
        write the plots into ``plots`` when given."""
        exposure = _joined(self.exposure)
        revenue = _joined(self.revenue)
        size_band = pd.cut(pd.Series(revenue), bins=list(SIZE_BANDS), right=False).astype(str)
        names = np.array(list(self.type_names), dtype=object)
        facility_type = names[_joined(self.type_codes)]
        report: dict[str, Any] = {
            "model_id": self.model.model_id,
            "rows": len(exposure),
            "exposure": _round(float(exposure.sum())),
            "perils": {},
        }
        for peril, gathered in self.perils.items():
            counts = _joined(gathered.counts)
            losses = _joined(gathered.losses)
            expected = _joined(gathered.expected)
            size = _joined(gathered.size)
            true_expected = _joined(gathered.true_expected) if gathered.true_expected else None
            result, curves, by_decile = _peril_report(
                counts, losses, expected, size, exposure, true_expected
            )
            result["calibration_by_facility_type"] = _records(
                metrics.calibration_table(counts, expected, facility_type)
            )
            result["calibration_by_size"] = _records(
                metrics.calibration_table(counts, expected, size_band.to_numpy())
            )
            if true_expected is not None and self.truth is not None:
                result["relativities"] = self._relativities(peril, float(true_expected.sum()))
            report["perils"][peril.value] = result
            if plots is not None:
                plot_lorenz(
                    curves,
                    plots / f"lorenz-{peril.value}.png",
                    f"{peril.value}: ordered Lorenz curve",
                )
                plot_calibration(
                    by_decile,
                    plots / f"calibration-{peril.value}.png",
                    f"{peril.value}: observed and predicted claims by decile",
                )
        if self.challenger is not None:
            report["challenger"] = self.challenger.report()
        return report

    def _relativities(self, peril: Peril, expected_claims: float) -> list[dict[str, Any]]:
        """Fitted against true relativity for each feature the truth gives an effect.

        A relativity's standard error is that of an unpenalised fit on a book with this
        book's mix of facilities and the training book's number of claims: the truth's
        Fisher information on this book, scaled by the training claims over this book's
        expected claims.
        """
        assert self.truth is not None
        gathered = self.perils[peril]
        assert gathered.information is not None
        spec = self.truth.perils[peril]
        fitted = self.model.perils[peril]
        trained_claims = self.model.training.claims.get(peril, 0)
        scale = trained_claims / expected_claims if trained_claims and expected_claims else 1.0
        # a claim's size is lognormal: its squared coefficient of variation is exp(sigma^2) - 1
        size_dispersion = math.expm1(spec.sigma**2)
        rows = []
        for part, true_effects, glm, weight in (
            ("frequency", spec.frequency, fitted.frequency, scale),
            ("severity", spec.severity, fitted.severity, scale / size_dispersion),
        ):
            named = frozenset(true_effects)
            base = set(glm.base_features)
            free = np.array([i for i, f in enumerate(self.model.features) if f not in base])
            covariance = _covariance(gathered.information * weight, free)
            for name, beta in true_effects.items():
                contrast = _contrast(name, self.index, named, self.weighted, self.levels)
                true_rel = math.exp(beta)
                fit_rel = math.exp(float(contrast @ np.asarray(glm.coefficients)))
                variance = float(contrast[free] @ covariance @ contrast[free])
                standard_error = math.sqrt(max(variance, 0.0))
                rows.append(
                    {
                        "part": part,
                        "feature": name,
                        "true": _round(true_rel),
                        "fitted": _round(fit_rel),
                        "error": _round(abs(fit_rel / true_rel - 1)),
                        "sufficient_exposure": standard_error <= SUFFICIENT_STANDARD_ERROR,
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
                "sufficient_exposure": trained_claims >= MIN_SHAPE_CLAIMS,
            }
        )
        return rows


def _contrast(
    name: str,
    index: dict[str, int],
    named: frozenset[str],
    weighted: np.ndarray,
    tied: dict[str, _Level],
) -> np.ndarray:
    """The weights on the coefficients that give a feature's log relativity as the truth
    reads it; ``weighted`` is the book's exposure-weighted sum of each feature, ``tied``
    the sums gathered at each level the truth names.

    The truth gives one level of a choice (``has_imaging=yes``) an effect against all
    others; the model reads levels against its own base level, so the comparable
    figure is the level's coefficient minus the exposure-weighted mean of the other
    levels'.

    Some features only vary with the level: the answers to questions asked only of
    facilities at that level (the modality count and PACS questions of a facility
    with imaging) take one fixed value on every facility-year without it. The
    truth's relativity of the level holds its ``named`` features fixed and gives
    these others no effect, so it is the whole difference the level makes; the
    model's coefficient alone is that difference for a facility at the fixed values
    (an imaging facility with no modality and no PACS), which the book hardly holds.
    The comparable figure adds, for each feature tied to the level that the truth
    does not name, its coefficient times its exposure-weighted mean over the
    facility-years at the level, less its fixed value elsewhere.
    """
    weights = np.zeros(len(index))
    weights[index[name]] = 1.0
    if "=" not in name:
        return weights
    question = name.split("=", 1)[0]
    levels = [f for f in index if f.startswith(f"{question}=")]
    others = [index[f] for f in levels if f != name]
    shares = weighted[others]
    if others and shares.sum() > 0:
        weights[others] -= shares / shares.sum()
    level = tied[name]
    if not level.rows_at or not level.rows_elsewhere:
        return weights
    for feature, j in index.items():
        if feature in named or feature in levels:
            continue
        fixed = float(level.low_elsewhere[j])
        if level.high_elsewhere[j] == fixed:
            weights[j] += float(level.weighted_at[j]) / level.exposure_at - fixed
    return weights


def _joined(chunks: list[np.ndarray]) -> np.ndarray:
    """The chunks as one array; the list is emptied, so its memory goes as soon as it can."""
    joined = np.concatenate(chunks)
    chunks.clear()
    return joined


def _information(features: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum w [1, x] [1, x]'`` over the rows: a log-link GLM's Fisher information."""
    weighted = features * weights[:, None]
    information = np.empty((features.shape[1] + 1,) * 2)
    information[0, 0] = weights.sum()
    information[0, 1:] = information[1:, 0] = weighted.sum(axis=0)
    information[1:, 1:] = features.T @ weighted
    return information


def _covariance(information: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Covariance of an unpenalised fit's coefficients on ``free`` features (intercept kept).

    The inverse of the Fisher information restricted to the intercept and the free
    features, taken as the inverse of its Schur complement on the features (the
    information about them once the intercept is fitted), which is better conditioned
    than the whole when a feature's mean is far from zero. A Poisson count weighs in
    with its expected number of claims, a Gamma claim size with its expected claims over
    the claims' squared coefficient of variation.
    """
    keep = free + 1
    total = information[0, 0]
    cross = information[0, keep]
    centred = information[np.ix_(keep, keep)] - np.outer(cross, cross) / total
    return np.asarray(np.linalg.pinv(centred, hermitian=True))


def _peril_report(
    counts: np.ndarray,
    losses: np.ndarray,
    expected: np.ndarray,
    size: np.ndarray,
    exposure: np.ndarray,
    true_expected: np.ndarray | None,
) -> tuple[dict[str, Any], dict[str, tuple[np.ndarray, np.ndarray]], pd.DataFrame]:
    """One peril's deviances, Gini, totals and calibration by decile; its Lorenz curves."""
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
    curves = {
        f"model (Gini {result['gini']:.3f})": _plotted(
            metrics.lorenz_curve(counts, expected, exposure)
        )
    }
    if true_expected is not None:
        true_gini = metrics.gini(counts, true_expected, exposure)
        result["oracle"] = {
            "gini": _round(true_gini),
            "gini_ratio": _round(result["gini"] / true_gini) if true_gini else None,
            "poisson_deviance": _round(metrics.poisson_deviance(counts, true_expected)),
            "predicted_claims": _round(float(true_expected.sum())),
            "calibration_by_decile": _records(
                metrics.calibration_table(
                    counts, true_expected, metrics.decile_groups(true_expected, exposure)
                )
            ),
            # the truth's expected claims against the model's, by the model's deciles:
            # the model's own miscalibration, without the held-out claims' noise
            "expected_by_model_decile": _records(
                metrics.calibration_table(true_expected, expected, deciles)
            ),
        }
        curves[f"oracle (Gini {true_gini:.3f})"] = _plotted(
            metrics.lorenz_curve(counts, true_expected, exposure)
        )
    return result, curves, by_decile


def _plotted(curve: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A Lorenz curve thinned to at most ``PLOTTED_POINTS`` evenly spaced points, ends kept."""
    x, y = curve
    if len(x) <= PLOTTED_POINTS:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, PLOTTED_POINTS).round().astype(np.int64))
    return x[keep], y[keep]


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


def evaluate(
    model: LossModel,
    history: ClaimsHistory,
    questionnaire: Questionnaire,
    *,
    oracle: Oracle | None = None,
    plots: Path | None = None,
    challenger: bool = True,
) -> dict[str, Any]:
    """Evaluate ``model`` on ``history`` (held in memory); write plots into ``plots`` when
    given; without ``challenger``, no challenger is fitted."""
    gathered = _Gathered(
        model, questionnaire, None if oracle is None else oracle.truth, challenger=challenger
    )
    gathered.add(history, None if oracle is None else oracle.frames)
    return gathered.report(plots)


def evaluate_book(
    model: LossModel,
    book: Path,
    questionnaire: Questionnaire,
    *,
    as_of: dt.date = BOOK_AS_OF,
    plots: Path | None = None,
    chunk_rows: int = EVALUATION_CHUNK_ROWS,
    challenger: bool = True,
) -> dict[str, Any]:
    """Evaluate ``model`` on the book at ``book``, read in chunks of ``chunk_rows`` rows.

    With ``challenger`` (the default), gradient-boosted Poisson trees are fitted on
    :data:`~scoring.model.challenger.FIT_SHARE` of the book's facilities and compared
    with the GLM (and the oracle) on the others (the report's ``challenger``).

    The ground truth ``carescore synth`` writes beside a book is read along with it, in
    the same row order (as ``synth`` writes it); the report then compares the model with
    the oracle and each fitted relativity with the true one.

    Raises
    ------
    InputError
        The book breaks the claims-history format (see :func:`read_claims_history`),
        or the truth beside it does not match the book row for row.
    """
    files = _truth_files(book)
    truth = None if files is None else _load_truth(files[1])
    truth_rows = None if files is None else _TruthRows(files[0], chunk_rows)
    gathered = _Gathered(model, questionnaire, truth, challenger=challenger)
    for history in iter_claims_history(book, questionnaire, chunk_rows, as_of=as_of):
        oracle = None
        if truth_rows is not None:
            oracle = truth_rows.take(history.n_rows)
            if not _same_keys(oracle, history):
                raise _uncovered(truth_rows.path, "does not match the book row for row")
        gathered.add(history, oracle)
    if truth_rows is not None and truth_rows.take(1).shape[0]:
        raise _uncovered(truth_rows.path, "has more rows than the book")
    return gathered.report(plots)


class _TruthRows:
    """The rows of the truth beside a book, taken in the book's chunks, in order."""

    def __init__(self, path: Path, chunk_rows: int) -> None:
        self.path = path
        try:
            self._batches = pq.ParquetFile(path).iter_batches(batch_size=chunk_rows)
        except (pa.ArrowException, OSError) as exc:
            raise _uncovered(path, f"cannot be read: {str(exc).splitlines()[0]}") from exc
        self._held: list[pa.RecordBatch] = []
        self._rows = 0

    def take(self, rows: int) -> pd.DataFrame:
        """The next ``rows`` rows (fewer at the end of the file)."""
        while self._rows < rows:
            try:
                batch = next(self._batches, None)
            except (pa.ArrowException, OSError) as exc:
                raise _uncovered(self.path, f"cannot be read: {str(exc).splitlines()[0]}") from exc
            if batch is None:
                break
            self._held.append(batch)
            self._rows += batch.num_rows
        if not self._held:
            return pd.DataFrame()
        table = pa.Table.from_batches(self._held)
        rest = table.slice(rows)
        self._held, self._rows = rest.to_batches(), rest.num_rows
        frame: pd.DataFrame = table.slice(0, rows).to_pandas()
        return frame


def _same_keys(oracle: pd.DataFrame, history: ClaimsHistory) -> bool:
    if len(oracle) != history.n_rows or "facility_id" not in oracle or "policy_year" not in oracle:
        return False
    ids = pa.array(oracle["facility_id"].to_numpy(dtype=object), pa.string())
    return bool(np.array_equal(oracle["policy_year"].to_numpy(), history.policy_year)) and bool(
        pc.all(pc.equal(ids, pa.array(history.facility_id, pa.string()))).as_py()
    )
