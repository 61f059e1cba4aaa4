"""Load-time checks of a model folder: numbers, perils, questionnaire, features, manifest.

Each bad folder is the bundled default model copied, its model.json edited and
re-hashed in manifest.json, so the hash check passes and the content checks are
what refuse it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scoring import Questionnaire
from scoring._files import file_sha256
from scoring.errors import InputError
from scoring.model import bounds
from scoring.model.loss_model import default_model_dir, load_model

Edit = Callable[[dict[str, Any]], None]


def edited_model(tmp_path: Path, edit: Edit, *, replace: tuple[str, str] = ("", "")) -> Path:
    """The default model folder, copied, with model.json edited and re-hashed.

    ``replace`` swaps a text for another in the written file (numbers JSON cannot
    write, such as ``1e400``)."""
    folder = tmp_path / "model"
    shutil.copytree(default_model_dir(), folder)
    model_path = folder / "model.json"
    document = json.loads(model_path.read_text(encoding="utf-8"))
    edit(document)
    text = json.dumps(document, indent=1)
    if replace[0]:
        assert replace[0] in text
        text = text.replace(replace[0], replace[1], 1)
    model_path.write_text(text, encoding="utf-8")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["sha256"]["model.json"] = file_sha256(model_path)
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def set_frequency(peril: str, **values: Any) -> Edit:
    def edit(document: dict[str, Any]) -> None:
        document["perils"][peril]["frequency"].update(values)

    return edit


def messages(exc: pytest.ExceptionInfo[InputError]) -> str:
    return "\n".join(issue.message for issue in exc.value.issues)


def test_the_bundled_default_model_passes_every_check(care: Questionnaire) -> None:
    assert load_model(default_model_dir()).model_id == "care-cyber-default"
    assert load_model(default_model_dir(), care).model_id == "care-cyber-default"


def test_a_rehashed_copy_of_the_default_model_loads(tmp_path: Path) -> None:
    folder = edited_model(tmp_path, lambda document: None)
    assert load_model(folder).model_id == "care-cyber-default"


def test_a_huge_coefficient_is_refused_naming_the_peril_feature_and_value(
    tmp_path: Path,
) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["perils"]["ransomware"]["severity"]["coefficients"][3] = 1e300

    folder = edited_model(tmp_path, edit)
    with pytest.raises(InputError, match=r"ransomware\.severity\.coefficients\.") as exc:
        load_model(folder)
    assert "facility_type=imaging_centre is 1e+300" in messages(exc)
    assert f"{bounds.MAX_COEFFICIENT:g}" in messages(exc)


def test_a_coefficient_too_large_for_json_floats_is_refused_as_not_finite(
    tmp_path: Path,
) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["perils"]["email_fraud"]["frequency"]["coefficients"][0] = 12345.0

    folder = edited_model(tmp_path, edit, replace=("12345.0", "1e400"))
    with pytest.raises(InputError, match=r"email_fraud\.frequency\.coefficients\..* is inf"):
        load_model(folder)


def test_an_infinite_intercept_is_refused(tmp_path: Path) -> None:
    folder = edited_model(
        tmp_path,
        set_frequency("vendor_outage", intercept=-12345.5),
        replace=("-12345.5", "-1e400"),
    )
    with pytest.raises(InputError, match=r"vendor_outage\.frequency\.intercept is -inf"):
        load_model(folder)


def test_forty_five_added_to_an_intercept_is_refused_by_the_average_facility(
    tmp_path: Path,
) -> None:
    default = json.loads((default_model_dir() / "model.json").read_text(encoding="utf-8"))
    intercept = default["perils"]["ransomware"]["frequency"]["intercept"] + 45
    folder = edited_model(tmp_path, set_frequency("ransomware", intercept=intercept))
    with pytest.raises(
        InputError, match=r"ransomware\.frequency: the average facility's frequency is exp"
    ) as exc:
        load_model(folder)
    assert "the plausible range is 1e-09 .. 10" in messages(exc)


def test_a_severity_intercept_pricing_absurd_claims_is_refused(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["perils"]["privacy_breach"]["severity"]["intercept"] += 20

    with pytest.raises(InputError, match=r"privacy_breach\.severity: .*mean claim is exp"):
        load_model(edited_model(tmp_path, edit))


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["perils"]["ransomware"]["frequency"]["intercept"] = 45.0
        document["feature_means"][0] = 1e200
        document["unknown_fill"] = {"beds_or_residents": 1e300}
        document["training"]["exposure"] = -1.0

    with pytest.raises(InputError, match=r"(and [0-9]+ more issue)") as exc:
        load_model(edited_model(tmp_path, edit))
    text = messages(exc)
    assert "ransomware.frequency.intercept is 45" in text
    assert "feature_means.facility_type=skilled_nursing is 1e+200" in text
    assert "unknown_fill.beds_or_residents is 1e+300" in text
    assert "training.exposure is -1.0" in text


def test_a_claim_sigma_out_of_range_is_refused(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["perils"]["ransomware"]["claim_sigma"] = 50

    with pytest.raises(InputError, match=r"perils\.ransomware\.claim_sigma.*given 50"):
        load_model(edited_model(tmp_path, edit))


def test_a_model_without_perils_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"perils: no model for ransomware, email_fraud"):
        load_model(edited_model(tmp_path, lambda document: document.update(perils={})))


def test_a_model_missing_one_peril_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"perils: no model for vendor_outage \("):
        load_model(edited_model(tmp_path, lambda document: document["perils"].pop("vendor_outage")))


def test_an_unknown_peril_is_refused_naming_it(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["perils"]["earthquake"] = document["perils"]["ransomware"]

    with pytest.raises(InputError, match=r"perils\.earthquake.*given 'earthquake'"):
        load_model(edited_model(tmp_path, edit))


def test_an_unknown_questionnaire_version_is_refused(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["questionnaire"]["version"] = "9.9.9"

    with pytest.raises(InputError, match=r"questionnaire care_cyber@9\.9\.9 is not known"):
        load_model(edited_model(tmp_path, edit))


def test_a_feature_the_questionnaire_does_not_produce_is_refused(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["features"][7] = "beds_squared"

    with pytest.raises(InputError, match=r"features: beds_squared not produced by care_cyber"):
        load_model(edited_model(tmp_path, edit))


def test_features_out_of_order_are_refused(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        features = document["features"]
        features[0], features[1] = features[1], features[0]

    with pytest.raises(InputError, match=r"not in the order care_cyber@1\.1\.0 produces"):
        load_model(edited_model(tmp_path, edit))


def test_a_fill_value_for_an_unknown_question_is_refused(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        document["unknown_fill"] = {"no_such_question": 1.0}

    with pytest.raises(InputError, match=r"unknown_fill: no_such_question not question"):
        load_model(edited_model(tmp_path, edit))


@pytest.mark.parametrize("name", ["../model.json", "/etc/hostname", "sub/file", "..", ""])
def test_a_manifest_naming_a_path_outside_the_folder_is_refused(tmp_path: Path, name: str) -> None:
    folder = edited_model(tmp_path, lambda document: None)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["sha256"][name] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(InputError, match=r"may name only plain files inside the folder"):
        load_model(folder)


def test_a_manifest_entry_linking_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    folder = edited_model(tmp_path, lambda document: None)
    outside = tmp_path / "secret.txt"
    outside.write_text("not part of the model", encoding="utf-8")
    (folder / "notes.txt").symlink_to(outside)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["sha256"]["notes.txt"] = file_sha256(outside)
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(InputError, match=r"lists 'notes\.txt'.*no links leading out"):
        load_model(folder)


def test_coefficients_that_could_price_a_facility_absurdly_are_refused(tmp_path: Path) -> None:
    def edit(document: dict[str, Any]) -> None:
        # 40 control levels at relativities of exp(6) and exp(-6) in turn, each within
        # its own bound, and the average facility unchanged (beta times each mean is
        # taken from the intercept), but a facility could be priced exp(240) times
        # the average
        severity = document["perils"]["vendor_outage"]["severity"]
        features = document["features"]
        controls = [i for i, f in enumerate(features) if "=" not in f and "__" not in f][-40:]
        for turn, index in enumerate(controls):
            beta = 6.0 if turn % 2 else -6.0
            severity["coefficients"][index] = beta
            severity["intercept"] -= beta * document["feature_means"][index]

    with pytest.raises(
        InputError, match=r"vendor_outage\.severity: the coefficients times the ranges"
    ) as exc:
        load_model(edited_model(tmp_path, edit))
    assert f"exp({bounds.MAX_LINEAR_SPAN:g})" in messages(exc)
    spans = [i for i in exc.value.issues if "the coefficients times the ranges" in i.message]
    assert len(spans) == 1
