"""A book's exposure: what the simulation needs of each facility, as arrays.

Per facility: each peril's claims a year and mean claim (the loss model's own, as
:meth:`RatingEngine.rate` gives them), the layer (retention and each peril's limit,
from the rating plan through :meth:`RatingEngine.peril_limits`), premium and expected
loss, the vendor of each category it depends on (normalised through the vendor
catalogue), and for each event type the factors its controls put on its chance of
being hit and on its loss.

A scored book (the output of ``carescore batch``) holds each facility's validated
answers in one canonical text (the ``answers`` column): :func:`scored_book_exposure`
reads them back, validates and encodes them again and rates them with the same
engine, so nothing of the rating plan is re-implemented here. The claims a year are
then scaled so that each peril's expected loss is the book's own figure to the cent
(a date control read at another assessment date moves it slightly).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from scoring.accumulation.catalogue import (
    NOT_EXPOSED,
    OTHER,
    Category,
    EventCatalogue,
    VendorCatalogue,
)
from scoring.accumulation.msp import NOT_NAMED, msp_groups
from scoring.errors import InputError, Issue
from scoring.portfolio.book_answers import (
    NOT_APPLICABLE_TEXT,
    UNKNOWN_TEXT,
    answer_items,
    written_text,
)
from scoring.rating.engine import PERILS, RatingEngine, peril_total
from scoring.responses.reading import RawResponses
from scoring.responses.validation import validate
from scoring.vocabulary import AnswerKind, Reason, Severity

EXPOSURE_CHUNK = 20_000
"""Rows of a scored book validated and rated again at a time (memory stays bounded)."""
NO_VENDOR = -1
"""The vendor index of a facility not exposed to a category, or using an uncatalogued
(``other``) vendor: no catalogued event reaches it."""


@dataclass(frozen=True)
class VendorUse:
    """Which vendor of one category each facility depends on."""

    category: Category
    index: np.ndarray
    """Index into ``category.vendors`` per facility; :data:`NO_VENDOR` for none/other."""
    code: np.ndarray
    """The vendor code per facility (``none``, ``other`` or a catalogued code)."""
    allocated: np.ndarray
    """True where the answer said nothing and the vendor was allocated by market share."""
    keys: tuple[str, ...] = ()
    """For a category by name (the MSP): the vendors' keys, which ``index`` points into
    (:func:`~scoring.accumulation.msp.msp_groups`); empty otherwise."""
    labels: tuple[str, ...] = ()
    """For a category by name: each key's name as the report shows it."""
    spellings: tuple[int, ...] = ()
    """For a category by name: how many distinct spellings each key gathered."""

    @property
    def answered(self) -> np.ndarray:
        """True where the facility depends on the category and its answer said which
        vendor (a catalogued one, ``other``, or an MSP's name; not "not named")."""
        said = (self.code != NOT_EXPOSED) & (self.code != NOT_NAMED)
        answered: np.ndarray = said & ~self.allocated
        return answered


@dataclass(frozen=True)
class BookExposure:
    """Every figure of a book the accumulation engine reads (n facilities)."""

    facility_id: np.ndarray
    frequency: np.ndarray
    """Claims a year per peril, (n, perils)."""
    mean_claim: np.ndarray
    """Mean ground-up claim per peril, (n, perils)."""
    sigma: np.ndarray
    """The loss model's lognormal shape per peril, (perils,)."""
    retention: np.ndarray
    peril_limit: np.ndarray
    """Each peril's limit in the layer (the plan's sublimits applied), (n, perils)."""
    limit: np.ndarray
    premium: np.ndarray
    expected_loss: np.ndarray
    """Ground-up expected loss a year, all perils."""
    layer_loss: np.ndarray
    """Expected loss a year in the layer, all perils: the book's attritional mean."""
    vendors: Mapping[str, VendorUse]
    hit_factor: Mapping[str, np.ndarray]
    """Per event type: each facility's chance of being hit relative to the event's mean."""
    loss_factor: Mapping[str, np.ndarray]
    """Per event type: each facility's loss relative to the model's severity."""
    sources: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.facility_id)


def allocation_draw(facility_ids: np.ndarray, salt: str) -> np.ndarray:
    """A number in [0, 1) per facility from its id alone (blake2b of salt and id), so an
    allocation by market share is the same in every run and every order of the book."""
    out = np.empty(len(facility_ids))
    prefix = salt.encode() + b"\x00"
    for i, fid in enumerate(facility_ids):
        digest = hashlib.blake2b(prefix + str(fid).encode(), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "big") / 2.0**64
    return out


def _exposed(category: Category, answers: pd.DataFrame, n: int) -> np.ndarray:
    """Where the category's exposure question says the facility depends on it."""
    if category.exposed_when is None:
        return np.ones(n, dtype=bool)
    question = category.exposed_when.question
    column = answers[question] if question in answers.columns else pd.Series([None] * n)
    exposed: np.ndarray = column.isin(list(category.exposed_when.answers)).to_numpy()
    return exposed


def vendor_use(category: Category, facility_ids: np.ndarray, answers: pd.DataFrame) -> VendorUse:
    """Each facility's vendor of ``category`` from the answers (text per question id):
    the category's question normalised through the catalogue, ``none`` where the
    category's exposure question says the facility does not depend on it, and the
    vendor drawn by market share (:func:`allocation_draw`) where nothing is known.
    A category by name (the MSP) groups the facilities by the name they give
    (:func:`~scoring.accumulation.msp.msp_groups`); nothing of it is allocated."""
    n = len(facility_ids)
    given = (
        answers[category.question].to_numpy(dtype=object)
        if category.question and category.question in answers.columns
        else np.full(n, None, dtype=object)
    )
    if category.by_name:
        index, code, keys, labels, spellings = msp_groups(given, _exposed(category, answers, n))
        return VendorUse(category, index, code, np.zeros(n, dtype=bool), keys, labels, spellings)
    # each distinct answer normalised once (a book has few)
    distinct = pd.Series(given, dtype=object).fillna("")
    names = {a: category.vendor_code(a) for a in distinct.unique()}
    codes = np.array([names[a] for a in distinct], dtype=object)
    unknown = np.array([c is None for c in codes])
    if unknown.any():
        shares = np.cumsum([v.market_share for v in category.vendors])
        draws = allocation_draw(facility_ids[unknown], category.code)
        picked = np.searchsorted(shares, draws, side="right")
        choices = np.array([v.code for v in category.vendors] + [OTHER], dtype=object)
        codes[unknown] = choices[picked]
    if category.exposed_when is not None:
        exposed = _exposed(category, answers, n)
        codes[~exposed] = NOT_EXPOSED
        unknown &= exposed
    lookup = {v.code: i for i, v in enumerate(category.vendors)}
    index = np.array([lookup.get(c, NO_VENDOR) for c in codes], dtype=np.int64)
    return VendorUse(category, index, codes, unknown)


def control_factors(
    events: EventCatalogue, answers: pd.DataFrame
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per event type, each facility's hit and loss factors: the product of the factors
    of the controls it answers as the catalogue names (1 where it does not)."""
    n = len(answers)
    hit: dict[str, np.ndarray] = {}
    loss: dict[str, np.ndarray] = {}
    for event in events.events:
        h, f = np.ones(n), np.ones(n)
        for effect in event.controls:
            if effect.question not in answers.columns:
                continue
            match = answers[effect.question].isin(list(effect.answers)).to_numpy()
            h[match] *= effect.hit_factor
            f[match] *= effect.loss_factor
        hit[event.code], loss[event.code] = h, f
    return hit, loss


def _cell(answer: str, kind: AnswerKind) -> str:
    """A canonical answer as a cell the reader reads back to the same answer."""
    if answer == UNKNOWN_TEXT:
        return "unknown"
    if answer == NOT_APPLICABLE_TEXT:
        return "n/a"
    if kind is AnswerKind.MULTIPLE_CHOICE:
        return answer.replace("+", ";")
    return written_text(answer)


def answers_frame(texts: pd.Series) -> pd.DataFrame:
    """A scored book's canonical answers texts as one text column per question."""
    rows = [answer_items(t) for t in texts]
    return pd.DataFrame.from_records(rows, index=texts.index)


def _questions_read(events: EventCatalogue, vendors: VendorCatalogue) -> set[str]:
    """The questions whose answers the vendors and the control factors read."""
    kept = {c.question for c in vendors.categories if c.question}
    kept |= {c.exposed_when.question for c in vendors.categories if c.exposed_when}
    kept |= {effect.question for event in events.events for effect in event.controls}
    return kept


def _rated_chunk(
    engine: RatingEngine,
    book: pd.DataFrame,
    limit: np.ndarray,
    retention: np.ndarray,
    kept: set[str],
    as_of: dt.date,
    source: str,
    first: int,
) -> tuple[np.ndarray, pd.DataFrame, list[Issue]]:
    """Some rows of a scored book validated, encoded and rated again: each peril's mean
    claim, the answers of the ``kept`` questions, and the rows' errors (numbered as the
    book's rows, ``first`` the first's index)."""
    items = answers_frame(book["answers"].reset_index(drop=True))
    questionnaire = engine.questionnaire
    n = len(book)
    columns: dict[str, pa.Array] = {
        "facility_id": pa.array(book["facility_id"].astype(str).tolist(), pa.string()),
        "questionnaire": pa.array([questionnaire.id] * n, pa.string()),
        "questionnaire_version": pa.array([questionnaire.version] * n, pa.string()),
    }
    for question in questionnaire.questions:
        # every question has its column, though no row of these answers it
        given = items[question.id] if question.id in items.columns else [None] * n
        cells = [None if not isinstance(a, str) else _cell(a, question.kind) for a in given]
        columns[question.id] = pa.array(cells, pa.string())
    raw = RawResponses(pa.table(columns), source, first_row=2 + first)
    validation = validate(raw, questionnaire, as_of=as_of, warnings=False)
    errors = [
        Issue(
            Reason(r["reason"]),
            f"the book's answers fail validation again: {r['message']}",
            source=source,
            row=int(r["row"]) if pd.notna(r["row"]) else None,
            question_id=r["question_id"] if isinstance(r["question_id"], str) else None,
        )
        for r in validation.issues.to_dict("records")
        if r["severity"] == Severity.ERROR.value
    ]
    if errors:
        return np.empty((0, len(PERILS))), items.iloc[:0], errors
    features = engine.encoder.transform(validation.table)
    hits = engine.rule_hits(engine.rule_env(validation.answers), n)
    rating = engine.rate(features, hits, limit, retention)
    return rating.mean_claim, items[[c for c in items.columns if c in kept]], []


def scored_book_exposure(
    book: pd.DataFrame,
    engine: RatingEngine,
    events: EventCatalogue,
    vendors: VendorCatalogue,
    *,
    as_of: dt.date,
    source: str = "<book>",
) -> BookExposure:
    """The exposure of a scored book (the columns ``carescore batch`` writes).

    Raises
    ------
    InputError
        A row's answers no longer pass validation under the engine's questionnaire,
        or a column is missing (every problem listed).
    """
    needed = ["facility_id", "answers", "limit", "retention", "premium", "expected_loss"]
    needed += [f"expected_loss_{p.value}" for p in PERILS]
    missing = [c for c in needed if c not in book.columns]
    if missing:
        raise InputError(
            [
                Issue(
                    Reason.MISSING_COLUMN,
                    "not a scored book (an output of carescore batch): missing column(s) "
                    + ", ".join(missing),
                    source=source,
                )
            ]
        )
    facility_ids = book["facility_id"].astype(str).to_numpy(dtype=object)
    amounts = {o.code: o.amount for o in (*engine.plan.limits, *engine.plan.retentions)}
    limit = book["limit"].map(amounts).to_numpy(dtype=np.float64)
    retention = book["retention"].map(amounts).to_numpy(dtype=np.float64)
    kept = _questions_read(events, vendors)
    mean_claim, answers, errors = [], [], []
    for first in range(0, len(book), EXPOSURE_CHUNK):
        rows = slice(first, first + EXPOSURE_CHUNK)
        chunk_claim, chunk_answers, chunk_errors = _rated_chunk(
            engine, book.iloc[rows], limit[rows], retention[rows], kept, as_of, source, first
        )
        mean_claim.append(chunk_claim)
        answers.append(chunk_answers)
        errors += chunk_errors
    if errors:
        raise InputError(errors)
    claim = np.concatenate(mean_claim)
    read = pd.concat(answers, ignore_index=True).reindex(columns=sorted(kept))
    book_loss = np.column_stack(
        [book[f"expected_loss_{p.value}"].to_numpy(dtype=np.float64) for p in PERILS]
    )
    frequency = np.where(claim > 0, book_loss / claim, 0.0)
    hit, loss = control_factors(events, read)
    return BookExposure(
        facility_id=facility_ids,
        frequency=frequency,
        mean_claim=claim,
        sigma=engine.sigma.copy(),
        retention=retention,
        peril_limit=engine.peril_limits(limit),
        limit=limit,
        premium=book["premium"].to_numpy(dtype=np.float64),
        expected_loss=peril_total(book_loss),
        layer_loss=peril_total(engine.layer_loss(frequency, claim, limit, retention)),
        vendors={c.code: vendor_use(c, facility_ids, read) for c in vendors.categories},
        hit_factor=hit,
        loss_factor=loss,
    )
