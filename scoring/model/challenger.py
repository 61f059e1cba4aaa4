"""A challenger to the loss model's frequency GLMs: gradient-boosted Poisson trees.

The GLMs are log-linear in their features: an effect that sits at a threshold, or
two answers that matter only together, cannot be fitted. A challenger free of that
form - scikit-learn's ``HistGradientBoostingRegressor`` with a Poisson loss, monotone
(never rising) in every control, as the GLMs are - is fitted on a declared share of
an evaluation book's facilities and scored with the GLM (and the oracle, for a
synthetic book) on the others. Where it beats the GLM by a clear margin, the log of
its prediction over the GLM's is explained feature by feature and pair by pair:
those are the candidates for the GLM's design (a transform, a band, an
interaction term).

Facilities, not facility-years, are split (by a hash of the facility id), so no
facility's later years are scored by a model fitted on its earlier ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from scoring.model import metrics
from scoring.responses.reading import id_hashes
from scoring.vocabulary import Peril

FIT_SHARE = 0.5
"""Share of the book's facilities the challenger is fitted on; the rest are scored."""
MAX_ROWS = 300_000
"""At most this many facility-years to fit on, and as many to score (the first found in
book order): the comparison needs claims, not the whole of a large book."""
CLEAR_MARGIN = 2.576
"""The challenger is clearly better when its Poisson deviance on the scored part is
lower than the GLM's by more than this many standard errors of the difference (summed
by facility, whose years are not independent): 99 % confidence."""
SETTINGS: dict[str, Any] = {
    "loss": "poisson",
    "learning_rate": 0.05,
    "max_iter": 400,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 400,
    "l2_regularization": 1.0,
    "early_stopping": True,
    "validation_fraction": 0.2,
    "n_iter_no_change": 20,
    "random_state": 0,
}
"""The challenger's settings: shallow trees, large leaves (claims are rare), stopped
early on a fifth of its fitting rows."""
EXPLAINED_FEATURES = 8
"""Features named where the challenger is clearly better (the largest shares explained)."""
PAIRED_FEATURES = 6
"""The pairs among this many best-explaining features are tried for interactions."""
INTERACTION_SHARE = 0.02
"""A pair is named when it explains at least this share of the difference beyond what
its two features explain apart."""
BINS = 8
"""A numeric feature is cut at its quantiles into at most this many bins to explain."""


@dataclass
class _Rows:
    """Facility-years kept for one side of the split, chunk by chunk."""

    features: list[np.ndarray] = field(default_factory=list)
    exposure: list[np.ndarray] = field(default_factory=list)
    facility: list[np.ndarray] = field(default_factory=list)
    counts: dict[Peril, list[np.ndarray]] = field(default_factory=dict)
    glm: dict[Peril, list[np.ndarray]] = field(default_factory=dict)
    oracle: dict[Peril, list[np.ndarray]] = field(default_factory=dict)
    rows: int = 0

    def add(
        self,
        keep: np.ndarray,
        features: np.ndarray,
        exposure: np.ndarray,
        facility: np.ndarray,
        counts: dict[Peril, np.ndarray],
        glm: dict[Peril, np.ndarray],
        oracle: dict[Peril, np.ndarray] | None,
    ) -> None:
        keep = np.flatnonzero(keep)[: max(MAX_ROWS - self.rows, 0)]
        if not keep.size:
            return
        self.rows += keep.size
        self.features.append(features[keep].astype(np.float32))
        self.exposure.append(exposure[keep].astype(np.float64))
        self.facility.append(facility[keep])
        for peril in Peril:
            self.counts.setdefault(peril, []).append(counts[peril][keep].astype(np.float64))
            self.glm.setdefault(peril, []).append(glm[peril][keep].astype(np.float64))
            if oracle is not None:
                self.oracle.setdefault(peril, []).append(oracle[peril][keep].astype(np.float64))


class Challenger:
    """Gathers an evaluation book's rows for the challenger, chunk by chunk.

    Parameters
    ----------
    feature_names : sequence of str
        The loss model's features, in the order of the feature matrices given to
        :meth:`add`.
    is_control : numpy.ndarray of bool
        Which features are controls (0 = worst answer ... 1 = best): the challenger
        never predicts more claims for a better answer.
    """

    def __init__(self, feature_names: list[str], is_control: np.ndarray) -> None:
        self.feature_names = list(feature_names)
        self.monotone = np.where(np.asarray(is_control, dtype=bool), -1, 0)
        self.fit = _Rows()
        self.scored = _Rows()

    def add(
        self,
        features: np.ndarray,
        exposure: np.ndarray,
        facility_id: np.ndarray,
        counts: dict[Peril, np.ndarray],
        glm: dict[Peril, np.ndarray],
        oracle: dict[Peril, np.ndarray] | None = None,
    ) -> None:
        """One chunk: features, exposure, facility ids, and per peril the claim counts,
        the GLM's expected claims and (for a synthetic book) the truth's."""
        ids = pa.array(np.asarray(facility_id, dtype=object), pa.string())
        to_fit = (id_hashes(ids) % np.uint64(1000)) < np.uint64(round(FIT_SHARE * 1000))
        for side, keep in ((self.fit, to_fit), (self.scored, ~to_fit)):
            side.add(keep, features, exposure, np.asarray(facility_id), counts, glm, oracle)

    def report(self) -> dict[str, Any]:
        """Fit the challenger for each peril and compare it with the GLM (and the oracle)."""
        from sklearn.ensemble import HistGradientBoostingRegressor  # only evaluation needs it

        result: dict[str, Any] = {
            "method": "HistGradientBoostingRegressor, Poisson loss, never rising in a control",
            "settings": {k: v for k, v in SETTINGS.items() if k != "random_state"},
            "fit_share": FIT_SHARE,
            "fit_rows": self.fit.rows,
            "scored_rows": self.scored.rows,
            "perils": {},
        }
        if not self.fit.rows or not self.scored.rows:
            result["note"] = "too few facilities on one side of the split to compare"
            return result
        fit_x = np.concatenate(self.fit.features)
        fit_exposure = np.concatenate(self.fit.exposure)
        scored_x = np.concatenate(self.scored.features)
        exposure = np.concatenate(self.scored.exposure)
        facility = np.concatenate(self.scored.facility)
        for peril in Peril:
            counts = np.concatenate(self.fit.counts[peril])
            peril_result: dict[str, Any] = {"fit_claims": int(counts.sum())}
            if counts.sum() == 0:
                peril_result["note"] = "no claims to fit on"
                result["perils"][peril.value] = peril_result
                continue
            model = HistGradientBoostingRegressor(monotonic_cst=self.monotone, **SETTINGS)
            model.fit(fit_x, counts / fit_exposure, sample_weight=fit_exposure)
            challenger = np.maximum(model.predict(scored_x), 1e-12) * exposure
            scored_counts = np.concatenate(self.scored.counts[peril])
            glm = np.concatenate(self.scored.glm[peril])
            oracle = (
                np.concatenate(self.scored.oracle[peril]) if self.scored.oracle.get(peril) else None
            )
            peril_result.update(compare(scored_counts, glm, challenger, exposure, facility, oracle))
            peril_result["iterations"] = int(model.n_iter_)
            if peril_result["clearly_better"]:
                peril_result["explanation"] = explain_difference(
                    np.log(challenger / glm), glm, scored_x, self.feature_names
                )
            result["perils"][peril.value] = peril_result
        return result


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def compare(
    counts: np.ndarray,
    glm: np.ndarray,
    challenger: np.ndarray,
    exposure: np.ndarray,
    facility: np.ndarray,
    oracle: np.ndarray | None = None,
) -> dict[str, Any]:
    """Poisson deviance and Gini of the GLM, the challenger (and the oracle) on the same
    rows, and whether the challenger is clearly better (:data:`CLEAR_MARGIN`).

    Examples
    --------
    >>> import numpy as np
    >>> counts = np.array([0.0, 1.0, 0.0, 2.0])
    >>> same = np.array([0.2, 0.8, 0.3, 1.5])
    >>> result = compare(counts, same, same, np.ones(4), np.array(["a", "b", "c", "d"]))
    >>> result["clearly_better"], result["deviance_gain"]
    (False, 0.0)
    """
    deviance = {
        "glm": metrics.poisson_deviance(counts, glm),
        "challenger": metrics.poisson_deviance(counts, challenger),
    }
    gini = {
        "glm": metrics.gini(counts, glm, exposure),
        "challenger": metrics.gini(counts, challenger, exposure),
    }
    if oracle is not None:
        deviance["oracle"] = metrics.poisson_deviance(counts, oracle)
        gini["oracle"] = metrics.gini(counts, oracle, exposure)
    # the paired difference of unit deviances, summed by facility
    difference = _unit_poisson_deviance(counts, glm) - _unit_poisson_deviance(counts, challenger)
    _, groups = np.unique(facility, return_inverse=True)
    by_facility = np.bincount(groups, weights=difference)
    gain = float(by_facility.sum())
    spread = 0.0
    if by_facility.size > 1:
        spread = float(by_facility.std(ddof=1)) * math.sqrt(by_facility.size)
    return {
        "poisson_deviance": {k: _round(v) for k, v in deviance.items()},
        "gini": {k: _round(v) for k, v in gini.items()},
        "deviance_gain": _round(gain),
        "standard_error": _round(spread),
        "clearly_better": bool(spread > 0 and gain > CLEAR_MARGIN * spread),
    }


def _unit_poisson_deviance(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(y > 0, y * np.log(y / mu), 0.0)
    return np.asarray(2.0 * (log_term - (y - mu)))


def _bins(values: np.ndarray) -> np.ndarray:
    """Each value's bin: its distinct value when there are few, else a quantile bin."""
    distinct = np.unique(values)
    if distinct.size <= BINS:
        return np.searchsorted(distinct, values)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, BINS + 1)[1:-1]))
    return np.searchsorted(edges, values, side="right")


def _explained(target: np.ndarray, weight: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The weighted mean of ``target`` within each row's group, row by row."""
    _, inverse = np.unique(groups, return_inverse=True)
    totals = np.bincount(inverse, weights=weight * target)
    weights = np.bincount(inverse, weights=weight)
    means = np.divide(totals, weights, out=np.zeros_like(totals), where=weights > 0)
    return np.asarray(means[inverse])


def _share(target: np.ndarray, weight: np.ndarray, fitted: np.ndarray, total: float) -> float:
    return 1.0 - float(weight @ (target - fitted) ** 2) / total if total > 0 else 0.0


def explain_difference(
    log_ratio: np.ndarray,
    weight: np.ndarray,
    features: np.ndarray,
    feature_names: list[str],
) -> dict[str, Any]:
    """Which features, alone and in pairs, explain the log of the challenger's prediction
    over the GLM's.

    Each row weighs in with ``weight`` (the GLM's expected claims: where claims are
    expected, a difference matters). A feature's share is the weighted share of the
    log ratio's variance that its bins' means explain; a pair's interaction share is what
    the cells of the two features explain beyond their two bins' means fitted together
    (a few rounds of backfitting), among the :data:`PAIRED_FEATURES` best features.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 2, size=(2000, 3)).astype(float)
    >>> ratio = 0.5 * x[:, 0] * x[:, 1]  # an interaction the GLM cannot fit
    >>> found = explain_difference(ratio, np.ones(2000), x, ["a", "b", "c"])
    >>> [row["feature"] for row in found["features"]][:2]
    ['a', 'b']
    >>> found["interactions"][0]["features"]
    ['a', 'b']
    """
    centred = log_ratio - np.average(log_ratio, weights=weight)
    total = float(weight @ centred**2)
    bins = [_bins(features[:, j]) for j in range(features.shape[1])]
    shares = [
        _share(centred, weight, _explained(centred, weight, bins[j]), total)
        for j in range(features.shape[1])
    ]
    order = [j for j in np.argsort(shares)[::-1] if shares[j] > 0]
    named = [
        {"feature": feature_names[j], "share": _round(shares[j])}
        for j in order[:EXPLAINED_FEATURES]
    ]
    interactions: list[tuple[float, list[str]]] = []
    best = order[:PAIRED_FEATURES]
    for a_index, a in enumerate(best):
        for b in best[a_index + 1 :]:
            together = _explained(centred, weight, bins[a] * (int(bins[b].max()) + 1) + bins[b])
            part_a = part_b = np.zeros_like(centred)
            for _ in range(10):  # backfitting: each feature's means of what the other leaves
                part_a = _explained(centred - part_b, weight, bins[a])
                part_b = _explained(centred - part_a, weight, bins[b])
            additive = part_a + part_b
            gain = _share(centred, weight, together, total) - _share(
                centred, weight, additive, total
            )
            if gain >= INTERACTION_SHARE:
                pair = [feature_names[j] for j in sorted((a, b))]  # in the model's order
                interactions.append((gain, pair))
    interactions.sort(key=lambda found: -found[0])
    return {
        "features": named,
        "interactions": [{"features": pair, "share": _round(gain)} for gain, pair in interactions],
    }
