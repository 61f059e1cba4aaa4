"""A synthetic book of facility-years with claims, drawn from a known ground truth.

Each facility keeps its profile from year to year; its security maturity
drifts up a little and each control is redrawn with a small probability, so
answers change a little from year to year. Claims per peril are Poisson with
the true frequency times the exposure; claim sizes are lognormal around the
true mean. The book is written in the claims-history format
(docs/claims-history.md), the same format an insurer's own data must follow.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute

from scoring.features.encoder import FeatureEncoder
from scoring.model.claims_history import BOOK_AS_OF, facility_years, write_parquet
from scoring.questionnaire.definition import Questionnaire
from scoring.responses.reading import RawResponses
from scoring.responses.validation import validate
from scoring.synthetic.responses import answers_table, draw_answers, synthetic_responses
from scoring.synthetic.truth import (
    REFERENCE_DATE,
    REFERENCE_FACILITIES,
    REFERENCE_SEED,
    GroundTruth,
    ResolvedTruth,
    resolve,
)
from scoring.vocabulary import Peril

CHANGE_SHARE = 0.1
"""Chance that a control's answer is redrawn from one year to the next."""
MATURITY_DRIFT = 0.03
"""Yearly improvement of a facility's security maturity."""
PARTIAL_YEAR_SHARE = 0.15
"""Share of facility-years on cover for part of the year only."""


def encode_answers(table: pa.Table, questionnaire: Questionnaire, source: str) -> pd.DataFrame:
    """Validate synthetic answers and encode them as features (every row must be valid)."""
    result = validate(
        RawResponses(table=table, source=source, first_row=1), questionnaire, as_of=BOOK_AS_OF
    )
    if not result.is_valid:
        errors = result.issues[result.issues["severity"] == "error"]
        raise RuntimeError(f"synthetic answers failed validation: {errors.head(3).to_dict()}")
    encoder = FeatureEncoder(questionnaire).fit(result.table)
    return pd.DataFrame(encoder.transform(result.table), columns=encoder.get_feature_names_out())


def resolve_truth(truth: GroundTruth, questionnaire: Questionnaire) -> ResolvedTruth:
    """The truth calibrated on the fixed reference book (same file -> same numbers)."""
    reference = synthetic_responses(
        questionnaire, REFERENCE_FACILITIES, seed=REFERENCE_SEED, as_of=REFERENCE_DATE
    )
    return resolve(truth, encode_answers(reference, questionnaire, "reference book"))


def synthetic_book(
    questionnaire: Questionnaire,
    truth: ResolvedTruth,
    *,
    facilities: int,
    years: int,
    seed: int,
    first_year: int = 2021,
) -> tuple[pa.Table, pd.DataFrame]:
    """Draw a book of ``facilities`` x ``years`` facility-years with claims.

    Returns
    -------
    book : pyarrow.Table
        The claims-history format: ``facility_id``, ``policy_year``,
        ``exposure``, the response columns (text), and ``claims_<peril>`` and
        ``loss_<peril>`` for every peril.
    oracle : pandas.DataFrame
        Row by row, the true ``expected_claims_<peril>`` (exposure included) and
        ``expected_claim_<peril>`` (mean claim size).
    """
    if facilities < 1 or years < 1:
        raise ValueError(f"facilities and years must be at least 1; got {facilities}, {years}")
    rng = np.random.default_rng(seed)
    maturity = rng.beta(2.0, 2.0, size=facilities)
    width = len(str(facilities))
    ids = pa.array([f"F{i:0{width}d}" for i in range(1, facilities + 1)])
    previous = None
    tables = []
    for year in range(years):
        as_of = np.full(facilities, np.datetime64(dt.date(first_year + year, 1, 1), "D"))
        typed = draw_answers(
            questionnaire,
            rng,
            np.clip(maturity + MATURITY_DRIFT * year, 0, 1),
            as_of,
            previous=previous,
            change_share=CHANGE_SHARE,
        )
        table = answers_table(questionnaire, typed, ids, as_of)
        partial = rng.random(facilities) < PARTIAL_YEAR_SHARE
        exposure = np.where(partial, np.round(rng.uniform(0.1, 1.0, facilities), 3), 1.0)
        table = table.add_column(1, "policy_year", pa.array(np.full(facilities, first_year + year)))
        table = table.add_column(2, "exposure", pa.array(exposure))
        tables.append(table)
        previous = typed
    book = pa.concat_tables(tables)
    features = encode_answers(
        facility_years(book, book["policy_year"].to_numpy()), questionnaire, "synthetic book"
    )
    exposure = book["exposure"].to_numpy()
    oracle: dict[str, np.ndarray] = {}
    for peril in Peril:
        spec = truth.perils[peril]
        expected = exposure * truth.frequency(peril, features)
        mean_claim = truth.mean_claim(peril, features)
        counts = rng.poisson(expected)
        book = book.append_column(f"claims_{peril.value}", pa.array(counts.astype(np.int64)))
        book = book.append_column(
            f"loss_{peril.value}", pa.array(_losses(rng, counts, mean_claim, spec.sigma))
        )
        oracle[f"expected_claims_{peril.value}"] = expected
        oracle[f"expected_claim_{peril.value}"] = mean_claim
    return book, pd.DataFrame(oracle)


def _losses(
    rng: np.random.Generator, counts: np.ndarray, mean_claim: np.ndarray, sigma: float
) -> np.ndarray:
    """Sum of ``counts`` lognormal claims per row with the given means."""
    rows = np.repeat(np.arange(counts.size), counts)
    mu = np.log(mean_claim[rows]) - sigma**2 / 2
    sizes = np.round(rng.lognormal(mu, sigma), 2)
    return np.bincount(rows, weights=sizes, minlength=counts.size)


def write_book(book: pa.Table, oracle: pd.DataFrame, truth: ResolvedTruth, path: Path) -> None:
    """Write a book and, beside it, ``<stem>.truth.parquet`` and ``<stem>.truth.json``."""
    write_parquet(book, path)
    keys = book.select(["facility_id", "policy_year"]).to_pandas()
    write_parquet(
        pa.Table.from_pandas(pd.concat([keys, oracle], axis=1), preserve_index=False),
        path.with_suffix(".truth.parquet"),
    )
    path.with_suffix(".truth.json").write_text(
        json.dumps(truth.model_dump(mode="json"), indent=1) + "\n", encoding="utf-8"
    )
