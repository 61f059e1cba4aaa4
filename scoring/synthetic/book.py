"""A synthetic book of facility-years with claims, drawn from a known ground truth.

The facilities are drawn from the questionnaire's market
(:mod:`scoring.synthetic.market`). Each facility keeps its profile from year to
year; its security maturity drifts up a little and each control is redrawn with
a small probability, so answers change a little from year to year. Claims per
peril are Poisson with the true frequency times the exposure; claim sizes are
lognormal around the true mean. The book is written in the claims-history format
(docs/claims-history.md), the same format an insurer's own data must follow.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute
import pyarrow.parquet as pq

from scoring._outputs import create_new, partial_path, write_atomically
from scoring.features.encoder import FeatureEncoder
from scoring.model.claims_history import BOOK_AS_OF, facility_years
from scoring.questionnaire.definition import Questionnaire
from scoring.responses.reading import RawResponses
from scoring.responses.validation import validate
from scoring.synthetic.responses import (
    answers_table,
    draw_answers,
    draw_maturity,
    synthetic_responses,
)
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
"""Yearly improvement of a facility's security maturity (its percentile under a market)."""
PARTIAL_YEAR_SHARE = 0.15
"""Share of facility-years on cover for part of the year only."""
SYNTH_BLOCK = 200_000
"""Facilities drawn at a time: a bigger book is drawn and written block by block, so
memory stays bounded (a block of five years peaked at 7.4 GB)."""


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
    """Draw a book of ``facilities`` x ``years`` facility-years with claims, in memory.

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
    blocks = list(
        synthetic_blocks(
            questionnaire,
            truth,
            facilities=facilities,
            years=years,
            seed=seed,
            first_year=first_year,
        )
    )
    if len(blocks) == 1:
        return blocks[0]
    return (
        pa.concat_tables([book for book, _ in blocks]),
        pd.concat([oracle for _, oracle in blocks], ignore_index=True),
    )


def synthetic_blocks(
    questionnaire: Questionnaire,
    truth: ResolvedTruth,
    *,
    facilities: int,
    years: int,
    seed: int,
    first_year: int = 2021,
) -> Iterator[tuple[pa.Table, pd.DataFrame]]:
    """The book of :func:`synthetic_book` drawn ``SYNTH_BLOCK`` facilities at a time.

    Each block holds every year of its facilities, and one random stream runs through
    the blocks in order: the same seed gives the same book, and the first block of a
    bigger book is the whole book of ``SYNTH_BLOCK`` facilities drawn from that seed.
    """
    if facilities < 1 or years < 1:
        raise ValueError(f"facilities and years must be at least 1; got {facilities}, {years}")
    rng = np.random.default_rng(seed)
    width = len(str(facilities))
    for start in range(0, facilities, SYNTH_BLOCK):
        ids = pa.array(
            [f"F{i:0{width}d}" for i in range(start + 1, min(start + SYNTH_BLOCK, facilities) + 1)]
        )
        yield _block(questionnaire, truth, rng, ids, years=years, first_year=first_year)


def _block(
    questionnaire: Questionnaire,
    truth: ResolvedTruth,
    rng: np.random.Generator,
    ids: pa.Array,
    *,
    years: int,
    first_year: int,
) -> tuple[pa.Table, pd.DataFrame]:
    facilities = len(ids)
    maturity = draw_maturity(questionnaire, rng, facilities)
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
    # float even when no row has a claim (bincount of nothing is integer)
    return np.bincount(rows, weights=sizes, minlength=counts.size).astype(np.float64)


def write_book(book: pa.Table, oracle: pd.DataFrame, truth: ResolvedTruth, path: Path) -> None:
    """Write a book and, beside it, ``<stem>.truth.parquet`` and ``<stem>.truth.json``."""
    write_blocks([(book, oracle)], truth, path)


def write_blocks(
    blocks: Iterable[tuple[pa.Table, pd.DataFrame]], truth: ResolvedTruth, path: Path
) -> int:
    """Write a book block by block (see :func:`synthetic_blocks`), and its truth beside it.

    Each file is written aside and renamed once complete (nothing is left when drawing
    or writing fails); returns the facility-years written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    targets = (path, path.with_suffix(".truth.parquet"))
    partials = [partial_path(target) for target in targets]
    # written aside through files created exclusively, never through a symlink
    sinks: list[BinaryIO] = []
    writers: list[pq.ParquetWriter] = []
    rows = 0
    try:
        for book, oracle in blocks:
            keys = book.select(["facility_id", "policy_year"]).to_pandas()
            frames = pa.Table.from_pandas(pd.concat([keys, oracle], axis=1), preserve_index=False)
            if not writers:
                for partial, table in zip(partials, (book, frames), strict=True):
                    sinks.append(create_new(partial))
                    writers.append(pq.ParquetWriter(sinks[-1], table.schema))
            writers[0].write_table(book)
            writers[1].write_table(frames)
            rows += book.num_rows
        for writer in writers:
            writer.close()
        for sink in sinks:
            sink.close()
    except BaseException:
        for writer in writers:
            writer.close()
        for sink in sinks:
            sink.close()
        for partial in partials[: len(sinks)]:
            partial.unlink(missing_ok=True)
        raise
    for partial, target in zip(partials, targets, strict=True):
        os.replace(partial, target)
    text = json.dumps(truth.model_dump(mode="json"), indent=1) + "\n"
    write_atomically(path.with_suffix(".truth.json"), text.encode("utf-8"))
    return rows
