"""Loading questionnaires and the framework catalogue from their YAML files.

Files are read with the strict safe YAML reader, validated by the pydantic
models (unknown keys refused) and then linted; a questionnaire with lint errors
is refused, so the engine only ever runs on a questionnaire that passed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from scoring._files import read_document
from scoring._resources import data_dir
from scoring.errors import InputError, QuestionnaireError
from scoring.questionnaire.definition import Questionnaire
from scoring.questionnaire.frameworks import FrameworkCatalog
from scoring.questionnaire.lint import lint

DEFAULT_QUESTIONNAIRE_ID = "care_cyber"
MAX_QUESTIONNAIRE_BYTES = 5 * 1024 * 1024


def questionnaire_dir() -> Path:
    """The folder of bundled questionnaires."""
    return data_dir("questionnaires")


def _pydantic_problems(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        problems.append(f"{where}: {error['msg']}")
    return problems


def _read(path: Path) -> Any:
    try:
        return read_document(path, max_bytes=MAX_QUESTIONNAIRE_BYTES)
    except InputError as exc:
        raise QuestionnaireError(str(path), [i.message for i in exc.issues]) from exc


def read_framework_catalog(path: Path | None = None) -> FrameworkCatalog:
    """Read and validate a framework catalogue (default: the bundled one)."""
    path = path or questionnaire_dir() / "frameworks.yaml"
    try:
        return FrameworkCatalog.model_validate(_read(path))
    except ValidationError as exc:
        raise QuestionnaireError(str(path), _pydantic_problems(exc)) from exc


def read_questionnaire_file(path: Path) -> Questionnaire:
    """Read and validate a questionnaire file's structure, without linting it."""
    try:
        return Questionnaire.model_validate(_read(path))
    except ValidationError as exc:
        raise QuestionnaireError(str(path), _pydantic_problems(exc)) from exc


def load_questionnaire(path: Path, *, catalog: FrameworkCatalog | None = None) -> Questionnaire:
    """Read, validate and lint a questionnaire file; refuse it if the linter finds errors.

    Parameters
    ----------
    path : Path
        A questionnaire YAML file.
    catalog : FrameworkCatalog, optional
        Framework ids the questionnaire may cite; the bundled catalogue by default.
    """
    questionnaire = read_questionnaire_file(path)
    findings = [f for f in lint(questionnaire, catalog or default_catalog()) if f.is_error]
    if findings:
        raise QuestionnaireError(str(path), [f.describe() for f in findings])
    return questionnaire


@lru_cache(maxsize=1)
def default_catalog() -> FrameworkCatalog:
    """The bundled framework catalogue."""
    return read_framework_catalog()


def available_questionnaires() -> dict[tuple[str, str], Path]:
    """Bundled questionnaire files keyed by (id, version)."""
    found: dict[tuple[str, str], Path] = {}
    for path in sorted(questionnaire_dir().glob("*.yaml")):
        stem = path.stem
        if "-" not in stem or stem == "frameworks":
            continue
        name, _, version = stem.rpartition("-")
        found[(name.replace("-", "_"), version)] = path
    return found


@lru_cache(maxsize=8)
def bundled_questionnaire(
    questionnaire_id: str = DEFAULT_QUESTIONNAIRE_ID, version: str | None = None
) -> Questionnaire:
    """A bundled questionnaire by id and version (default: the newest version).

    Examples
    --------
    >>> q = bundled_questionnaire()
    >>> q.id
    'care_cyber'
    """
    files = available_questionnaires()
    versions = _bundled_versions(questionnaire_id)
    if not versions:
        known = ", ".join(sorted({qid for qid, _ in files})) or "none"
        raise QuestionnaireError(
            questionnaire_id, [f"no bundled questionnaire with this id (bundled: {known})"]
        )
    chosen = version or versions[-1]
    if chosen not in versions:
        raise QuestionnaireError(
            questionnaire_id, [f"version {chosen} is not bundled (bundled: {', '.join(versions)})"]
        )
    return load_questionnaire(files[(questionnaire_id, chosen)])


def _bundled_versions(questionnaire_id: str) -> list[str]:
    """The bundled versions of a questionnaire, oldest first."""
    return sorted(
        (v for (qid, v) in available_questionnaires() if qid == questionnaire_id),
        key=lambda v: tuple(int(p) for p in v.split(".")),
    )


def bundled_questionnaire_reading(questionnaire_id: str, version: str) -> Questionnaire:
    """The newest bundled questionnaire that reads what was written for
    ``questionnaire_id`` at ``version`` (:meth:`Questionnaire.reads`): a model or plan
    made for an earlier version runs on the newest one that declares a migration from it.

    Examples
    --------
    >>> bundled_questionnaire_reading("care_cyber", "1.0.0").version
    '1.1.0'
    """
    for newer in reversed(_bundled_versions(questionnaire_id)):
        candidate = bundled_questionnaire(questionnaire_id, newer)
        if candidate.reads(questionnaire_id, version):
            return candidate
    return bundled_questionnaire(questionnaire_id, version)
