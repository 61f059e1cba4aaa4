"""The loss model artifact: per-peril frequency and severity GLMs, as plain JSON.

A model is a folder holding ``model.json`` (coefficients on named features,
the questionnaire it was trained for, the training data fingerprint),
``manifest.json`` (the sha256 of ``model.json``) and ``MODEL_CARD.md``. Loading
verifies the hash and the questionnaire version before anything is used; no
code is ever executed from the files (no pickle).
"""

from __future__ import annotations

import json
import math
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scoring._files import file_sha256, read_document
from scoring._resources import data_dir
from scoring.errors import InputError, Issue, QuestionnaireError
from scoring.features.encoding import AnswerEncoder
from scoring.model import bounds
from scoring.questionnaire.definition import Questionnaire
from scoring.questionnaire.loader import bundled_questionnaire
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
        if questionnaire.key != f"{self.questionnaire.id}@{self.questionnaire.version}":
            raise ValueError(
                f"model {self.model_id} was trained for {self.questionnaire.id}@"
                f"{self.questionnaire.version}; got {questionnaire.key}"
            )
        encoder = AnswerEncoder(questionnaire, self.unknown_fill)
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
    model_path.write_text(text, encoding="utf-8")
    (directory / CARD_FILE).write_text(card, encoding="utf-8")
    manifest = {
        "format": MODEL_FORMAT,
        "model_id": model.model_id,
        "sha256": {
            MODEL_FILE: file_sha256(model_path),
            CARD_FILE: file_sha256(directory / CARD_FILE),
        },
    }
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


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
    outside = [problem for name in expected if (problem := _outside(directory, name))]
    if outside:
        raise refuse(*outside)
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
    if questionnaire is not None and key != questionnaire.key:
        raise refuse(f"the model was trained for {key}; this questionnaire is {questionnaire.key}")
    problems = implausible(model)
    if questionnaire is None:
        try:
            questionnaire = bundled_questionnaire(
                model.questionnaire.id, model.questionnaire.version
            )
        except QuestionnaireError as exc:
            problems.append(
                f"model.json: questionnaire {key} is not known ({'; '.join(exc.problems)}); "
                "give the questionnaire file it was trained for"
            )
    if questionnaire is not None:
        problems += _feature_problems(model, questionnaire)
    if problems:
        raise refuse(*(f"model.json: {p}" for p in problems[:_MAX_LISTED]))
    return model


_MAX_LISTED = 50
"""Problems listed at most, of one model folder."""


def _outside(directory: Path, name: object) -> str | None:
    """Why a name listed in the manifest is not a plain file of the folder (None if it is)."""
    text = str(name)
    plain = (
        isinstance(name, str)
        and text not in ("", ".", "..")
        and "/" not in text
        and "\\" not in text
        and "\0" not in text
        and not Path(text).is_absolute()
    )
    if plain:
        try:
            inside = (directory / text).resolve().parent == directory.resolve()
        except (OSError, RuntimeError):
            inside = False
        if inside:
            return None
    return (
        f"manifest.json lists {text!r}: a model folder's manifest may name only plain "
        "files inside the folder (no paths, no '..', no links leading out of it)"
    )


def implausible(model: LossModel) -> list[str]:
    """Every number of a model that is not finite or lies outside its plausible range.

    The ranges are those of :mod:`scoring.model.bounds`; each problem names the
    field (peril, part, feature) and the value.
    """
    problems: list[str] = []
    missing = [p.value for p in Peril if p not in model.perils]
    if missing:
        problems.append(
            f"perils: no model for {', '.join(missing)} (the rating engine prices every peril: "
            f"{', '.join(p.value for p in Peril)})"
        )

    def check(field: str, value: float, low: float, high: float) -> bool:
        if not math.isfinite(value):
            problems.append(f"{field} is {value!r}; every number must be finite")
            return False
        if not low <= value <= high:
            problems.append(f"{field} is {value:g}; the plausible range is {low:g} .. {high:g}")
            return False
        return True

    for name, value in model.unknown_fill.items():
        check(f"unknown_fill.{name}", value, -bounds.MAX_FEATURE_MEAN, bounds.MAX_FEATURE_MEAN)
    checked = [
        check(f"feature_means.{f}", m, -bounds.MAX_FEATURE_MEAN, bounds.MAX_FEATURE_MEAN)
        for f, m in zip(model.features, model.feature_means, strict=True)
    ]
    means_ok = all(checked)
    average = {
        "frequency": (bounds.MIN_FREQUENCY, bounds.MAX_FREQUENCY, "claims a year", "frequency"),
        "severity": (bounds.MIN_MEAN_CLAIM, bounds.MAX_MEAN_CLAIM, "dollars", "mean claim"),
    }
    for peril, peril_model in model.perils.items():
        check(
            f"perils.{peril.value}.claim_sigma",
            peril_model.claim_sigma,
            bounds.MIN_CLAIM_SIGMA,
            bounds.MAX_CLAIM_SIGMA,
        )
        for part, (low, high, unit, what) in average.items():
            glm: Glm = getattr(peril_model, part)
            field = f"perils.{peril.value}.{part}"
            ok = check(
                f"{field}.intercept", glm.intercept, -bounds.MAX_INTERCEPT, bounds.MAX_INTERCEPT
            )
            for number in ("alpha", "adaptive_alpha"):
                value = getattr(glm, number)
                if value is not None and not math.isfinite(value):
                    problems.append(f"{field}.{number} is {value!r}; every number must be finite")
            for feature, beta in zip(model.features, glm.coefficients, strict=True):
                ok &= check(
                    f"{field}.coefficients.{feature}",
                    beta,
                    -bounds.MAX_COEFFICIENT,
                    bounds.MAX_COEFFICIENT,
                )
            if ok and means_ok:
                linear = math.fsum(
                    [
                        glm.intercept,
                        *(
                            b * m
                            for b, m in zip(glm.coefficients, model.feature_means, strict=True)
                        ),
                    ]
                )
                if not math.log(low) <= linear <= math.log(high):
                    problems.append(
                        f"{field}: the average facility's {what} "
                        f"is exp({linear:.4g}) = {math.exp(min(linear, 700)):.4g} {unit}; "
                        f"the plausible range is {low:g} .. {high:g}"
                    )
    return problems


def _feature_problems(model: LossModel, questionnaire: Questionnaire) -> list[str]:
    """The model's features and fill values against those the questionnaire produces."""
    problems: list[str] = []
    produced = [str(f) for f in AnswerEncoder(questionnaire).feature_names]
    known = set(produced)
    unknown = [f for f in model.features if f not in known]
    if unknown:
        problems.append(
            f"features: {', '.join(unknown[:10])}{' ...' if len(unknown) > 10 else ''} "
            f"not produced by {questionnaire.key} ({len(unknown)} in all)"
        )
    absent = [f for f in produced if f not in set(model.features)]
    if absent:
        problems.append(
            f"features: {', '.join(absent[:10])}{' ...' if len(absent) > 10 else ''} "
            f"of {questionnaire.key} missing from the model ({len(absent)} in all)"
        )
    if not unknown and not absent and list(model.features) != produced:
        problems.append(f"features: not in the order {questionnaire.key} produces them")
    questions = set(questionnaire.by_id)
    stray = [name for name in model.unknown_fill if name not in questions]
    if stray:
        problems.append(f"unknown_fill: {', '.join(stray)} not question(s) of {questionnaire.key}")
    return problems
