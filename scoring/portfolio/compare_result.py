"""The typed result of comparing two scored books (see :mod:`scoring.portfolio.compare`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from scoring.rating.plan import Outcome

Status = Literal["matched", "answers_changed", "only_before", "only_after"]
STATUSES: tuple[Status, ...] = ("matched", "answers_changed", "only_before", "only_after")

OutcomeMove = Literal["newly_quotable", "newly_referred", "newly_declined"]
_MOVES: dict[Outcome, OutcomeMove] = {
    "quote": "newly_quotable",
    "refer": "newly_referred",
    "decline": "newly_declined",
}

FACILITY_COLUMNS: tuple[str, ...] = (
    "facility_id",
    "facility_name",
    "facility_type",
    "limit",
    "status",
    "changed_answers",
    "tier_before",
    "tier_after",
    "premium_before",
    "premium_after",
    "premium_change",
    "change_pct",
    "outcome_before",
    "outcome_after",
    "rules_added",
    "rules_removed",
    "premium_capped",
)
"""Columns of :attr:`Comparison.facilities`, one row per facility of either book."""

BANDS: tuple[tuple[str, float, float], ...] = (
    ("<= -25%", -np.inf, -25.0),
    ("-25% to -10%", -25.0, -10.0),
    ("-10% to -2%", -10.0, -2.0),
    ("-2% to +2%", -2.0, 2.0),
    ("+2% to +10%", 2.0, 10.0),
    ("+10% to +25%", 10.0, 25.0),
    (">= +25%", 25.0, np.inf),
)
"""Premium change bands ``(label, low, high)``: below 0 a band holds ``low < x <= high``,
above 0 ``low <= x < high``, and the middle band ``-2 < x < +2`` (changes rounded to 1e-6 %)."""


@dataclass(frozen=True)
class BookVersions:
    """The distinct model, rating plan and questionnaire versions a book was scored with."""

    model_id: tuple[str, ...]
    model_sha256: tuple[str, ...]
    rating_plan: tuple[str, ...]
    questionnaire: tuple[str, ...]
    rating_plan_sha256: tuple[str, ...] = ()
    """Empty for books written before the plan's sha256 was kept."""


@dataclass(frozen=True)
class Book:
    """One side of the comparison: the file, its facilities, total premium and versions."""

    path: str
    facilities: int
    premium: float
    versions: BookVersions


@dataclass(frozen=True)
class TierMigration:
    """Matched facilities counted by tier before (rows) and after (columns), best tier first."""

    tiers: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]

    @property
    def better(self) -> int:
        """Facilities now in a better tier (below the diagonal)."""
        return sum(sum(row[:i]) for i, row in enumerate(self.counts))

    @property
    def worse(self) -> int:
        """Facilities now in a worse tier (above the diagonal)."""
        return sum(sum(row[i + 1 :]) for i, row in enumerate(self.counts))

    @property
    def same(self) -> int:
        return sum(row[i] for i, row in enumerate(self.counts))


@dataclass(frozen=True)
class PremiumBand:
    """Matched facilities whose premium changed by a percentage within one of ``BANDS``."""

    label: str
    facilities: int
    premium_before: float
    premium_after: float


@dataclass(frozen=True)
class OutcomeChange:
    """A matched facility whose outcome changed, and the rules that appeared or went."""

    facility_id: str
    facility_name: str | None
    outcome_before: Outcome
    outcome_after: Outcome
    rules_added: tuple[str, ...]
    rules_removed: tuple[str, ...]

    @property
    def move(self) -> OutcomeMove:
        return _MOVES[self.outcome_after]


@dataclass(frozen=True)
class RuleTally:
    """How many outcome changes a rule (or ``tier_X``) appeared in, and went from."""

    rule: str
    added: int
    removed: int


@dataclass(frozen=True)
class FactorChange:
    """A question's premium effect in each book's drivers (0 where not listed) and its change."""

    question_id: str
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after - self.before


@dataclass(frozen=True)
class Mover:
    """A matched facility among the largest absolute premium changes."""

    facility_id: str
    facility_name: str | None
    tier_before: str
    tier_after: str
    outcome_before: Outcome
    outcome_after: Outcome
    premium_before: float
    premium_after: float
    factors: tuple[FactorChange, ...]

    @property
    def change(self) -> float:
        return self.premium_after - self.premium_before

    @property
    def change_pct(self) -> float:
        return _pct(self.premium_before, self.premium_after)


@dataclass(frozen=True)
class Segment:
    """The matched facilities of one value of a segment, and their total premium."""

    segment: str
    value: str
    facilities: int
    premium_before: float
    premium_after: float

    @property
    def change(self) -> float:
        return self.premium_after - self.premium_before

    @property
    def change_pct(self) -> float:
        return _pct(self.premium_before, self.premium_after)


@dataclass(frozen=True)
class Capping:
    """A transition cap: each matched premium kept within +/- ``cap`` of its premium before.

    ``increase_forgone`` is the sum of uncapped minus capped premium over the capped
    increases; ``decrease_withheld`` the sum of capped minus uncapped premium over
    the capped decreases, so ``premium_capped = premium_after - increase_forgone +
    decrease_withheld`` over the matched facilities.
    """

    cap: float
    premium_capped: float
    increase_forgone: float
    decrease_withheld: float
    capped_increases: int
    capped_decreases: int


@dataclass(frozen=True)
class Comparison:
    """The dislocation of a rescored book (see the module docstring).

    ``facilities`` has one row per facility of either book, with the columns of
    ``FACILITY_COLUMNS`` (``rules_added`` / ``rules_removed`` joined by ``;``,
    ``premium_capped`` set for matched facilities when capped): the before book's
    order, then the facilities only in the after book in its order.
    """

    before: Book
    after: Book
    facilities: pd.DataFrame
    migration: TierMigration
    bands: tuple[PremiumBand, ...]
    outcome_changes: tuple[OutcomeChange, ...]
    rules: tuple[RuleTally, ...]
    movers: tuple[Mover, ...]
    capping: Capping | None
    segments: tuple[Segment, ...] = ()
    """Premium change by segment (:mod:`scoring.portfolio.compare_segments`)."""
    rules_unchanged_outcome: tuple[RuleTally, ...] = ()
    """Rules that appeared or went where the outcome did not change."""
    version_warnings: tuple[str, ...] = ()
    """Models or plans of the same version whose files differ, in words."""

    def count(self, status: Status) -> int:
        return int((self.facilities["status"] == status).sum())

    @property
    def counts(self) -> dict[Status, int]:
        return {status: self.count(status) for status in STATUSES}

    @property
    def premium_before(self) -> float:
        """Total premium before of the matched facilities."""
        return float(self._matched["premium_before"].sum())

    @property
    def premium_after(self) -> float:
        """Total premium after of the matched facilities."""
        return float(self._matched["premium_after"].sum())

    @property
    def questionnaire_differs(self) -> bool:
        return self.before.versions.questionnaire != self.after.versions.questionnaire

    def moves(self, move: OutcomeMove) -> int:
        return sum(1 for change in self.outcome_changes if change.move == move)

    @property
    def _matched(self) -> pd.DataFrame:
        return self.facilities[self.facilities["status"] == "matched"]


def _pct(before: float, after: float) -> float:
    if before > 0:
        return (after - before) / before * 100.0
    return 0.0 if after == before else float(np.copysign(np.inf, after - before))
