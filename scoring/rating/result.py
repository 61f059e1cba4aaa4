"""The typed result of scoring one applicant (what ``carescore score --json`` prints)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from scoring.rating.plan import Outcome
from scoring.vocabulary import Peril

DONT_KNOW = "don't know (priced as the worst answer)"
"""An answer given as unknown, wherever a person reads it (terminal, report, JSON text)."""

FIND_OUT = (
    "Find out the answer first: it is priced as the worst answer, so a better true "
    "answer lowers the premium without any change"
)
"""The first advice on a control whose answer is unknown."""


def premium_note(outcome: Outcome) -> str | None:
    """Why a premium is only indicative (None when the applicant is quoted).

    One wording for the terminal, the JSON result and the HTML report.

    Examples
    --------
    >>> premium_note("quote") is None
    True
    >>> premium_note("decline")[:60]
    'Indicative only: this application is declined as it stands, '
    """
    if outcome == "quote":
        return None
    if outcome == "refer":
        why = "an underwriter must review this application before any price is offered"
    else:
        why = "this application is declined as it stands, so no price is offered"
    return (
        f"Indicative only: {why}; the premium is what the rating plan gives for the "
        "answers as they stand."
    )


CAP_WORDS: dict[str, str] = {
    "schedule_debit_cap": "the schedule's largest debit holds it below the facility's own risk",
    "schedule_credit_cap": "the schedule's largest credit holds it above the facility's own risk",
    "minimum_premium": "the plan's minimum premium holds it up",
    "cost_floor": (
        "it is raised to the cost floor (the facility's own expected loss in the layer plus "
        "expenses), which the schedule's caps would have priced below"
    ),
}
"""What each binding cap of the offered premium means, in words."""


def cap_note(cap: str | None, premium: float, technical: float) -> str | None:
    """Why the offered premium is not the technical premium, in words (None when no cap
    binds). One wording for the terminal, the JSON result and the HTML report.

    Examples
    --------
    >>> cap_note(None, 1200.0, 1250.0) is None
    True
    >>> cap_note("minimum_premium", 1000.0, 640.0)[:58]
    'The offered premium ($1,000) is not the technical premium '
    """
    if not cap:
        return None
    return (
        f"The offered premium (${premium:,.0f}) is not the technical premium "
        f"(${technical:,.0f}): {CAP_WORDS[cap]}."
    )


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleHit(_Result):
    """A knockout or referral rule the applicant triggers."""

    id: str
    outcome: Literal["refer", "decline"]
    reason: str
    source: str
    questions: tuple[str, ...]
    """Questions the rule reads (an empty tuple for a tier's own referral)."""


class Layer(_Result):
    """A limit and retention on offer, by code and amount."""

    limit: str
    limit_amount: float
    retention: str
    retention_amount: float


class PremiumOption(_Result):
    """The premium for one limit and retention (the alternatives table)."""

    layer: Layer
    premium: float
    increased_limit_factor: float
    """Expected layer loss over that of the basic limit at the same retention."""
    retention_credit: float
    """Share of the expected layer loss the retention takes off, against the smallest
    retention on offer at the same limit (the deductible credit)."""
    requested: bool


class PerilLoss(_Result):
    peril: Peril
    expected_claims: float
    """Claims a year."""
    mean_claim: float
    """Expected size of one claim (ground up)."""
    expected_loss: float
    """Ground-up expected loss a year."""
    class_expected_loss: float
    """The same for the average facility of the class."""
    layer_loss: float
    """Expected loss a year in the requested layer (class average x schedule factor)."""
    own_layer_loss: float
    """The facility's own expected loss a year in the requested layer (what the
    technical premium is built on)."""
    premium: float
    """The premium's share for this peril (in proportion to its layer loss)."""


class Factor(_Result):
    """One answer's effect on expected loss and premium, in the questionnaire's words."""

    question_id: str
    question: str
    answer: str
    unknown: bool = False
    """The answer was given as unknown: ``answer`` reads :data:`DONT_KNOW` and the
    relativity is that of the worst answer."""
    part: Literal["class", "risk"]
    """``class``: read against the book's average facility (sets the class premium);
    ``risk``: read against the class average (moves the premium within the schedule)."""
    relativity: float
    """Expected loss with this answer over expected loss with the reference answer."""
    loss_effect: float
    """Dollars a year this answer adds to (or, negative, saves on) expected loss; the
    effects of one part add up to its whole difference."""
    premium_effect: float | None
    """Dollars of gross premium (before the minimum and rounding); risk answers only.
    They add up to the gross premium minus the class premium."""


class Scenario(_Result):
    """The applicant re-scored with one or more answers improved."""

    answers: dict[str, str]
    premium: float
    saving: float
    """Offered premium now minus offered premium in the scenario (0 when a cap holds
    both at the same figure)."""
    technical_premium: float
    technical_saving: float
    """Technical premium now minus technical premium in the scenario: what the change is
    worth before any cap or minimum."""
    tier: str
    outcome: Outcome
    score: int
    expected_loss: float


class Fix(_Result):
    """A control that is not at its best answer, with what improving it is worth."""

    question_id: str
    question: str
    answer: str
    """The current answer, in the questionnaire's words (:data:`DONT_KNOW` when unknown)."""
    unknown: bool = False
    """The answer was given as unknown and priced as the worst answer: finding it out
    comes first (:data:`FIND_OUT`)."""
    next: Scenario
    best: Scenario | None
    """To the best answer, when that is more than one step away."""
    perils: tuple[Peril, ...]
    cost_low: float
    cost_high: float
    size_band: str
    hicp: tuple[str, ...]
    cpg: tuple[str, ...]
    cis: tuple[str, ...]
    why: str
    clears: tuple[str, ...]
    """Rules that no longer hold at the best answer."""
    loss_saving: float
    """Expected loss a year avoided at the best answer (ground up, every peril)."""
    makes_quotable: bool
    """At the best answer the applicant is quoted, and it is not now."""
    moves_tier: bool
    """At the best answer the applicant is in a better tier."""
    capped: bool
    """A cap holds the offered premium, now or at the best answer, so the offered
    saving is less than the technical one."""
    saving_per_1000_cost: float
    """Best-answer technical premium saving per $1,000 of the cost band's midpoint."""


class FixSet(_Result):
    """The fewest fixes found that reach a goal, scored together."""

    goal: Literal["next_tier", "insurable"]
    fixes: tuple[str, ...]
    """Question ids of the fixes."""
    questions: tuple[str, ...] = ()
    """The same fixes in words (each question's text), in the same order."""
    reached: bool
    scenario: Scenario | None
    note: str


class Advice(_Result):
    fixes: tuple[Fix, ...]
    """Fixes that change the premium, the risk or the outcome, ranked (:func:`fix_rank`):
    those that make the applicant quotable first, then those that move its tier, then
    by technical premium saved at the best answer, then by expected loss avoided."""
    by_value: tuple[str, ...]
    """The same fixes' question ids ranked by saving per cost."""
    next_tier: FixSet | None
    """None when the applicant is already in the best tier."""
    insurable: FixSet | None
    """None when the applicant is already quoted."""


class Note(_Result):
    """A flag on one answer (or on the whole response), in words."""

    question_id: str | None
    question: str | None
    """The question's text (None for a note on the whole response)."""
    message: str


class Versions(_Result):
    model_id: str
    model_sha256: str
    rating_plan: str
    rating_plan_sha256: str
    questionnaire: str
    carescore: str


class ScoreResult(_Result):
    """Outcome, tier, premium, explanation and remediation advice for one applicant."""

    facility_id: str | None
    facility_name: str | None
    assessed_on: str
    outcome: Outcome
    rules: tuple[RuleHit, ...]
    """Every rule triggered (declines first); empty when quoted."""
    tier: str
    tier_description: str
    relative_risk: float
    """Expected loss over that of the average facility of the class."""
    score: int
    """0-1000: the plan's base at the class average, +pdo points per halving of expected loss."""
    premium: float
    """The offered premium (see ``technical_premium`` and ``premium_cap``)."""
    premium_note: str | None
    """Why the premium is only indicative (:func:`premium_note`); None when quoted."""
    technical_premium: float
    """The facility's own expected loss in the layer plus expenses and profit, before the
    schedule's caps and the minimum premium."""
    premium_cap: str | None
    """What holds the offered premium away from the schedule's figure: a name of
    ``PREMIUM_CAPS`` (``schedule_debit_cap``, ``schedule_credit_cap``,
    ``minimum_premium``, ``cost_floor``), or None."""
    premium_cap_note: str | None
    """The same in words (:func:`cap_note`)."""
    layer: Layer
    options: tuple[PremiumOption, ...]
    class_premium: float
    """The premium of the average facility of the class (schedule factor 1)."""
    schedule_factor: float
    expected_loss: float
    class_expected_loss: float
    perils: tuple[PerilLoss, ...]
    factors: tuple[Factor, ...]
    advice: Advice | None
    warnings: tuple[str, ...]
    """Validation flags kept with the result (e.g. a blank control treated as worst)."""
    notes: tuple[Note, ...] = ()
    """The same flags with each question's text, for people."""
    versions: Versions


def fix_rank(
    makes_quotable: bool,
    moves_tier: bool,
    technical_saving: float,
    loss_saving: float,
    question_id: str,
) -> tuple[bool, bool, float, float, str]:
    """The sort key of a fix, best first: a fix that makes the applicant quotable, then one
    that moves its tier, then the technical premium saved, then the expected loss avoided,
    then the question id. One applicant's advice and a book's best fixes both rank by it.
    """
    return (not makes_quotable, not moves_tier, -technical_saving, -loss_saving, question_id)
