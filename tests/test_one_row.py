"""One facility's verdicts, remembered by the answers an expression reads."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from scoring.questionnaire import expression as ex
from scoring.responses import one_row

EXPRESSION = "${staff} >= 50 and ${last_test} > '2025-01-01' and selected(${tools}, 'edr')"


@pytest.mark.parametrize(
    ("staff", "last_test", "tools"),
    [
        (60, dt.date(2025, 6, 1), "edr;mdm"),
        (60, dt.date(2024, 6, 1), "edr"),
        (10, dt.date(2025, 6, 1), "edr"),
        (None, None, None),
        (60, dt.date(2025, 6, 1), "mdm"),
    ],
)
def test_a_remembered_verdict_is_the_expressions_verdict_on_the_same_answers(
    staff: int | None, last_test: dt.date | None, tools: str | None
) -> None:
    columns = {
        "staff": pa.array([staff], pa.int64()),
        "last_test": pa.array([last_test], pa.date32()),
        "tools": pa.array([tools], pa.string()),
    }
    expected = ex.applies(EXPRESSION, columns, length=1)
    first = one_row.applies(EXPRESSION, columns, length=1)
    again = one_row.applies(EXPRESSION, dict(columns), length=1)
    np.testing.assert_array_equal(first, expected)
    assert again is first  # remembered, not evaluated again
    with pytest.raises(ValueError, match="read-only"):
        first[0] = not first[0]


def test_a_constraint_is_remembered_by_the_answer_itself_too() -> None:
    columns = {"staff": pa.array([60], pa.int64())}
    low = one_row.applies(". <= ${staff}", columns, length=1, self_column=pa.array([10]))
    high = one_row.applies(". <= ${staff}", columns, length=1, self_column=pa.array([99]))
    assert (bool(low[0]), bool(high[0])) == (True, False)


def test_many_rows_are_evaluated_as_the_expression_evaluates_them() -> None:
    columns = {"staff": pa.array([60, 10, None], pa.int64())}
    verdicts = one_row.applies("${staff} >= 50", columns, length=3)
    np.testing.assert_array_equal(verdicts, [True, False, False])
    assert verdicts.flags.writeable
