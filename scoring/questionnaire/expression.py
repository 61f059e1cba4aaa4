"""Skip-logic and constraint expressions: a small, safe language.

The syntax is borrowed from XLSForm and REDCap branching logic::

    ${has_pacs} = 'yes' and ${modality_count} > 0
    [has_pacs] = 'yes' or not(selected(${phone_uses}, 'images'))
    . <= ${beds}                       # '.' is the answer being checked

Grammar (lowest precedence first)::

    expr       := and_expr ('or' and_expr)*
    and_expr   := not_expr ('and' not_expr)*
    not_expr   := 'not' not_expr | comparison
    comparison := operand (('=' | '==' | '!=' | '<>' | '<' | '<=' | '>' | '>=') operand)?
    operand    := '${' id '}' | '[' id ']' | '.' | 'string' | number | 'true' | 'false'
                | call | '(' expr ')'
    call       := ('selected' | 'count_selected' | 'count-selected') '(' args ')'

Expressions are parsed into a tiny syntax tree and evaluated column-wise over
``pyarrow`` arrays, so one facility and a million are evaluated by the same
code. Nothing is ever handed to Python's ``eval``.

Blank answers behave as in XLSForm: a comparison with a blank answer is false,
except ``!=``, which is true.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Union

import pyarrow as pa
import pyarrow.compute as pc

from scoring._arrow import Mask, to_mask

MAX_EXPRESSION_LENGTH = 2000
"""The longest expression text the parser reads, in characters."""
MAX_EXPRESSION_DEPTH = 32
"""The deepest nesting of parentheses, ``not`` and function calls the parser accepts.

The parser, :func:`walk`, the evaluator and the type check recurse once or a few
times per level, so a tree the parser returns never comes near Python's recursion
limit, at load or when evaluated; no shipped expression nests more than 3 levels."""


class ExpressionError(ValueError):
    """An expression that cannot be parsed; ``position`` is the 0-based offset."""

    def __init__(self, message: str, *, expression: str, position: int) -> None:
        shown = expression if len(expression) <= 120 else expression[:117] + "..."
        super().__init__(f"{message} at position {position} in {shown!r}")
        self.expression = expression
        self.position = position


@dataclass(frozen=True)
class Ref:
    question_id: str


@dataclass(frozen=True)
class SelfRef:
    pass


@dataclass(frozen=True)
class Literal:
    value: str | float | bool


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class Call:
    name: str  # "selected" | "count_selected"
    args: tuple[Node, ...]


Node = Union[Ref, SelfRef, Literal, Compare, BoolOp, Not, Call]  # noqa: UP007

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<ref>\$\{\s*(?P<ref_id>[A-Za-z_][A-Za-z0-9_]*)\s*\})
  | (?P<bref>\[\s*(?P<bref_id>[A-Za-z_][A-Za-z0-9_]*)\s*\])
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<lpar>\()
  | (?P<rpar>\))
  | (?P<comma>,)
  | (?P<self>\.)
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    """,
    re.VERBOSE,
)

_FUNCTIONS = {"selected": 2, "count_selected": 1}
_COMPARE_OPS = {
    "=": "=",
    "==": "=",
    "!=": "!=",
    "<>": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int
    value: str = ""


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ExpressionError(
                f"unexpected character {text[position]!r}", expression=text, position=position
            )
        kind = match.lastgroup or ""
        if kind in ("ref_id", "bref_id"):  # pragma: no cover - inner groups never end a match
            kind = "ref"
        if kind == "ref" or kind == "bref":
            value = match.group("ref_id") or match.group("bref_id")
            tokens.append(_Token("ref", match.group(0), position, value))
        elif kind == "string":
            tokens.append(_Token("string", match.group(0), position, match.group(0)[1:-1]))
        elif kind != "ws":
            tokens.append(_Token(kind, match.group(0), position, match.group(0)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    def _nest(self) -> None:
        """Enter one level of nesting (refused beyond MAX_EXPRESSION_DEPTH)."""
        self.depth += 1
        if self.depth > MAX_EXPRESSION_DEPTH:
            raise self._fail(f"expression nested more than {MAX_EXPRESSION_DEPTH} levels deep")

    def _peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _fail(self, message: str) -> ExpressionError:
        token = self._peek()
        position = token.position if token else len(self.text)
        return ExpressionError(message, expression=self.text, position=position)

    def _take(self, kind: str, text: str | None = None) -> _Token:
        token = self._peek()
        if token is None or token.kind != kind or (text is not None and token.text != text):
            wanted = repr(text) if text else kind
            found = repr(token.text) if token else "the end"
            raise self._fail(f"expected {wanted}, found {found}")
        self.index += 1
        return token

    def _is_word(self, word: str) -> bool:
        token = self._peek()
        return token is not None and token.kind == "name" and token.text.lower() == word

    def parse(self) -> Node:
        if not self.tokens:
            raise self._fail("empty expression")
        node = self._or()
        if self._peek() is not None:
            raise self._fail(f"unexpected {self._peek().text!r}")  # type: ignore[union-attr]
        return node

    def _or(self) -> Node:
        items = [self._and()]
        while self._is_word("or"):
            self.index += 1
            items.append(self._and())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def _and(self) -> Node:
        items = [self._not()]
        while self._is_word("and"):
            self.index += 1
            items.append(self._not())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def _not(self) -> Node:
        if self._is_word("not"):
            self._nest()
            self.index += 1
            node = Not(self._not())
            self.depth -= 1
            return node
        return self._comparison()

    def _comparison(self) -> Node:
        left = self._operand()
        token = self._peek()
        if token is not None and token.kind == "op":
            self.index += 1
            return Compare(_COMPARE_OPS[token.text], left, self._operand())
        return left

    def _operand(self) -> Node:
        token = self._peek()
        if token is None:
            raise self._fail("expected a value, found the end")
        if token.kind == "ref":
            self.index += 1
            return Ref(token.value)
        if token.kind == "self":
            self.index += 1
            return SelfRef()
        if token.kind == "string":
            self.index += 1
            return Literal(token.value)
        if token.kind == "number":
            self.index += 1
            return Literal(float(token.text))
        if token.kind == "lpar":
            self._nest()
            self.index += 1
            node = self._or()
            self._take("rpar")
            self.depth -= 1
            return node
        if token.kind == "name":
            word = token.text.lower()
            if word in ("true", "false"):
                self.index += 1
                return Literal(word == "true")
            name = word.replace("-", "_")
            if name in _FUNCTIONS:
                self._nest()
                self.index += 1
                self._take("lpar")
                args = [self._or()]
                while self._peek() is not None and self._peek().kind == "comma":  # type: ignore[union-attr]
                    self.index += 1
                    args.append(self._or())
                self._take("rpar")
                self.depth -= 1
                if len(args) != _FUNCTIONS[name]:
                    raise ExpressionError(
                        f"{name}() takes {_FUNCTIONS[name]} argument(s); got {len(args)}",
                        expression=self.text,
                        position=token.position,
                    )
                if not isinstance(args[0], Ref):
                    raise ExpressionError(
                        f"the first argument of {name}() must be a question reference",
                        expression=self.text,
                        position=token.position,
                    )
                return Call(name, tuple(args))
        raise self._fail(f"unexpected {token.text!r}")


@lru_cache(maxsize=4096)
def parse(text: str) -> Node:
    """Parse an expression into its syntax tree.

    Raises
    ------
    ExpressionError
        The text does not parse, is longer than :data:`MAX_EXPRESSION_LENGTH` or
        nests deeper than :data:`MAX_EXPRESSION_DEPTH`; nothing else, whatever the text.

    Examples
    --------
    >>> parse("${has_pacs} = 'yes'")
    Compare(op='=', left=Ref(question_id='has_pacs'), right=Literal(value='yes'))
    """
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"expression longer than {MAX_EXPRESSION_LENGTH} characters",
            expression=text[:40] + "...",
            position=MAX_EXPRESSION_LENGTH,
        )
    return _Parser(text).parse()


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children."""
    yield node
    if isinstance(node, Compare):
        yield from walk(node.left)
        yield from walk(node.right)
    elif isinstance(node, BoolOp):
        for item in node.items:
            yield from walk(item)
    elif isinstance(node, Not):
        yield from walk(node.item)
    elif isinstance(node, Call):
        for arg in node.args:
            yield from walk(arg)


def references(node: Node) -> list[str]:
    """Question ids an expression refers to, in order of first appearance."""
    seen: dict[str, None] = {}
    for item in walk(node):
        if isinstance(item, Ref):
            seen.setdefault(item.question_id)
    return list(seen)


# --- evaluation -------------------------------------------------------------------------

Column = Any
"""A pyarrow array (pyarrow ships no type information)."""
Lookup = Callable[[str], Column]

_ARROW_COMPARE = {
    "=": pc.equal,
    "!=": pc.not_equal,
    "<": pc.less,
    "<=": pc.less_equal,
    ">": pc.greater,
    ">=": pc.greater_equal,
}


def evaluate(
    node: Node,
    columns: Mapping[str, Column] | Lookup,
    *,
    length: int,
    self_column: Column | None = None,
) -> Column:
    """Evaluate a boolean expression column-wise; the result has no nulls.

    ``columns`` maps question ids to typed arrays of equal ``length``: strings for
    choice codes (multiple choice as ``a;b``), numbers, or dates. Referring to a
    question that is not in ``columns`` raises ``KeyError``; the linter prevents it
    for shipped questionnaires.
    """
    lookup: Lookup = columns.__getitem__ if isinstance(columns, Mapping) else columns
    result = _eval(node, lookup, length, self_column)
    if not pa.types.is_boolean(result.type):
        result = (
            pc.not_equal(result, pa.scalar(0, result.type))
            if pa.types.is_integer(result.type) or pa.types.is_floating(result.type)
            else pc.is_valid(result)
        )
    return pc.fill_null(result, False)


def applies(
    expression: str,
    columns: Mapping[str, Column] | Lookup,
    *,
    length: int,
    self_column: Column | None = None,
) -> Mask:
    """Evaluate an expression's text to a numpy mask (parsed once, then cached)."""
    return to_mask(evaluate(parse(expression), columns, length=length, self_column=self_column))


def _value(node: Node, lookup: Lookup, length: int, self_column: Column | None) -> Any:
    if isinstance(node, Literal):
        return pa.scalar(node.value)
    if isinstance(node, Ref):
        return lookup(node.question_id)
    if isinstance(node, SelfRef):
        if self_column is None:
            raise KeyError(".")
        return self_column
    return _eval(node, lookup, length, self_column)


def _align(left: Any, right: Any) -> tuple[Any, Any]:
    """Cast a string literal compared with a date column to a date, numbers to float."""
    types = (left.type, right.type)
    if any(pa.types.is_date(t) for t in types):
        left, right = (
            pc.cast(x, pa.date32()) if pa.types.is_string(x.type) else x for x in (left, right)
        )
    elif all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in types):
        left, right = (pc.cast(x, pa.float64()) for x in (left, right))
    return left, right


def _eval(node: Node, lookup: Lookup, length: int, self_column: Column | None) -> Column:
    if isinstance(node, Compare):
        left, right = _align(
            _value(node.left, lookup, length, self_column),
            _value(node.right, lookup, length, self_column),
        )
        outcome = _ARROW_COMPARE[node.op](left, right)
        if isinstance(outcome, pa.Scalar):
            outcome = pa.array([outcome.as_py()] * length, pa.bool_())
        return pc.fill_null(outcome, node.op == "!=")
    if isinstance(node, BoolOp):
        parts = [
            evaluate(item, lookup, length=length, self_column=self_column) for item in node.items
        ]
        combine = pc.and_ if node.op == "and" else pc.or_
        result = parts[0]
        for part in parts[1:]:
            result = combine(result, part)
        return result
    if isinstance(node, Not):
        return pc.invert(evaluate(node.item, lookup, length=length, self_column=self_column))
    if isinstance(node, Call):
        column = lookup(node.args[0].question_id)  # type: ignore[union-attr]
        if node.name == "count_selected":
            parts = pc.split_pattern(pc.fill_null(column, ""), ";")
            counts = pc.list_value_length(parts)
            empty = pc.equal(pc.fill_null(column, ""), "")
            return pc.if_else(empty, 0, counts)
        code = node.args[1]
        if not isinstance(code, Literal) or not isinstance(code.value, str):
            raise TypeError("selected() takes a choice code in quotes as its second argument")
        pattern = f"(^|;){re.escape(code.value)}(;|$)"
        # matched on the column's few distinct lists of codes, then spread over the rows
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        distinct = pc.dictionary_encode(column)
        found = pc.match_substring_regex(distinct.dictionary, pattern)
        return pc.fill_null(pc.take(found, distinct.indices), False)
    value = _value(node, lookup, length, self_column)
    if isinstance(value, pa.Scalar):
        return pa.array([value.as_py()] * length, value.type)
    return value
