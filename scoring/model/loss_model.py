"""The loss model artifact: per-peril frequency and severity GLMs, as plain JSON.

A model is a folder holding ``model.json`` (coefficients on named features,
the questionnaire it was trained for, the training data fingerprint),
``manifest.json`` (the sha256 of ``model.json``) and ``MODEL_CARD.md``. Loading
verifies the hash and the questionnaire version before anything is used; no
code is ever executed from the files (no pickle).
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scoring._files import file_sha256, read_document
from scoring._outputs import write_atomically
from scoring._resources import data_dir
from scoring.errors import InputError, Issue, QuestionnaireError
from scoring.features.encoding import AnswerEncoder
from scoring.model.checks import feature_problems, implausible, outside
from scoring.questionnaire.definition import Questionnaire
from scoring.questionnaire.loader import bundled_questionnaire_reading
from scoring.vocabulary import Peril, Reason

MODEL_FORMAT = "carescore-loss-model/1"
MODEL_FILE = "model.json"
MANIFEST_FILE = "manifest.json"
CARD_FILE = "MODEL_CARD.md"
DEFAULT_MODEL = "care-cyber-default"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Glm(_Strict):
    """A log-link GLM: ``exp(intercept + features @ coefficients)``."""

    family: Literal["poisson", "gamma"]
    intercept: float
    coefficients: tuple[float, ...]
    alpha: float = Field(ge=0)
    """Penalty chosen by cross-validation (glum's ``alpha``: scaled to the full book's size)."""
    adaptive_alpha: float | None = Field(default=None, ge=0)
    """Penalty of the adaptive stage, chosen by cross-validation: each coefficient the
    first stage kept is penalised by this over its first-stage size (None when the
    first stage kept fewer than two)."""
    l1_ratio: float = Field(default=0.0, ge=0, le=1)
    """Share of the penalty that is L1 (lasso); the rest is L2 (ridge)."""
    base_features: tuple[str, ...] = ()
    """Base level of each categorical question (coefficient pinned at 0)."""
    converged: bool = True
    """False when the solver stopped before its tolerance (reported in the model card)."""


class PerilModel(_Strict):
    frequency: Glm
    severity: Glm
    claim_sigma: float = Field(gt=0, le=5)
    """Shape of one claim's size: log(claim) has this standard deviation (lognormal).

    The severity GLM gives the mean claim; with this shape the rating plan prices
    any layer by limited expected values."""


class QuestionnaireRef(_Strict):
    id: str
    version: str


class TrainingInfo(_Strict):
    source: str
    data_fingerprint: str
    """sha256 of the claims-history file the model was trained on."""
    rows: int
    exposure: float
    claims: dict[Peril, int]
    seed: int
    carescore_version: str


class LossModel(_Strict):
    """Per-peril frequency and severity models on the encoder's features."""

    format: Literal["carescore-loss-model/1"] = "carescore-loss-model/1"
    model_id: str
    questionnaire: QuestionnaireRef
    features: tuple[str, ...]
    unknown_fill: dict[str, float]
    feature_caps: dict[str, tuple[float, float]] = Field(default_factory=dict)
    """Each capped feature's (low, high): quantiles of the training book its values are
    clipped to (scoring/features/encoding.py)."""
    feature_means: tuple[float, ...]
    """Exposure-weighted mean of each feature over the training book: the average
    facility, against which the rating plan reads a facility's relative risk."""
    perils: dict[Peril, PerilModel]
    training: TrainingInfo

    @model_validator(mode="after")
    def _lengths_agree(self) -> LossModel:
        width = len(self.features)
        if len(self.feature_means) != width:
            raise ValueError(
                f"feature_means has {len(self.feature_means)} values for {width} features"
            )
        for peril, m in self.perils.items():
            for part in ("frequency", "severity"):
                given = len(getattr(m, part).coefficients)
                if given != width:
                    raise ValueError(
                        f"{peril.value} {part} has {given} coefficients for {width} features"
                    )
        return self

    @cached_property
    def _matrices(self) -> dict[Peril, tuple[np.ndarray, np.ndarray]]:
        return {
            peril: (np.asarray(m.frequency.coefficients), np.asarray(m.severity.coefficients))
            for peril, m in self.perils.items()
        }

    def encoder(self, questionnaire: Questionnaire) -> AnswerEncoder:
        """The answer encoder this model expects (with the fill values it was trained with)."""
        if not questionnaire.reads(self.questionnaire.id, self.questionnaire.version):
            raise ValueError(
                f"model {self.model_id} was trained for {self.questionnaire.id}@"
                f"{self.questionnaire.version}; got {questionnaire.key}"
            )
        encoder = AnswerEncoder(questionnaire, self.unknown_fill, self.feature_caps)
        if tuple(encoder.feature_names) != self.features:
            raise ValueError(
                f"model {self.model_id} expects other features than {questionnaire.key} produces"
            )
        return encoder

    def frequency(self, peril: Peril, features: np.ndarray) -> np.ndarray:
        """Expected claims per year of exposure, row by row."""
        coefficients, _ = self._matrices[peril]
        return np.asarray(
            np.exp(self.perils[peril].frequency.intercept + features @ coefficients),
            dtype=np.float64,
        )

    def mean_claim(self, peril: Peril, features: np.ndarray) -> np.ndarray:
        """Expected size of one claim, row by row."""
        _, coefficients = self._matrices[peril]
        return np.asarray(
            np.exp(self.perils[peril].severity.intercept + features @ coefficients),
            dtype=np.float64,
        )

    def relativities(self) -> dict[str, dict[str, dict[str, float]]]:
        """exp(coefficient) per peril, part (frequency/severity) and feature."""
        return {
            peril.value: {
                part: dict(
                    zip(self.features, np.exp(getattr(m, part).coefficients).tolist(), strict=True)
                )
                for part in ("frequency", "severity")
            }
            for peril, m in self.perils.items()
        }


def save_model(model: LossModel, directory: Path, card: str) -> None:
    """Write ``model.json``, ``manifest.json`` and ``MODEL_CARD.md`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILE
    text = json.dumps(model.model_dump(mode="json"), indent=1, ensure_ascii=False) + "\n"
    # each file whole or not at all, never through a symlink found in the folder
    write_atomically(model_path, text.encode("utf-8"))
    write_atomically(directory / CARD_FILE, card.encode("utf-8"))
    manifest = {
        "format": MODEL_FORMAT,
        "model_id": model.model_id,
        "sha256": {
            MODEL_FILE: file_sha256(model_path),
            CARD_FILE: file_sha256(directory / CARD_FILE),
        },
    }
    write_atomically(directory / MANIFEST_FILE, (json.dumps(manifest, indent=1) + "\n").encode())


def default_model_dir() -> Path:
    """The bundled default model's folder."""
    return data_dir("models") / DEFAULT_MODEL


def load_model(directory: Path, questionnaire: Questionnaire | None = None) -> LossModel:
    """Load a model folder after verifying its hashes, its numbers and its questionnaire.

    The manifest may name only plain files inside the folder; every number of
    ``model.json`` must be finite and within the plausible ranges of
    :mod:`scoring.model.bounds`; every peril must be modelled; the questionnaire
    (``questionnaire`` when given, else the bundled one the model names) must be
    the model's and produce exactly the model's features.

    Raises
    ------
    InputError
        When a file is missing, a hash does not match (the folder was edited after
        training), the content is not a valid model (every problem listed), or the
        questionnaire differs.
    """
    source = str(directory)

    def refuse(*messages: str) -> InputError:
        return InputError([Issue(Reason.UNREADABLE_FILE, m, source=source) for m in messages])

    manifest_path, model_path = directory / MANIFEST_FILE, directory / MODEL_FILE
    for path in (manifest_path, model_path):
        if not path.is_file():
            raise refuse(f"{path.name} is missing; not a model folder")
    manifest = read_document(manifest_path)
    if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
        raise refuse(f"manifest.json is not a {MODEL_FORMAT} manifest")
    expected = manifest.get("sha256", {})
    if not isinstance(expected, dict):
        raise refuse("manifest.json: sha256 must map file names to their sha256")
    strays = [problem for name in expected if (problem := outside(directory, name))]
    if strays:
        raise refuse(*strays)
    for name, digest in expected.items():
        path = directory / str(name)
        if not path.is_file() or file_sha256(path) != digest:
            raise refuse(
                f"{name} does not match the sha256 in manifest.json: the model folder "
                "was changed after training; retrain or restore it"
            )
    if MODEL_FILE not in expected:
        raise refuse("manifest.json lists no sha256 for model.json")
    try:
        model = LossModel.model_validate(read_document(model_path))
    except ValidationError as exc:
        raise refuse(
            *(
                f"model.json is not a valid model: {'.'.join(map(str, e['loc']))}: {e['msg']}"
                + ("" if isinstance(e["input"], dict | list) else f" (given {e['input']!r})")
                for e in exc.errors()[:_MAX_LISTED]
            )
        ) from exc
    key = f"{model.questionnaire.id}@{model.questionnaire.version}"
    if questionnaire is not None and not questionnaire.reads(
        model.questionnaire.id, model.questionnaire.version
    ):
        raise refuse(f"the model was trained for {key}; this questionnaire is {questionnaire.key}")
    problems = implausible(model)
    if questionnaire is None:
        try:
            questionnaire = bundled_questionnaire_reading(
                model.questionnaire.id, model.questionnaire.version
            )
        except QuestionnaireError as exc:
            problems.append(
                f"model.json: questionnaire {key} is not known ({'; '.join(exc.problems)}); "
                "give the questionnaire file it was trained for"
            )
    if questionnaire is not None:
        problems += feature_problems(model, questionnaire)
    if problems:
        raise refuse(*(f"model.json: {p}" for p in problems[:_MAX_LISTED]))
    return model


_MAX_LISTED = 50
"""Problems listed at most, of one model folder."""
