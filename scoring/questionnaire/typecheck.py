"""The type check of an expression against a questionnaire, run when a definition loads.

:func:`type_problems` walks a parsed expression and finds everything that would
fail, or could never mean anything, when the expression is evaluated over answer
columns: unknown question ids, ``.`` outside a constraint, ``selected()`` and
``count-selected()`` of a question that is not multiple choice, comparisons
between kinds that do not compare (a number with a choice code, a date with a
number), choice codes a question does not have, date literals that are not
dates, and ordering (``<``, ``>``) of anything but numbers and dates. The linter
runs it over every ``relevant`` and ``constraint`` of a questionnaire, and the
rating plan over every rule, so an expression that can fail at scoring time
cannot load.

Kinds of values: a question's answers are ``number`` (integer, number,
percent), ``date``, ``choice`` (yes/no and single choice: one code),
``multiple`` (codes joined by ``;``) or ``text``; a literal is a ``string``, a
``number`` or a ``boolean``; comparisons, ``and``/``or``/``not`` and
``selected()`` are ``boolean``; ``count-selected()`` is a ``number``. Any kind
may stand where a condition is expected (a number is true when not 0, anything
else when answered), as the evaluator allows.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from scoring.questionnaire import expression as ex
from scoring.questionnaire.definition import Question
from scoring.vocabulary import NUMERIC_KINDS, AnswerKind

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ORDERED = frozenset({"number", "date"})


@dataclass(frozen=True)
class TypeProblem:
    """One problem of an expression: a linter-style ``code`` and a sentence."""

    code: str
    message: str


@dataclass(frozen=True)
class _Value:
    kind: str
    question: Question | None = None
    literal: str | float | bool | None = None

    def describe(self) -> str:
        if self.question is not None:
            return f"{self.question.id} ({self.question.kind.value})"
        if self.literal is not None:
            shown = f"{self.literal:g}" if isinstance(self.literal, float) else repr(self.literal)
            return f"the {self.kind} {shown}"
        return f"a {self.kind}"


def _question_kind(question: Question) -> str:
    if question.kind in NUMERIC_KINDS:
        return "number"
    if question.kind is AnswerKind.DATE:
        return "date"
    if question.kind is AnswerKind.MULTIPLE_CHOICE:
        return "multiple"
    if question.kind is AnswerKind.TEXT:
        return "text"
    return "choice"


def is_date_literal(text: str) -> bool:
    """Whether a string is a date an expression can compare with (``YYYY-MM-DD``)."""
    if not _DATE.match(text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


class _Checker:
    def __init__(self, questions: Mapping[str, Question], self_question: Question | None) -> None:
        self.questions = questions
        self.self_question = self_question
        self.problems: list[TypeProblem] = []

    def add(self, code: str, message: str) -> None:
        problem = TypeProblem(code, message)
        if problem not in self.problems:
            self.problems.append(problem)

    def value(self, node: ex.Node) -> _Value:
        if isinstance(node, ex.Literal):
            value = node.value
            if isinstance(value, bool):
                return _Value("boolean", literal=value)
            if isinstance(value, float):
                if not math.isfinite(value):
                    self.add("bad-number", "a number in the expression is too large")
                return _Value("number", literal=value)
            return _Value("string", literal=value)
        if isinstance(node, ex.Ref):
            question = self.questions.get(node.question_id)
            if question is None:
                self.add("unknown-reference", f"refers to unknown question {node.question_id!r}")
                return _Value("unknown")
            return _Value(_question_kind(question), question=question)
        if isinstance(node, ex.SelfRef):
            if self.self_question is None:
                self.add(
                    "self-outside-constraint",
                    "'.' (the answer being checked) is only meaningful in a constraint",
                )
                return _Value("unknown")
            return _Value(_question_kind(self.self_question), question=self.self_question)
        if isinstance(node, ex.Compare):
            self.compare(node)
            return _Value("boolean")
        if isinstance(node, ex.BoolOp):
            for item in node.items:
                self.value(item)
            return _Value("boolean")
        if isinstance(node, ex.Not):
            self.value(node.item)
            return _Value("boolean")
        return self.call(node)

    def call(self, node: ex.Call) -> _Value:
        target = self.value(node.args[0])
        result = _Value("number" if node.name == "count_selected" else "boolean")
        shown = node.name.replace("_", "-")
        if target.kind == "unknown":
            return result
        if target.kind != "multiple":
            self.add(
                "selected-on-single" if node.name == "selected" else "count-selected-on-single",
                f"{shown}() needs a multiple choice question; {target.describe()} is not one",
            )
        if node.name == "selected":
            code = self.value(node.args[1])
            if code.kind != "string":
                self.add(
                    "selected-without-code",
                    f"the second argument of selected() must be a choice code in quotes; "
                    f"got {code.describe()}",
                )
            elif target.question is not None and target.kind == "multiple":
                self.code_of(target.question, str(code.literal))
        return result

    def code_of(self, question: Question, code: str) -> None:
        if code not in question.choice_codes:
            self.add(
                "unknown-code",
                f"{code!r} is not a code of {question.id} "
                f"(allowed: {', '.join(question.choice_codes)})",
            )

    def compare(self, node: ex.Compare) -> None:
        left, right = self.value(node.left), self.value(node.right)
        if "unknown" in (left.kind, right.kind):
            return
        for one, other in ((left, right), (right, left)):
            if one.kind == "date" and other.kind == "string":
                if not is_date_literal(str(other.literal)):
                    self.add(
                        "bad-date",
                        f"{other.describe()} is not a date (allowed: YYYY-MM-DD), so it "
                        f"cannot be compared with {one.describe()}",
                    )
                return self.ordering(node, "date", left, right)
            if one.kind == "choice" and other.kind == "string" and one.question is not None:
                self.code_of(one.question, str(other.literal))
                return self.ordering(node, "choice", left, right)
            if one.kind == "number" and other.literal is not None and other.kind != "number":
                self.add(
                    "type-mismatch", f"compares the number {one.describe()} with {other.describe()}"
                )
                return None
        strings = {"choice", "multiple", "text", "string"}
        same = left.kind == right.kind or {left.kind, right.kind} <= strings
        if not same:
            self.add(
                "incompatible-comparison",
                f"compares {left.describe()} with {right.describe()}, which do not compare",
            )
            return None
        return self.ordering(node, left.kind, left, right)

    def ordering(self, node: ex.Compare, kind: str, left: _Value, right: _Value) -> None:
        if node.op in ("=", "!=") or kind in _ORDERED:
            return
        self.add(
            "ordering-of-non-number",
            f"{node.op!r} orders {left.describe()} and {right.describe()}; only numbers "
            "and dates have an order (use = or !=)",
        )


def type_problems(
    node: ex.Node,
    questions: Mapping[str, Question],
    *,
    self_question: Question | None = None,
) -> list[TypeProblem]:
    """Every type problem of a parsed expression, in the order found.

    Parameters
    ----------
    node : Node
        The parsed expression (its depth is bounded by the parser).
    questions : mapping of str to Question
        The questionnaire's questions by id.
    self_question : Question, optional
        The question a constraint checks (what ``.`` stands for); None for skip
        logic and rating rules, where ``.`` is a problem.

    Examples
    --------
    >>> from scoring import bundled_questionnaire
    >>> q = bundled_questionnaire()
    >>> [p.code for p in type_problems(ex.parse("${uses_msp} > 3"), q.by_id)]
    ['incompatible-comparison']
    >>> [p.code for p in type_problems(ex.parse("${last_restore_test} > '2026-02-30'"), q.by_id)]
    ['bad-date']
    """
    checker = _Checker(questions, self_question)
    checker.value(node)
    return checker.problems
