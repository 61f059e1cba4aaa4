"""The feature encoder: scikit-learn contract, documented encodings, missing-answer rules."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import PoissonRegressor
from sklearn.pipeline import make_pipeline

from scoring import AnswerEncoder, FeatureEncoder, Questionnaire, validate_document
from tests.conftest import AS_OF, mini_document


def _table(mini: Questionnaire, **changes: Any) -> pd.DataFrame:
    result = validate_document(mini_document(**changes), mini, as_of=AS_OF)
    assert result.is_valid, result.issues.to_string()
    return result.table


def _features(mini: Questionnaire, **changes: Any) -> pd.Series:
    table = _table(mini, **changes)
    encoder = FeatureEncoder(mini).fit(table)
    return pd.Series(encoder.transform(table)[0], index=encoder.get_feature_names_out())


def test_follows_the_scikit_learn_contract(mini: Questionnaire) -> None:
    encoder = FeatureEncoder(mini)
    assert encoder.get_params() == {"questionnaire": mini}
    assert clone(encoder).get_params()["questionnaire"] == mini
    table = _table(mini)
    assert encoder.fit(table) is encoder
    names = encoder.get_feature_names_out()
    assert encoder.transform(table).shape == (1, len(names))
    frame = FeatureEncoder(mini).set_output(transform="pandas").fit_transform(table)
    assert list(frame.columns) == list(names)


def test_encodes_as_the_answer_encoder_it_holds(mini: Questionnaire) -> None:
    table = pd.concat(
        [_table(mini, records=100), _table(mini, records="unknown"), _table(mini, records=300)],
        ignore_index=True,
    )
    fitted = FeatureEncoder(mini).fit(table)
    plain = AnswerEncoder.learn(mini, table)
    assert isinstance(fitted.answer_encoder_, AnswerEncoder)
    assert fitted.unknown_fill_ == plain.unknown_fill == {"records": 200.0}
    assert list(fitted.get_feature_names_out()) == list(plain.feature_names)
    pd.testing.assert_frame_equal(fitted.feature_info_, plain.feature_info)
    assert fitted.transform(table).tobytes() == plain.transform(table).tobytes()


def test_an_unfitted_encoder_refuses_to_transform(mini: Questionnaire) -> None:
    encoder = FeatureEncoder(mini)
    assert not hasattr(encoder, "feature_names_out_")
    with pytest.raises(NotFittedError, match="not fitted yet"):
        encoder.transform(_table(mini))


def test_is_usable_in_a_pipeline(mini: Questionnaire) -> None:
    table = pd.concat([_table(mini), _table(mini, beds=300, patch_days=200)], ignore_index=True)
    model = make_pipeline(FeatureEncoder(mini), PoissonRegressor(alpha=1.0))
    model.fit(table, np.array([0.0, 1.0]))
    assert model.predict(table).shape == (2,)


def test_every_feature_traces_to_a_question(mini: Questionnaire) -> None:
    encoder = FeatureEncoder(mini).fit(_table(mini))
    info = encoder.feature_info_
    assert list(info["feature"]) == list(encoder.get_feature_names_out())
    for feature, question_id in zip(info["feature"], info["question_id"], strict=True):
        assert feature.startswith(question_id)
        assert question_id in mini.by_id
    controls = set(info.loc[info["is_control"], "question_id"])
    assert controls == {q.id for q in mini.controls}


def test_documented_encodings(mini: Questionnaire) -> None:
    f = _features(
        mini,
        patch_days=73,
        edr_share=85,
        backup_level="online",
        last_restore_test="2026-03-02",
        beds=120,
        revenue=12_000_000,
    )
    assert f["facility_type=nursing"] == 1.0
    assert f["facility_type=imaging"] == 0.0
    assert f["beds__log1p"] == pytest.approx(np.log1p(120), rel=1e-12)
    assert f["revenue__log"] == pytest.approx(np.log(12_000_000), rel=1e-12)
    assert f["patch_days"] == pytest.approx(1 - 73 / 365, rel=1e-12)
    assert f["edr_share"] == pytest.approx(0.85, rel=1e-12)
    assert f["backup_level"] == pytest.approx(0.5, rel=1e-12)
    assert f["last_restore_test"] == pytest.approx(1 - 91 / 365.25, rel=1e-12)
    assert f["phone_uses=charting"] == 1.0
    assert f["phone_uses=images"] == 0.0


def test_a_control_whose_exposure_is_absent_is_at_its_best(mini: Questionnaire) -> None:
    f = _features(
        mini, has_pacs="no", pacs_exposed=None, modality_count=None, unsupported_modalities=None
    )
    assert f["pacs_exposed"] == 1.0
    assert f["modality_count__log1p"] == 0.0


def test_a_control_missing_because_its_parent_is_missing_is_at_its_worst(
    mini: Questionnaire,
) -> None:
    assert _features(mini, mdm_in_use="no", mdm_wipe=None)["mdm_wipe"] == 0.0
    no_phones = _features(mini, phone_uses=None, mdm_in_use=None, mdm_wipe=None)
    assert no_phones["mdm_in_use"] == 1.0
    assert no_phones["mdm_wipe"] == 1.0


def test_not_applicable_is_at_its_best(mini: Questionnaire) -> None:
    assert _features(mini, backup_level="n/a")["backup_level"] == 1.0


def test_unknown_numbers_take_the_fitted_median_and_an_indicator(mini: Questionnaire) -> None:
    fit_rows = pd.concat([_table(mini, records=100), _table(mini, records=300)], ignore_index=True)
    encoder = FeatureEncoder(mini).fit(fit_rows)
    unknown = _table(mini, records="unknown")
    f = pd.Series(encoder.transform(unknown)[0], index=encoder.get_feature_names_out())
    assert f["records__log1p"] == pytest.approx(np.log1p(200), rel=1e-12)
    assert f["records__unknown"] == 1.0


def test_a_book_encoded_in_parts_and_refilled_is_encoded_as_the_whole(
    mini: Questionnaire,
) -> None:
    """A book read in parts is encoded before its fill values are known; they are
    learned from every part's numbers and put in place of the unknown numbers."""
    answers = [100, "unknown", 300, 700, "unknown", 50]
    parts = [
        pd.concat([_table(mini, records=r) for r in answers[:2]], ignore_index=True),
        pd.concat([_table(mini, records=r) for r in answers[2:]], ignore_index=True),
    ]
    whole = pd.concat(parts, ignore_index=True)
    fitted = FeatureEncoder(mini).fit(whole)
    parted = FeatureEncoder.from_state(mini, {})
    features = np.vstack([parted.transform(part) for part in parts])
    values: dict[str, list[np.ndarray]] = {}
    for part in parts:
        for qid, found in parted.fill_values(part).items():
            values.setdefault(qid, []).append(found)
    parted.refill(features, values)
    assert parted.unknown_fill_ == fitted.unknown_fill_ == {"records": 200.0}
    np.testing.assert_array_equal(features, fitted.transform(whole))


@pytest.mark.parametrize(
    ("question", "worse", "better"),
    [
        ("patch_days", 200, 10),
        ("edr_share", 10, 90),
        ("backup_level", "none", "offline"),
        ("pacs_exposed", "yes", "no"),
        ("last_restore_test", "2025-09-01", "2026-05-01"),
    ],
)
def test_a_better_answer_gives_a_higher_level(
    mini: Questionnaire, question: str, worse: Any, better: Any
) -> None:
    assert (
        _features(mini, **{question: better})[question]
        > _features(mini, **{question: worse})[question]
    )


def test_transform_is_deterministic_and_checks_its_input(mini: Questionnaire) -> None:
    table = _table(mini)
    encoder = FeatureEncoder(mini).fit(table)
    assert encoder.transform(table).tobytes() == encoder.transform(table).tobytes()
    with pytest.raises(ValueError, match="lacks answer column"):
        encoder.transform(table.drop(columns=["beds"]))
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        encoder.transform(table.to_numpy())
