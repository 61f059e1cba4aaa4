"""carescore: cyber-insurance risk scoring for care facilities.

The public API is everything listed in ``__all__``; modules whose names start
with an underscore, and names not listed here, may change without notice.

Every public name but the errors and the vocabularies is imported on first use
(PEP 562), so ``import scoring`` - and ``carescore --help`` - loads neither pandas,
pyarrow nor scipy, and scoring never loads the training libraries (scikit-learn,
glum) unless training, evaluation, claims histories or the synthetic book are used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from scoring.errors import (
    DefinitionError,
    InputError,
    Issue,
    QuestionnaireError,
    RatingPlanError,
)
from scoring.vocabulary import (
    AnswerKind,
    AnswerState,
    Better,
    Encoding,
    Peril,
    Reason,
    Severity,
)

if TYPE_CHECKING:
    from scoring.accumulation.analysis import Accumulation, accumulate
    from scoring.accumulation.book import read_scored_book
    from scoring.accumulation.catalogue import load_catalogues
    from scoring.accumulation.exposure import BookExposure, scored_book_exposure
    from scoring.accumulation.simulation import Simulator, simulate
    from scoring.features.encoder import FeatureEncoder
    from scoring.features.encoding import AnswerEncoder
    from scoring.model.claims_history import (
        ClaimsCheck,
        ClaimsHistory,
        check_claims_history,
        read_claims_history,
    )
    from scoring.model.evaluation import evaluate, evaluate_book, oracle_beside
    from scoring.model.loss_model import LossModel, default_model_dir, load_model, save_model
    from scoring.model.training import train, train_book
    from scoring.questionnaire.definition import (
        Choice,
        Control,
        FrameworkRefs,
        Migration,
        Question,
        Questionnaire,
        Section,
    )
    from scoring.questionnaire.expression import ExpressionError
    from scoring.questionnaire.frameworks import FrameworkCatalog
    from scoring.questionnaire.lint import Finding, lint
    from scoring.questionnaire.loader import (
        available_questionnaires,
        bundled_questionnaire,
        default_catalog,
        load_questionnaire,
        read_framework_catalog,
    )
    from scoring.rating.engine import Rating, RatingEngine
    from scoring.rating.plan import RatingPlan, load_rating_plan
    from scoring.rating.remediation import RemediationCatalogue, load_remediation
    from scoring.rating.result import ScoreResult
    from scoring.rating.score import Applicant, applicants, default_engine, score, score_applicant
    from scoring.report.html import render_html
    from scoring.responses.intake import validate_document, validate_file
    from scoring.responses.reading import (
        METADATA_COLUMNS,
        RawResponses,
        read_responses,
        response_from_mapping,
    )
    from scoring.responses.validation import ISSUE_COLUMNS, Validation, validate
    from scoring.synthetic.book import synthetic_book, write_book
    from scoring.synthetic.responses import synthetic_responses

__version__ = "0.1.0"

_LAZY = {
    "Accumulation": "scoring.accumulation.analysis",
    "accumulate": "scoring.accumulation.analysis",
    "read_scored_book": "scoring.accumulation.book",
    "load_catalogues": "scoring.accumulation.catalogue",
    "BookExposure": "scoring.accumulation.exposure",
    "scored_book_exposure": "scoring.accumulation.exposure",
    "Simulator": "scoring.accumulation.simulation",
    "simulate": "scoring.accumulation.simulation",
    "AnswerEncoder": "scoring.features.encoding",
    "LossModel": "scoring.model.loss_model",
    "default_model_dir": "scoring.model.loss_model",
    "load_model": "scoring.model.loss_model",
    "save_model": "scoring.model.loss_model",
    "Choice": "scoring.questionnaire.definition",
    "Control": "scoring.questionnaire.definition",
    "FrameworkRefs": "scoring.questionnaire.definition",
    "Migration": "scoring.questionnaire.definition",
    "Question": "scoring.questionnaire.definition",
    "Questionnaire": "scoring.questionnaire.definition",
    "Section": "scoring.questionnaire.definition",
    "ExpressionError": "scoring.questionnaire.expression",
    "FrameworkCatalog": "scoring.questionnaire.frameworks",
    "Finding": "scoring.questionnaire.lint",
    "lint": "scoring.questionnaire.lint",
    "available_questionnaires": "scoring.questionnaire.loader",
    "bundled_questionnaire": "scoring.questionnaire.loader",
    "default_catalog": "scoring.questionnaire.loader",
    "load_questionnaire": "scoring.questionnaire.loader",
    "read_framework_catalog": "scoring.questionnaire.loader",
    "Rating": "scoring.rating.engine",
    "RatingEngine": "scoring.rating.engine",
    "RatingPlan": "scoring.rating.plan",
    "load_rating_plan": "scoring.rating.plan",
    "RemediationCatalogue": "scoring.rating.remediation",
    "load_remediation": "scoring.rating.remediation",
    "ScoreResult": "scoring.rating.result",
    "Applicant": "scoring.rating.score",
    "applicants": "scoring.rating.score",
    "default_engine": "scoring.rating.score",
    "score": "scoring.rating.score",
    "score_applicant": "scoring.rating.score",
    "render_html": "scoring.report.html",
    "validate_document": "scoring.responses.intake",
    "validate_file": "scoring.responses.intake",
    "METADATA_COLUMNS": "scoring.responses.reading",
    "RawResponses": "scoring.responses.reading",
    "read_responses": "scoring.responses.reading",
    "response_from_mapping": "scoring.responses.reading",
    "ISSUE_COLUMNS": "scoring.responses.validation",
    "Validation": "scoring.responses.validation",
    "validate": "scoring.responses.validation",
    "synthetic_responses": "scoring.synthetic.responses",
    "ClaimsCheck": "scoring.model.claims_history",
    "ClaimsHistory": "scoring.model.claims_history",
    "check_claims_history": "scoring.model.claims_history",
    "read_claims_history": "scoring.model.claims_history",
    "FeatureEncoder": "scoring.features.encoder",
    "evaluate": "scoring.model.evaluation",
    "evaluate_book": "scoring.model.evaluation",
    "oracle_beside": "scoring.model.evaluation",
    "train": "scoring.model.training",
    "train_book": "scoring.model.training",
    "synthetic_book": "scoring.synthetic.book",
    "write_book": "scoring.synthetic.book",
}
"""Public names imported on first use, by the module that defines them."""

__all__ = [
    "ISSUE_COLUMNS",
    "METADATA_COLUMNS",
    "Accumulation",
    "AnswerEncoder",
    "AnswerKind",
    "AnswerState",
    "Applicant",
    "Better",
    "BookExposure",
    "Choice",
    "ClaimsCheck",
    "ClaimsHistory",
    "Control",
    "DefinitionError",
    "Encoding",
    "ExpressionError",
    "FeatureEncoder",
    "Finding",
    "FrameworkCatalog",
    "FrameworkRefs",
    "InputError",
    "Issue",
    "LossModel",
    "Migration",
    "Peril",
    "Question",
    "Questionnaire",
    "QuestionnaireError",
    "Rating",
    "RatingEngine",
    "RatingPlan",
    "RatingPlanError",
    "RawResponses",
    "Reason",
    "RemediationCatalogue",
    "ScoreResult",
    "Section",
    "Severity",
    "Simulator",
    "Validation",
    "__version__",
    "accumulate",
    "applicants",
    "available_questionnaires",
    "bundled_questionnaire",
    "check_claims_history",
    "default_catalog",
    "default_engine",
    "default_model_dir",
    "evaluate",
    "evaluate_book",
    "lint",
    "load_catalogues",
    "load_model",
    "load_questionnaire",
    "load_rating_plan",
    "load_remediation",
    "oracle_beside",
    "read_claims_history",
    "read_framework_catalog",
    "read_responses",
    "read_scored_book",
    "render_html",
    "response_from_mapping",
    "save_model",
    "score",
    "score_applicant",
    "scored_book_exposure",
    "simulate",
    "synthetic_book",
    "synthetic_responses",
    "train",
    "train_book",
    "validate",
    "validate_document",
    "validate_file",
    "write_book",
]


if not TYPE_CHECKING:  # type checkers read the imports above; a misspelt name stays an error

    def __getattr__(name: str) -> Any:
        """Import a public name of :data:`_LAZY` on first use (PEP 562)."""
        if name not in _LAZY:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
