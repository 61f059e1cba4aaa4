"""Peers: the scores of synthetic reference facilities of the same type.

No insurer publishes its applicants' scores, so a facility is compared with a
fixed synthetic reference book - the joint distribution of answers the default
model is calibrated on - rated by the same engine. The book is drawn from a fixed
seed, so the comparison is the same on every run.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from scoring.rating.engine import RatingEngine
from scoring.responses.reading import RawResponses
from scoring.responses.validation import validate
from scoring.synthetic.responses import synthetic_responses

PEER_FACILITIES = 4000
PEER_SEED = 7
PEER_DATE = dt.date(2026, 1, 1)


def peer_scores(engine: RatingEngine, facility_type: str | None) -> tuple[np.ndarray, str]:
    """Scores of the reference facilities of one type (all types when None), and a label."""
    table = synthetic_responses(
        engine.questionnaire, PEER_FACILITIES, seed=PEER_SEED, as_of=PEER_DATE
    )
    result = validate(
        RawResponses(table=table, source="peer reference book", first_row=1),
        engine.questionnaire,
        as_of=PEER_DATE,
    )
    kept = result.valid
    if facility_type is not None:
        kept = kept & (result.answers["facility_type"] == facility_type).to_numpy()
    features = engine.encoder.transform(result.table[kept])
    hits = engine.rule_hits(engine.rule_env(result.answers[kept]), int(kept.sum()))
    rating = engine.rate(
        features, hits, engine.plan.limit(None).amount, engine.plan.retention(None).amount
    )
    kind = (
        "facilities" if facility_type is None else f"{facility_type.replace('_', ' ')} facilities"
    )
    label = (
        f"{len(rating.score):,} synthetic reference {kind} "
        "(the book the default model is calibrated on)"
    )
    return rating.score, label
