"""One set of rules, two paths: a table gives what each facility gives on its own."""

from __future__ import annotations

import csv
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
    Validation,
    validate_document,
    validate_file,
)
from scoring.synthetic.responses import synthetic_responses
from tests.conftest import AS_OF
from tests.strategies import responses


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
    return book


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
