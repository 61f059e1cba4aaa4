"""The bundled examples: every facility is valid, and the portfolio reads the same in any format."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from scoring import FeatureEncoder, Questionnaire, bundled_questionnaire, validate_file
from tests.conftest import EXAMPLES, ROOT
from tests.conftest import EXAMPLES_AS_OF as AS_OF

FACILITIES = sorted(EXAMPLES.glob("*.yaml"))


def test_there_are_at_least_six_example_facilities() -> None:
    assert len(FACILITIES) >= 6


@pytest.mark.parametrize("path", FACILITIES, ids=lambda p: p.stem)
def test_each_example_facility_is_valid(path: Path, care: Questionnaire) -> None:
    result = validate_file(path, care, as_of=AS_OF)
    assert result.is_valid, result.issues.to_string()
    assert result.facilities.loc[0, "facility_id"]


def test_example_facilities_cover_the_spread_of_risk(care: Questionnaire) -> None:
    results = [validate_file(p, care, as_of=AS_OF) for p in FACILITIES]
    table = pd.concat([r.table for r in results], ignore_index=True)
    encoder = FeatureEncoder(care).fit(table)
    features = pd.DataFrame(encoder.transform(table), columns=encoder.get_feature_names_out())
    controls = encoder.feature_info_.loc[encoder.feature_info_["is_control"], "feature"]
    mean_level = features[list(controls)].mean(axis=1)
    assert mean_level.max() - mean_level.min() > 0.4
    types = {r.answers.loc[0, "facility_type"] for r in results}
    assert {"skilled_nursing", "assisted_living", "imaging_centre", "home_health"} <= types


def test_portfolio_is_the_same_in_csv_and_xlsx(care: Questionnaire) -> None:
    from_csv = validate_file(EXAMPLES / "portfolio.csv", care, as_of=AS_OF)
    from_xlsx = validate_file(EXAMPLES / "portfolio.xlsx", care, as_of=AS_OF)
    assert from_csv.n_rows == from_xlsx.n_rows >= 200
    assert from_csv.is_valid
    pd.testing.assert_frame_equal(from_csv.answers, from_xlsx.answers)
    encoder = FeatureEncoder(care).fit(from_csv.table)
    np.testing.assert_array_equal(
        encoder.transform(from_csv.table), encoder.transform(from_xlsx.table)
    )


def _portfolio_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_example_portfolio", ROOT / "scripts" / "make_example_portfolio.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_portfolio_regenerates_byte_for_byte(tmp_path: Path) -> None:
    csv_path, _ = _portfolio_script().write_portfolio(tmp_path)
    assert csv_path.read_bytes() == (EXAMPLES / "portfolio.csv").read_bytes()


VENDOR_QUESTIONS = [
    "msp_name",
    "msp_rmm_tool",
    "clearinghouse_vendor",
    "email_platform",
    "cloud_platform",
]


def test_portfolio_answers_1_1_0_and_every_1_0_0_cell_as_the_1_0_0_draw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The portfolio drawn for 1.0.0 from the same seeds differs from the bundled one
    only in the version column and the vendor questions 1.1.0 adds."""
    script = _portfolio_script()
    bundled = script.portfolio_table()
    assert set(bundled["questionnaire_version"].to_pylist()) == {"1.1.0"}
    monkeypatch.setattr(
        script, "bundled_questionnaire", lambda: bundled_questionnaire("care_cyber", "1.0.0")
    )
    earlier = script.portfolio_table()
    assert bundled.column_names == [*earlier.column_names, *VENDOR_QUESTIONS]
    moved = [c for c in earlier.column_names if not earlier[c].equals(bundled[c])]
    assert moved == ["questionnaire_version"]


def test_portfolio_names_vendors_where_they_are_asked(care: Questionnaire) -> None:
    answers = validate_file(EXAMPLES / "portfolio.csv", care, as_of=AS_OF).answers
    uses_msp = answers["uses_msp"] == "yes"
    assert (answers["msp_name"].notna() == uses_msp).all()
    assert answers.loc[uses_msp, "msp_name"].value_counts().iloc[0] >= 10  # one serves many
    for qid in ("clearinghouse_vendor", "email_platform"):
        assert answers[qid].notna().all()
        assert {"not_sure", "other"} <= set(answers[qid])
    sure = answers[uses_msp & (answers["msp_rmm_tool"] != "not_sure")]
    assert (sure.groupby("msp_name")["msp_rmm_tool"].nunique() == 1).all()
