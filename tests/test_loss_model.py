"""The loss model: synthetic book, claims-history checks, training, artifacts, evaluation."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from scoring import Questionnaire
from scoring.cli import app
from scoring.errors import InputError
from scoring.model.claims_history import claims_history_from_table, read_claims_history
from scoring.model.evaluation import evaluate, evaluate_book, oracle_beside
from scoring.model.loss_model import LossModel, default_model_dir, load_model
from scoring.model.training import file_fingerprint, train, train_book
from scoring.synthetic.book import resolve_truth, synthetic_book, write_book
from scoring.synthetic.truth import ResolvedTruth, load_truth, truth_path
from scoring.vocabulary import Peril

AS_OF = dt.date(2100, 1, 1)
runner = CliRunner()


@pytest.fixture(scope="module")
def truth(care: Questionnaire) -> ResolvedTruth:
    return resolve_truth(load_truth(truth_path(care.id, care.version)), care)


@pytest.fixture(scope="module")
def book(
    care: Questionnaire, truth: ResolvedTruth, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    # 10,000 facilities: under the market few facilities have the worst answers, so a
    # smaller book has too few ransomware claims for the lasso to keep any answer
    table, oracle = synthetic_book(care, truth, facilities=10_000, years=2, seed=5)
    path = tmp_path_factory.mktemp("book") / "book.parquet"
    write_book(table, oracle, truth, path)
    return path


@pytest.fixture(scope="module")
def model(care: Questionnaire, book: Path) -> LossModel:
    history = read_claims_history(book, care, as_of=AS_OF)
    return train(history, care, model_id="test", fingerprint=file_fingerprint(book), seed=0)


def test_the_truth_is_calibrated_to_the_book_rates(truth: ResolvedTruth) -> None:
    assert set(truth.perils) == set(Peril)
    assert truth.perils[Peril.RANSOMWARE].frequency["rdp_exposed"] == pytest.approx(
        np.log(0.4), rel=1e-12
    )


def test_the_synthetic_book_is_deterministic_and_follows_its_truth(
    care: Questionnaire, truth: ResolvedTruth
) -> None:
    one, oracle = synthetic_book(care, truth, facilities=3000, years=3, seed=11)
    two, _ = synthetic_book(care, truth, facilities=3000, years=3, seed=11)
    assert one.equals(two)
    assert one.num_rows == 9000
    for peril in Peril:
        observed = pa.compute.sum(one[f"claims_{peril.value}"]).as_py()
        expected = oracle[f"expected_claims_{peril.value}"].sum()
        assert abs(observed - expected) < 4 * np.sqrt(expected) + 3  # Poisson noise


def test_answers_change_a_little_from_year_to_year(
    care: Questionnaire, truth: ResolvedTruth
) -> None:
    table, _ = synthetic_book(care, truth, facilities=2000, years=2, seed=3)
    frame = table.to_pandas()
    first, second = frame[frame.policy_year == 2021], frame[frame.policy_year == 2022]
    controls = [q.id for q in care.controls]
    same = (first[controls].to_numpy() == second[controls].to_numpy()).mean()
    assert 0.7 < same < 0.99
    assert (first["facility_type"].to_numpy() == second["facility_type"].to_numpy()).all()


def test_better_answers_never_raise_the_fitted_loss(model: LossModel, care: Questionnaire) -> None:
    controls = {q.id for q in care.controls}
    for peril_model in model.perils.values():
        for glm in (peril_model.frequency, peril_model.severity):
            for name, beta in zip(model.features, glm.coefficients, strict=True):
                if name in controls:
                    assert beta <= 0.0, name


def test_model_folder_round_trips_and_refuses_edits(
    model: LossModel, care: Questionnaire, tmp_path: Path
) -> None:
    from scoring.model.card import model_card
    from scoring.model.loss_model import save_model

    folder = tmp_path / "m"
    save_model(model, folder, model_card(model, synthetic=True))
    assert load_model(folder, care) == model
    text = (folder / "model.json").read_text()
    (folder / "model.json").write_text(text.replace('"alpha": ', '"alpha": 1', 1))
    with pytest.raises(InputError, match=r"does not match the sha256 in manifest\.json"):
        load_model(folder, care)


def test_a_model_for_another_questionnaire_is_refused(
    model: LossModel, care: Questionnaire, mini: Questionnaire, tmp_path: Path
) -> None:
    from scoring.model.card import model_card
    from scoring.model.loss_model import save_model

    save_model(model, tmp_path / "m", model_card(model, synthetic=True))
    with pytest.raises(InputError, match=r"trained for care_cyber@1\.1\.0"):
        load_model(tmp_path / "m", mini)


def test_evaluation_reports_every_peril_against_the_truth(
    model: LossModel, care: Questionnaire, book: Path, tmp_path: Path
) -> None:
    history = read_claims_history(book, care, as_of=AS_OF)
    oracle = oracle_beside(book, history)
    assert oracle is not None
    report = evaluate(model, history, care, oracle=oracle, plots=tmp_path)
    assert set(report["perils"]) == {p.value for p in Peril}
    ransomware = report["perils"]["ransomware"]
    assert ransomware["gini"] > 0.2
    assert ransomware["oracle"]["gini"] > 0.2
    features = {r["feature"] for r in ransomware["relativities"]}
    assert "rdp_exposed" in features
    assert len(ransomware["calibration_by_decile"]) == 10
    # the challenger, the GLM and the oracle on the same held-out facilities
    for result in report["challenger"]["perils"].values():
        assert set(result["poisson_deviance"]) == {"glm", "challenger", "oracle"}
        assert result["clearly_better"] in (True, False)
    # the truth's expected claims by the model's deciles: the same deciles, no claims noise
    against_truth = ransomware["oracle"]["expected_by_model_decile"]
    assert [d["count"] for d in against_truth] == [
        d["count"] for d in ransomware["calibration_by_decile"]
    ]
    assert [d["predicted"] for d in against_truth] == [
        d["predicted"] for d in ransomware["calibration_by_decile"]
    ]
    assert sum(d["observed"] for d in against_truth) == pytest.approx(
        ransomware["oracle"]["predicted_claims"], rel=1e-5
    )
    assert (tmp_path / "lorenz-ransomware.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _broken(book: Path, column: str, value: object) -> pa.Table:
    table = pq.read_table(book)
    values = table[column].to_pylist()
    values[3] = value
    return table.set_column(
        table.column_names.index(column), column, pa.array(values, table[column].type)
    )


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("exposure", -1.0, "exposure must be above 0 and at most 1"),
        ("exposure", 0.0, "exposure must be above 0"),
        ("loss_ransomware", -5.0, "negative value"),
        ("loss_email_fraud", 1000.0, "a loss without a claim"),
        ("claims_privacy_breach", -1, "negative value"),
    ],
)
def test_bad_books_are_refused_with_column_count_and_example(
    care: Questionnaire, book: Path, column: str, value: object, message: str
) -> None:
    table = _broken(book, column, value)
    with pytest.raises(InputError, match=message) as caught:
        claims_history_from_table(table, care, as_of=AS_OF, source="book")
    issue = caught.value.issues[0]
    assert issue.question_id == column
    assert "1 row(s), e.g. row 4" in issue.message


def test_a_book_missing_columns_is_refused(care: Questionnaire, book: Path) -> None:
    table = pq.read_table(book).drop_columns(["exposure", "loss_vendor_outage"])
    with pytest.raises(InputError, match="column 'exposure' is missing"):
        claims_history_from_table(table, care, as_of=AS_OF, source="book")


def test_a_single_class_of_facility_is_refused(care: Questionnaire, book: Path) -> None:
    table = pq.read_table(book)
    history = claims_history_from_table(table, care, as_of=AS_OF, source="book")
    answers = history.responses.answers.copy()
    answers["facility_type"] = "skilled_nursing"
    responses = history.responses.__class__(**{**history.responses.__dict__, "answers": answers})
    single = history.__class__(**{**history.__dict__, "responses": responses})
    with pytest.raises(InputError, match="single class of facility"):
        train(single, care, model_id="x", fingerprint="0")


def test_cli_train_reproduces_the_model_bit_for_bit_and_evaluates(
    book: Path, tmp_path: Path, model: LossModel, care: Questionnaire
) -> None:
    model_dir = tmp_path / "model"
    result = runner.invoke(
        app,
        [
            "train",
            str(book),
            "-o",
            str(model_dir),
            "--synthetic",
            "--model-id",
            "test",
            "--seed",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "synthetic book" in (model_dir / "MODEL_CARD.md").read_text()
    assert load_model(model_dir, care).model_dump_json() == model.model_dump_json()
    shutil.copy(book, tmp_path / "holdout.parquet")
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(tmp_path / "holdout.parquet"),
            "-m",
            str(model_dir),
            "-o",
            str(tmp_path / "eval"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert report["rows"] == 20_000
    challenger = report["challenger"]
    assert challenger["fit_rows"] + challenger["scored_rows"] == 20_000
    assert "challenger" in result.output


def test_cli_refuses_a_bad_book_with_exit_1(book: Path, tmp_path: Path) -> None:
    table = pq.read_table(book).drop_columns(["exposure"])
    bad = tmp_path / "bad.parquet"
    pq.write_table(table, bad)
    result = runner.invoke(app, ["train", str(bad), "-o", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert "column 'exposure' is missing" in result.output


def test_cli_synth_writes_the_book_and_its_truth(tmp_path: Path) -> None:
    out = tmp_path / "b.parquet"
    result = runner.invoke(
        app, ["synth", "--facilities", "50", "--years", "2", "--seed", "1", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert pq.read_table(out).num_rows == 100
    assert pq.read_table(tmp_path / "b.truth.parquet").num_rows == 100
    assert json.loads((tmp_path / "b.truth.json").read_text())["truth_id"] == "care_cyber_truth"


def test_the_bundled_default_model_loads_and_verifies(care: Questionnaire) -> None:
    model = load_model(default_model_dir(), care)
    assert model.questionnaire.version == care.version
    assert "synthetic" in (default_model_dir() / "MODEL_CARD.md").read_text()


def test_a_book_may_span_many_policy_years(care: Questionnaire, truth: ResolvedTruth) -> None:
    table, _ = synthetic_book(care, truth, facilities=20, years=12, seed=2)
    assert sorted(set(table["policy_year"].to_pylist())) == list(range(2021, 2033))


def test_base_levels_are_pinned_at_zero(model: LossModel) -> None:
    index = {name: i for i, name in enumerate(model.features)}
    for peril_model in model.perils.values():
        for glm in (peril_model.frequency, peril_model.severity):
            assert "facility_type=skilled_nursing" in glm.base_features
            assert all(glm.coefficients[index[name]] == 0.0 for name in glm.base_features)


def test_each_penalty_is_a_candidate_weighed_against_the_whole_book(model: LossModel) -> None:
    from scoring.model.training import PENALTIES

    def is_candidate(total: float) -> bool:
        return any(total == pytest.approx(c, rel=1e-9) for c in PENALTIES)

    for peril, peril_model in model.perils.items():
        assert is_candidate(peril_model.frequency.alpha * model.training.rows)
        assert is_candidate(peril_model.severity.alpha * model.training.claims[peril])


def test_the_adaptive_stage_refits_only_what_the_lasso_kept(
    care: Questionnaire, book: Path, model: LossModel
) -> None:
    """The adaptive penalty is a candidate weighed against the whole book (there is one
    when the lasso kept two answers or more); an answer the first stage set to 0 stays
    0; the large effects are shrunk less than by the first-stage lasso alone (its fit
    reproduced here from the stored penalty)."""
    from scoring.model.limits import feature_limits
    from scoring.model.training import (
        ADAPTIVE_PENALTIES,
        _Design,
        _fit,
        _Rows,
        _spread,
        _TrainingBook,
    )

    for peril, peril_model in model.perils.items():
        for glm, weight in (
            (peril_model.frequency, model.training.rows),
            (peril_model.severity, model.training.claims[peril]),
        ):
            if glm.adaptive_alpha is None:  # the lasso kept fewer than two answers
                assert sum(c != 0.0 for c in glm.coefficients) <= 1
                continue
            total = glm.adaptive_alpha * weight
            assert any(total == pytest.approx(c, rel=1e-9) for c in ADAPTIVE_PENALTIES)
    history = read_claims_history(book, care, as_of=AS_OF)
    encoder = model.encoder(care)
    features = encoder.transform(history.responses.table)
    book_ = _TrainingBook(features, history.exposure, history.claims, history.source)
    design = _Design.of(feature_limits(encoder), encoder.feature_info, book_, seed=0)
    counts = history.claims["claims_ransomware"].to_numpy()
    frequency = model.perils[Peril.RANSOMWARE].frequency
    weights = np.ones(len(counts))
    first = _fit(
        "poisson",
        design.X,
        _Rows(y=counts, weights=weights, offset=design.offset),
        design.bounds(),
        alphas=(frequency.alpha,),
        penalised=_spread(design.X, weights),
    )
    lasso = np.zeros(design.n_features)
    lasso[design.free] = first.coef_
    adaptive = np.asarray(frequency.coefficients)
    assert not adaptive[np.abs(lasso) < 1e-12].any()
    largest = np.argsort(-np.abs(lasso))[:3]
    assert (np.abs(adaptive[largest]) > np.abs(lasso[largest])).all()


def test_the_lasso_sets_answers_without_an_effect_to_zero(model: LossModel) -> None:
    """Most answers have no effect on a given peril: the penalty is L1, so most
    coefficients are exactly 0 (an L2 penalty would leave every one a little off 0)."""
    for peril_model in model.perils.values():
        for glm in (peril_model.frequency, peril_model.severity):
            assert glm.l1_ratio == 1.0
            free = len(glm.coefficients) - len(glm.base_features)
            assert sum(c == 0.0 for c in glm.coefficients) - len(glm.base_features) > free / 2


def _level_contrast(
    name: str,
    names: list[str],
    features: np.ndarray,
    exposure: np.ndarray,
    named: frozenset[str],
    chunks: int = 1,
) -> np.ndarray:
    """The contrast of ``name`` with the sums gathered over ``chunks`` chunks of rows."""
    from scoring.model.evaluation import _contrast, _Level

    level = _Level(len(names))
    at = features[:, names.index(name)] > 0.5
    for rows in np.array_split(np.arange(len(features)), chunks):
        level.add(features[rows], exposure[rows], at[rows])
    index = {feature: i for i, feature in enumerate(names)}
    return _contrast(name, index, named, exposure @ features, {name: level})


@pytest.mark.parametrize("chunks", [1, 3])
def test_a_level_is_read_with_the_answers_only_asked_at_that_level(chunks: int) -> None:
    """An imaging facility's relativity adds the modality count it holds on average
    (zero for every facility without imaging); answers the truth names stay fixed."""
    names = ["has_imaging=yes", "has_imaging=no", "modality_count__log1p", "imaging_vlan", "x"]
    imaging = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    features = np.column_stack(
        [
            imaging,
            1 - imaging,
            imaging * np.array([1.0, 2.0, 3.0, 0, 0, 0]),
            np.where(imaging == 1, [0.0, 1.0, 0.0, 0, 0, 0], 1.0),
            np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0]),
        ]
    )
    exposure = np.array([1.0, 1.0, 2.0, 1.0, 1.0, 1.0])
    coefficients = np.array([0.4, 0.0, 0.1, -0.5, 0.3])
    named = frozenset({"has_imaging=yes", "imaging_vlan"})
    contrast = _level_contrast("has_imaging=yes", names, features, exposure, named, chunks)
    # 0.4 against the other level, plus 0.1 x the mean log count at the level (9 / 4);
    # imaging_vlan is named by the truth and x varies without imaging: neither is added
    assert contrast @ coefficients == pytest.approx(0.4 + 0.1 * 9 / 4, rel=1e-12)
    named_too = named | {names[2]}
    contrast = _level_contrast("has_imaging=yes", names, features, exposure, named_too, chunks)
    assert contrast @ coefficients == pytest.approx(0.4, rel=1e-12)


def test_a_relativitys_standard_error_is_the_truths_fisher_information() -> None:
    """One binary feature with an intercept: the variance of its log relativity is
    1/claims with the feature + 1/claims without it (a Poisson fit's, from the truth).
    The information gathered chunk by chunk is the information of the whole."""
    from scoring.model.evaluation import _covariance, _information

    x = np.array([[1.0, 3.0], [1.0, 1.0], [0.0, 2.0], [0.0, 5.0], [0.0, 4.0]])
    expected_claims = np.array([10.0, 30.0, 5.0, 20.0, 25.0])
    whole = _information(x, expected_claims)
    assert _covariance(whole, np.array([0]))[0, 0] == pytest.approx(1 / 40 + 1 / 50, rel=1e-9)
    halves = _information(x[:2], expected_claims[:2]) + _information(x[2:], expected_claims[2:])
    np.testing.assert_allclose(halves, whole, rtol=1e-12)
    design = np.column_stack([np.ones(5), x])
    np.testing.assert_allclose(whole, design.T @ (design * expected_claims[:, None]), rtol=1e-12)


def test_evaluation_gives_each_relativity_a_standard_error(
    model: LossModel, care: Questionnaire, book: Path
) -> None:
    history = read_claims_history(book, care, as_of=AS_OF)
    report = evaluate(model, history, care, oracle=oracle_beside(book, history), challenger=False)
    for result in report["perils"].values():
        rows = [r for r in result["relativities"] if r["part"] != "claim shape"]
        assert all(r["standard_error"] > 0 for r in rows)
    # a claim's size tells less than its occurrence: the same revenue effect is known
    # less precisely in severity than in frequency
    ransomware = {
        (r["part"], r["feature"]): r["standard_error"]
        for r in report["perils"]["ransomware"]["relativities"]
        if r["part"] != "claim shape"
    }
    revenue = "net_patient_revenue__log"
    assert ransomware[("severity", revenue)] > ransomware[("frequency", revenue)]


def _relativity_errors(report: dict[str, Any]) -> dict[tuple[str, str, str], float]:
    return {
        (peril, r["part"], r["feature"]): r["standard_error"]
        for peril, result in report["perils"].items()
        for r in result["relativities"]
        if r["part"] != "claim shape"
    }


def test_a_standard_error_is_for_the_training_books_number_of_claims(
    model: LossModel, care: Questionnaire, book: Path
) -> None:
    """The same mix of facilities with four times the training claims: errors halve."""
    history = read_claims_history(book, care, as_of=AS_OF)
    oracle = oracle_beside(book, history)
    bigger = model.training.model_copy(
        update={"claims": {p: 4 * n for p, n in model.training.claims.items()}}
    )
    errors = _relativity_errors(evaluate(model, history, care, oracle=oracle, challenger=False))
    halved = _relativity_errors(
        evaluate(
            model.model_copy(update={"training": bigger}),
            history,
            care,
            oracle=oracle,
            challenger=False,
        )
    )
    assert halved.keys() == errors.keys()
    for key, error in errors.items():
        assert halved[key] == pytest.approx(error / 2, rel=1e-5)


def test_a_book_evaluated_in_chunks_gives_the_report_of_the_whole(
    model: LossModel, care: Questionnaire, book: Path, tmp_path: Path
) -> None:
    history = read_claims_history(book, care, as_of=AS_OF)
    whole = evaluate(model, history, care, oracle=oracle_beside(book, history))
    chunked = evaluate_book(model, book, care, chunk_rows=1_500, plots=tmp_path)
    assert chunked["rows"] == whole["rows"] == 20_000
    assert chunked["challenger"] == whole["challenger"]  # the same split, the same fits
    for peril, result in whole["perils"].items():
        other = chunked["perils"][peril]
        assert {k: v for k, v in other.items() if k != "relativities"} == {
            k: v for k, v in result.items() if k != "relativities"
        }
        # the sums behind a relativity are added in another order; the information of
        # the features tied to a level is poorly conditioned, so a standard error may
        # move in its fifth digit
        for mine, theirs in zip(result["relativities"], other["relativities"], strict=True):
            assert mine.keys() == theirs.keys()
            for key, value in mine.items():
                close = key in ("fitted", "error", "standard_error")
                assert theirs[key] == (pytest.approx(value, rel=1e-4) if close else value)
    assert (tmp_path / "calibration-vendor_outage.png").is_file()


@pytest.mark.parametrize("kept", [".truth.parquet", ".truth.json"])
def test_half_a_truth_beside_a_book_is_refused(
    model: LossModel, care: Questionnaire, book: Path, tmp_path: Path, kept: str
) -> None:
    moved = tmp_path / "book.parquet"
    shutil.copy(book, moved)
    shutil.copy(book.with_suffix(kept), moved.with_suffix(kept))
    missing = "book.truth.json" if kept == ".truth.parquet" else "book.truth.parquet"
    with pytest.raises(InputError, match=rf"is incomplete: {re.escape(missing)} is missing"):
        evaluate_book(model, moved, care, challenger=False)


def test_the_truth_must_follow_the_book_row_for_row(
    model: LossModel, care: Questionnaire, book: Path, tmp_path: Path
) -> None:
    moved = tmp_path / "book.parquet"
    shutil.copy(book, moved)
    shutil.copy(book.with_suffix(".truth.json"), moved.with_suffix(".truth.json"))
    frames = pq.read_table(book.with_suffix(".truth.parquet"))
    pq.write_table(
        frames.take(np.arange(frames.num_rows)[::-1]), moved.with_suffix(".truth.parquet")
    )
    with pytest.raises(InputError, match="does not match the book row for row"):
        evaluate_book(model, moved, care, chunk_rows=3_000)
    pq.write_table(frames.slice(0, 7_999), moved.with_suffix(".truth.parquet"))
    with pytest.raises(InputError, match="does not match the book row for row"):
        evaluate_book(model, moved, care, chunk_rows=3_000)
    pq.write_table(
        pa.concat_tables([frames, frames.slice(0, 1)]), moved.with_suffix(".truth.parquet")
    )
    with pytest.raises(InputError, match="has more rows than the book"):
        evaluate_book(model, moved, care, chunk_rows=3_000)


def test_a_facility_year_repeated_in_another_chunk_is_refused(
    model: LossModel, care: Questionnaire, book: Path, tmp_path: Path
) -> None:
    table = pq.read_table(book)
    repeated = tmp_path / "repeated.parquet"
    pq.write_table(pa.concat_tables([table, table.slice(10, 2)]), repeated)
    with pytest.raises(InputError) as caught:
        evaluate_book(model, repeated, care, chunk_rows=3_000)
    (issue,) = caught.value.issues
    assert issue.question_id == "policy_year"
    assert issue.row == 11
    assert "in 4 row(s), e.g. row 11" in issue.message


def test_a_lorenz_curve_is_thinned_for_its_plot_with_its_ends_kept() -> None:
    from scoring.model.evaluation import PLOTTED_POINTS, _plotted

    x = np.linspace(0, 1, 3 * PLOTTED_POINTS)
    thin_x, thin_y = _plotted((x, x**2))
    assert len(thin_x) == PLOTTED_POINTS
    assert (thin_x[0], thin_x[-1]) == (0.0, 1.0)
    np.testing.assert_array_equal(thin_y, thin_x**2)
    short = np.linspace(0, 1, 11)
    assert _plotted((short, short))[0] is short


def test_a_book_bigger_than_a_block_is_drawn_block_by_block(
    care: Questionnaire, truth: ResolvedTruth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scoring.synthetic import book as synthetic

    monkeypatch.setattr(synthetic, "SYNTH_BLOCK", 700)
    blocks = synthetic.synthetic_blocks(care, truth, facilities=1_500, years=2, seed=4)
    path = tmp_path / "blocks.parquet"
    assert synthetic.write_blocks(blocks, truth, path) == 3_000
    table = pq.read_table(path)
    ids = table["facility_id"].to_pylist()
    assert (ids[0], ids[1_399], ids[1_400], ids[-1]) == ("F0001", "F0700", "F0701", "F1500")
    assert len(set(zip(ids, table["policy_year"].to_pylist(), strict=True))) == 3_000
    frames = pq.read_table(path.with_suffix(".truth.parquet"))
    assert frames["facility_id"].to_pylist() == ids
    in_memory, oracle = synthetic_book(care, truth, facilities=1_500, years=2, seed=4)
    assert in_memory.equals(table)
    assert len(oracle) == 3_000
    assert not list(tmp_path.glob(".*partial"))


def test_cross_validation_keeps_every_claim_and_a_weighted_sample_of_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scoring.model import training

    monkeypatch.setattr(training, "CV_ROWS", 100)
    counts = np.zeros(1000)
    counts[::50] = [1, 2] * 10
    rows, scale = training._cv_sample(counts, np.random.default_rng(3))
    assert set(np.flatnonzero(counts)) <= set(rows.tolist())
    assert int((counts[rows] == 0).sum()) == 100
    # each sampled row stands for the rows without a claim it was drawn from
    assert scale.sum() == pytest.approx(len(counts), rel=1e-12)
    again, _ = training._cv_sample(counts, np.random.default_rng(3))
    np.testing.assert_array_equal(rows, again)
    small = np.zeros(80)
    small[0] = 1
    every, unscaled = training._cv_sample(small, np.random.default_rng(3))
    np.testing.assert_array_equal(every, np.arange(80))
    assert (unscaled == 1.0).all()


def test_claim_shape_is_recovered_from_single_claims() -> None:
    from scoring.model.loss_model import Glm
    from scoring.model.training import _claim_sigma

    rng = np.random.default_rng(4)
    X = rng.integers(0, 2, size=(40_000, 3)).astype(float)
    severity = Glm(family="gamma", intercept=11.0, coefficients=(-0.5, 0.3, 0.0), alpha=0.0)
    mean = np.exp(11.0 + X @ np.array([-0.5, 0.3, 0.0]))
    counts = rng.integers(0, 3, size=40_000)
    losses = rng.lognormal(np.log(mean) - 1.3**2 / 2, 1.3) * counts
    assert _claim_sigma(X, np.arange(3), counts, losses, severity) == pytest.approx(1.3, rel=0.02)


def test_feature_means_are_the_books_average_facility(model: LossModel) -> None:
    means = dict(zip(model.features, model.feature_means, strict=True))
    assert 0.0 < means["mfa_email"] < 1.0
    shares = [v for k, v in means.items() if k.startswith("facility_type=")]
    assert sum(shares) == pytest.approx(1.0)


def test_a_model_whose_lengths_disagree_is_refused(model: LossModel) -> None:
    document = model.model_dump(mode="json")
    document["feature_means"] = document["feature_means"][:-1]
    with pytest.raises(ValueError, match="feature_means has"):
        LossModel.model_validate(document)


def test_the_evaluation_summary_counts_decile_misses_and_close_relativities() -> None:
    from scoring.model.card import evaluation_summary

    def deciles(*ratios: float | None) -> list[dict[str, Any]]:
        return [{"group": i, "ratio": ratio} for i, ratio in enumerate(ratios)]

    def relativity(error: float, fitted: float, sufficient: bool) -> dict[str, Any]:
        return {
            "part": "frequency",
            "feature": "x",
            "true": 1.0,
            "fitted": fitted,
            "error": error,
            "standard_error": 0.05,
            "sufficient_exposure": sufficient,
        }

    result = {
        "observed_claims": 100,
        "predicted_claims": 101.0,
        "predicted_over_observed": 1.01,
        "gini": 0.3,
        "d_squared": 0.1,
        "calibration_by_decile": deciles(1.0, 1.11, 0.89, 1.1, None),
        "oracle": {
            "gini": 0.31,
            "gini_ratio": 0.97,
            "calibration_by_decile": deciles(1.2),
            "expected_by_model_decile": deciles(0.95, 1.05, 0.85),
        },
        "relativities": [
            relativity(0.1, 1.1, sufficient=True),
            relativity(0.2, 1.2, sufficient=True),
            relativity(0.05, 1.05, sufficient=False),
            relativity(0.3, 1.3, sufficient=False),
        ],
    }
    summary = evaluation_summary({"rows": 10, "perils": {"ransomware": result}}, book="b")
    # two deciles beyond 10 % (1.11 and 0.89; 1.1 is not beyond), the oracle's one, one
    # against the truth's expected claims (0.85); 1 of 2 sufficient relativities close,
    # 2 of 4 in all; 2 misses beyond 2 x 0.05
    assert "| 2 / 1 / 1 | 1 of 2 / 2 of 4 | 2 |" in summary


def test_a_truth_that_cannot_be_read_is_a_clear_error(
    model: LossModel, care: Questionnaire, book: Path, tmp_path: Path
) -> None:
    moved = tmp_path / "book.parquet"
    shutil.copy(book, moved)
    shutil.copy(book.with_suffix(".truth.parquet"), moved.with_suffix(".truth.parquet"))
    moved.with_suffix(".truth.json").write_text('{"perils": {}}', encoding="utf-8")
    with pytest.raises(InputError, match="is not one carescore synth wrote"):
        evaluate_book(model, moved, care, chunk_rows=3_000)
    shutil.copy(book.with_suffix(".truth.json"), moved.with_suffix(".truth.json"))
    frames = moved.with_suffix(".truth.parquet")
    data = frames.read_bytes()
    frames.write_bytes(data[:4] + b"\0" * (len(data) - 8) + data[-4:])  # pages overwritten
    with pytest.raises(InputError, match="the ground truth beside the book cannot be read"):
        evaluate_book(model, moved, care, chunk_rows=3_000)


def test_a_book_that_fails_while_written_leaves_no_file(
    care: Questionnaire, truth: ResolvedTruth, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scoring.synthetic import book as synthetic

    monkeypatch.setattr(synthetic, "SYNTH_BLOCK", 500)

    def failing() -> Iterator[tuple[pa.Table, Any]]:
        blocks = synthetic.synthetic_blocks(care, truth, facilities=1_200, years=1, seed=4)
        yield next(blocks)
        raise OSError("No space left on device")

    path = tmp_path / "book.parquet"
    with pytest.raises(OSError, match="No space left"):
        synthetic.write_blocks(failing(), truth, path)
    assert list(tmp_path.iterdir()) == []


def test_the_free_features_are_moved_in_place_not_copied() -> None:
    from scoring.model.training import _compacted

    features = np.asfortranarray(np.arange(24, dtype=np.float64).reshape(4, 6))
    expected = features[:, [1, 2, 5]].copy()
    free = _compacted(features, np.array([1, 2, 5]))
    np.testing.assert_array_equal(free, expected)
    assert free.flags.f_contiguous
    assert np.shares_memory(free, features)


def test_a_book_trained_in_parts_gives_the_model_of_the_whole(
    care: Questionnaire, book: Path, model: LossModel
) -> None:
    """Read 1,000 facility-years at a time, the book gives the model fitted on it at
    once (the fill values of unknown numbers learned from every part are tested in
    test_encoder.py: this questionnaire has none)."""

    parted = train_book(
        book,
        care,
        model_id="test",
        fingerprint=file_fingerprint(book),
        as_of=AS_OF,
        chunk_rows=1000,
    )
    assert parted.model_dump_json() == model.model_dump_json()


def test_a_book_without_rows_is_refused(care: Questionnaire, book: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.parquet"
    pq.write_table(pq.read_table(book).slice(0, 0), empty)
    with pytest.raises(InputError, match="no facility rows"):
        train_book(empty, care, model_id="t", fingerprint="-", as_of=AS_OF)
