"""Scoring a chunk of a book: many facilities rated column-wise by the one rating engine.

:func:`score_chunk` validates a chunk of rows, encodes the valid ones, rates them
with :meth:`RatingEngine.rate` and prices each facility's fixes - every actionable
control moved to its best answer - by adding the control's change to the rows'
linear predictors and re-rating, exactly as one applicant's advice is priced
(:class:`scoring.rating.advice.Scenarios`). The ranking of fixes is the same as
:func:`scoring.rating.advice.advise`'s, so a row of a book and ``carescore score``
of the same facility agree. Rows that fail validation, or ask for a limit or
retention the plan does not offer, are returned as issues, never dropped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from scoring._arrow import to_mask, to_numpy
from scoring.portfolio.book_advice import ADVICE_SCHEMA, advice_table, best_answer
from scoring.portfolio.book_answers import (
    answer_hashes,
    answer_texts,
    join_present,
    priced_as_worst,
    warning_counts,
)
from scoring.questionnaire import expression as ex
from scoring.questionnaire.definition import Question
from scoring.rating._rounding import money, significant
from scoring.rating.engine import PERILS, PREMIUM_CAPS, Rating, RatingEngine, peril_total
from scoring.rating.explain import (
    premium_per_loss,
    question_ids,
    risk_columns,
    risk_effects,
    risk_question_effects,
)
from scoring.rating.plan import OUTCOMES, Option
from scoring.responses.reading import RawResponses
from scoring.responses.validation import ISSUE_COLUMNS, validate
from scoring.vocabulary import AnswerKind, Reason, Severity

TOP_FIXES = 3
"""Fixes written per facility."""
_DRIVER_BLOCK = 8192
"""Rows whose premium effects are worked out at a time (a block's effects of every
question are held in memory at once)."""
_RULE_BITS = 48
"""Plans with fewer rules have each row's rules hit and tier numbered as one integer."""
TOP_DRIVERS = 5
"""Answers written per facility in ``drivers``: the risk answers with the largest premium
effects, as ``question_id:+123.45`` joined by ``;`` (see scoring.rating.explain)."""


def book_schema(fixes: int = TOP_FIXES) -> pa.Schema:
    """The columns of a scored book, in order."""
    fields = [
        pa.field("facility_id", pa.string()),
        pa.field("facility_name", pa.string()),
        pa.field("source_row", pa.int64()),
        pa.field("outcome", pa.string()),
        pa.field("reasons", pa.string()),
        pa.field("tier", pa.string()),
        pa.field("score", pa.int64()),
        pa.field("premium", pa.float64()),
        pa.field("technical_premium", pa.float64()),
        pa.field("premium_cap", pa.string()),
        pa.field("limit", pa.string()),
        pa.field("retention", pa.string()),
        pa.field("relative_risk", pa.float64()),
        pa.field("expected_loss", pa.float64()),
        *[pa.field(f"expected_loss_{p.value}", pa.float64()) for p in PERILS],
    ]
    for k in range(1, fixes + 1):
        fields += [pa.field(f"fix_{k}", pa.string()), pa.field(f"fix_{k}_saving", pa.float64())]
    fields += [
        pa.field("drivers", pa.string()),
        pa.field("warnings", pa.int64()),
        pa.field("priced_as_worst", pa.string()),
        pa.field("model_id", pa.string()),
        pa.field("model_sha256", pa.string()),
        pa.field("rating_plan", pa.string()),
        pa.field("rating_plan_sha256", pa.string()),
        pa.field("questionnaire", pa.string()),
        pa.field("input_sha256", pa.string()),
        pa.field("answers_sha256", pa.string()),
        pa.field("answers", pa.string()),
    ]
    return pa.schema(fields)


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns of a scored book worth dictionary-encoding in Parquet: all but those
    that differ on almost every row (ids, names, row numbers, expected losses, drivers,
    row hashes, answers), whose dictionaries would cost time and grow the file."""
    unique = {"facility_id", "facility_name", "source_row", "relative_risk", "drivers"}
    unique |= {"technical_premium", "input_sha256", "answers_sha256", "answers"}
    unique |= {n for n in schema.names if n.startswith("expected_loss")}
    return [name for name in schema.names if name not in unique]


@dataclass(frozen=True)
class ChunkResult:
    """One chunk: its scored rows, the issues of the rows it rejected, and its warnings."""

    scored: pa.Table
    errors: pd.DataFrame
    """Errors of the rejected rows, with the columns of ``ISSUE_COLUMNS``."""
    rows_read: int
    warnings: pd.DataFrame = dataclasses.field(
        default_factory=lambda: pd.DataFrame(columns=ISSUE_COLUMNS)
    )
    """Warnings of every row (blank or unknown answers priced as worst, cells read one
    of two ways ...), with the columns of ``ISSUE_COLUMNS``; a warned row is scored."""

    advice: pa.Table | None = None
    """The advice rows of the scored facilities, when asked for
    (:mod:`scoring.portfolio.book_advice`)."""

    @property
    def issues(self) -> pd.DataFrame:
        """The errors, then the warnings: what a chunk's errors part holds (the book's
        files put each severity in its own file)."""
        if self.warnings.empty:
            return self.errors
        return pd.concat([self.errors, self.warnings], ignore_index=True)

    @property
    def rows_scored(self) -> int:
        return int(self.scored.num_rows)

    @property
    def rows_rejected(self) -> int:
        return self.rows_read - self.rows_scored


def row_hashes(table: pa.Table) -> list[str]:
    """sha256 of each input row as read (its cells in file order, blanks marked)."""
    if table.num_columns == 0:
        return [hashlib.sha256(b"").hexdigest()] * table.num_rows
    joined = pc.binary_join_element_wise(
        *table.columns, "\x1f", null_handling="replace", null_replacement="\x00"
    )
    if isinstance(joined, pa.Array):
        joined = pa.chunked_array([joined])
    return [
        digest.hexdigest()
        for chunk in joined.chunks
        for digest in map(hashlib.sha256, chunk.cast(pa.binary()).to_pylist())
    ]


def _layer_amounts(
    engine: RatingEngine,
    answers: pd.DataFrame,
    question_id: str,
    override: str | None,
    offered: tuple[Option, ...],
    default: str,
) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Per row: the code chosen, its amount, and whether the plan offers it."""
    if override is not None:
        codes = pa.repeat(pa.scalar(override, pa.string()), len(answers))
    elif question_id in answers.columns:
        given = pa.array(answers[question_id], from_pandas=True)
        if isinstance(given, pa.ChunkedArray):
            given = given.combine_chunks()
        codes = pc.fill_null(given.cast(pa.string()), default)
    else:
        codes = pa.repeat(pa.scalar(default, pa.string()), len(answers))
    amounts = {o.code: o.amount for o in offered}
    index = pc.index_in(codes, value_set=pa.array(list(amounts), pa.string()))
    chosen = pa.array(list(amounts.values()), pa.float64()).take(index)
    return codes, to_numpy(chosen, np.float64), to_mask(pc.is_valid(index))


def _not_offered(
    engine: RatingEngine,
    source: str,
    facilities: pd.DataFrame,
    rows: np.ndarray,
    codes: pa.Array,
    what: str,
    offered: tuple[Option, ...],
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": source,
            "row": facilities["row"].to_numpy()[rows],
            "facility_id": facilities["facility_id"].to_numpy()[rows],
            "question_id": f"requested_{what}",
            "severity": Severity.ERROR.value,
            "reason": Reason.NOT_A_CHOICE.value,
            "value": codes.take(pa.array(rows)).to_pylist(),
            "message": f"this {what} is not offered by the rating plan {engine.plan.key}",
            "allowed": ", ".join(o.code for o in offered),
        },
        columns=list(ISSUE_COLUMNS),
    )


def score_chunk(
    engine: RatingEngine,
    raw: RawResponses,
    *,
    as_of: dt.date,
    limit: str | None = None,
    retention: str | None = None,
    fixes: int = TOP_FIXES,
    repeated: frozenset[str] = frozenset(),
    advice: bool = False,
) -> ChunkResult:
    """Validate, rate and advise one chunk of a book (see the module docstring).

    ``repeated`` names the facility ids that occur more than once anywhere in the
    book, so that a duplicate is refused whichever chunks its rows fall in.
    ``advice`` adds the advice rows of its fixes
    (:func:`~scoring.portfolio.book_advice.advice_table`).
    """
    plan = engine.plan
    validation = validate(raw, engine.questionnaire, as_of=as_of, repeated=repeated)
    answers, facilities = validation.answers, validation.facilities
    limit_codes, limits, limit_ok = _layer_amounts(
        engine, answers, "requested_limit", limit, plan.limits, plan.default_limit
    )
    retention_codes, retentions, retention_ok = _layer_amounts(
        engine, answers, "requested_retention", retention, plan.retentions, plan.default_retention
    )
    valid = validation.valid & limit_ok & retention_ok
    issues = validation.issues
    is_error = (issues["severity"] == Severity.ERROR.value).to_numpy(dtype=bool)
    warnings = issues[~is_error].reset_index(drop=True)
    errors = [issues[is_error]]
    for codes, ok, what, offered in (
        (limit_codes, limit_ok, "limit", plan.limits),
        (retention_codes, retention_ok, "retention", plan.retentions),
    ):
        refused = np.flatnonzero(validation.valid & ~ok)
        if refused.size:
            errors.append(
                _not_offered(engine, validation.source, facilities, refused, codes, what, offered)
            )
    error_frame = pd.concat(errors, ignore_index=True) if len(errors) > 1 else errors[0]
    rows = np.flatnonzero(valid)
    everyone = rows.size == raw.table.num_rows  # no need to pick the rows then
    hashes = (
        row_hashes(raw.table if everyone else raw.table.take(pa.array(rows))) if rows.size else []
    )
    if not rows.size:
        empty = book_schema(fixes).empty_table()
        no_advice = ADVICE_SCHEMA.empty_table() if advice else None
        return ChunkResult(empty, error_frame, raw.table.num_rows, warnings, no_advice)
    table = validation.table if everyone else validation.table.iloc[rows]
    kept = answers if everyone else answers.iloc[rows].reset_index(drop=True)
    states = validation.states if everyone else validation.states.iloc[rows]
    kept_facilities = facilities if everyone else facilities.iloc[rows]
    texts = answer_texts(engine.questionnaire, kept, states)
    flags = _AnswerFlags(
        warning_counts(warnings, kept_facilities),
        priced_as_worst(engine.questionnaire, states),
        answer_hashes(texts),
        texts,
    )
    features = engine.encoder.transform(table)
    env = engine.rule_env(kept)
    rating = engine.rate(features, engine.rule_hits(env, len(rows)), limits[rows], retentions[rows])
    fix_names, fix_picks, fix_savings = _best_fix_picks(
        engine,
        _Book(kept, features, rating, limits[rows], retentions[rows], env, _days(table)),
        fixes,
    )
    scored = _book_rows(
        engine,
        kept_facilities,
        rating,
        limit_codes if everyone else limit_codes.take(pa.array(rows)),
        retention_codes if everyone else retention_codes.take(pa.array(rows)),
        [pa.array(fix_names, pa.string()).take(pa.array(fix_picks[:, k])) for k in range(fixes)],
        fix_savings,
        _drivers(engine, features, rating),
        hashes,
        flags,
        fixes,
    )
    advised = None
    if advice:
        advised = advice_table(
            engine,
            kept,
            states,
            kept_facilities,
            features,
            rating,
            limits[rows],
            retentions[rows],
            (fix_names, fix_picks, fix_savings),
        )
    return ChunkResult(scored, error_frame, raw.table.num_rows, warnings, advised)


@dataclass(frozen=True)
class _AnswerFlags:
    """What a book says of each scored row's answers (:mod:`scoring.portfolio.book_answers`)."""

    warnings: np.ndarray
    priced_as_worst: pa.Array
    answers_sha256: list[str]
    answers: pa.Array


def _best_level(engine: RatingEngine, question: Question) -> float:
    """The level (feature value) of a control's best answer (a date control: done on the
    assessment date, whichever date that is)."""
    anchor = dt.date(2000, 1, 1)
    return engine.control_level(question.id, best_answer(engine, question, anchor), anchor)


@dataclass(frozen=True)
class _Book:
    """What a chunk's best fixes are found from: its rated rows as :func:`chunk` has them."""

    answers: pd.DataFrame
    features: np.ndarray
    rating: Rating
    limit: np.ndarray
    retention: np.ndarray
    env: dict[str, pa.Array]
    """The answers the plan's rules read (RatingEngine.rule_env)."""
    as_of: np.ndarray
    """Each row's assessment date (datetime64[D]): a date control's best answer."""


def _days(table: pd.DataFrame) -> np.ndarray:
    if "assessed_on" not in table.columns:
        return np.zeros(len(table), dtype="datetime64[D]")
    return pd.to_datetime(table["assessed_on"]).to_numpy(dtype="datetime64[D]")


def best_fixes(
    engine: RatingEngine,
    answers: pd.DataFrame,
    features: np.ndarray,
    rating: Rating,
    limit: np.ndarray | float,
    retention: np.ndarray | float,
    count: int = TOP_FIXES,
    *,
    as_of: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` best fixes of every row: question ids and technical premium saved.

    Each actionable control answered below its best is moved to its best answer and
    the rows re-priced (:class:`scoring.rating.engine.ControlPricing`), and the rules
    that read it re-read. Ranked as one applicant's advice is
    (:func:`scoring.rating.result.fix_rank`): a fix that makes the row quotable, then
    one that moves its tier, then by technical premium saved at the best answer, then
    by expected loss avoided, then by question id. A fix that changes neither the
    premium, the risk nor the outcome is none; a row with fewer fixes leaves the rest
    empty.
    """
    n = len(features)
    days = np.zeros(n, dtype="datetime64[D]") if as_of is None else as_of
    book = _Book(
        answers,
        features,
        rating,
        np.broadcast_to(np.asarray(limit, np.float64), (n,)),
        np.broadcast_to(np.asarray(retention, np.float64), (n,)),
        engine.rule_env(answers),
        days,
    )
    names, picks, savings = _best_fix_picks(engine, book, count)
    return np.array(names, dtype=object)[picks], savings


def _best_fix_picks(
    engine: RatingEngine, book: _Book, count: int
) -> tuple[list[str | None], np.ndarray, np.ndarray]:
    """:func:`best_fixes` as the fixes' question ids (``None`` last, for no fix), each
    row's positions among them, and the technical premium saved."""
    features, rating = book.features, book.rating
    n = len(features)
    loss_now = peril_total(rating.expected_loss)
    rules_now = engine.rule_outcome(rating.rule_hits)
    pricing = engine.control_pricing(rating, book.limit, book.retention)
    # columns in question id order, the last key of the ranking; no fix = -inf
    controls = sorted(
        (q for q in engine.questionnaire.controls if q.control and q.control.actionable),
        key=lambda q: q.id,
    )
    classes = np.full((len(controls), n), -1, dtype=np.int8)
    savings = np.full((len(controls), n), -np.inf)
    cuts = np.full((len(controls), n), -np.inf)
    for k, question in enumerate(controls):
        column = engine.feature_index[question.id]
        best_level = _best_level(engine, question)
        candidate = book.answers[question.id].notna().to_numpy() & (
            features[:, column] < best_level
        )
        rows = np.flatnonzero(candidate)
        if not rows.size:
            continue
        after = pricing.price(rows, column, best_level, features[rows, column])
        tier = engine.tier_of(after.relative_risk)
        # rules re-read only where one that reads the control holds now
        again, hits = _hits_at_best(engine, question, book, rows)
        outcome_of_rules = rules_now[rows]
        cleared = np.zeros(len(rows), dtype=bool)
        if again.size:
            outcome_of_rules[again] = engine.rule_outcome(hits)
            cleared[again] = (hits != rating.rule_hits[rows[again]]).any(axis=1)
        outcome = engine.outcome_from(outcome_of_rules, tier)
        cut = loss_now[rows] - after.expected_loss
        effect = (cut > 0) | cleared | (outcome != rating.outcome[rows])
        rows, tier, outcome, cut = rows[effect], tier[effect], outcome[effect], cut[effect]
        quotable = (rating.outcome[rows] != 0) & (outcome == 0)
        classes[k, rows] = np.where(quotable, 2, np.where(tier < rating.tier[rows], 1, 0))
        savings[k, rows] = rating.technical_premium[rows] - after.technical_premium[effect]
        cuts[k, rows] = cut
    order, chosen_saving = _top(savings, cuts, count, classes)
    names: list[str | None] = [q.id for q in controls] + [None]
    picks = np.where(np.isfinite(chosen_saving), order, len(controls))
    chosen_saving[~np.isfinite(chosen_saving)] = np.nan
    return names, picks, money(chosen_saving)


def _hits_at_best(
    engine: RatingEngine, question: Question, book: _Book, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The rules that ``rows`` trigger once ``question`` is at its best answer, where they
    may change: the positions (in ``rows``) of the rows that trigger a rule reading it
    now, and those rows' rule hits with the rules that read it re-read. Every other row
    triggers the rules it does now."""
    reading = [j for j, rule in enumerate(engine.plan.rules) if question.id in rule.questions]
    none = np.zeros(0, dtype=np.intp)
    if not reading:
        return none, np.zeros((0, len(engine.plan.rules)), dtype=bool)
    again = np.flatnonzero(book.rating.rule_hits[rows][:, reading].any(axis=1))
    hits: np.ndarray = book.rating.rule_hits[rows[again]].copy()
    if not again.size:
        return again, hits
    picked = pa.array(rows[again])
    read = {qid for j in reading for qid in engine.plan.rules[j].questions}
    env = {qid: column.take(picked) for qid, column in book.env.items() if qid in read}
    env[question.id] = _best_answers(engine, question, book.as_of[rows[again]], env[question.id])
    for j in reading:
        rule = engine.plan.rules[j]
        hits[:, j] = to_mask(ex.evaluate(rule.condition, env, length=again.size))
    return again, hits


def _best_answers(
    engine: RatingEngine, question: Question, as_of: np.ndarray, like: pa.Array
) -> pa.Array:
    """A control's best answer (:func:`best_answer`) for each row, typed as the rules
    read it (``like``)."""
    if question.kind is AnswerKind.DATE:
        return pa.array(as_of.astype("datetime64[D]"), pa.date32())
    best = best_answer(engine, question, dt.date(2000, 1, 1))
    return pa.array([best] * len(as_of)).cast(like.type)


def _top(
    savings: np.ndarray, cuts: np.ndarray, count: int, classes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` best of each column of (fixes, rows) savings: the highest class when
    ``classes`` are given (-1 for no fix), then the largest saving, then the largest cut
    in expected loss, then the first fix; as (rows, count) positions and savings (-inf
    where a row has no more fixes). Picked one rank at a time, which is much cheaper
    than sorting every fix of every row, on the rows' fixes laid side by side (a row's
    fixes are then adjacent in memory)."""
    savings = np.array(savings.T, order="C")  # a copy: picked fixes are struck out
    ranks = None if classes is None else np.array(classes.T, order="C")
    n = savings.shape[0]
    every = np.arange(n)
    order = np.zeros((n, count), dtype=np.intp)
    chosen = np.full((n, count), -np.inf)
    for k in range(min(count, savings.shape[1])):
        view = savings
        if ranks is not None:  # only the fixes of each row's highest class compete
            view = np.where(ranks == ranks.max(axis=1)[:, None], savings, -np.inf)
        first = view.argmax(axis=1)  # the first of the largest savings
        best = view[every, first]
        # rows where another fix saves as much: the largest cut, then the first fix (a
        # row with a NaN saving is picked as a max would pick it)
        equal = (view == best[:, None]).sum(axis=1)
        tied_rows = np.flatnonzero((equal > 1) | np.isnan(best))
        if tied_rows.size:
            tied = view[tied_rows] == best[tied_rows, None]
            tied_cuts = cuts[:, tied_rows].T
            most_cut = np.where(tied, tied_cuts, -np.inf).max(axis=1)
            first[tied_rows] = np.argmax(tied & (tied_cuts == most_cut[:, None]), axis=1)
        order[:, k], chosen[:, k] = first, best
        savings[every, first] = -np.inf
        if ranks is not None:
            ranks[every, first] = -1
    return order, chosen


def _largest(sizes: np.ndarray, count: int) -> np.ndarray:
    """Positions of the ``count`` largest of each row of (rows, items) sizes, the first
    item of equals first: what :func:`_top` picks when every cut is the same. No size
    may be NaN; ``count`` must not exceed the items."""
    sizes = sizes.copy()
    every = np.arange(len(sizes))
    order = np.zeros((len(sizes), count), dtype=np.intp)
    for k in range(count):
        first = sizes.argmax(axis=1)  # the first of the largest
        order[:, k] = first
        sizes[every, first] = -np.inf
    return order


def _reasons(engine: RatingEngine, rating: Rating) -> pa.Array:
    """Each row's triggered rules, ``;``-joined in the plan's order (a tier's own last).

    Worked out once for each distinct set of rules hit and tier, then spread over the
    rows (a book has few of them)."""
    plan = engine.plan
    count = len(plan.rules)
    hits, tier = rating.rule_hits, np.asarray(rating.tier, np.int64)
    spread = None
    if count < _RULE_BITS:  # rules hit and tier as the bits of one number
        key = tier << count
        for j in range(count):
            key |= hits[:, j].astype(np.int64) << j
        distinct, spread = np.unique(key, return_inverse=True)
        hits = (distinct[:, None] >> np.arange(count)) & 1 == 1
        tier = distinct >> count
    parts = [
        pc.if_else(pa.array(hits[:, j]), rule.id, pa.scalar(None, pa.string()))
        for j, rule in enumerate(plan.rules)
    ]
    tier_rules = pa.array([f"tier_{t.tier}" if t.outcome else None for t in plan.tiers])
    parts.append(tier_rules.take(pa.array(tier)))
    reasons = join_present(parts, len(tier))
    return reasons if spread is None else reasons.take(pa.array(np.ravel(spread)))


def _book_rows(
    engine: RatingEngine,
    facilities: pd.DataFrame,
    rating: Rating,
    limit_codes: pa.Array,
    retention_codes: pa.Array,
    fix_ids: list[pa.Array],
    fix_savings: np.ndarray,
    drivers: pa.Array,
    hashes: list[str],
    flags: _AnswerFlags,
    fixes: int,
) -> pa.Table:
    n = len(rating.premium)
    tiers = pa.array([t.tier for t in engine.plan.tiers], pa.string())
    loss = rating.expected_loss
    columns: dict[str, object] = {
        "facility_id": _texts(facilities["facility_id"]),
        "facility_name": _texts(facilities["facility_name"]),
        "source_row": facilities["row"].to_numpy(dtype="float64", na_value=np.nan),
        "outcome": pa.array(OUTCOMES, pa.string()).take(pa.array(rating.outcome)),
        "reasons": _reasons(engine, rating),
        "tier": tiers.take(pa.array(rating.tier)),
        "score": rating.score,
        "premium": rating.premium,
        "technical_premium": money(rating.technical_premium),
        "premium_cap": pa.array([None, *PREMIUM_CAPS[1:]], pa.string()).take(
            pa.array(rating.premium_cap)
        ),
        "limit": limit_codes,
        "retention": retention_codes,
        "relative_risk": significant(rating.relative_risk),
        "expected_loss": money(peril_total(loss)),
        **{f"expected_loss_{p.value}": money(loss[:, k]) for k, p in enumerate(PERILS)},
    }
    for k in range(fixes):
        columns[f"fix_{k + 1}"] = fix_ids[k]
        columns[f"fix_{k + 1}_saving"] = fix_savings[:, k]
    columns["drivers"] = drivers
    columns["warnings"] = flags.warnings
    columns["priced_as_worst"] = flags.priced_as_worst
    versions = {
        "model_id": engine.model.model_id,
        "model_sha256": engine.model_sha256,
        "rating_plan": engine.plan.key,
        "rating_plan_sha256": engine.plan_sha256,
        "questionnaire": engine.questionnaire.key,
    }
    for name, value in versions.items():
        columns[name] = pa.repeat(pa.scalar(value, pa.string()), n)
    columns["input_sha256"] = hashes
    columns["answers_sha256"] = flags.answers_sha256
    columns["answers"] = flags.answers
    schema = book_schema(fixes)
    arrays = []
    for field in schema:
        values = columns[field.name]
        if field.name == "source_row":
            rows = np.asarray(values, dtype=np.float64)
            arrays.append(pa.array(rows, pa.float64(), mask=np.isnan(rows)).cast(pa.int64()))
        elif pa.types.is_floating(field.type):
            data = np.asarray(values, dtype=np.float64)
            arrays.append(pa.array(data, field.type, mask=np.isnan(data)))
        elif isinstance(values, pa.Array):
            arrays.append(values.cast(field.type))
        else:
            arrays.append(pa.array(values, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _texts(column: pd.Series) -> pa.Array:
    return pa.array(column.astype("string"), pa.string(), from_pandas=True)


def _drivers(engine: RatingEngine, features: np.ndarray, rating: Rating) -> pa.Array:
    """The risk answers that move each row's premium most (see ``TOP_DRIVERS``)."""
    names = np.array(question_ids(engine), dtype=object)
    count = min(TOP_DRIVERS, len(names))
    risk = risk_columns(engine)
    order = np.zeros((len(features), count), dtype=np.intp)
    values = np.zeros((len(features), count))
    for start in range(0, len(features), _DRIVER_BLOCK):  # a block's effects at a time
        rows = slice(start, start + _DRIVER_BLOCK)
        block = rating.take(rows)
        per_loss = premium_per_loss(engine, block)
        effects = money(risk_question_effects(engine, features[rows], block, per_loss))
        if count <= len(risk) and np.isfinite(per_loss).all() and not np.isnan(effects).any():
            # only risk answers have effects: the others are 0, picked only after every
            # risk answer of a row is (and never written)
            picked = _largest(np.abs(effects), count)
            order[rows] = risk[picked]
            values[rows] = np.take_along_axis(effects, picked, axis=1)
            continue
        effects = money(risk_effects(engine, features[rows], block))
        size = np.abs(effects).T  # the largest first, the first question of equals first
        order[rows], _ = _top(size, np.zeros_like(size), count)
        values[rows] = np.take_along_axis(effects, order[rows], axis=1)
    labels = pa.array([f"{name}:" for name in names], pa.string())
    signs = pa.array(["", "+"], pa.string())
    present = values != 0
    parts = []
    for k in range(count):
        value = values[:, k]
        text = pc.cast(pa.array(value), pa.string())
        sign = signs.take(pa.array((value >= 0).view(np.int8)))
        item = pc.binary_join_element_wise(labels.take(pa.array(order[:, k])), sign, text, "")
        parts.append(pc.if_else(pa.array(present[:, k]), item, pa.scalar(None, pa.string())))
    return join_present(parts, len(values))
