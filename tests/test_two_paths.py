"""One set of rules, two paths: a table gives what each facility gives on its own."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import (
    FeatureEncoder,
    Questionnaire,
    RatingEngine,
    Validation,
    validate_document,
    validate_file,
)
from scoring.rating.score import Applicant, applicants, default_engine, score_applicant
from scoring.synthetic.responses import synthetic_responses
from tests.conftest import AS_OF
from tests.strategies import cell, responses


def _compare(questionnaire: Questionnaire, rows: list[dict[str, Any]], tmp: Path) -> Validation:
    documents = [
        {
            "questionnaire": questionnaire.id,
            "questionnaire_version": questionnaire.version,
            "facility_id": f"F-{i}",
            "answers": answers,
        }
        for i, answers in enumerate(rows)
    ]
    singles = [validate_document(d, questionnaire, as_of=AS_OF) for d in documents]
    table = pd.DataFrame(
        [
            {
                "facility_id": d["facility_id"],
                "questionnaire": questionnaire.id,
                "questionnaire_version": questionnaire.version,
                **d["answers"],
            }
            for d in documents
        ]
    )
    path = tmp / "book.csv"
    table.to_csv(path, index=False, quoting=csv.QUOTE_ALL)
    book = validate_file(path, questionnaire, as_of=AS_OF)

    assert list(book.valid) == [s.is_valid for s in singles]
    joined = pd.concat([s.answers for s in singles], ignore_index=True)
    pd.testing.assert_frame_equal(book.answers, joined, check_dtype=False)
    joined_states = pd.concat([s.states for s in singles], ignore_index=True)
    pd.testing.assert_frame_equal(book.states, joined_states)
    single_issues = pd.concat(
        [s.issues.assign(facility_id=f"F-{i}") for i, s in enumerate(singles)], ignore_index=True
    )
    keys = ["facility_id", "question_id", "reason", "severity", "value", "message"]
    left = book.issues[keys].astype(str).reset_index(drop=True)
    right = single_issues[keys].astype(str).reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)
    usable = book.valid
    if usable.any():
        encoder = FeatureEncoder(questionnaire).fit(book.table[usable])
        from_book = encoder.transform(book.table[usable])
        from_singles = np.vstack([encoder.transform(s.table) for s in singles if s.is_valid])
        np.testing.assert_allclose(from_book, from_singles, rtol=0, atol=0)
        # one facility is encoded from validation's Arrow columns, without a table
        from_columns = np.vstack(
            [
                encoder.answer_encoder_.encode_columns(s.columns, _assessed_on(s))
                for s in singles
                if s.is_valid and s.columns is not None
            ]
        )
        np.testing.assert_allclose(from_book, from_columns, rtol=0, atol=0)
    return book


def _assessed_on(validation: Validation) -> np.ndarray:
    return validation.facilities["assessed_on"].to_numpy(dtype="datetime64[D]")


_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_SETTINGS
@given(data=st.data())
def test_table_and_single_paths_agree_on_the_small_questionnaire(
    mini: Questionnaire, tmp_path: Path, data: st.DataObject
) -> None:
    _compare(mini, data.draw(responses(mini)), tmp_path)


JUNK = np.array(
    [
        "",
        "unknown",
        "n/a",
        "maybe",
        "=1+1",
        "-5",
        "12",
        "1,5",
        "yes",
        "no",
        "2031-01-01",
        "none",
        "ALL_DEVICES",
        "999999999999",
    ],
    dtype=object,
)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_table_and_single_paths_agree_on_the_bundled_questionnaire(
    care: Questionnaire, tmp_path: Path, seed: int
) -> None:
    """Synthetic facilities with one cell in 50 replaced by something a user might type."""
    table = synthetic_responses(care, 40, seed=seed, as_of=AS_OF).to_pandas()
    rng = np.random.default_rng(seed)
    answers = table[[q.id for q in care.questions]].astype(object)
    spoil = rng.random(answers.shape) < 0.02
    junk = JUNK[rng.integers(0, len(JUNK), size=answers.shape)]
    answers = answers.mask(spoil, pd.DataFrame(junk, columns=answers.columns))
    rows = [
        {k: v for k, v in row.items() if v is not None and v == v}
        for row in answers.to_dict("records")
    ]
    book = _compare(care, rows, tmp_path)
    assert 0 < book.n_valid < book.n_rows  # both verdicts are exercised


# -- one applicant: the one-row path against a table's row ---------------------------------


def _plain_typed(answers: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    return {k: (type(v).__name__, v) for k, v in answers.items()}


def _assert_same_applicant(engine: RatingEngine, one: Applicant, row: Applicant) -> None:
    """Field by field, then the scored result byte for byte in JSON."""
    assert _plain_typed(one.answers) == _plain_typed(row.answers)
    np.testing.assert_array_equal(one.features, row.features)
    assert one.env.keys() == row.env.keys()
    for qid in one.env:
        assert one.env[qid].to_pylist() == row.env[qid].to_pylist(), qid
    assert (one.as_of, one.facility_id, one.facility_name) == (
        row.as_of,
        row.facility_id,
        row.facility_name,
    )
    assert one.warnings == row.warnings
    assert one.notes == row.notes
    assert one.unknown == row.unknown
    assert (
        score_applicant(engine, one).model_dump_json()
        == score_applicant(engine, row).model_dump_json()
    )


def _spoiled_documents(care: Questionnaire, data: st.DataObject) -> list[dict[str, Any]]:
    """Synthetic facilities with a few cells replaced by blanks, unknowns, n/a, bad values."""
    seed = data.draw(st.integers(0, 2**16), label="seed")
    table = synthetic_responses(care, 3, seed=seed, as_of=AS_OF, blank_share=0.05)
    ids = [q.id for q in care.questions]
    rows = []
    for record in table.to_pylist():
        answers = {k: "" if record.get(k) is None else str(record[k]) for k in ids}
        changes = data.draw(
            st.lists(
                st.sampled_from(ids).flatmap(
                    lambda qid: st.tuples(
                        st.just(qid),
                        st.one_of(
                            st.sampled_from(["", "unknown", "n/a", "not known", "NA"]),
                            cell(care.by_id[qid]),
                        ),
                    )
                ),
                max_size=4,
            ),
            label="changes",
        )
        answers.update(changes)
        rows.append(answers)
    return rows


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_one_document_is_the_applicant_its_row_of_a_book_is(
    care: Questionnaire, tmp_path: Path, data: st.DataObject
) -> None:
    """The one-row path (Arrow columns, no table) gives the applicant and the score that
    the same facility gets as a row of a book, and that its validation gets without the
    one-row path."""
    engine = default_engine()
    rows = _spoiled_documents(care, data)
    book = _compare(care, rows, tmp_path)
    from_book = applicants(engine, book)
    valid_rows = iter(from_book)
    for i, answers in enumerate(rows):
        document = {
            "questionnaire": care.id,
            "questionnaire_version": care.version,
            "facility_id": f"F-{i}",
            "answers": answers,
        }
        single = validate_document(document, care, as_of=AS_OF)
        assert single.columns is not None
        one = applicants(engine, single)
        general = applicants(engine, replace(single, columns=None))
        assert len(one) == len(general) == int(single.is_valid)
        if single.is_valid:
            _assert_same_applicant(engine, one[0], general[0])
            _assert_same_applicant(engine, one[0], next(valid_rows))
    assert next(valid_rows, None) is None
