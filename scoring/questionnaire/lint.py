"""The questionnaire linter: checks a questionnaire needs beyond its structure.

Run it with ``carescore questionnaire lint``. Errors make a questionnaire
unusable (the loader refuses it); warnings are worth fixing.
"""

from __future__ import annotations

from dataclasses import dataclass

from scoring.questionnaire import expression as ex
from scoring.questionnaire.definition import Question, Questionnaire
from scoring.questionnaire.frameworks import FrameworkCatalog
from scoring.questionnaire.typecheck import type_problems
from scoring.vocabulary import (
    CHOICE_KINDS,
    NUMERIC_KINDS,
    AnswerKind,
    Better,
    Encoding,
    Severity,
)


@dataclass(frozen=True)
class Finding:
    """One linter finding."""

    code: str
    message: str
    question_id: str | None = None
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def describe(self) -> str:
        where = f"{self.question_id}: " if self.question_id else ""
        return f"{self.severity.value} [{self.code}] {where}{self.message}"


_ENCODINGS_BY_KIND: dict[AnswerKind, set[Encoding]] = {
    AnswerKind.YES_NO: {Encoding.ORDINAL, Encoding.ONE_HOT, Encoding.NONE},
    AnswerKind.SINGLE_CHOICE: {Encoding.ORDINAL, Encoding.ONE_HOT, Encoding.NONE},
    AnswerKind.MULTIPLE_CHOICE: {Encoding.INDICATORS, Encoding.NONE},
    AnswerKind.INTEGER: {
        Encoding.ORDINAL,
        Encoding.LOG,
        Encoding.LOG1P,
        Encoding.LINEAR,
        Encoding.NONE,
    },
    AnswerKind.NUMBER: {
        Encoding.ORDINAL,
        Encoding.LOG,
        Encoding.LOG1P,
        Encoding.LINEAR,
        Encoding.NONE,
    },
    AnswerKind.PERCENT: {Encoding.ORDINAL, Encoding.SHARE, Encoding.NONE},
    AnswerKind.DATE: {Encoding.YEARS_SINCE, Encoding.NONE},
    AnswerKind.TEXT: {Encoding.NONE},
}


_REPORTED_ABOVE = frozenset(
    {
        "unknown-reference",
        "self-outside-constraint",
        "unknown-code",
        "type-mismatch",
        "selected-on-single",
    }
)
"""Type-check codes the linter reports in its own words (self-in-relevant,
unknown-reference, unknown-code, type-mismatch, selected-on-single)."""


class _Linter:
    def __init__(self, questionnaire: Questionnaire, catalog: FrameworkCatalog | None) -> None:
        self.q = questionnaire
        self.catalog = catalog
        self.findings: list[Finding] = []
        self.position = {q.id: i for i, q in reversed(list(enumerate(questionnaire.questions)))}
        self.parsed: dict[tuple[str, str], ex.Node] = {}
        self.impossible: set[int] = set()
        """ids of comparison nodes that can never be true"""

    def add(
        self,
        code: str,
        message: str,
        question_id: str | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        self.findings.append(Finding(code, message, question_id, severity))

    def run(self) -> list[Finding]:
        self._ids()
        for question in self.q.questions:
            self._choices(question)
            self._range(question)
            self._control(question)
            self._encoding(question)
            self._bounded(question)
            self._expressions(question)
        self._cycles()
        self._dead_branches()
        self._migrations()
        return self.findings

    # -- identity ----------------------------------------------------------------------
    def _ids(self) -> None:
        seen: set[str] = set()
        for question in self.q.questions:
            if question.id in seen:
                self.add("duplicate-id", "question id is used more than once", question.id)
            seen.add(question.id)
        sections: set[str] = set()
        for section in self.q.sections:
            if section.id in sections:
                self.add("duplicate-section", f"section id {section.id!r} is used more than once")
            sections.add(section.id)

    # -- choices -----------------------------------------------------------------------
    def _choices(self, question: Question) -> None:
        kind = question.kind
        if kind is AnswerKind.YES_NO and question.choices:
            self.add(
                "yes-no-choices",
                "a yes/no question must not list choices (its choices are yes and no)",
                question.id,
            )
        elif kind in (AnswerKind.SINGLE_CHOICE, AnswerKind.MULTIPLE_CHOICE):
            if not question.choices:
                self.add("no-choices", f"a {kind.value} question needs choices", question.id)
                return
            codes = [c.code for c in question.choices]
            for code in codes:
                if not code.strip():
                    self.add("choice-without-code", "a choice has no code", question.id)
                elif (
                    not code.replace("_", "a").isalnum()
                    or not code[0].isalpha()
                    or code != code.lower()
                ):
                    self.add(
                        "bad-choice-code", f"choice code {code!r} must be snake_case", question.id
                    )
            for code in sorted({c for c in codes if codes.count(c) > 1}):
                self.add(
                    "duplicate-choice",
                    f"choice code {code!r} is listed more than once",
                    question.id,
                )
            labels = [c.label.strip().lower() for c in question.choices]
            for label in sorted({x for x in labels if labels.count(x) > 1}):
                self.add(
                    "duplicate-label",
                    f"choice label {label!r} is listed more than once",
                    question.id,
                )
            if len(codes) < 2 and kind is AnswerKind.SINGLE_CHOICE:
                self.add(
                    "one-choice", "a single choice question needs at least two choices", question.id
                )
        elif question.choices:
            self.add(
                "unexpected-choices", f"a {kind.value} question must not list choices", question.id
            )

    def _range(self, question: Question) -> None:
        if (
            question.min is not None or question.max is not None
        ) and question.kind not in NUMERIC_KINDS:
            self.add("unexpected-range", "min and max apply to numeric questions only", question.id)
        if question.min is not None and question.max is not None and question.min > question.max:
            self.add(
                "empty-range", f"min {question.min:g} is above max {question.max:g}", question.id
            )
        if question.kind is AnswerKind.PERCENT:
            for bound in (question.min, question.max):
                if bound is not None and not 0 <= bound <= 100:
                    self.add("percent-range", "percent bounds must lie within 0..100", question.id)

    # -- controls ----------------------------------------------------------------------
    def _control(self, question: Question) -> None:
        control = question.control
        if control is None:
            return
        kind = question.kind
        if kind in (AnswerKind.MULTIPLE_CHOICE, AnswerKind.TEXT):
            self.add(
                "control-kind",
                f"a {kind.value} question cannot be a control; ask each "
                "control as yes/no or an ordered single choice",
                question.id,
            )
            return
        if kind in CHOICE_KINDS:
            if control.order is None:
                self.add(
                    "control-without-order",
                    "a control needs `order`: its answers from worst to best",
                    question.id,
                )
            elif sorted(control.order) != sorted(question.choice_codes) or len(
                set(control.order)
            ) != len(control.order):
                self.add(
                    "order-mismatch",
                    f"order {list(control.order)} must list each choice "
                    f"code exactly once ({', '.join(question.choice_codes)})",
                    question.id,
                )
            if control.better is not None:
                self.add(
                    "unexpected-better",
                    "`better` is for numeric and date controls; choice controls use `order`",
                    question.id,
                )
        else:
            if control.order is not None:
                self.add("unexpected-order", "`order` is for choice controls", question.id)
            allowed = (
                {Better.MORE_RECENT} if kind is AnswerKind.DATE else {Better.HIGHER, Better.LOWER}
            )
            if control.better not in allowed:
                wanted = " or ".join(sorted(b.value for b in allowed))
                self.add(
                    "control-without-direction",
                    f"a {kind.value} control needs `better: {wanted}`",
                    question.id,
                )
            if kind in NUMERIC_KINDS and (question.min is None or question.max is None):
                self.add(
                    "control-without-range",
                    "a numeric control needs min and max (its worst and best ends)",
                    question.id,
                )
            if kind is AnswerKind.DATE and control.stale_after_years is None:
                self.add(
                    "control-without-staleness",
                    "a date control needs `stale_after_years` (the age that counts as worst)",
                    question.id,
                )
        if control.frameworks.is_empty():
            self.add(
                "control-without-framework",
                "a control needs at least one framework reference (hicp, cpg or cis)",
                question.id,
            )
        if self.catalog is not None:
            titles = self.catalog.titles
            for family in ("hicp", "cpg", "cis"):
                for ref in getattr(control.frameworks, family):
                    if ref not in titles[family]:
                        self.add(
                            "unknown-framework-ref",
                            f"{family} reference {ref!r} is not in the framework catalogue",
                            question.id,
                        )
        if control.actionable and not control.why:
            self.add(
                "control-without-why",
                "an actionable control should say `why` it matters, in one plain sentence",
                question.id,
                Severity.WARNING,
            )

    def _encoding(self, question: Question) -> None:
        encoding = question.effective_encoding
        if encoding not in _ENCODINGS_BY_KIND[question.kind]:
            self.add(
                "bad-encoding",
                f"encoding {encoding.value!r} does not fit a {question.kind.value} question",
                question.id,
            )
        if encoding is Encoding.ORDINAL and question.control is None:
            self.add(
                "ordinal-without-order",
                "ordinal encoding needs a control with an order or direction",
                question.id,
            )
        if encoding is Encoding.LOG and (question.min is None or question.min <= 0):
            self.add("log-of-non-positive", "log encoding needs min > 0", question.id)

    def _bounded(self, question: Question) -> None:
        """Cover and history questions, and each number's transform (Transform)."""
        given = question.model_fields_set
        if question.cover and (question.control is not None or question.history):
            self.add(
                "cover-as-risk", "a cover question is neither a control nor history", question.id
            )
        if question.cover and question.encoding not in (None, Encoding.NONE):
            self.add(
                "cover-as-risk",
                f"a cover question is never a model feature; encoding {question.encoding.value!r} "
                "is refused (the rating plan prices the layer)",
                question.id,
            )
        if question.history and (
            question.control is not None
            or question.kind not in (AnswerKind.YES_NO, AnswerKind.INTEGER, AnswerKind.NUMBER)
        ):
            self.add(
                "bad-history",
                "history is for a yes/no or number question that is not a control",
                question.id,
            )
        if "transform" not in given:
            return
        transform = question.transform
        numeric = question.is_numeric or question.kind is AnswerKind.DATE
        if not numeric:
            self.add(
                "bad-transform", "transform is for number, percent and date questions", question.id
            )
        knots = transform.knots
        if knots is not None:
            if question.control is None or not question.is_numeric:
                self.add("bad-transform", "knots are for numeric controls", question.id)
            elif (
                question.min is not None
                and question.max is not None
                and (knots[0] < question.min or knots[-1] > question.max)
            ):
                self.add(
                    "bad-transform",
                    f"knots {list(knots)} lie outside the answer range "
                    f"{question.min:g} .. {question.max:g}",
                    question.id,
                )

    # -- expressions -------------------------------------------------------------------
    def _expressions(self, question: Question) -> None:
        if question.constraint_message and not question.constraint:
            self.add(
                "message-without-constraint",
                "constraint_message without a constraint",
                question.id,
                Severity.WARNING,
            )
        for field in ("relevant", "constraint"):
            text = getattr(question, field)
            if text is None:
                continue
            try:
                node = ex.parse(text)
            except ex.ExpressionError as exc:
                self.add("bad-expression", f"{field}: {exc}", question.id)
                continue
            self.parsed[(question.id, field)] = node
            if field == "relevant" and any(isinstance(n, ex.SelfRef) for n in ex.walk(node)):
                self.add(
                    "self-in-relevant",
                    "'.' (this answer) is only meaningful in a constraint",
                    question.id,
                )
            for ref in ex.references(node):
                if ref not in self.position:
                    self.add(
                        "unknown-reference",
                        f"{field} refers to unknown question {ref!r}",
                        question.id,
                    )
                elif field == "relevant" and self.position[ref] >= self.position[question.id]:
                    what = "itself" if ref == question.id else f"later question {ref!r}"
                    self.add(
                        "forward-reference",
                        f"relevant refers to {what}; skip logic may only use earlier answers",
                        question.id,
                    )
            self._literals(question, field, node)
            self._types(question, field, node)

    def _types(self, question: Question, field: str, node: ex.Node) -> None:
        """What the type check finds beyond the checks above (see :mod:`.typecheck`)."""
        own = question if field == "constraint" else None
        for problem in type_problems(node, self.q.by_id, self_question=own):
            if problem.code not in _REPORTED_ABOVE:
                text = getattr(question, field)
                self.add(problem.code, f"{field}: {problem.message}, in {text!r}", question.id)

    def _literals(self, question: Question, field: str, node: ex.Node) -> None:
        """Comparisons against codes a question does not have can never be true."""
        for item in ex.walk(node):
            pairs: list[tuple[ex.Node, ex.Node]] = []
            if isinstance(item, ex.Compare):
                pairs = [(item.left, item.right), (item.right, item.left)]
            elif isinstance(item, ex.Call) and item.name == "selected":
                pairs = [(item.args[0], item.args[1])]
                target = self.q.by_id.get(item.args[0].question_id)  # type: ignore[union-attr]
                if target is not None and target.kind is not AnswerKind.MULTIPLE_CHOICE:
                    self.add(
                        "selected-on-single",
                        f"{field}: selected() needs a multiple "
                        f"choice question; {target.id} is {target.kind.value}",
                        question.id,
                    )
            for ref, literal in pairs:
                if not isinstance(literal, ex.Literal):
                    continue
                target = (
                    question
                    if isinstance(ref, ex.SelfRef)
                    else (self.q.by_id.get(ref.question_id) if isinstance(ref, ex.Ref) else None)
                )
                if target is None:
                    continue
                value = literal.value
                if target.is_choice:
                    if not isinstance(value, str) or value not in target.choice_codes:
                        always = (
                            "false"
                            if not isinstance(item, ex.Compare) or item.op != "!="
                            else "true"
                        )
                        self.add(
                            "unknown-code",
                            f"{field} compares {target.id} with {value!r}, "
                            f"which is not one of its codes ({', '.join(target.choice_codes)})"
                            f"; the comparison is always {always}",
                            question.id,
                        )
                        if always == "false":
                            self.impossible.add(id(item))
                elif target.is_numeric and not isinstance(value, float):
                    self.add(
                        "type-mismatch",
                        f"{field} compares the number {target.id} with {value!r}",
                        question.id,
                    )

    def _cycles(self) -> None:
        graph = {q.id: [] for q in self.q.questions}  # type: dict[str, list[str]]
        for (qid, field), node in self.parsed.items():
            if field == "relevant":
                graph[qid] = [r for r in ex.references(node) if r in graph]
        state: dict[str, int] = {}
        reported: set[frozenset[str]] = set()

        def visit(node: str, path: list[str]) -> None:
            state[node] = 1
            path.append(node)
            for nxt in graph[node]:
                if state.get(nxt) == 1:
                    cycle = [*path[path.index(nxt) :], nxt]
                    key = frozenset(cycle)
                    if key not in reported:
                        reported.add(key)
                        self.add(
                            "cycle", "skip logic goes round in a cycle: " + " -> ".join(cycle), nxt
                        )
                elif nxt not in state:
                    visit(nxt, path)
            path.pop()
            state[node] = 2

        for qid in graph:
            if qid not in state:
                visit(qid, [])

    def _dead_branches(self) -> None:
        """A question whose skip logic can never be true is never shown, nor is any
        question that needs one of its answers."""
        dead: set[str] = set()
        for question in self.q.questions:
            node = self.parsed.get((question.id, "relevant"))
            if node is None or _can_be_true(node, dead, self.impossible):
                continue
            gone = sorted(set(ex.references(node)) & dead)
            why = (
                f"it needs an answer to {', '.join(gone)}, which is never shown"
                if gone
                else "its skip logic can never be true"
            )
            self.add("dead-branch", f"never shown: {why}", question.id)
            dead.add(question.id)

    def _migrations(self) -> None:
        current = tuple(int(p) for p in self.q.version.split("."))
        for migration in self.q.migrations:
            label = f"migration from {migration.from_version}"
            if tuple(int(p) for p in migration.from_version.split(".")) >= current:
                self.add("migration-version", f"{label}: must come from an earlier version")
            for old, new in migration.renamed.items():
                if new not in self.q.by_id:
                    self.add(
                        "migration-target", f"{label}: renames {old!r} to unknown question {new!r}"
                    )
            for qid, codes in migration.recoded.items():
                target = self.q.by_id.get(qid)
                if target is None or not target.is_choice:
                    self.add(
                        "migration-target",
                        f"{label}: recodes {qid!r}, which is not a choice question of this version",
                    )
                    continue
                for new_code in codes.values():
                    if new_code not in target.choice_codes:
                        self.add(
                            "migration-target",
                            f"{label}: recodes {qid!r} to unknown code {new_code!r}",
                        )


def _can_be_true(node: ex.Node, dead: set[str], impossible: set[int]) -> bool:
    """Whether an expression can hold for some answers (conservative: True when unsure)."""
    if id(node) in impossible:
        return False
    if isinstance(node, ex.Literal):
        return bool(node.value)
    if isinstance(node, ex.BoolOp):
        parts = [_can_be_true(item, dead, impossible) for item in node.items]
        return all(parts) if node.op == "and" else any(parts)
    if isinstance(node, ex.Compare) and node.op != "!=":
        return not any(
            isinstance(n, ex.Ref) and n.question_id in dead for n in (node.left, node.right)
        )
    if isinstance(node, ex.Call) and node.name == "selected":
        return node.args[0].question_id not in dead  # type: ignore[union-attr]
    return True


def lint(questionnaire: Questionnaire, catalog: FrameworkCatalog | None = None) -> list[Finding]:
    """Every finding of the linter, errors and warnings, in questionnaire order.

    Parameters
    ----------
    questionnaire : Questionnaire
        The questionnaire to check.
    catalog : FrameworkCatalog, optional
        When given, framework references are checked against it.
    """
    return _Linter(questionnaire, catalog).run()
