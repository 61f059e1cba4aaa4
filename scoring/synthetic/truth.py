"""The ground truth of a synthetic book: a known loss process to measure models against.

The truth is data (``models/synthetic-truth/<questionnaire>.yaml``): for each
peril, a book-average claim frequency and claim size with their sources, and
relativities of features of the :class:`~scoring.features.encoding.AnswerEncoder`.
:func:`resolve` turns it into intercepts and coefficient vectors, calibrated on a
fixed reference book so that the same file always gives the same truth.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scoring._files import read_document
from scoring._resources import data_dir
from scoring.errors import InputError, QuestionnaireError
from scoring.questionnaire.definition import Questionnaire
from scoring.vocabulary import Peril

if TYPE_CHECKING:
    from scoring.questionnaire.definition import Questionnaire

REFERENCE_FACILITIES = 20_000
REFERENCE_SEED = 0
REFERENCE_DATE = dt.date(2026, 1, 1)


_Definition = TypeVar("_Definition", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Effect(_Strict):
    """The factor on frequency or claim size for one unit of a feature."""

    feature: str
    relativity: float = Field(gt=0)
    source: str = Field(min_length=1)


class PerilTruth(_Strict):
    """The true loss process of one peril."""

    book_rate: float = Field(gt=0, lt=1)
    book_rate_source: str
    frequency: tuple[Effect, ...]
    mean_claim: float = Field(gt=0)
    mean_claim_source: str
    sigma: float = Field(gt=0, le=4)
    sigma_source: str
    severity: tuple[Effect, ...]


class QuestionnaireRef(_Strict):
    id: str
    version: str


class GroundTruth(_Strict):
    """A ground-truth file: what the synthetic book's losses really depend on."""

    id: str
    version: str
    questionnaire: QuestionnaireRef
    perils: dict[Peril, PerilTruth]


class ResolvedPeril(_Strict):
    """A peril's truth as intercepts and coefficients on named features."""

    frequency_intercept: float
    frequency: dict[str, float]
    severity_intercept: float
    """log of the mean claim size at all-zero features"""
    severity: dict[str, float]
    sigma: float


class ResolvedTruth(_Strict):
    """The truth as numbers, ready to simulate or to compare a model with."""

    truth_id: str
    truth_version: str
    questionnaire: QuestionnaireRef
    perils: dict[Peril, ResolvedPeril]

    def frequency(self, peril: Peril, features: pd.DataFrame) -> np.ndarray:
        """True claim frequency per unit of exposure, row by row."""
        spec = self.perils[peril]
        return np.exp(spec.frequency_intercept + _linear(features, spec.frequency))

    def mean_claim(self, peril: Peril, features: pd.DataFrame) -> np.ndarray:
        """True mean claim size, row by row."""
        spec = self.perils[peril]
        return np.exp(spec.severity_intercept + _linear(features, spec.severity))


def _linear(features: pd.DataFrame, coefficients: dict[str, float]) -> np.ndarray:
    total = np.zeros(len(features))
    for name, beta in coefficients.items():
        total += beta * features[name].to_numpy(dtype=np.float64)
    return total


def synthetic_file(questionnaire_id: str, version: str, kind: str = "") -> Path:
    """A bundled file of the synthetic market for a questionnaire version (it may not
    exist): ``models/synthetic-truth/<questionnaire>[-<kind>]-<version>.yaml``, the
    ground truth without a kind, else ``market`` or ``vendors``."""
    part = f"-{kind}" if kind else ""
    name = f"{questionnaire_id.replace('_', '-')}{part}-{version}.yaml"
    return data_dir("models") / "synthetic-truth" / name


def truth_path(questionnaire_id: str, version: str) -> Path:
    """The bundled ground-truth file for a questionnaire version (it may not exist)."""
    return synthetic_file(questionnaire_id, version)


def bundled_truth_path(questionnaire: Questionnaire) -> Path:
    """The bundled ground truth a questionnaire is drawn with: its own version's file,
    else the newest file of a version it reads (:meth:`Questionnaire.file_read`;
    the truth's features are then checked against what the questionnaire produces).

    Examples
    --------
    >>> from scoring.questionnaire.loader import bundled_questionnaire
    >>> bundled_truth_path(bundled_questionnaire("care_cyber", "1.1.0")).name
    'care-cyber-1.0.0.yaml'
    """
    return questionnaire.file_read(lambda version: truth_path(questionnaire.id, version))


def load_truth(path: Path) -> GroundTruth:
    """Read and validate a ground-truth file."""
    return read_definition(path, GroundTruth)


def read_definition(path: Path, kind: type[_Definition]) -> _Definition:
    """Read a synthetic definition file (a truth, a market) and validate it as ``kind``.

    Raises
    ------
    QuestionnaireError
        If the file cannot be read or does not follow ``kind``'s structure.
    """
    try:
        return kind.model_validate(read_document(path))
    except InputError as exc:
        raise QuestionnaireError(str(path), [i.message for i in exc.issues]) from exc
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise QuestionnaireError(str(path), problems) from exc


def resolve(truth: GroundTruth, reference_features: pd.DataFrame) -> ResolvedTruth:
    """Intercepts that give the book-average frequency and claim size on a reference book.

    Raises
    ------
    QuestionnaireError
        If the truth names a feature the encoder does not produce.
    """
    known = set(reference_features.columns)
    unknown = sorted(
        {e.feature for p in truth.perils.values() for e in (*p.frequency, *p.severity)} - known
    )
    if unknown:
        raise QuestionnaireError(
            truth.id,
            [f"unknown feature {name!r} (not produced by the encoder)" for name in unknown],
        )
    perils = {}
    for peril, spec in truth.perils.items():
        frequency = {e.feature: math.log(e.relativity) for e in spec.frequency}
        severity = {e.feature: math.log(e.relativity) for e in spec.severity}
        shape = np.exp(_linear(reference_features, frequency))
        size = np.exp(_linear(reference_features, severity))
        intercept = math.log(spec.book_rate) - math.log(float(shape.mean()))
        claim_weighted_size = float((shape * size).sum() / shape.sum())
        perils[peril] = ResolvedPeril(
            frequency_intercept=intercept,
            frequency=frequency,
            severity_intercept=math.log(spec.mean_claim) - math.log(claim_weighted_size),
            severity=severity,
            sigma=spec.sigma,
        )
    return ResolvedTruth(
        truth_id=truth.id,
        truth_version=truth.version,
        questionnaire=truth.questionnaire,
        perils=perils,
    )
