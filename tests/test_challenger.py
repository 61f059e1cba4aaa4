"""The challenger: gradient-boosted Poisson trees beside the loss model's GLMs."""

from __future__ import annotations

import numpy as np
import pytest

from scoring.model.challenger import (
    CLEAR_MARGIN,
    Challenger,
    compare,
    explain_difference,
)
from scoring.vocabulary import Peril

N = 40_000


def _world(seed: int, interaction: float) -> dict[str, np.ndarray]:
    """Facilities with four 0/1 answers (two of them controls), claims drawn from a rate
    with an interaction of answers 0 and 1 that a log-linear model without it misses."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, size=(N, 4)).astype(np.float64)
    exposure = rng.uniform(0.5, 1.0, N)
    log_rate = -2.5 + 0.4 * x[:, 0] + 0.3 * x[:, 1] - 0.5 * x[:, 2]
    truth = np.exp(log_rate + interaction * x[:, 0] * x[:, 1]) * exposure
    # the GLM: the main effects only, scaled to the same total
    glm = np.exp(log_rate) * exposure
    glm *= truth.sum() / glm.sum()
    counts = rng.poisson(truth).astype(np.float64)
    ids = np.array([f"F{i:06d}" for i in range(N)], dtype=object)
    return {"x": x, "exposure": exposure, "truth": truth, "glm": glm, "counts": counts, "ids": ids}


def _report(world: dict[str, np.ndarray]) -> dict[str, object]:
    names = ["a", "b", "control_c", "d"]
    challenger = Challenger(names, np.array([False, False, True, False]))
    per_peril = dict.fromkeys(Peril, world["counts"])
    for rows in np.array_split(np.arange(N), 3):  # in chunks, as a book is read
        challenger.add(
            world["x"][rows],
            world["exposure"][rows],
            world["ids"][rows],
            counts={p: c[rows] for p, c in per_peril.items()},
            glm=dict.fromkeys(Peril, world["glm"][rows]),
            oracle=dict.fromkeys(Peril, world["truth"][rows]),
        )
    return challenger.report()


@pytest.mark.slow
def test_a_challenger_finds_an_interaction_the_glm_misses_and_names_it() -> None:
    report = _report(_world(seed=1, interaction=0.9))
    assert report["fit_rows"] + report["scored_rows"] == N
    assert 0.45 < report["fit_rows"] / N < 0.55  # facilities split by hash, about half each
    found = report["perils"]["ransomware"]
    assert found["clearly_better"], found
    assert found["poisson_deviance"]["challenger"] < found["poisson_deviance"]["glm"]
    pairs = [row["features"] for row in found["explanation"]["interactions"]]
    assert pairs[0] == ["a", "b"]
    assert {row["feature"] for row in found["explanation"]["features"][:2]} == {"a", "b"}


@pytest.mark.slow
def test_a_challenger_is_not_clearly_better_than_a_correct_glm() -> None:
    report = _report(_world(seed=2, interaction=0.0))
    found = report["perils"]["ransomware"]
    assert not found["clearly_better"], found
    assert "explanation" not in found


def test_compare_judges_by_the_paired_deviance_summed_by_facility() -> None:
    rng = np.random.default_rng(3)
    truth = rng.uniform(0.05, 0.5, 20_000)
    counts = rng.poisson(truth).astype(np.float64)
    flat = np.full_like(truth, truth.mean())
    ids = np.repeat(np.arange(10_000), 2).astype(str)  # two years per facility
    better = compare(counts, flat, truth, np.ones_like(truth), ids)
    assert better["clearly_better"]
    assert better["deviance_gain"] > CLEAR_MARGIN * better["standard_error"] > 0
    worse = compare(counts, truth, flat, np.ones_like(truth), ids)
    assert not worse["clearly_better"]
    assert worse["deviance_gain"] < 0


def test_explain_difference_names_a_threshold_in_one_feature() -> None:
    rng = np.random.default_rng(4)
    days = rng.uniform(0, 365, 5_000)
    noise = rng.uniform(0, 1, 5_000)
    ratio = np.where(days > 30, 0.4, 0.0)  # an effect at a threshold, not linear in days
    found = explain_difference(
        ratio, np.ones(5_000), np.column_stack([noise, days]), ["noise", "days_to_patch"]
    )
    assert found["features"][0]["feature"] == "days_to_patch"
    # quantile bins do not fall on the threshold, so most, not all, of it is explained
    assert found["features"][0]["share"] > 0.5
    assert found["features"][1]["share"] < 0.01
    assert found["interactions"] == []


def test_the_model_card_shows_the_challenger_beside_the_model() -> None:
    from scoring.model.card import evaluation_summary

    peril = {
        "observed_claims": 10,
        "predicted_claims": 10.0,
        "predicted_over_observed": 1.0,
        "gini": 0.5,
        "d_squared": 0.1,
        "calibration_by_decile": [],
    }
    challenger = {
        "fit_share": 0.5,
        "fit_rows": 1_000,
        "scored_rows": 1_000,
        "perils": {
            "ransomware": {
                "poisson_deviance": {"glm": 0.05, "challenger": 0.04, "oracle": 0.039},
                "gini": {"glm": 0.5, "challenger": 0.6, "oracle": 0.61},
                "clearly_better": True,
                "explanation": {
                    "features": [{"feature": "days_to_patch_critical", "share": 0.7}],
                    "interactions": [{"features": ["a", "b"], "share": 0.1}],
                },
            },
            "email_fraud": {"fit_claims": 0, "note": "no claims to fit on"},
        },
    }
    report = {"rows": 2_000, "perils": {"ransomware": peril}, "challenger": challenger}
    summary = evaluation_summary(report, book="holdout.parquet")
    row = next(line for line in summary.splitlines() if line.startswith("| ransomware | 0.05"))
    assert "| yes | days_to_patch_critical, a x b |" in row
    assert "| email_fraud | - | - | - | no claims to fit on |" in summary
    assert "Challenger" not in evaluation_summary({**report, "challenger": None}, book="b")
