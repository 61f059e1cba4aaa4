"""Bounded, monotone numbers; history that only raises; cover questions out of the risk.

The property tests sweep every number, percent and date question over its whole allowed
range, one question at a time, on the example facilities it applies to, and read each
peril's expected loss (claims a year times mean claim) from the loss model: for the
bundled default model and for a model trained here on a small synthetic book.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from scoring import Questionnaire, read_responses, score, validate
from scoring.errors import InputError
from scoring.features.encoding import AnswerEncoder
from scoring.model.claims_history import read_claims_history
from scoring.model.limits import feature_limits
from scoring.model.loss_model import LossModel, default_model_dir, load_model, save_model
from scoring.model.training import file_fingerprint, train
from scoring.questionnaire.definition import Question
from scoring.questionnaire.lint import lint
from scoring.responses.reading import RawResponses
from scoring.synthetic.book import resolve_truth, synthetic_book, write_book
from scoring.synthetic.truth import bundled_truth_path, load_truth
from scoring.vocabulary import AnswerKind, Peril
from tests.conftest import EXAMPLES, EXAMPLES_AS_OF

AS_OF = dt.date(2100, 1, 1)


@pytest.fixture(scope="module")
def trained(care: Questionnaire, tmp_path_factory: pytest.TempPathFactory) -> LossModel:
    """A model trained here on a small synthetic book (requested limit and retention are
    drawn at random in it, independently of the risk)."""
    truth = resolve_truth(load_truth(bundled_truth_path(care)), care)
    table, oracle = synthetic_book(care, truth, facilities=10_000, years=2, seed=5)
    path = tmp_path_factory.mktemp("bounded") / "book.parquet"
    write_book(table, oracle, truth, path)
    history = read_claims_history(path, care, as_of=AS_OF)
    return train(history, care, model_id="bounded", fingerprint=file_fingerprint(path), seed=0)


@pytest.fixture(scope="module")
def bundled(care: Questionnaire) -> LossModel:
    return load_model(default_model_dir(), care)


def _numeric_questions(care: Questionnaire) -> list[Question]:
    return [
        q
        for q in care.questions
        if (q.is_numeric or q.kind is AnswerKind.DATE) and q.effective_encoding.value != "none"
    ]


def _answers(question: Question, as_of: dt.date) -> list[str]:
    """The whole allowed range of a question, as text cells: both ends, a dense grid
    between them (log-spaced for a wide range), and "unknown" where it is allowed."""
    if question.kind is AnswerKind.DATE:
        days = sorted({0, 1, 30, 90, 180, 365, 500, 730, 1100, 1500, 3650, 18250})
        cells = [str(as_of - dt.timedelta(days=d)) for d in days]
    else:
        low, high = float(question.min or 0.0), float(question.max or 100.0)
        grid = np.concatenate(
            [
                np.linspace(low, high, 41),
                np.geomspace(max(low, 1.0), high, 61) if high > 100 else [],
            ]
        )
        if question.kind is AnswerKind.INTEGER:
            grid = np.rint(grid)
        cells = [
            f"{v:.6g}" if question.kind is not AnswerKind.INTEGER else str(int(v))
            for v in sorted(set(grid.tolist()))
        ]
    if question.allow_unknown:
        cells.append("unknown")
    return cells


_SETTINGS: dict[str, dict[str, str]] = {
    "prior_claims_amount": {"prior_claims_count": "2"},
    "unsupported_modality_count": {"modality_count": "500"},
    "modality_count": {"unsupported_modality_count": "0"},
}
"""Answers a sweep needs so that the question applies and every answer is valid."""


def _sweep(
    care: Questionnaire, question: Question, base: RawResponses
) -> tuple[list[str], pa.Table] | None:
    """The facility of ``base`` once per answer of the question's range, validated, or
    None when the question does not apply to it."""
    assessed = (
        base.table.column("assessed_on")[0].as_py()
        if "assessed_on" in base.table.column_names
        else None
    )
    cells = _answers(question, dt.date.fromisoformat(assessed) if assessed else EXAMPLES_AS_OF)
    table = base.table.take([0] * len(cells))
    for absent in [q.id for q in care.questions if q.id not in table.column_names]:
        table = table.append_column(absent, pa.nulls(len(cells), pa.string()))
    changes = {
        question.id: cells,
        **{k: [v] * len(cells) for k, v in _SETTINGS.get(question.id, {}).items()},
    }
    if question.id == "prior_claims_count":  # the amount applies when claims were made
        changes["prior_claims_amount"] = ["" if c == "0" else "50000" for c in cells]
    for column, values in changes.items():
        position = table.schema.get_field_index(column)
        table = table.set_column(position, column, pa.array(values, pa.string()))
    ids = [f"F-{i}" for i in range(len(cells))]
    table = table.set_column(
        table.schema.get_field_index("facility_id"), "facility_id", pa.array(ids)
    )
    result = validate(
        RawResponses(table=table, source="sweep", first_row=1), care, as_of=EXAMPLES_AS_OF
    )
    issues = result.issues
    if (
        (issues["question_id"] == question.id) & (issues["reason"] == "not_relevant_answered")
    ).any():
        return None  # the question does not apply to this facility
    # an answer that turns later questions off (0 imaging devices) makes the
    # facility's answers to them invalid: at most that one answer is left out
    if (~result.valid).sum() > 1 or not result.valid[-2:].all():
        problems = result.issues.head(3).to_dict("records")
        raise AssertionError(f"{question.id}: the sweep is not valid: {problems}")
    if not bool(result.answers[question.id].notna().any()):
        return None
    kept = np.flatnonzero(result.valid)
    return [cells[k] for k in kept], result.table.iloc[kept]


def _expected_losses(model: LossModel, care: Questionnaire, table: Any) -> np.ndarray:
    """Each row's expected loss a year, (rows, perils)."""
    features = model.encoder(care).transform(table)
    return np.column_stack(
        [model.frequency(p, features) * model.mean_claim(p, features) for p in Peril]
    )


def _bases() -> Iterator[tuple[str, RawResponses]]:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        yield path.stem, read_responses(path)


@pytest.mark.parametrize("which", ["bundled", "trained"])
def test_no_answer_moves_any_perils_expected_loss_beyond_its_declared_factor(
    care: Questionnaire, which: str, request: pytest.FixtureRequest
) -> None:
    """Over every number's whole allowed range (and "unknown"), on every example facility
    the question applies to, the largest expected loss of each peril is at most the
    question's ``max_relativity`` times the smallest; a history answer never lowers it."""
    model: LossModel = request.getfixturevalue(which)
    swept = 0
    for question in _numeric_questions(care):
        factor = question.transform.max_relativity
        for name, base in _bases():
            found = _sweep(care, question, base)
            if found is None:
                continue
            cells, table = found
            losses = _expected_losses(model, care, table)
            ratio = losses.max(axis=0) / losses.min(axis=0)
            assert (ratio <= factor * (1 + 1e-6)).all(), (
                f"{which} model, {name}: {question.id} moves expected loss by "
                f"{dict(zip([p.value for p in Peril], ratio.round(3), strict=True))} "
                f"(declared at most x{factor:g})"
            )
            if question.history:
                numbers = [float(c) for c in cells]
                assert numbers == sorted(numbers)
                assert (np.diff(losses, axis=0) >= -1e-9 * losses[:-1]).all(), (
                    f"{which} model, {name}: a worse {question.id} lowers expected loss"
                )
            swept += 1
    assert swept >= 3 * len(_numeric_questions(care))


def test_a_hundred_million_of_prior_claims_is_priced_within_the_declared_bound(
    care: Questionnaire, tmp_path: Path
) -> None:
    """The ccrc example with two prior claims: $100M of them prices at most x10 its
    $1 answer and never below its $10M answer, peril by peril; the premium stays a
    premium (before, the bundled model priced $100M at an expected loss of $3.84
    billion)."""
    source = (EXAMPLES / "ccrc-mixed.yaml").read_text(encoding="utf-8")
    results = {}
    for amount in (1, 10_000_000, 100_000_000):
        text = source
        for qid, answer in (("prior_claims_count", 2), ("prior_claims_amount", amount)):
            lines = [line for line in text.splitlines() if not line.strip().startswith(f"{qid}:")]
            text = "\n".join(lines).replace("answers:\n", f"answers:\n  {qid}: {answer}\n", 1)
        path = tmp_path / f"ccrc-{amount}.yaml"
        path.write_text(text + "\n", encoding="utf-8")
        results[amount] = score(path, as_of=EXAMPLES_AS_OF)
    low, mid, high = (
        {p.peril: p.expected_loss for p in results[a].perils} for a in sorted(results)
    )
    for peril, loss in high.items():
        assert loss <= 10 * low[peril] * (1 + 1e-6), peril
        assert loss >= mid[peril] * (1 - 1e-9), peril
    assert results[100_000_000].expected_loss < 10 * results[1].expected_loss


def test_cover_questions_are_never_features_so_a_random_retention_has_no_relativity(
    care: Questionnaire, trained: LossModel
) -> None:
    """The book's limits and retentions are drawn at random; the model has no feature of
    them at all, and the encoder produces none: the layer is priced by the plan only."""
    cover = [q.id for q in care.questions if q.cover]
    assert cover == ["requested_limit", "requested_retention"]
    assert not [f for f in trained.features if f.split("=")[0].split("__")[0] in cover]
    assert not [f for f in AnswerEncoder(care).feature_names if str(f).split("=")[0] in cover]


def test_a_cover_question_declared_as_a_feature_is_refused(care: Questionnaire) -> None:
    document = care.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    for section in document["sections"]:
        for question in section["questions"]:
            if question["id"] == "requested_retention":
                question["encoding"] = "one_hot"
            if question["id"] == "prior_claims_count":
                question["transform"] = {"knots": [0, 1, 2]}
    edited = Questionnaire.model_validate(document)
    findings = {(f.code, f.question_id) for f in lint(edited) if f.is_error}
    assert ("cover-as-risk", "requested_retention") in findings
    assert ("bad-transform", "prior_claims_count") in findings


def test_a_plan_whose_limit_question_is_not_a_cover_question_is_refused(
    care: Questionnaire,
) -> None:
    from scoring.errors import RatingPlanError
    from scoring.rating.plan import load_rating_plan

    document = care.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    for section in document["sections"]:
        for question in section["questions"]:
            if question["id"] == "requested_limit":
                question.pop("cover")
    edited = Questionnaire.model_validate(document)
    path = default_model_dir() / "rating-plan.yaml"
    plan = load_rating_plan(path)
    with pytest.raises(RatingPlanError, match=r"requested_limit chooses the cover"):
        plan.check_against(edited, str(path))


def test_a_numeric_controls_level_steps_evenly_at_its_knots(care: Questionnaire) -> None:
    """Days to patch: 7 days is one step of five from the best, 30 days three; straight
    between knots; beyond the last knot the worst level."""
    encoder = AnswerEncoder(care)
    patch = care.by_id["days_to_patch_critical"]
    assert patch.transform.knots == (0, 7, 15, 30, 90, 365)
    level = {d: encoder.control_level(patch, d, EXAMPLES_AS_OF) for d in (0, 7, 11, 15, 30, 365)}
    assert level[0] == 1.0
    assert level[365] == 0.0
    assert level[7] == pytest.approx(0.8)
    assert level[15] == pytest.approx(0.6)
    assert level[11] == pytest.approx(0.7)
    assert level[30] == pytest.approx(0.4)


def test_caps_are_learned_from_the_book_and_stored_with_the_model(
    care: Questionnaire, trained: LossModel
) -> None:
    """Every capped number has a cap inside its question's range; the model's encoder
    clips an answer beyond the cap to it."""
    encoder = trained.encoder(care)
    assert set(trained.feature_caps) == set(encoder.capped_features)
    amount = "prior_claims_amount__log1p"
    low, high = trained.feature_caps[amount]
    assert low == 0.0
    assert 0.0 < high < math.log1p(100_000_000)
    limits = feature_limits(encoder)
    assert not np.isnan(limits.span[limits.names.index(amount)])


def _edited(tmp_path: Path, edit: Any) -> Path:
    source = default_model_dir()
    model = json.loads((source / "model.json").read_text(encoding="utf-8"))
    edit(model)
    folder = tmp_path / "edited"
    save_model(LossModel.model_validate(model), folder, "card")
    return folder


def _index(model: dict[str, Any], name: str) -> int:
    return int(model["features"].index(name))


def _set_keeping_the_average(model: dict[str, Any], peril: str, name: str, beta: float) -> None:
    """Set a severity coefficient, the average facility's mean claim kept (the intercept
    takes the change at the feature's mean), so that only the limits can refuse it."""
    severity = model["perils"][peril]["severity"]
    k = _index(model, name)
    severity["intercept"] -= (beta - severity["coefficients"][k]) * model["feature_means"][k]
    severity["coefficients"][k] = beta


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda m: m["perils"]["ransomware"]["frequency"]["coefficients"].__setitem__(
                _index(m, "mfa_remote_access"), 0.2
            ),
            r"mfa_remote_access is 0\.2; a better answer would raise expected loss",
        ),
        (
            lambda m: m["perils"]["privacy_breach"]["frequency"]["coefficients"].__setitem__(
                _index(m, "prior_claims_count__log1p"), -0.1
            ),
            r"prior_claims_count__log1p is -0\.1; a worse history would lower expected loss",
        ),
        (
            lambda m: _set_keeping_the_average(m, "privacy_breach", "records_held__log1p", 1.3),
            r"records_held__log1p moves expected loss by up to x.*at most x300",
        ),
        (
            lambda m: m["feature_caps"].pop("prior_claims_amount__log1p"),
            r"prior_claims_amount__log1p: no cap learned from the training book",
        ),
    ],
    ids=["control-raises", "history-lowers", "beyond-its-factor", "no-cap"],
)
def test_a_model_beyond_its_limits_is_refused_when_loaded(
    tmp_path: Path, change: Any, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        load_model(_edited(tmp_path, change))


def _simulated_book(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """70,000 facility-years, about 700 claims: a 0/1 answer with a true x1.3 effect, a
    five-level category without any (four free indicators, its first level the base), a
    size in dollars with a true effect and another in dollars without one."""
    rng = np.random.default_rng(seed)
    n = 70_000
    effect = (rng.random(n) < 0.3).astype(float)
    level = rng.integers(0, 5, n)
    category = np.column_stack([(level == k).astype(float) for k in range(1, 5)])
    revenue, other = rng.lognormal(np.log(5e6), 0.8, (2, n))
    eta = np.log(0.0075) + np.log(1.3) * effect + 0.05 * (revenue / 1e6 - 5)
    X = np.asfortranarray(np.column_stack([effect, category, revenue, other]))
    return X, rng.poisson(np.exp(eta)).astype(float)


def _lasso(X: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    from scoring.model.training import _Bounds, _glm, _Rows

    k = X.shape[1]
    glm = _glm(
        "poisson",
        X,
        _Rows(y=y, weights=np.ones(len(y)), offset=np.zeros(len(y))),
        np.arange(k),
        k,
        _Bounds(np.full(k, -np.inf), np.full(k, np.inf)),
        np.random.default_rng(seed),
    )
    return np.asarray(glm.coefficients)


def test_the_penalty_is_scale_free_keeping_a_real_effect_and_dropping_noise() -> None:
    """On 10 seeds of a simulated book with about 700 claims: the x1.3 answer is kept in
    most, each noise category and the noise amount in dollars dropped in most (an amount
    in dollars no longer escapes the lasso by its unit); and a feature's unit does not
    change the fit: dollars or thousands of dollars give the same relativity per dollar.
    """
    fits = [_lasso(*_simulated_book(seed), seed) for seed in range(10)]
    coefficients = np.array(fits)
    assert 650 <= np.mean([_simulated_book(s)[1].sum() for s in (0, 1)]) <= 750
    assert (coefficients[:, 0] != 0).sum() >= 7
    assert ((coefficients[:, 1:5] == 0).sum(axis=0) >= 6).all()
    assert (coefficients[:, 6] == 0).sum() >= 6
    kept = coefficients[:, 0][coefficients[:, 0] != 0]
    assert 1.15 < math.exp(float(np.median(kept))) < 1.5
    for seed in (0, 1):
        X, y = _simulated_book(seed)
        rescaled = X.copy()
        rescaled[:, 5:] /= 1000  # the sizes in thousands of dollars
        again = _lasso(rescaled, y, seed)
        assert again[5:] / 1000 == pytest.approx(fits[seed][5:], rel=1e-4, abs=1e-12)
        assert again[:5] == pytest.approx(fits[seed][:5], rel=1e-4, abs=1e-9)
