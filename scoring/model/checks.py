"""Load-time checks of a loss model: manifest names, numbers, perils, features.

:func:`scoring.model.loss_model.load_model` runs them on every model folder, so
a folder edited by hand (and re-hashed) or trained on nonsense is refused with
every reason before anything is priced. The ranges are declared in
:mod:`scoring.model.bounds`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from scoring.features.encoding import AnswerEncoder
from scoring.model import bounds
from scoring.model.limits import FeatureLimits, feature_limits
from scoring.questionnaire.definition import Questionnaire
from scoring.vocabulary import Encoding, Peril

if TYPE_CHECKING:
    from scoring.model.loss_model import Glm, LossModel


def outside(directory: Path, name: object) -> str | None:
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

    if not math.isfinite(model.training.exposure) or model.training.exposure < 0:
        problems.append(
            f"training.exposure is {model.training.exposure!r}; it must be a finite number "
            "of facility-years, 0 or more"
        )
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


def feature_problems(model: LossModel, questionnaire: Questionnaire) -> list[str]:
    """The model's features, fill values and caps against those the questionnaire
    produces, and its coefficients against the limits of :mod:`scoring.model.limits`."""
    problems: list[str] = []
    encoder = AnswerEncoder(questionnaire, model.unknown_fill, model.feature_caps)
    produced = [str(f) for f in encoder.feature_names]
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
    capped = encoder.capped_features
    for name, (low, high) in model.feature_caps.items():
        if name not in capped:
            problems.append(f"feature_caps: {name} is not a capped feature of {questionnaire.key}")
        elif not (math.isfinite(low) and math.isfinite(high) and low <= high):
            problems.append(f"feature_caps.{name} is [{low!r}, {high!r}]; a cap is low <= high")
    if not problems:
        limits = feature_limits(encoder)
        problems += _span_problems(model, encoder.feature_info, limits)
        for peril, peril_model in model.perils.items():
            problems += limits.problems(
                f"perils.{peril.value}",
                np.asarray(peril_model.frequency.coefficients),
                np.asarray(peril_model.severity.coefficients),
            )
    questions = set(questionnaire.by_id)
    stray = [name for name in model.unknown_fill if name not in questions]
    if stray:
        problems.append(f"unknown_fill: {', '.join(stray)} not question(s) of {questionnaire.key}")
    return problems


def _feature_range(encoding: str, span: float) -> float:
    """The width of the values a feature can take: its limits' span when it has one (a
    level, a flag, a capped number), 1 for an indicator; NaN when nothing bounds it (a
    capped number whose cap was never learned, reported by the limits)."""
    if not math.isnan(span):
        return span
    if encoding in (Encoding.ONE_HOT, Encoding.INDICATORS, Encoding.ORDINAL, Encoding.SHARE):
        return 1.0
    return math.nan


def _span_problems(model: LossModel, info: pd.DataFrame, limits: FeatureLimits) -> list[str]:
    """Peril parts whose linear predictor can stray too far from the average facility's."""
    ranges = [
        _feature_range(str(e), float(span))
        for e, span in zip(info["encoding"], limits.span, strict=True)
    ]
    problems: list[str] = []
    for peril, peril_model in model.perils.items():
        for part in ("frequency", "severity"):
            glm: Glm = getattr(peril_model, part)
            span = math.fsum(
                abs(beta) * width
                for beta, width in zip(glm.coefficients, ranges, strict=True)
                if not math.isnan(width)
            )
            if span > bounds.MAX_LINEAR_SPAN:
                problems.append(
                    f"perils.{peril.value}.{part}: the coefficients times the ranges of their "
                    f"features add up to {span:.4g}; a facility could be priced exp({span:.4g}) "
                    f"times the average (the plausible most is exp({bounds.MAX_LINEAR_SPAN:g}))"
                )
    return problems
