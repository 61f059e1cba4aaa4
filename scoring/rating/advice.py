"""Remediation advice: what each fix is worth, priced through the whole rating engine.

Every actionable control that is not at its best answer is an *option* to change
(to its next answer, and to its best). A *scenario* is a set of options, held as
one row of a boolean matrix, and a batch of scenarios is rated by
:meth:`RatingEngine.rate` like any other rows: caps, the minimum premium, tiers
and knockouts apply to every scenario exactly as to the applicant. An improved
answer changes one feature - the control's level, which
:meth:`AnswerEncoder.control_level` gives with the encoder's own code - and the
verdict of the rules that read it, which the engine evaluates with the rules'
own expressions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from scoring.questionnaire.definition import Question
from scoring.rating._rounding import money
from scoring.rating.engine import Rating, RatingEngine, peril_total
from scoring.rating.plan import OUTCOMES
from scoring.rating.result import Advice, Fix, FixSet, Scenario, fix_rank

if TYPE_CHECKING:
    from scoring.rating.score import Applicant

MAX_FIX_SET = 12
"""Fix-set searches give up beyond this many fixes."""


@dataclass(frozen=True)
class _Option:
    question: Question
    answer: Any
    column: int
    level: float


class Scenarios:
    """One applicant, its options to change, and a batch rater for sets of them."""

    def __init__(
        self,
        engine: RatingEngine,
        applicant: Applicant,
        limit: float,
        retention: float,
        options: list[tuple[Question, Any]],
        base: Rating,
    ) -> None:
        self.engine = engine
        self.applicant = applicant
        self.limit = limit
        self.retention = retention
        self.options = [
            _Option(
                question=question,
                answer=answer,
                column=engine.feature_index[question.id],
                level=engine.control_level(question.id, answer, applicant.as_of),
            )
            for question, answer in options
        ]
        columns = np.array([o.column for o in self.options], dtype=np.intp)
        levels = np.array([o.level for o in self.options], dtype=np.float64)
        self._changes = engine.change(columns, levels, applicant.features[columns])
        given = {qid: column[0].as_py() for qid, column in applicant.env.items()}
        self.base_hits = base.rule_hits[0]
        self._base = base
        # every rule that reads an option: its verdict for each combination of the
        # options it reads, flattened into one table; a scenario's combination is a
        # number whose bits are the options it takes (weights), offset into the table
        tables = [self._rule_table(j, given) for j in range(len(engine.plan.rules))]
        self._rules_read = np.array([j for j, t in enumerate(tables) if t is not None], np.intp)
        self._weights = np.zeros((len(self.options), self._rules_read.size), dtype=np.intp)
        offsets, verdicts, start = [], [], 0
        for column, j in enumerate(self._rules_read):
            table = tables[j]
            assert table is not None
            reading, table_verdicts = table
            self._weights[reading, column] = 1 << np.arange(reading.size)
            offsets.append(start)
            verdicts.append(table_verdicts)
            start += table_verdicts.size
        self._offsets = np.array(offsets, dtype=np.intp)
        self._verdicts = np.concatenate(verdicts) if verdicts else np.zeros(0, np.bool_)

    def _rule_table(
        self, rule_index: int, base: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The rule's verdict for every combination of the options it reads."""
        rule = self.engine.plan.rules[rule_index]
        reading = [i for i, o in enumerate(self.options) if o.question.id in rule.questions]
        if not reading:
            return None
        combos = []
        for code in range(1 << len(reading)):
            answers = dict(base)
            for bit, i in enumerate(reading):
                if code >> bit & 1:
                    answers[self.options[i].question.id] = self.options[i].answer
            combos.append(tuple(answers[q] for q in rule.questions))
        verdicts = self.engine.rule_verdicts(rule_index, combos, self.applicant.env)
        return np.array(reading, dtype=np.intp), verdicts

    def rate(self, chosen: np.ndarray) -> Rating:
        """Rate scenarios: ``chosen`` is (scenarios, options) booleans, at most one
        option per control in a row. A scenario's linear predictors are the
        applicant's plus the change of each option it takes (:meth:`RatingEngine.change`),
        exactly as a book's fixes are priced."""
        chosen = np.atleast_2d(chosen)
        n = len(chosen)
        linear = self._base.linear + chosen.astype(np.float64) @ self._changes
        hits = np.repeat(self.base_hits[None, :], n, axis=0)
        if self._rules_read.size:
            codes = chosen.astype(np.intp) @ self._weights + self._offsets
            hits[:, self._rules_read] = self._verdicts[codes]
        return self.engine.rate_linear(
            linear, hits, self.limit, self.retention, class_layer=self._base.class_layer_loss
        )

    def tiers_of_pairs(self, first: np.ndarray, second: np.ndarray) -> Rating:
        """Rate pairs of options for their tier and premium only (rules not re-read):
        a search over many pairs, whose chosen pair is then rated in full."""
        linear = self._base.linear + self._changes[first] + self._changes[second]
        hits = np.repeat(self.base_hits[None, :], len(first), axis=0)
        return self.engine.rate_linear(
            linear, hits, self.limit, self.retention, class_layer=self._base.class_layer_loss
        )

    def answers(self, taken: Iterable[int]) -> dict[str, str]:
        """The changed answers of a scenario taking these options, as text."""
        return dict(self._codes[i] for i in taken)

    @cached_property
    def _codes(self) -> list[tuple[str, str]]:
        return [(o.question.id, _answer_code(o.answer)) for o in self.options]


def _answer_code(answer: Any) -> str:
    return answer.isoformat() if isinstance(answer, dt.date) else str(answer)


def scenario(
    scenarios: Scenarios, rating: Rating, i: int, taken: Iterable[int], base: Rating
) -> Scenario:
    """Scenario ``i`` of a rated batch (taking options ``taken``), against the applicant."""
    tiers = scenarios.engine.plan.tiers
    return Scenario(
        answers=scenarios.answers(taken),
        premium=float(rating.premium[i]),
        saving=float(base.premium[0] - rating.premium[i]),
        technical_premium=money(float(rating.technical_premium[i])),
        technical_saving=money(float(base.technical_premium[0] - rating.technical_premium[i])),
        tier=tiers[int(rating.tier[i])].tier,
        outcome=OUTCOMES[int(rating.outcome[i])],
        score=int(rating.score[i]),
        expected_loss=money(float(peril_total(rating.expected_loss[i : i + 1])[0])),
    )


def candidates(engine: RatingEngine, applicant: Applicant) -> list[tuple[Question, list[Any]]]:
    """Each actionable control that applies and is not at its best, with its targets."""
    found = []
    for question in engine.questionnaire.controls:
        assert question.control is not None
        answer = applicant.answers.get(question.id)
        if not question.control.actionable or answer is None:
            continue  # does not apply: nothing to fix
        targets = engine.remediation.targets(question, answer, applicant.as_of)
        if targets:
            found.append((question, targets))
    return found


def advise(
    engine: RatingEngine,
    applicant: Applicant,
    limit: float,
    retention: float,
    base: Rating,
    answer_text: Callable[[Question, Any], str],
) -> Advice:
    """Every fix with its next and best scenario, ranked; and the fix sets."""
    catalogue = engine.remediation
    found = candidates(engine, applicant)
    options = [(question, target) for question, targets in found for target in targets]
    scenarios = Scenarios(engine, applicant, limit, retention, options, base)
    k = len(options)
    one = np.eye(k, dtype=np.bool_)
    rated = scenarios.rate(one) if k else None
    revenue = float(applicant.answers.get(engine.plan.exposure_base.question) or 0.0)
    band = catalogue.size_band(revenue).band
    fixes: list[Fix] = []
    best_option: dict[str, int] = {}
    position = 0
    for question, targets in found:
        control = question.control
        assert control is not None
        assert rated is not None
        first, last = position, position + len(targets) - 1
        position += len(targets)
        nxt = scenario(scenarios, rated, first, (first,), base)
        best = scenario(scenarios, rated, last, (last,), base) if last > first else None
        after = peril_total(rated.expected_loss[last : last + 1])[0]
        loss_saving = money(float(peril_total(base.expected_loss)[0] - after))
        cleared = base.rule_hits[0] & ~rated.rule_hits[last]
        makes_quotable = bool(base.outcome[0] != 0 and rated.outcome[last] == 0)
        moves_tier = bool(rated.tier[last] < base.tier[0])
        if loss_saving <= 0 and not cleared.any() and rated.outcome[last] == base.outcome[0]:
            continue  # changes neither the premium, the risk nor the outcome: not advice
        best_option[question.id] = last
        low, high = catalogue.cost(question.id, revenue)
        top = best or nxt
        midpoint = (low + high) / 2
        fixes.append(
            Fix(
                question_id=question.id,
                question=question.label,
                answer=answer_text(question, applicant.answers.get(question.id)),
                next=nxt,
                best=best,
                perils=control.perils,
                cost_low=low,
                cost_high=high,
                size_band=band,
                hicp=control.frameworks.hicp,
                cpg=control.frameworks.cpg,
                cis=control.frameworks.cis,
                why=control.why or "",
                clears=tuple(
                    r.id for r, hit in zip(engine.plan.rules, cleared, strict=True) if hit
                ),
                loss_saving=loss_saving,
                makes_quotable=makes_quotable,
                moves_tier=moves_tier,
                capped=bool(base.premium_cap[0] != 0 or rated.premium_cap[last] != 0),
                saving_per_1000_cost=round(top.technical_saving / midpoint * 1000, 2)
                if midpoint > 0
                else 0.0,
            )
        )
    # the ranking a book's best fixes follow too (scoring.portfolio.batch.best_fixes)
    ranked = sorted(
        fixes,
        key=lambda f: fix_rank(
            f.makes_quotable,
            f.moves_tier,
            (f.best or f.next).technical_saving,
            f.loss_saving,
            f.question_id,
        ),
    )
    by_value = sorted(
        fixes,
        key=lambda f: (
            -f.saving_per_1000_cost,
            -(f.best or f.next).technical_saving,
            f.question_id,
        ),
    )
    best_columns = np.array(list(best_option.values()), dtype=np.intp)
    return Advice(
        fixes=tuple(ranked),
        by_value=tuple(f.question_id for f in by_value),
        next_tier=_next_tier(scenarios, base, best_columns, rated),
        insurable=_insurable(scenarios, base, best_columns, rated),
    )


def _all_of(k: int, members: np.ndarray) -> np.ndarray:
    chosen = np.zeros(k, dtype=np.bool_)
    chosen[members] = True
    return chosen


def _next_tier(
    scenarios: Scenarios, base: Rating, best: np.ndarray, each: Rating | None
) -> FixSet | None:
    """The fewest fixes (each to its best answer) that move the applicant up a tier.

    Exact for one and two fixes (every pair is rated, and the pair that saves the
    most technical premium wins); beyond that, fixes are added greedily by the expected loss
    they save and then pruned, so that no fix in the set can be dropped.
    """
    tier_now = int(base.tier[0])
    if tier_now == 0:
        return None
    goal = tier_now - 1
    k = len(scenarios.options)
    if each is not None and best.size:  # one fix at a time: rated already, with every option
        singles = each.take(best)
        reached = np.flatnonzero(singles.tier <= goal)
        if reached.size:
            saved = base.technical_premium[0] - singles.technical_premium[reached]
            top = int(best[reached[np.argmax(saved)]])
            return _fix_set("next_tier", scenarios, base, _all_of(k, np.array([top])), reached=True)
    first, second = (best[i] for i in np.triu_indices(best.size, 1))
    if first.size:
        pairs = scenarios.tiers_of_pairs(first, second)
        reached = np.flatnonzero(pairs.tier <= goal)
        if reached.size:
            top = int(
                reached[np.argmax(base.technical_premium[0] - pairs.technical_premium[reached])]
            )
            chosen = _all_of(k, np.array([first[top], second[top]]))
            return _fix_set("next_tier", scenarios, base, chosen, reached=True)
    found = _greedy(scenarios, base, best, lambda r: r.tier <= goal, lambda r: r.relative_risk)
    if found is None:
        return _fix_set("next_tier", scenarios, base, _all_of(k, best), reached=False)
    return _fix_set("next_tier", scenarios, base, found, reached=True)


def _insurable(
    scenarios: Scenarios, base: Rating, best: np.ndarray, each: Rating | None
) -> FixSet | None:
    """The fewest fixes found that turn refer or decline into quote.

    The search starts from, for every rule the applicant triggers, the one fix that
    clears it and saves the most technical premium (from ``each``, one fix at a time); adds
    fixes greedily while the applicant is still not quotable; and then drops every
    fix the quote does not need.
    """
    if int(base.outcome[0]) == 0:
        return None
    start = np.zeros(len(scenarios.options), dtype=np.bool_)
    if each is not None:
        saving = base.technical_premium[0] - each.technical_premium[best]
        for rule in np.flatnonzero(base.rule_hits[0]):
            clearing = np.flatnonzero(~each.rule_hits[best, rule])
            if clearing.size:
                start[best[clearing[np.argmax(saving[clearing])]]] = True

    def badness(r: Rating) -> np.ndarray:
        return np.asarray(
            r.outcome * 1000.0 + r.rule_hits.sum(axis=1) + np.minimum(r.relative_risk, 999) / 1000
        )

    found = _greedy(scenarios, base, best, lambda r: r.outcome == 0, badness, start=start)
    if found is not None:
        return _fix_set("insurable", scenarios, base, found, reached=True)
    everything = scenarios.rate(_all_of(len(scenarios.options), best))
    rules = scenarios.engine.plan.rules
    stuck = [rule.reason for rule, hit in zip(rules, everything.rule_hits[0], strict=True) if hit]
    why = (
        "what holds it back does not depend on controls alone "
        f"({'; '.join(reason[:1].lower() + reason[1:] for reason in stuck)})"
        if stuck
        else "its expected loss stays in a referral tier"
    )
    return FixSet(
        goal="insurable",
        fixes=(),
        reached=False,
        scenario=None,
        note=f"no set of control fixes makes this applicant quotable: {why}; "
        "an underwriter must review",
    )


def _greedy(
    scenarios: Scenarios,
    base: Rating,
    best: np.ndarray,
    done: Callable[[Rating], np.ndarray],
    badness: Callable[[Rating], np.ndarray],
    *,
    start: np.ndarray | None = None,
) -> np.ndarray | None:
    """From ``start`` (no fix by default), add the fix that most reduces ``badness``
    until ``done``; then drop the fixes that are not needed."""
    k = len(scenarios.options)
    current = np.zeros(k, dtype=np.bool_) if start is None else start.copy()
    rated = base if not current.any() else scenarios.rate(current)
    worst = float(badness(rated)[0])
    reached_already = bool(done(rated)[0])
    while not reached_already and int(current.sum()) < MAX_FIX_SET:
        remaining = best[~current[best]]
        if remaining.size == 0:
            return None
        trials = np.repeat(current[None, :], remaining.size, axis=0)
        trials[np.arange(remaining.size), remaining] = True
        rated = scenarios.rate(trials)
        scores = badness(rated)
        reached = np.flatnonzero(done(rated))
        if reached.size:
            current = trials[int(reached[np.argmin(scores[reached])])]
            break
        pick = int(np.argmin(scores))
        if scores[pick] >= worst:
            return None
        current, worst = trials[pick], float(scores[pick])
    else:
        if not reached_already:
            return None
    while int(current.sum()) > 1:  # drop fixes the goal does not need, one at a time
        members = np.flatnonzero(current)
        trials = np.repeat(current[None, :], members.size, axis=0)
        trials[np.arange(members.size), members] = False
        rated = scenarios.rate(trials)
        kept = np.flatnonzero(done(rated))
        if not kept.size:
            break
        current = trials[int(kept[np.argmin(badness(rated)[kept])])]
    return np.asarray(current, dtype=np.bool_)


def _fix_set(
    goal: Literal["next_tier", "insurable"],
    scenarios: Scenarios,
    base: Rating,
    chosen: np.ndarray,
    *,
    reached: bool,
) -> FixSet:
    rated = scenarios.rate(chosen)
    ids = tuple(scenarios.options[i].question.id for i in np.flatnonzero(chosen))
    return FixSet(
        goal=goal,
        fixes=ids,
        reached=reached,
        scenario=scenario(scenarios, rated, 0, np.flatnonzero(chosen).tolist(), base),
        note=f"{len(ids)} fix(es) together"
        if reached
        else "even every fix together does not reach the goal",
    )
