"""The wheel, not only the checkout, carries the bundled questionnaire and default model."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def test_the_wheel_brings_the_default_questionnaire(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    wheel = next(tmp_path.glob("carescore-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "scoring/_data/questionnaires/care-cyber-1.0.0.yaml" in names
    assert "scoring/_data/questionnaires/care-cyber-1.1.0.yaml" in names
    assert "scoring/_data/questionnaires/frameworks.yaml" in names
    assert "scoring/_data/models/care-cyber-default/model.json" in names
    assert "scoring/_data/models/care-cyber-default/rating-plan.yaml" in names
    assert "scoring/_data/questionnaires/remediation/care-cyber-1.0.0.yaml" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = (
        "import scoring, sys; "
        f"assert scoring.__file__.startswith({str(site)!r}), scoring.__file__; "
        "from scoring.model.loss_model import default_model_dir, load_model; "
        "q = scoring.bundled_questionnaire(); "
        "print(q.key, load_model(default_model_dir(), q).model_id); "
        "engine = scoring.default_engine(); "
        "print(engine.plan.key, len(engine.remediation.controls))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:2] == [
        "care_cyber@1.1.0 care-cyber-default",
        "care_cyber_plan@2026.2.0 60",
    ]
