"""The public surface is pinned: a change to it is a deliberate change to this list."""

from __future__ import annotations

import scoring

PUBLIC = {
    "Accumulation",
    "BookExposure",
    "Simulator",
    "accumulate",
    "load_catalogues",
    "read_scored_book",
    "scored_book_exposure",
    "simulate",
    "Applicant",
    "DefinitionError",
    "Rating",
    "RatingEngine",
    "RatingPlan",
    "RatingPlanError",
    "RemediationCatalogue",
    "ScoreResult",
    "applicants",
    "default_engine",
    "load_rating_plan",
    "load_remediation",
    "score",
    "score_applicant",
    "render_html",
    "AnswerEncoder",
    "AnswerKind",
    "AnswerState",
    "Better",
    "Choice",
    "Control",
    "Encoding",
    "ExpressionError",
    "FeatureEncoder",
    "Finding",
    "FrameworkCatalog",
    "FrameworkRefs",
    "ISSUE_COLUMNS",
    "InputError",
    "Issue",
    "METADATA_COLUMNS",
    "Migration",
    "Peril",
    "Question",
    "Questionnaire",
    "QuestionnaireError",
    "RawResponses",
    "Reason",
    "Section",
    "Severity",
    "Validation",
    "__version__",
    "available_questionnaires",
    "bundled_questionnaire",
    "default_catalog",
    "lint",
    "load_questionnaire",
    "read_framework_catalog",
    "read_responses",
    "response_from_mapping",
    "validate",
    "validate_document",
    "validate_file",
    "ClaimsCheck",
    "ClaimsHistory",
    "check_claims_history",
    "LossModel",
    "default_model_dir",
    "evaluate",
    "evaluate_book",
    "load_model",
    "oracle_beside",
    "read_claims_history",
    "save_model",
    "synthetic_book",
    "synthetic_responses",
    "train",
    "train_book",
    "write_book",
}


def test_public_api_is_pinned() -> None:
    assert set(scoring.__all__) == PUBLIC
    assert len(scoring.__all__) == len(PUBLIC)


def test_every_public_name_exists() -> None:
    for name in scoring.__all__:
        assert getattr(scoring, name) is not None


def test_errors_subclass_builtins() -> None:
    assert issubclass(scoring.InputError, ValueError)
    assert issubclass(scoring.QuestionnaireError, ValueError)
    assert issubclass(scoring.ExpressionError, ValueError)
