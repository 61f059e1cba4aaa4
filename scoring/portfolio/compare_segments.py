"""What a comparison tells beyond the whole book: premium change by segment, every rule
that appeared or went (with or without an outcome change), and versions that read the
same but are not.

A segment is the matched facilities sharing a facility type, a tier before, a limit
or an outcome before; its premium change is that of their total premium. A rating
plan or model edited without a new version shows the same name in both books: the
sha256 each book carries tells them apart, and :func:`version_warnings` says so.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from scoring.portfolio.compare_result import Book, RuleTally, Segment

SEGMENTS: tuple[tuple[str, str], ...] = (
    ("facility type", "facility_type"),
    ("tier before", "tier_before"),
    ("limit", "limit"),
    ("outcome before", "outcome_before"),
)
"""The segments a comparison sums premium over: ``(name, facility column)``."""


def segments(matched: pd.DataFrame) -> tuple[Segment, ...]:
    """Premium before and after of the matched facilities, by each of ``SEGMENTS``
    (values in sorted order; a facility without a value counts as ``(unknown)``)."""
    found = []
    for name, column in SEGMENTS:
        if matched.empty:
            continue
        values = matched[column].fillna("(unknown)").astype(str)
        sums = matched.groupby(values.to_numpy(), sort=True)[
            ["premium_before", "premium_after"]
        ].agg(["sum", "count"])
        for value, row in sums.iterrows():
            found.append(
                Segment(
                    name,
                    str(value),
                    int(row[("premium_before", "count")]),
                    float(row[("premium_before", "sum")]),
                    float(row[("premium_after", "sum")]),
                )
            )
    return tuple(found)


def _rules(text: object) -> tuple[str, ...]:
    return tuple(r for r in str(text).split(";") if r) if isinstance(text, str) else ()


def rule_changes(matched: pd.DataFrame) -> tuple[RuleTally, ...]:
    """How many matched facilities whose outcome did not change each rule (or
    ``tier_X``) appeared in or went from, the most frequent first (those whose outcome
    changed are in :attr:`Comparison.rules`)."""
    same = (matched["outcome_before"] == matched["outcome_after"]).to_numpy()
    added = Counter(r for text in matched["rules_added"][same] for r in _rules(text))
    removed = Counter(r for text in matched["rules_removed"][same] for r in _rules(text))
    tallies = [RuleTally(rule, added[rule], removed[rule]) for rule in added.keys() | removed]
    return tuple(sorted(tallies, key=lambda t: (-(t.added + t.removed), t.rule)))


def version_warnings(before: Book, after: Book) -> tuple[str, ...]:
    """A sentence for each model or rating plan whose version reads the same in both
    books while its sha256 differs: it was edited without a new version."""
    warnings = []
    old, new = before.versions, after.versions
    for what, names, hashes in (
        ("model", (old.model_id, new.model_id), (old.model_sha256, new.model_sha256)),
        (
            "rating plan",
            (old.rating_plan, new.rating_plan),
            (old.rating_plan_sha256, new.rating_plan_sha256),
        ),
    ):
        if names[0] and names[0] == names[1] and all(hashes) and hashes[0] != hashes[1]:
            shown = [", ".join(h[:12] for h in side) for side in hashes]
            warnings.append(
                f"the {what} {', '.join(names[0])} reads the same in both books but its "
                f"files differ (sha256 {shown[0]} before, {shown[1]} after): it was edited "
                "without a new version, so the two sides cannot be told apart by name"
            )
    return tuple(warnings)


def facility_types(answers: pd.Series) -> np.ndarray:
    """Each facility's ``facility_type`` answer, read from a book's ``answers`` column
    (None where the book does not say)."""
    result = np.full(len(answers), None, dtype=object)
    for i, text in enumerate(answers.to_numpy()):
        if isinstance(text, str):
            for part in text.split(";"):
                if part.startswith("facility_type="):
                    result[i] = part.partition("=")[2]
                    break
    return result
