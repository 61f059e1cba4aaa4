"""Plain-language wording for the report: money, perils, outcomes and answers.

Everything here returns plain text; the caller escapes it before it becomes
markup.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from scoring.errors import QuestionnaireError
from scoring.questionnaire.definition import Question, Questionnaire
from scoring.questionnaire.loader import bundled_questionnaire
from scoring.rating.explain import answer_text
from scoring.rating.plan import Outcome
from scoring.vocabulary import AnswerKind, Peril

PERIL_NAMES: dict[Peril, str] = {
    Peril.RANSOMWARE: "Ransomware and extortion",
    Peril.EMAIL_FRAUD: "Email and payment fraud",
    Peril.PRIVACY_BREACH: "Privacy breach",
    Peril.VENDOR_OUTAGE: "Vendor outage",
    Peril.DEVICE_COMPROMISE: "Medical and imaging device compromise",
}

OUTCOME_BADGES: dict[Outcome, str] = {
    "quote": "Quote offered",
    "refer": "Referred to an underwriter",
    "decline": "Declined for now",
}

RULE_WEIGHT: dict[Literal["refer", "decline"], str] = {
    "refer": "needs an underwriter's review",
    "decline": "a reason to decline",
}


def money(amount: float) -> str:
    """Whole dollars with thousands separators.

    Examples
    --------
    >>> money(12345.4)
    '$12,345'
    >>> money(-2463.43)
    '-$2,463'
    >>> money(0)
    '$0'
    """
    dollars = round(amount)
    sign = "-" if dollars < 0 else ""
    return f"{sign}${abs(dollars):,}"


def signed_money(amount: float) -> str:
    """Money with an explicit sign, for effects that raise or lower a price.

    Examples
    --------
    >>> signed_money(11056.23), signed_money(-2463.43), signed_money(0.2)
    ('+$11,056', '-$2,463', '$0')
    """
    return money(amount) if round(amount) <= 0 else f"+{money(amount)}"


def percent(share: float) -> str:
    """A share as a whole percentage.

    Examples
    --------
    >>> percent(0.891), percent(0.004)
    ('89%', '0%')
    """
    return f"{round(100 * share)}%"


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when cut.

    Examples
    --------
    >>> shorten("Are your backups encrypted?", 40)
    'Are your backups encrypted?'
    >>> shorten("Are your backups encrypted?", 12)
    'Are your ba…'
    """
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def reference_code(code: str) -> str:
    """A framework reference as people write it (``strong_encryption`` -> ``strong encryption``)."""
    return code.replace("_", " ")


@cache
def questionnaire_for(key: str) -> Questionnaire | None:
    """The bundled questionnaire a result was scored with (``id@version``), if bundled."""
    questionnaire_id, _, version = key.partition("@")
    try:
        return bundled_questionnaire(questionnaire_id, version or None)
    except QuestionnaireError:
        return None


def _value(question: Question, code: str) -> object:
    """A scenario's answer (always text) as the value the questionnaire's wording expects."""
    if question.kind in (AnswerKind.INTEGER, AnswerKind.NUMBER, AnswerKind.PERCENT):
        try:
            return float(code)
        except ValueError:
            return code
    return code


def answer_words(questionnaire: Questionnaire | None, question_id: str, code: str) -> str:
    """A scenario's answer code in the questionnaire's own words (the code when unknown)."""
    question = None if questionnaire is None else questionnaire.by_id.get(question_id)
    if question is None:
        return code.replace("_", " ")
    return answer_text(question, _value(question, code))


def question_words(questionnaire: Questionnaire | None, question_id: str) -> str:
    """A question's text (its id when the questionnaire is not at hand)."""
    question = None if questionnaire is None else questionnaire.by_id.get(question_id)
    return question_id.replace("_", " ") if question is None else question.label


OUTCOME_STATES: dict[Outcome, str] = {
    "quote": "quoted",
    "refer": "referred",
    "decline": "declined",
}
