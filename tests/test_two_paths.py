"""One set of rules, two paths: a table gives what each facility gives on its own."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import FeatureEncoder, Questionnaire, validate_document, validate_file
from tests.conftest import AS_OF
from tests.strategies import responses


def _compare(questionnaire: Questionnaire, rows: list[dict[str, Any]], tmp: Path) -> None:
    documents = [{"questionnaire": questionnaire.id,
                  "questionnaire_version": questionnaire.version,
                  "facility_id": f"F-{i}", "answers": answers} for i, answers in
                 enumerate(rows)]
    singles = [validate_document(d, questionnaire, as_of=AS_OF) for d in documents]
    table = pd.DataFrame([{"facility_id": d["facility_id"], "questionnaire": questionnaire.id,
                           "questionnaire_version": questionnaire.version, **d["answers"]}
                          for d in documents])
    path = tmp / "book.csv"
    table.to_csv(path, index=False, quoting=csv.QUOTE_ALL)
    book = validate_file(path, questionnaire, as_of=AS_OF)

    assert list(book.valid) == [s.is_valid for s in singles]
    joined = pd.concat([s.answers for s in singles], ignore_index=True)
    pd.testing.assert_frame_equal(book.answers, joined, check_dtype=False)
    joined_states = pd.concat([s.states for s in singles], ignore_index=True)
    pd.testing.assert_frame_equal(book.states, joined_states)
    single_issues = pd.concat([s.issues.assign(facility_id=f"F-{i}") for i, s in
                               enumerate(singles)], ignore_index=True)
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


_SETTINGS = settings(max_examples=40, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])


@_SETTINGS
@given(data=st.data())
def test_table_and_single_paths_agree_on_the_small_questionnaire(
        mini: Questionnaire, tmp_path: Path, data: st.DataObject) -> None:
    _compare(mini, data.draw(responses(mini)), tmp_path)


@_SETTINGS
@given(data=st.data())
def test_table_and_single_paths_agree_on_the_bundled_questionnaire(
        care: Questionnaire, tmp_path: Path, data: st.DataObject) -> None:
    _compare(care, data.draw(responses(care, max_rows=4)), tmp_path)
