"""Scoring one applicant: outcome, tier, premium, explanation and costed remediation advice.

A response is validated and encoded once (:func:`applicants`); the rating comes
from :meth:`RatingEngine.rate`, the explanation from :mod:`scoring.rating.explain`
and the advice from :mod:`scoring.rating.advice`, which re-rates the applicant's
scenarios through the same engine.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from scoring.errors import InputError, Issue
from scoring.model.loss_model import default_model_dir
from scoring.rating import advice
from scoring.rating._rounding import money, significant
from scoring.rating.engine import PERILS, PREMIUM_CAPS, Rating, RatingEngine, peril_total
from scoring.rating.explain import answer_text, factors
from scoring.rating.plan import OUTCOMES, Option
from scoring.rating.result import (
    DONT_KNOW,
    Advice,
    Factor,
    FixSet,
    Layer,
    Note,
    PerilLoss,
    PremiumOption,
    RuleHit,
    ScoreResult,
    Versions,
    cap_note,
    premium_note,
)
from scoring.responses.intake import validate_document, validate_file
from scoring.responses.validation import Validation
from scoring.vocabulary import AnswerState, Reason, Severity


@lru_cache(maxsize=4)
def default_engine() -> RatingEngine:
    """The bundled default model with its rating plan (loaded and verified once)."""
    return RatingEngine.load(default_model_dir())


@dataclass(frozen=True)
class Applicant:
    """One validated facility, encoded once: what scoring and advice start from."""

    answers: Mapping[str, Any]
    """Answers the engine uses, by question id (None where a question does not apply)."""
    features: np.ndarray
    env: Mapping[str, pa.Array]
    """The answers the rules read, as one-row arrays."""
    as_of: dt.date
    facility_id: str | None
    facility_name: str | None
    warnings: tuple[str, ...]
    notes: tuple[Note, ...] = ()
    """The warnings with each question's text."""
    unknown: frozenset[str] = frozenset()
    """Questions answered as unknown (priced as their worst answer)."""


def applicants(engine: RatingEngine, validation: Validation) -> list[Applicant]:
    """Every valid facility of a validation, encoded (invalid rows are skipped)."""
    if validation.n_rows == 1 and validation.columns is not None:
        return [_one(engine, validation)] if validation.is_valid else []
    table = validation.table[validation.valid]
    if table.empty:
        return []
    features = engine.encoder.transform(table)
    answers = validation.answers[validation.valid]
    env = engine.rule_env(answers)
    facilities = validation.facilities[validation.valid]
    warnings = validation.issues[validation.issues["severity"] == Severity.WARNING.value]
    unknown = validation.states[validation.valid] == AnswerState.UNKNOWN
    labels = _labels(engine)
    result = []
    for i in range(len(table)):
        facility = facilities.iloc[i]
        row_number = facility["row"]
        mine = warnings if pd.isna(row_number) else warnings[warnings["row"] == row_number]
        facility_id = _text(facility["facility_id"])
        records = mine.to_dict("records")
        not_known = frozenset(str(q) for q, flag in unknown.iloc[i].items() if flag)
        result.append(
            Applicant(
                answers={str(k): _plain(v) for k, v in answers.iloc[i].items()},
                features=features[i],
                env={k: v.slice(i, 1) for k, v in env.items()},
                as_of=pd.Timestamp(facility["assessed_on"]).date(),
                facility_id=facility_id,
                facility_name=_text(facility["facility_name"]),
                warnings=_warnings(records),
                notes=tuple(_note(record, labels, not_known) for record in records),
                unknown=not_known,
            )
        )
    return result


def _one(engine: RatingEngine, validation: Validation) -> Applicant:
    """The applicant of a valid one-facility validation, encoded from the Arrow columns
    validation made (no table is built for one row): the same encoding, rules and
    warnings as :func:`applicants` gives a row of a table."""
    assert validation.columns is not None
    columns = validation.columns
    facility = _records(validation.facilities)[0]
    day = np.datetime64(pd.Timestamp(facility["assessed_on"]).date(), "D")
    features = engine.encoder.encode_columns(columns, np.array([day]))
    records = [r for r in _records(validation.issues) if r["severity"] == Severity.WARNING.value]
    unknown = validation.states.to_numpy()[0] == AnswerState.UNKNOWN
    not_known = frozenset(str(q) for q in validation.states.columns[unknown])
    labels = _labels(engine)
    return Applicant(
        answers={qid: _plain(column[0].as_py()) for qid, column in columns.items()},
        features=features[0],
        env={qid: columns[qid] for qid in engine.rule_questions},
        as_of=pd.Timestamp(facility["assessed_on"]).date(),
        facility_id=_text(facility["facility_id"]),
        facility_name=_text(facility["facility_name"]),
        warnings=_warnings(records),
        notes=tuple(_note(record, labels, not_known) for record in records),
        unknown=not_known,
    )


def _records(frame: pd.DataFrame) -> list[dict[Hashable, Any]]:
    """A small frame's rows as dicts of Python values, as ``to_dict("records")`` gives
    them, without pandas' row-by-row machinery (most of a one-row score's time)."""
    names = list(frame.columns)
    columns = [frame[n].tolist() for n in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _warnings(records: Sequence[Mapping[Hashable, Any]]) -> tuple[str, ...]:
    """A row's validation warnings as the result keeps them: ``question_id: message``."""
    return tuple(
        f"{record['question_id']}: {record['message']}"
        if pd.notna(record["question_id"])
        else str(record["message"])
        for record in records
    )


def _labels(engine: RatingEngine) -> dict[str, str]:
    return {q.id: q.label for q in engine.questionnaire.by_id.values()}


def _note(record: Mapping[Any, Any], labels: Mapping[str, str], unknown: frozenset[str]) -> Note:
    """A warning in words; an unknown answer priced as the worst says so and to find out."""
    question_id = _text(record["question_id"])
    message = str(record["message"])
    if question_id in unknown and record["reason"] == Reason.TREATED_AS_WORST.value:
        message = f"{DONT_KNOW}; find out the answer"
    return Note(
        question_id=question_id,
        question=None if question_id is None else labels.get(question_id, question_id),
        message=message,
    )


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _text(value: Any) -> str | None:
    value = _plain(value)
    return None if value is None else str(value)


# -- scoring ---------------------------------------------------------------------------------


def score_applicant(
    engine: RatingEngine,
    applicant: Applicant,
    *,
    limit: str | None = None,
    retention: str | None = None,
    advise: bool = True,
) -> ScoreResult:
    """Score one encoded applicant; the limit and retention default to those it requested."""
    from scoring import __version__

    plan = engine.plan
    chosen_limit = plan.limit(limit or _requested(applicant, "requested_limit"))
    chosen_retention = plan.retention(retention or _requested(applicant, "requested_retention"))
    rating = engine.rate(
        applicant.features[None, :],
        engine.applicant_rule_hits(applicant.env),
        chosen_limit.amount,
        chosen_retention.amount,
    )
    tier = plan.tiers[int(rating.tier[0])]
    layer_loss = rating.class_layer_loss[0] * rating.schedule_factor[0]
    premium = float(rating.premium[0])
    share = layer_loss / layer_loss.sum() if layer_loss.sum() > 0 else np.zeros(len(PERILS))
    _, _, class_premium = engine.premium_from(peril_total(rating.class_layer_loss), np.ones(1))
    return ScoreResult(
        facility_id=applicant.facility_id,
        facility_name=applicant.facility_name,
        assessed_on=applicant.as_of.isoformat(),
        outcome=OUTCOMES[int(rating.outcome[0])],
        rules=_rule_hits(engine, rating),
        tier=tier.tier,
        tier_description=tier.description,
        relative_risk=_ratio(rating.relative_risk[0]),
        score=int(rating.score[0]),
        premium=premium,
        premium_note=premium_note(OUTCOMES[int(rating.outcome[0])]),
        technical_premium=_money(rating.technical_premium[0]),
        premium_cap=PREMIUM_CAPS[int(rating.premium_cap[0])] or None,
        premium_cap_note=cap_note(
            PREMIUM_CAPS[int(rating.premium_cap[0])] or None,
            premium,
            _money(rating.technical_premium[0]),
        ),
        layer=_layer(chosen_limit, chosen_retention),
        options=_options(engine, rating, chosen_limit, chosen_retention),
        class_premium=float(class_premium[0]),
        schedule_factor=_ratio(rating.schedule_factor[0]),
        expected_loss=_money(peril_total(rating.expected_loss)[0]),
        class_expected_loss=_money(peril_total(rating.class_expected_loss)[0]),
        perils=tuple(
            PerilLoss(
                peril=peril,
                expected_claims=_ratio(rating.expected_claims[0, p]),
                mean_claim=_money(rating.mean_claim[0, p]),
                expected_loss=_money(rating.expected_loss[0, p]),
                class_expected_loss=_money(rating.class_expected_loss[0, p]),
                layer_loss=_money(layer_loss[p]),
                own_layer_loss=_money(rating.layer_loss[0, p]),
                premium=_money(premium * share[p]),
            )
            for p, peril in enumerate(PERILS)
        ),
        factors=_factors_in_words(factors(engine, applicant, rating), applicant.unknown),
        advice=_advice_in_words(
            engine,
            advice.advise(
                engine, applicant, chosen_limit.amount, chosen_retention.amount, rating, answer_text
            ),
            applicant.unknown,
        )
        if advise
        else None,
        warnings=applicant.warnings,
        notes=applicant.notes,
        versions=Versions(
            model_id=engine.model.model_id,
            model_sha256=engine.model_sha256,
            rating_plan=plan.key,
            rating_plan_sha256=engine.plan_sha256,
            questionnaire=engine.questionnaire.key,
            carescore=__version__,
        ),
    )


def score(
    response: Validation | Mapping[str, Any] | str | Path,
    *,
    as_of: dt.date,
    limit: str | None = None,
    retention: str | None = None,
    engine: RatingEngine | None = None,
    advise: bool = True,
) -> ScoreResult:
    """Score one applicant: outcome, tier, premium, explanation and remediation advice.

    Parameters
    ----------
    response : Validation, mapping, or path
        One facility's response: already validated, a mapping (web form, API body),
        or a file (YAML, JSON, or a one-row CSV/XLSX/Parquet).
    as_of : datetime.date
        Assessment date for a response that does not state ``assessed_on``.
    limit, retention : str, optional
        Codes offered by the rating plan (``limit_1m``, ``ret_10k``); default: the
        applicant's requested ones, else the plan's defaults.
    engine : RatingEngine, optional
        Model and rating plan; the bundled default when omitted.

    Raises
    ------
    InputError
        The response fails validation (every error listed; nothing is scored), holds
        more than one facility, or asks for a limit or retention not offered.
    """
    engine = engine or default_engine()
    if isinstance(response, Validation):
        validation = response
    elif isinstance(response, Mapping):
        validation = validate_document(response, engine.questionnaire, as_of=as_of)
    else:
        validation = validate_file(response, engine.questionnaire, as_of=as_of)
    if validation.n_rows != 1:
        raise InputError(
            [
                Issue(
                    Reason.OUT_OF_RANGE,
                    f"score() rates one facility; this response holds {validation.n_rows} "
                    "(score a book with `carescore batch`)",
                    source=validation.source,
                )
            ]
        )
    if not validation.is_valid:
        raise InputError(validation.issue_list(Severity.ERROR))
    (applicant,) = applicants(engine, validation)
    return score_applicant(engine, applicant, limit=limit, retention=retention, advise=advise)


def _factors_in_words(explained: tuple[Factor, ...], unknown: frozenset[str]) -> tuple[Factor, ...]:
    """Answers given as unknown read "don't know", not as the worst answer they are priced as."""
    return tuple(
        f.model_copy(update={"answer": DONT_KNOW, "unknown": True})
        if f.question_id in unknown
        else f
        for f in explained
    )


def _advice_in_words(engine: RatingEngine, given: Advice, unknown: frozenset[str]) -> Advice:
    """The advice with unknown answers marked and each fix set's questions in words."""
    labels = {q.id: q.label for q in engine.questionnaire.by_id.values()}
    words = {fix.question_id: fix.question for fix in given.fixes}

    def in_words(fix_set: FixSet | None) -> FixSet | None:
        if fix_set is None:
            return None
        questions = tuple(words.get(q) or labels.get(q, q) for q in fix_set.fixes)
        return fix_set.model_copy(update={"questions": questions})

    return given.model_copy(
        update={
            "fixes": tuple(
                fix.model_copy(update={"answer": DONT_KNOW, "unknown": True})
                if fix.question_id in unknown
                else fix
                for fix in given.fixes
            ),
            "next_tier": in_words(given.next_tier),
            "insurable": in_words(given.insurable),
        }
    )


def _requested(applicant: Applicant, question_id: str) -> str | None:
    value = applicant.answers.get(question_id)
    return None if value is None else str(value)


def _money(value: float) -> float:
    return money(float(value))


def _ratio(value: float) -> float:
    return significant(float(value))


def _layer(limit: Option, retention: Option) -> Layer:
    return Layer(
        limit=limit.code,
        limit_amount=limit.amount,
        retention=retention.code,
        retention_amount=retention.amount,
    )


def _rule_hits(engine: RatingEngine, rating: Rating) -> tuple[RuleHit, ...]:
    plan = engine.plan
    hits = [
        RuleHit(
            id=rule.id,
            outcome=rule.outcome,
            reason=rule.reason,
            source=rule.source,
            questions=rule.questions,
        )
        for j, rule in enumerate(plan.rules)
        if rating.rule_hits[0, j]
    ]
    tier = plan.tiers[int(rating.tier[0])]
    if tier.outcome is not None and tier.reason is not None:
        hits.append(
            RuleHit(
                id=f"tier_{tier.tier}",
                outcome=tier.outcome,
                reason=tier.reason,
                source="the rating plan's tier bands",
                questions=(),
            )
        )
    return tuple(sorted(hits, key=lambda h: h.outcome != "decline"))


def _options(
    engine: RatingEngine, rating: Rating, limit: Option, retention: Option
) -> tuple[PremiumOption, ...]:
    """Every limit at the chosen retention, and the chosen limit at every retention."""
    plan = engine.plan
    layers = [(lim, retention) for lim in plan.limits] + [
        (limit, ret) for ret in plan.retentions if ret.code != retention.code
    ]
    basic = plan.limit(plan.basic_limit).amount
    n = len(layers)
    freq = np.repeat(rating.class_frequency, n, axis=0)
    sev = np.repeat(rating.class_mean_claim, n, axis=0)
    limits = np.array([lim.amount for lim, _ in layers])
    retentions = np.array([ret.amount for _, ret in layers])
    lowest = plan.retentions[0].amount
    # the options, the same retentions at the basic limit, the same limits at the lowest
    # retention, and the facility's own loss in each option's layer: one call
    every = engine.layer_loss(
        np.concatenate([np.tile(freq, (3, 1)), np.repeat(rating.expected_claims, n, axis=0)]),
        np.concatenate([np.tile(sev, (3, 1)), np.repeat(rating.mean_claim, n, axis=0)]),
        np.concatenate([limits, np.full(n, basic), limits, limits]),
        np.concatenate([retentions, retentions, np.full(n, lowest), retentions]),
    )
    layer, basic_layer, first_dollar = every[:n], every[n : 2 * n], every[2 * n : 3 * n]
    premiums = engine.premiums(
        peril_total(layer), np.repeat(rating.relative_risk, n), peril_total(every[3 * n :])
    ).offered
    return tuple(
        PremiumOption(
            layer=_layer(lim, ret),
            premium=float(premiums[i]),
            increased_limit_factor=_ratio(layer[i].sum() / basic_layer[i].sum()),
            retention_credit=_ratio(1 - layer[i].sum() / first_dollar[i].sum()),
            requested=lim.code == limit.code and ret.code == retention.code,
        )
        for i, (lim, ret) in enumerate(layers)
    )
