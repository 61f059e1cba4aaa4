"""Scoring starts without the training libraries; their public names load on first use."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

import scoring
from tests.conftest import EXAMPLES, EXAMPLES_AS_OF

TRAINING_LIBRARIES = ("sklearn", "glum", "tabmat", "scipy.stats")
LAZY_NAMES = {
    "FeatureEncoder": "scoring.features.encoder",
    "evaluate": "scoring.model.evaluation",
    "evaluate_book": "scoring.model.evaluation",
    "oracle_beside": "scoring.model.evaluation",
    "synthetic_book": "scoring.synthetic.book",
    "train": "scoring.model.training",
    "train_book": "scoring.model.training",
    "write_book": "scoring.synthetic.book",
}

# Runs in a fresh interpreter: score a bundled example through the public API, note
# which training libraries are loaded, then reach the names that load them.
SCRIPT = f"""
import datetime as dt, importlib, json, sys
import scoring, scoring.cli.app
result = scoring.score(
    {str(EXAMPLES / "well-run-snf-group.yaml")!r},
    as_of=dt.date.fromisoformat({EXAMPLES_AS_OF.isoformat()!r}),
)
scoring.render_html(result)
loaded = sorted(m for m in {TRAINING_LIBRARIES!r} if m in sys.modules)
same = {{
    name: getattr(scoring, name) is getattr(importlib.import_module(module), name)
    for name, module in {LAZY_NAMES!r}.items()
}}
print(json.dumps({{"score": result.score, "loaded": loaded, "same": same}}))
"""


@pytest.fixture(scope="module")
def fresh() -> dict[str, Any]:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    found: dict[str, Any] = json.loads(run.stdout.splitlines()[-1])
    return found


def test_scoring_loads_no_training_library(fresh: dict[str, Any]) -> None:
    assert isinstance(fresh["score"], int)
    assert fresh["loaded"] == []


def test_lazy_public_names_are_the_objects_of_their_modules(fresh: dict[str, Any]) -> None:
    assert fresh["same"] == dict.fromkeys(LAZY_NAMES, True)


def test_lazy_public_names_are_listed() -> None:
    assert set(LAZY_NAMES) <= set(scoring.__all__)
    assert set(scoring.__all__) <= set(dir(scoring))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        _ = scoring.no_such_name  # type: ignore[attr-defined]
