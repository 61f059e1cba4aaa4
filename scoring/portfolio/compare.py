"""The dislocation of a rescored book: who moves, by how much, and why.

Two outputs of ``carescore batch`` for the same book - *before* and *after* a new
model or rating plan - are matched by ``facility_id``. A facility found in both
whose validated answers are the same (``answers_sha256``: codes, canonical numbers
and dates, however the cells were typed - the same book read from its CSV and from
its XLSX matches) is *matched*; one whose answers differ is *answers_changed* (its
move is not the rescore's, so it is listed, with the questions whose answers
changed, but kept out of the statistics below); the rest are *only_before*
(dropped) or *only_after* (added). Every facility of either book is in exactly one
group. Books written before ``answers_sha256`` was added are matched by their input
rows as read (``input_sha256``).

Over the matched facilities :func:`compare_books` gives the tier migration matrix,
the premium changes in percent bands, the outcome changes with the rules that
appeared or went, the biggest movers with the answers that moved them (the
change of each question's effect in ``drivers``; a question absent from one
book's drivers counts as 0 there, as drivers list only the top answers), and,
with ``cap``, the premiums of a capped transition.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from scoring.errors import InputError
from scoring.portfolio.book_answers import changed_answers
from scoring.portfolio.compare_read import load_book
from scoring.portfolio.compare_result import (
    BANDS,
    FACILITY_COLUMNS,
    STATUSES,
    Book,
    BookVersions,
    Capping,
    Comparison,
    FactorChange,
    Mover,
    OutcomeChange,
    OutcomeMove,
    PremiumBand,
    RuleTally,
    Segment,
    Status,
    TierMigration,
)
from scoring.portfolio.compare_segments import (
    facility_types,
    rule_changes,
    segments,
    version_warnings,
)


def _rules(text: object) -> tuple[str, ...]:
    return tuple(r for r in str(text).split(";") if r) if isinstance(text, str) else ()


def _drivers(text: object) -> dict[str, float]:
    effects: dict[str, float] = {}
    for part in _rules(text):
        question, _, value = part.rpartition(":")
        effects[question] = float(value)
    return effects


def factor_changes(before: object, after: object) -> tuple[FactorChange, ...]:
    """The change of each question's effect between two ``drivers`` texts, largest first.

    Examples
    --------
    >>> [(f.question_id, f.change) for f in factor_changes("a:+10.00;b:-5.00", "a:+4.00;c:+1.50")]
    [('a', -6.0), ('b', 5.0), ('c', 1.5)]
    """
    old, new = _drivers(before), _drivers(after)
    changes = [
        FactorChange(q, old.get(q, 0.0), new.get(q, 0.0))
        for q in sorted(old.keys() | new.keys())
        if round(new.get(q, 0.0) - old.get(q, 0.0), 6) != 0
    ]
    return tuple(sorted(changes, key=lambda f: -abs(f.change)))


def _versions(frame: pd.DataFrame) -> BookVersions:
    def distinct(column: str) -> tuple[str, ...]:
        return tuple(sorted({str(v) for v in frame[column].dropna()}))

    return BookVersions(
        distinct("model_id"),
        distinct("model_sha256"),
        distinct("rating_plan"),
        distinct("questionnaire"),
        distinct("rating_plan_sha256"),
    )


def _book(path: Path, frame: pd.DataFrame) -> Book:
    return Book(str(path), len(frame), float(frame["premium"].sum()), _versions(frame))


def _facilities(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    both = before.merge(
        after, on="facility_id", how="outer", suffixes=("_before", "_after"), indicator=True
    )
    order = {fid: i for i, fid in enumerate(before["facility_id"])}
    order.update(
        {fid: len(order) + i for i, fid in enumerate(after["facility_id"]) if fid not in order}
    )
    both = both.iloc[np.argsort(both["facility_id"].map(order).to_numpy(), kind="stable")]
    both = both.reset_index(drop=True)
    side = both.pop("_merge").astype(str)
    by_answers = both["answers_sha256_before"].notna() & both["answers_sha256_after"].notna()
    same_input = np.where(
        by_answers,
        both["answers_sha256_before"].fillna("") == both["answers_sha256_after"].fillna(""),
        both["input_sha256_before"].fillna("") == both["input_sha256_after"].fillna(""),
    )
    status = np.select(
        [side == "left_only", side == "right_only", same_input],
        ["only_before", "only_after", "matched"],
        "answers_changed",
    )
    added, removed = [], []
    for old, new in zip(both["reasons_before"], both["reasons_after"], strict=True):
        was, now = _rules(old), _rules(new)
        added.append(";".join(r for r in now if r not in was) or None)
        removed.append(";".join(r for r in was if r not in now) or None)
    premium_before = both["premium_before"].to_numpy(dtype=np.float64)
    premium_after = both["premium_after"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = premium_after - premium_before
        pct = np.where(
            premium_before > 0,
            change / premium_before * 100.0,
            np.where(change == 0, 0.0, np.sign(change) * np.inf),
        )
    old_answers, new_answers = both["answers_before"], both["answers_after"]
    changed = [
        ";".join(changed_answers(old, new)) or None if state == "answers_changed" else None
        for state, old, new in zip(status, old_answers, new_answers, strict=True)
    ]
    names = both["facility_name_after"].where(
        both["facility_name_after"].notna(), both["facility_name_before"]
    )
    kinds = facility_types(both["answers_after"])
    kinds = np.where(pd.isna(kinds), facility_types(both["answers_before"]), kinds)
    limits = both["limit_before"].where(both["limit_before"].notna(), both["limit_after"])
    frame = pd.DataFrame(
        {
            "facility_id": both["facility_id"].astype("object"),
            "facility_name": names.astype("object").where(names.notna(), None),
            "facility_type": kinds,
            "limit": limits.astype("object").where(limits.notna(), None),
            "status": status.astype(object),
            "changed_answers": changed,
            "tier_before": both["tier_before"].astype("object"),
            "tier_after": both["tier_after"].astype("object"),
            "premium_before": premium_before,
            "premium_after": premium_after,
            "premium_change": change,
            "change_pct": pct,
            "outcome_before": both["outcome_before"].astype("object"),
            "outcome_after": both["outcome_after"].astype("object"),
            "rules_added": added,
            "rules_removed": removed,
            "premium_capped": np.full(len(both), np.nan),
        }
    )
    for column in (
        "facility_name",
        "changed_answers",
        "tier_before",
        "tier_after",
        "outcome_before",
        "outcome_after",
        "rules_added",
        "rules_removed",
    ):
        frame[column] = frame[column].where(frame[column].notna(), None)
    frame["drivers_before"] = both["drivers_before"].to_numpy(dtype=object)
    frame["drivers_after"] = both["drivers_after"].to_numpy(dtype=object)
    return frame


def _migration(matched: pd.DataFrame, tiers: tuple[str, ...]) -> TierMigration:
    table = pd.crosstab(matched["tier_before"], matched["tier_after"])
    table = table.reindex(index=list(tiers), columns=list(tiers), fill_value=0)
    counts = tuple(tuple(int(v) for v in row) for row in table.to_numpy())
    return TierMigration(tiers, counts)


def _bands(matched: pd.DataFrame) -> tuple[PremiumBand, ...]:
    pct = np.round(matched["change_pct"].to_numpy(dtype=np.float64), 6)
    bands = []
    for label, low, high in BANDS:
        if high <= 0:
            inside = (pct > low) & (pct <= high)
        elif low >= 0:
            inside = (pct >= low) & (pct < high)
        else:
            inside = (pct > low) & (pct < high)
        rows = matched[inside]
        bands.append(
            PremiumBand(
                label,
                len(rows),
                float(rows["premium_before"].sum()),
                float(rows["premium_after"].sum()),
            )
        )
    return tuple(bands)


def _outcome_changes(matched: pd.DataFrame) -> tuple[OutcomeChange, ...]:
    moved = matched[matched["outcome_before"] != matched["outcome_after"]]
    return tuple(
        OutcomeChange(
            row["facility_id"],
            row["facility_name"],
            row["outcome_before"],
            row["outcome_after"],
            _rules(row["rules_added"]),
            _rules(row["rules_removed"]),
        )
        for row in moved.to_dict("records")
    )


def _tally(changes: tuple[OutcomeChange, ...]) -> tuple[RuleTally, ...]:
    added = Counter(rule for change in changes for rule in change.rules_added)
    removed = Counter(rule for change in changes for rule in change.rules_removed)
    tallies = [RuleTally(rule, added[rule], removed[rule]) for rule in added.keys() | removed]
    return tuple(sorted(tallies, key=lambda t: (-(t.added + t.removed), t.rule)))


def _movers(matched: pd.DataFrame, count: int) -> tuple[Mover, ...]:
    moved = matched[matched["premium_change"].abs() > 0]
    order = np.lexsort((moved["facility_id"].to_numpy(), -moved["premium_change"].abs().to_numpy()))
    return tuple(
        Mover(
            row["facility_id"],
            row["facility_name"],
            row["tier_before"],
            row["tier_after"],
            row["outcome_before"],
            row["outcome_after"],
            float(row["premium_before"]),
            float(row["premium_after"]),
            factor_changes(row["drivers_before"], row["drivers_after"]),
        )
        for row in moved.iloc[order[:count]].to_dict("records")
    )


def _cap(frame: pd.DataFrame, cap: float) -> Capping:
    matched = (frame["status"] == "matched").to_numpy()
    before = frame["premium_before"].to_numpy(dtype=np.float64)[matched]
    after = frame["premium_after"].to_numpy(dtype=np.float64)[matched]
    # whole dollars, rounded inwards, so a capped premium never moves more than the cap
    high = np.floor(np.round(before * (1.0 + cap), 6))
    low = np.ceil(np.round(before * (1.0 - cap), 6))
    capped = np.clip(after, low, np.maximum(low, high))
    up, down = after > capped, after < capped
    column = frame["premium_capped"].to_numpy(dtype=np.float64, copy=True)
    column[matched] = capped
    frame["premium_capped"] = column
    return Capping(
        cap=cap,
        premium_capped=float(capped.sum()),
        increase_forgone=float((after - capped)[up].sum()),
        decrease_withheld=float((capped - after)[down].sum()),
        capped_increases=int(up.sum()),
        capped_decreases=int(down.sum()),
    )


def _tier_order(frame: pd.DataFrame) -> tuple[str, ...]:
    tiers = {str(t) for column in ("tier_before", "tier_after") for t in frame[column].dropna()}
    return tuple(sorted(tiers))


def compare_books(
    before: Path, after: Path, *, cap: float | None = None, movers: int = 20
) -> Comparison:
    """Compare two scored books of the same facilities (see the module docstring).

    Parameters
    ----------
    before, after : Path
        Outputs of ``carescore batch`` (Parquet or CSV): the book as it was, and rescored.
    cap : float, optional
        Transition cap: each matched premium is kept within ``before x (1 +/- cap)``
        (whole dollars, rounded inwards); must be greater than 0 and at most 1.
    movers : int
        How many of the largest absolute premium changes to explain.

    Returns
    -------
    Comparison

    Raises
    ------
    InputError
        Either file cannot be read, is not a book, misses columns, or holds a
        facility twice; the problems of both files are listed together.
    ValueError
        ``cap`` or ``movers`` is out of range.

    Examples
    --------
    >>> import datetime as dt, tempfile
    >>> from pathlib import Path
    >>> from scoring.questionnaire.loader import questionnaire_dir
    >>> from scoring.rating.score import default_engine
    >>> from scoring.portfolio.run import score_book
    >>> work = tempfile.TemporaryDirectory()
    >>> folder = Path(work.name)
    >>> source = questionnaire_dir() / "examples" / "portfolio.csv"
    >>> book = folder / "book.parquet"
    >>> _ = score_book(source, book, default_engine(), as_of=dt.date(2026, 11, 29))
    >>> same = compare_books(book, book, cap=0.1)
    >>> same.counts["matched"], same.migration.same, same.migration.better + same.migration.worse
    (240, 240, 0)
    >>> same.outcome_changes, same.movers, same.capping.increase_forgone
    ((), (), 0.0)
    >>> work.cleanup()
    """
    if cap is not None and not 0 < cap <= 1:
        raise ValueError(f"cap must be greater than 0 and at most 1; got {cap!r}")
    if movers < 0:
        raise ValueError(f"movers must be 0 or more; got {movers!r}")
    old, old_issues = load_book(before)
    new, new_issues = load_book(after)
    if old_issues or new_issues or old is None or new is None:
        raise InputError([*old_issues, *new_issues])
    frame = _facilities(old, new)
    matched = frame[frame["status"] == "matched"]
    outcome_changes = _outcome_changes(matched)
    capping = None if cap is None else _cap(frame, cap)
    old_book, new_book = _book(before, old), _book(after, new)
    return Comparison(
        before=old_book,
        after=new_book,
        facilities=frame[list(FACILITY_COLUMNS)].copy(),
        migration=_migration(matched, _tier_order(frame)),
        bands=_bands(matched),
        outcome_changes=outcome_changes,
        rules=_tally(outcome_changes),
        movers=_movers(matched, movers),
        capping=capping,
        segments=segments(matched),
        rules_unchanged_outcome=rule_changes(matched),
        version_warnings=version_warnings(old_book, new_book),
    )


__all__ = [
    "BANDS",
    "FACILITY_COLUMNS",
    "STATUSES",
    "Book",
    "BookVersions",
    "Capping",
    "Comparison",
    "FactorChange",
    "Mover",
    "OutcomeChange",
    "OutcomeMove",
    "PremiumBand",
    "RuleTally",
    "Segment",
    "Status",
    "TierMigration",
    "compare_books",
    "factor_changes",
]
