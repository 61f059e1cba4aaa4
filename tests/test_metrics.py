"""Model-evaluation metrics and plots: deviances, Lorenz curve and Gini, calibration."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from sklearn.metrics import mean_gamma_deviance, mean_poisson_deviance, mean_tweedie_deviance

from scoring.model.metrics import (
    calibration_table,
    d_squared,
    decile_groups,
    gamma_deviance,
    gini,
    lorenz_curve,
    null_prediction,
    poisson_deviance,
    tweedie_deviance,
)
from scoring.model.plots import plot_calibration, plot_lorenz

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXACT = 1e-12
"""Relative tolerance for results that should agree up to rounding."""


@pytest.fixture
def book() -> dict[str, np.ndarray]:
    """A seeded book of 5,000 facilities: exposure, true expected counts, observed counts."""
    rng = np.random.default_rng(20260601)
    exposure = rng.uniform(0.2, 3.0, size=5_000)
    rate = rng.gamma(shape=0.8, scale=0.5, size=5_000)
    mu = rate * exposure
    return {"exposure": exposure, "mu": mu, "y": rng.poisson(mu).astype(float)}


@pytest.fixture
def severities() -> tuple[np.ndarray, np.ndarray]:
    """Positive claim amounts and positive predictions, seeded."""
    rng = np.random.default_rng(7)
    return rng.gamma(2.0, 1_000.0, size=300), rng.gamma(2.0, 1_000.0, size=300)


# deviances ------------------------------------------------------------------------------------


def test_deviance_of_a_perfect_prediction_is_zero() -> None:
    y = np.array([0.5, 1.0, 3.0, 12.0])
    assert poisson_deviance(y, y) == pytest.approx(0.0, abs=EXACT)
    assert gamma_deviance(y, y) == pytest.approx(0.0, abs=EXACT)
    assert tweedie_deviance(y, y, power=1.5) == pytest.approx(0.0, abs=EXACT)


def test_poisson_deviance_agrees_with_sklearn(book: dict[str, np.ndarray]) -> None:
    y, mu = book["y"], book["mu"]
    assert poisson_deviance(y, mu) == pytest.approx(mean_poisson_deviance(y, mu), rel=EXACT)


def test_poisson_deviance_counts_zero_claims_as_twice_the_prediction() -> None:
    assert poisson_deviance([0.0], [0.7]) == pytest.approx(1.4, rel=EXACT)


def test_gamma_deviance_agrees_with_sklearn(severities: tuple[np.ndarray, np.ndarray]) -> None:
    y, mu = severities
    assert gamma_deviance(y, mu) == pytest.approx(mean_gamma_deviance(y, mu), rel=EXACT)


@pytest.mark.parametrize("power", [1.01, 1.2, 1.5, 1.8, 1.99])
def test_tweedie_deviance_agrees_with_sklearn(book: dict[str, np.ndarray], power: float) -> None:
    y = book["y"] * 1_000.0  # pure premium: many zeros, amounts elsewhere
    mu = book["mu"] * 1_000.0
    expected = mean_tweedie_deviance(y, mu, power=power)
    assert tweedie_deviance(y, mu, power) == pytest.approx(expected, rel=EXACT)


def test_weighted_deviances_agree_with_sklearn(book: dict[str, np.ndarray]) -> None:
    y, mu, w = book["y"], book["mu"], book["exposure"]
    assert poisson_deviance(y, mu, w) == pytest.approx(
        mean_poisson_deviance(y, mu, sample_weight=w), rel=EXACT
    )
    assert tweedie_deviance(y, mu, 1.4, w) == pytest.approx(
        mean_tweedie_deviance(y, mu, sample_weight=w, power=1.4), rel=EXACT
    )
    positive = y > 0
    assert gamma_deviance(y[positive], mu[positive], w[positive]) == pytest.approx(
        mean_gamma_deviance(y[positive], mu[positive], sample_weight=w[positive]), rel=EXACT
    )


def test_equal_weights_give_the_unweighted_deviance(book: dict[str, np.ndarray]) -> None:
    y, mu = book["y"], book["mu"]
    weighted = poisson_deviance(y, mu, np.full(len(y), 3.0))
    assert weighted == pytest.approx(poisson_deviance(y, mu), rel=EXACT)


# d squared and the null model -----------------------------------------------------------------


def test_null_prediction_spreads_the_total_by_exposure() -> None:
    prediction = null_prediction([0.0, 2.0, 4.0], [1.0, 1.0, 4.0])
    assert_allclose(prediction, [1.0, 1.0, 4.0], rtol=EXACT)


def test_null_prediction_preserves_the_total(book: dict[str, np.ndarray]) -> None:
    prediction = null_prediction(book["y"], book["exposure"])
    assert prediction.sum() == pytest.approx(book["y"].sum(), rel=EXACT)


def test_d_squared_of_the_null_model_is_zero(book: dict[str, np.ndarray]) -> None:
    y = book["y"]
    null = poisson_deviance(y, null_prediction(y, book["exposure"]))
    assert d_squared(null, null) == pytest.approx(0.0, abs=EXACT)


def test_d_squared_of_the_true_means_is_positive_and_below_one(
    book: dict[str, np.ndarray],
) -> None:
    y = book["y"]
    null = poisson_deviance(y, null_prediction(y, book["exposure"]))
    explained = d_squared(poisson_deviance(y, book["mu"]), null)
    assert 0.0 < explained < 1.0


def test_d_squared_of_a_perfect_fit_is_one() -> None:
    assert d_squared(0.0, 0.8) == pytest.approx(1.0, rel=EXACT)


# Lorenz curve and Gini ------------------------------------------------------------------------


def test_lorenz_curve_runs_from_origin_to_one_and_never_falls(
    book: dict[str, np.ndarray],
) -> None:
    x, share = lorenz_curve(book["y"], book["mu"], book["exposure"])
    assert (x[0], share[0]) == (0.0, 0.0)
    assert x[-1] == pytest.approx(1.0, rel=EXACT)
    assert share[-1] == pytest.approx(1.0, rel=EXACT)
    assert len(x) == len(share) == len(book["y"]) + 1
    assert np.all(np.diff(x) > 0)
    assert np.all(np.diff(share) >= 0)


def test_lorenz_curve_sorts_by_predicted_rate_not_by_prediction() -> None:
    # facility 1 has the larger prediction but the lower rate (prediction / exposure)
    x, share = lorenz_curve(y=[1.0, 3.0], prediction=[2.0, 4.0], exposure=[1.0, 4.0])
    assert_allclose(x, [0.0, 0.8, 1.0], rtol=EXACT)
    assert_allclose(share, [0.0, 0.75, 1.0], rtol=EXACT)


def test_lorenz_curve_keeps_tied_rates_in_their_original_order() -> None:
    _, share = lorenz_curve(y=[3.0, 1.0], prediction=[1.0, 1.0], exposure=[1.0, 1.0])
    assert_allclose(share, [0.0, 0.75, 1.0], rtol=EXACT)


def test_a_perfect_ranking_has_a_larger_gini_than_a_random_one(
    book: dict[str, np.ndarray],
) -> None:
    y, exposure = book["y"], book["exposure"]
    random = np.random.default_rng(11).uniform(size=len(y)) * exposure
    assert gini(y, y, exposure) > gini(y, book["mu"], exposure) > gini(y, random, exposure)
    assert gini(y, y, exposure) > 0.5


def test_gini_of_a_random_ranking_is_about_zero() -> None:
    # every facility has the same true rate; the predicted *rate* is noise
    rng = np.random.default_rng(2026)
    size = 50_000
    exposure = rng.uniform(0.5, 2.0, size=size)
    y = rng.poisson(0.3 * exposure).astype(float)
    prediction = rng.uniform(size=size) * exposure
    assert abs(gini(y, prediction, exposure)) < 0.05


@pytest.mark.parametrize("scale", [1e-6, 0.5, 3.0, 1e6])
def test_gini_does_not_change_when_predictions_are_scaled(
    book: dict[str, np.ndarray], scale: float
) -> None:
    y, mu, exposure = book["y"], book["mu"], book["exposure"]
    assert gini(y, mu * scale, exposure) == pytest.approx(gini(y, mu, exposure), rel=EXACT)


def test_gini_of_a_small_book_matches_the_trapezoid_by_hand() -> None:
    # curve (0, 0), (0.25, 0), (0.75, 0.75), (1, 1): area 0.40625
    assert gini([0.0, 1.0, 3.0], [1.0, 2.0, 3.0], [1.0, 1.0, 2.0]) == pytest.approx(
        1.0 - 2.0 * 0.40625, rel=EXACT
    )


_SIZES = st.integers(min_value=1, max_value=40)
_AMOUNTS = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
_EXPOSURES = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False, allow_infinity=False)


@st.composite
def _books(draw: st.DrawFn) -> tuple[list[float], list[float], list[float]]:
    size = draw(_SIZES)
    y = draw(st.lists(_AMOUNTS, min_size=size, max_size=size).filter(lambda v: sum(v) > 0))
    prediction = draw(st.lists(_AMOUNTS, min_size=size, max_size=size))
    exposure = draw(st.lists(_EXPOSURES, min_size=size, max_size=size))
    return y, prediction, exposure


@settings(max_examples=200, deadline=None)
@given(_books())
def test_any_lorenz_curve_is_monotone_and_bounded(
    book: tuple[list[float], list[float], list[float]],
) -> None:
    x, share = lorenz_curve(*book)
    for curve in (x, share):
        assert curve[0] == 0.0
        assert curve[-1] == pytest.approx(1.0, rel=EXACT)
        assert np.all(np.diff(curve) >= 0)
        assert np.all((curve >= 0.0) & (curve <= 1.0 + EXACT))
    assert -1.0 <= gini(*book) <= 1.0


@settings(max_examples=200, deadline=None)
@given(_books(), st.integers(min_value=1, max_value=12))
def test_any_decile_groups_are_ordered_by_rate_and_in_range(
    book: tuple[list[float], list[float], list[float]], n: int
) -> None:
    _, prediction, exposure = book
    groups = decile_groups(prediction, exposure, n=n)
    assert groups.min() >= 0
    assert groups.max() <= n - 1
    rate = np.asarray(prediction) / np.asarray(exposure)
    order = np.argsort(rate, kind="stable")
    assert np.all(np.diff(groups[order]) >= 0)


# decile groups and calibration ----------------------------------------------------------------


def test_decile_groups_have_near_equal_exposure(book: dict[str, np.ndarray]) -> None:
    groups = decile_groups(book["mu"], book["exposure"])
    totals = np.bincount(groups, weights=book["exposure"], minlength=10)
    assert set(groups.tolist()) == set(range(10))
    # each group is within one facility's exposure (at most 3.0) of a tenth of the book
    assert np.all(np.abs(totals - book["exposure"].sum() / 10) <= book["exposure"].max())


def test_decile_groups_rise_with_predicted_rate(book: dict[str, np.ndarray]) -> None:
    groups = decile_groups(book["mu"], book["exposure"])
    rate = book["mu"] / book["exposure"]
    highest = [rate[groups == g].max() for g in range(10)]
    lowest = [rate[groups == g].min() for g in range(10)]
    assert all(high <= low for high, low in zip(highest[:-1], lowest[1:], strict=True))


def test_decile_groups_split_equal_exposures_into_equal_counts() -> None:
    groups = decile_groups(np.arange(100.0)[::-1], np.ones(100))
    assert_allclose(np.bincount(groups), np.full(10, 10), rtol=0)
    assert groups[0] == 9
    assert groups[-1] == 0


def test_decile_groups_break_ties_by_original_order() -> None:
    groups = decile_groups(np.ones(6), np.ones(6), n=3)
    assert groups.tolist() == [0, 0, 1, 1, 2, 2]


def test_calibration_table_totals_match_the_book(book: dict[str, np.ndarray]) -> None:
    groups = decile_groups(book["mu"], book["exposure"])
    table = calibration_table(book["y"], book["mu"], groups)
    assert list(table.columns) == ["group", "observed", "predicted", "ratio", "count"]
    assert table["group"].tolist() == list(range(10))
    assert table["observed"].sum() == pytest.approx(book["y"].sum(), rel=EXACT)
    assert table["predicted"].sum() == pytest.approx(book["mu"].sum(), rel=EXACT)
    assert table["count"].sum() == len(book["y"])
    assert_allclose(table["ratio"], table["observed"] / table["predicted"], rtol=EXACT)


def test_calibration_table_sorts_labels_and_leaves_ratio_missing_without_prediction() -> None:
    table = calibration_table(
        y=[1.0, 2.0, 0.0, 4.0], prediction=[0.0, 0.0, 1.0, 2.0], groups=["b", "b", "a", "a"]
    )
    expected = pd.DataFrame(
        {
            "group": ["a", "b"],
            "observed": [4.0, 3.0],
            "predicted": [3.0, 0.0],
            "ratio": [4.0 / 3.0, np.nan],
            "count": [2, 2],
        }
    )
    pd.testing.assert_frame_equal(table, expected, check_exact=False, rtol=EXACT)


# bad inputs -----------------------------------------------------------------------------------


_BAD_INPUTS: list[tuple[str, Callable[[], object], str]] = [
    (
        "lengths-differ",
        lambda: poisson_deviance(np.ones(10), np.ones(9)),
        "y and mu must have the same length; got 10 and 9",
    ),
    (
        "negative-y",
        lambda: poisson_deviance([1.0, -1.0], [1.0, 1.0]),
        "y must be >= 0; got -1.0 at position 1",
    ),
    (
        "zero-mu",
        lambda: poisson_deviance([1.0], [0.0]),
        "mu must be > 0; got 0.0 at position 0",
    ),
    (
        "nan-y",
        lambda: poisson_deviance([1.0, np.nan], [1.0, 1.0]),
        "y must be finite; got nan at position 1",
    ),
    ("infinite-mu", lambda: poisson_deviance([1.0], [np.inf]), "mu must be finite; got inf"),
    ("empty", lambda: poisson_deviance([], []), "y must not be empty"),
    (
        "two-dimensional",
        lambda: poisson_deviance([[1.0]], [[1.0]]),
        "y must be a 1-D array; got 2 dimensions",
    ),
    (
        "zero-weight",
        lambda: poisson_deviance([1.0], [1.0], [0.0]),
        "weights must be > 0; got 0.0",
    ),
    (
        "weights-length",
        lambda: poisson_deviance([1.0], [1.0], [1.0, 1.0]),
        "y and weights must have the same length; got 1 and 2",
    ),
    ("gamma-zero-y", lambda: gamma_deviance([0.0], [1.0]), "y must be > 0; got 0.0 at position 0"),
    (
        "power-two",
        lambda: tweedie_deviance([1.0], [1.0], power=2.0),
        "power must be strictly between 1 and 2; got 2.0",
    ),
    (
        "power-one",
        lambda: tweedie_deviance([1.0], [1.0], power=1.0),
        "power must be strictly between 1 and 2; got 1.0",
    ),
    (
        "null-deviance-zero",
        lambda: d_squared(0.5, 0.0),
        "deviance_null must be finite and > 0; got 0.0",
    ),
    (
        "negative-model-deviance",
        lambda: d_squared(-0.1, 1.0),
        "deviance_model must be finite and >= 0; got -0.1",
    ),
    (
        "zero-exposure",
        lambda: null_prediction([1.0], [0.0]),
        "exposure must be > 0; got 0.0",
    ),
    (
        "no-losses",
        lambda: lorenz_curve([0.0, 0.0], [1.0, 2.0], [1.0, 1.0]),
        "y must have a positive total",
    ),
    (
        "prediction-length",
        lambda: lorenz_curve([1.0], [1.0, 2.0], [1.0, 1.0]),
        "y and prediction must have the same length; got 1 and 2",
    ),
    (
        "exposure-length",
        lambda: lorenz_curve([1.0, 1.0], [1.0, 2.0], [1.0]),
        "y and exposure must have the same length; got 2 and 1",
    ),
    (
        "negative-prediction",
        lambda: gini([1.0], [-1.0], [1.0]),
        "prediction must be >= 0; got -1.0",
    ),
    (
        "zero-groups",
        lambda: decile_groups([1.0], [1.0], n=0),
        "n must be a positive integer; got 0",
    ),
    (
        "fractional-groups",
        lambda: decile_groups([1.0], [1.0], n=2.5),
        "n must be a positive integer; got 2.5",
    ),
    (
        "groups-length",
        lambda: calibration_table([1.0], [1.0], ["a", "b"]),
        "y and groups must have the same length; got 1 and 2",
    ),
    (
        "missing-group",
        lambda: calibration_table([1.0, 2.0], [1.0, 1.0], ["a", None]),
        "groups must not have missing labels; got None at position 1",
    ),
]


@pytest.mark.parametrize(
    ("call", "message"),
    [pytest.param(call, message, id=name) for name, call, message in _BAD_INPUTS],
)
def test_bad_inputs_are_refused_with_a_message(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


# plots ----------------------------------------------------------------------------------------


def test_plot_lorenz_writes_a_png_into_new_folders(
    book: dict[str, np.ndarray], tmp_path: Path
) -> None:
    y, exposure = book["y"], book["exposure"]
    curves = {
        f"model (Gini {gini(y, book['mu'], exposure):.2f})": lorenz_curve(y, book["mu"], exposure),
        "oracle": lorenz_curve(y, y, exposure),
    }
    path = tmp_path / "plots" / "deep" / "lorenz.png"
    plot_lorenz(curves, path, title="Ordered Lorenz curve")
    content = path.read_bytes()
    assert content.startswith(PNG_SIGNATURE)
    assert len(content) > 1_000


def test_plot_calibration_writes_a_png(book: dict[str, np.ndarray], tmp_path: Path) -> None:
    groups = decile_groups(book["mu"], book["exposure"])
    table = calibration_table(book["y"], book["mu"], groups)
    path = tmp_path / "calibration.png"
    plot_calibration(table, path, title="Calibration by decile")
    content = path.read_bytes()
    assert content.startswith(PNG_SIGNATURE)
    assert len(content) > 1_000


def test_plot_calibration_shows_groups_without_prediction(tmp_path: Path) -> None:
    table = calibration_table([1.0, 2.0], [0.0, 1.0], ["a", "b"])
    path = tmp_path / "calibration.png"
    plot_calibration(table, path, title="One group without prediction")
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_plots_are_byte_for_byte_reproducible(tmp_path: Path) -> None:
    curves = {"model": lorenz_curve([0.0, 1.0, 3.0], [1.0, 2.0, 3.0], [1.0, 1.0, 2.0])}
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    plot_lorenz(curves, first, title="Lorenz")
    plot_lorenz(curves, second, title="Lorenz")
    assert first.read_bytes() == second.read_bytes()


def test_plots_leave_pyplot_alone(tmp_path: Path) -> None:
    table = calibration_table([1.0, 2.0], [1.0, 1.0], ["a", "b"])
    plot_calibration(table, tmp_path / "calibration.png", title="Calibration")
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot.get_fignums() == []


def test_plots_refuse_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"curves must name at least one curve"):
        plot_lorenz({}, tmp_path / "x.png", title="empty")
    with pytest.raises(ValueError, match=r"curve 'model' must have x and y of the same length"):
        plot_lorenz({"model": (np.zeros(3), np.zeros(2))}, tmp_path / "x.png", title="bad")
    with pytest.raises(ValueError, match=r"table must have columns .*; missing \['ratio'\]"):
        plot_calibration(
            pd.DataFrame({"group": [0], "observed": [1.0], "predicted": [1.0]}),
            tmp_path / "x.png",
            title="bad",
        )
    assert not (tmp_path / "x.png").exists()
