"""What only one facility's response needs: a verdict remembered by its answers.

A one-row response is validated and encoded by the same code as a book, column-wise
on columns of one row; each call into ``pyarrow.compute`` then costs far more than
the row. The skip-logic and constraint expressions are the largest part of that, and
their verdict on one row depends only on the answers they read, so a verdict is
remembered by the expression and those answers (their types and values) and the
expression runs once for each new set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from scoring._arrow import Mask
from scoring.questionnaire import expression as ex

_REMEMBERED = 16384
"""Verdicts remembered before the memo is cleared."""
_verdicts: dict[tuple[Any, ...], Mask] = {}
_read: dict[str, tuple[str, ...]] = {}
"""The question ids each expression reads."""


def _answer(column: pa.Array) -> tuple[pa.DataType, Any]:
    return column.type, column[0].as_py()


def applies(
    expression: str,
    columns: Mapping[str, pa.Array],
    *,
    length: int,
    self_column: pa.Array | None = None,
) -> Mask:
    """:func:`scoring.questionnaire.expression.applies`, remembered when ``length`` is 1.

    The mask returned for one row is shared and read-only.
    """
    if length != 1:
        return ex.applies(expression, columns, length=length, self_column=self_column)
    read = _read.get(expression)
    if read is None:
        if len(_read) >= _REMEMBERED:
            _read.clear()
        read = _read[expression] = tuple(ex.references(ex.parse(expression)))
    key = (
        expression,
        None if self_column is None else _answer(self_column),
        *(_answer(columns[qid]) for qid in read),
    )
    found = _verdicts.get(key)
    if found is None:
        found = ex.applies(expression, columns, length=1, self_column=self_column)
        found.flags.writeable = False
        if len(_verdicts) >= _REMEMBERED:
            _verdicts.clear()
        _verdicts[key] = found
    return found
