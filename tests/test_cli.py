"""The command line: exit codes, outputs, and no traceback for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scoring.cli import app
from tests.conftest import DATA, EXAMPLES

runner = CliRunner()
AS_OF = ["--as-of", "2026-11-29"]


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_validate_a_valid_example_exits_0() -> None:
    code, output = _run("validate", str(EXAMPLES / "portfolio.csv"), *AS_OF)
    assert code == 0
    assert "valid - 240 facilities read, 240 valid, 0 rejected" in output


def test_validate_json_lists_every_issue(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(
        "questionnaire: care_cyber\nquestionnaire_version: '1.0.0'\n"
        "answers:\n  facility_type: castle\n  sites: -1\n"
    )
    code, output = _run("validate", str(path), "--json", *AS_OF)
    assert code == 1
    report = json.loads(output)
    assert report["valid"] is False
    assert report["rejected_rows"] == 1
    given = {(i["question_id"], i["reason"]) for i in report["issues"]}
    assert ("facility_type", "not_a_choice") in given
    assert ("sites", "out_of_range") in given
    assert ("beds_or_residents", "required") in given


def test_validate_text_output_names_row_question_value_and_allowed(tmp_path: Path) -> None:
    lines = (EXAMPLES / "portfolio.csv").read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[3].split(",")
    cells[header.index('"rdp_exposed"')] = "maybe"
    lines[3] = ",".join(cells)
    path = tmp_path / "book.csv"
    path.write_text("\n".join(lines) + "\n")
    code, output = _run("validate", str(path), *AS_OF)
    assert code == 1
    assert "row 4 (facility CF-003), rdp_exposed: given 'maybe': not a yes/no answer" in output
    assert "240 facilities read, 239 valid, 1 rejected" in output


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["validate"], 2),
        (["validate", "no-such-file.csv"], 2),
        (["validate", "x.csv", "--as-of", "tomorrow"], 2),
        (["questionnaire", "template", "--format", "pdf"], 2),
        (["questionnaire", "template", "--format", "xlsx"], 2),
        (["frobnicate"], 2),
    ],
)
def test_usage_errors_exit_2(args: list[str], code: int, tmp_path: Path) -> None:
    if "x.csv" in args:
        (tmp_path / "x.csv").write_text("a\n1\n")
        args = [str(tmp_path / "x.csv") if a == "x.csv" else a for a in args]
    assert _run(*args)[0] == code


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty.csv", b""),
        ("binary.yaml", b"\x00\xff"),
        ("bad.json", b"{"),
        ("wrong.yaml", b"questionnaire: other\nquestionnaire_version: '9.9.9'\n"),
    ],
)
def test_bad_files_exit_1_without_traceback(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    process = subprocess.run(
        [sys.executable, "-m", "scoring", "validate", str(path), *AS_OF],
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 1
    assert "Traceback" not in process.stderr + process.stdout
    assert str(path) in process.stderr


def test_questionnaire_lint_of_the_bundled_questionnaire_passes() -> None:
    code, output = _run("questionnaire", "lint")
    assert code == 0
    assert "0 error(s)" in output


def test_questionnaire_lint_reports_findings_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    path.write_text(
        (DATA / "mini-1.0.0.yaml")
        .read_text()
        .replace("${mdm_in_use} = 'yes'", "${mdm_in_use} = 'maybe'")
    )
    code, output = _run("questionnaire", "lint", str(path))
    assert code == 1
    assert "[dead-branch] mdm_wipe" in output


def test_questionnaire_show_lists_sections_and_questions() -> None:
    code, output = _run("questionnaire", "show")
    assert code == 0
    assert "pacs_internet_exposed" in output
    code, output = _run("questionnaire", "show", "--json")
    assert json.loads(output)["id"] == "care_cyber"


def test_csv_template_is_a_table_the_validator_reads(tmp_path: Path) -> None:
    out = tmp_path / "template.csv"
    assert _run("questionnaire", "template", "--format", "csv", "-o", str(out))[0] == 0
    header = out.read_text().splitlines()[0].split(",")
    assert header[:3] == ["facility_id", "facility_name", "questionnaire"]
    code, output = _run("validate", str(out), *AS_OF)
    assert code == 1  # a blank template is not a valid response...
    assert "every row needs a facility_id" in output  # ...and says what to fill in


def test_xlsx_template_has_guide_sheets(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "template.xlsx"
    assert _run("questionnaire", "template", "--format", "xlsx", "-o", str(out))[0] == 0
    workbook = load_workbook(out)
    assert workbook.sheetnames == ["instructions", "responses", "questions", "choices"]
    assert workbook["responses"]["A1"].value == "facility_id"


def test_yaml_template_validates_once_filled(tmp_path: Path) -> None:
    code, output = _run("questionnaire", "template", "--format", "yaml")
    assert code == 0
    assert "  pacs_internet_exposed:" in output
    path = tmp_path / "blank.yaml"
    path.write_text(output)
    code, report = _run("validate", str(path), "--json", *AS_OF)
    assert code == 1
    assert {i["reason"] for i in json.loads(report)["issues"]} <= {"required", "treated_as_worst"}


def test_json_schema_accepts_every_example_facility() -> None:
    import jsonschema

    from scoring._files import parse_yaml

    code, output = _run("questionnaire", "template", "--format", "json-schema")
    assert code == 0
    schema = json.loads(output)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    examples = sorted(EXAMPLES.glob("*.yaml"))
    assert examples
    for path in examples:
        document = parse_yaml(path.read_text(), path.name)
        errors = [e.message for e in validator.iter_errors(document)]
        assert errors == [], path.name
    bad = {
        "questionnaire": "care_cyber",
        "questionnaire_version": "1.0.0",
        "answers": {"has_pacs": "maybe"},
    }
    assert list(validator.iter_errors(bad))


def test_version_flag() -> None:
    code, output = _run("--version")
    assert code == 0
    assert output.startswith("carescore ")


def test_json_output_is_byte_identical_across_runs() -> None:
    args = ["validate", str(EXAMPLES / "portfolio.csv"), "--json", *AS_OF]
    first, second = _run(*args), _run(*args)
    assert first == second
    assert json.loads(first[1])["warnings"] > 0


def test_batch_help_names_the_dask_extra_whole() -> None:
    result = runner.invoke(app, ["batch", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "needs carescore[dask])" in result.output


def test_a_trained_model_folder_without_a_plan_is_priced_with_the_bundled_plan(
    tmp_path: Path,
) -> None:
    import shutil

    from scoring.model.loss_model import default_model_dir

    trained = tmp_path / "my-model"  # what carescore train writes: no rating plan
    trained.mkdir()
    for name in ("model.json", "manifest.json", "MODEL_CARD.md"):
        shutil.copy(default_model_dir() / name, trained / name)
    applicant = str(EXAMPLES / "hospice-msp-gap.yaml")
    mine = runner.invoke(app, ["score", applicant, "-m", str(trained), "--json", *AS_OF])
    assert mine.exit_code == 0, mine.output
    assert f"{trained} holds no rating-plan.yaml; pricing with the bundled rating plan" in (
        mine.stderr
    )
    bundled = runner.invoke(app, ["score", applicant, "--json", *AS_OF])
    assert json.loads(mine.stdout)["premium"] == json.loads(bundled.stdout)["premium"]
    assert "holds no rating-plan.yaml" not in bundled.stderr


@pytest.mark.parametrize(
    ("limit", "retention", "shown"),
    [
        ("$2 million", "$25,000", "$2,000,000 limit, $25,000 retention"),
        ("LIMIT_2M", " ret_25k ", "$2,000,000 limit, $25,000 retention"),
    ],
)
def test_limit_and_retention_are_read_as_codes_or_labels(
    limit: str, retention: str, shown: str
) -> None:
    applicant = str(EXAMPLES / "hospice-msp-gap.yaml")
    args = ["score", applicant, "--limit", limit, "--retention", retention, *AS_OF]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert shown in result.output


@pytest.mark.parametrize("command", ["score", "batch"])
def test_a_limit_neither_code_nor_label_is_a_usage_error_naming_the_option(
    command: str, tmp_path: Path
) -> None:
    source = EXAMPLES / ("hospice-msp-gap.yaml" if command == "score" else "portfolio.csv")
    args = [command, str(source), "--limit", "7", *AS_OF]
    if command == "batch":
        args += ["-o", str(tmp_path / "out.parquet")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "--limit: given '7': not a limit this questionnaire offers" in result.output
    assert "limit_2m ($2 million)" in result.output
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("command", "shown", "absent"),
    [
        ("compare", ["an output of carescore batch"], "``"),
        ("synth", ["Facilities in the book.", "Policy years", "Random seed"], None),
        ("train", ["The model's id", "Seed of the cross-validation folds"], None),
    ],
)
def test_help_is_plain_text_and_options_say_what_they_are(
    command: str, shown: list[str], absent: str | None
) -> None:
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for text in shown:
        assert text in result.output
    if absent is not None:
        assert absent not in result.output


def test_questionnaire_show_takes_the_file_as_lint_does_and_shows_the_questions() -> None:
    path = str(Path(__file__).parent.parent / "questionnaires" / "care-cyber-1.1.0.yaml")
    by_argument = runner.invoke(app, ["questionnaire", "show", path], env={"COLUMNS": "200"})
    assert by_argument.exit_code == 0, by_argument.output
    bundled = runner.invoke(app, ["questionnaire", "show"], env={"COLUMNS": "200"})
    assert by_argument.output == bundled.output
    assert "How much cyber" in bundled.output  # the question, wrapped in its column
    by_option = runner.invoke(app, ["questionnaire", "show", "-q", path], env={"COLUMNS": "200"})
    assert by_option.output == bundled.output


HELP_COMMANDS = [
    [],
    ["validate"],
    ["score"],
    ["batch"],
    ["compare"],
    ["synth"],
    ["train"],
    ["evaluate"],
    ["questionnaire"],
    ["questionnaire", "show"],
    ["questionnaire", "lint"],
    ["questionnaire", "template"],
]


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=lambda c: " ".join(c) or "carescore")
def test_help_shows_no_value_after_a_flag_and_arguments_in_capitals(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    usage = next(line for line in result.output.splitlines() if "Usage:" in line)
    assert "{" not in usage
    assert "<bool>" not in result.output
    assert "--help " in result.output


def test_usage_lines_read_as_a_user_types_the_command() -> None:
    lines = {}
    for command in (["batch"], ["score"], ["compare"], ["questionnaire", "show"]):
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
        lines[command[-1]] = next(
            line.strip() for line in result.output.splitlines() if "Usage:" in line
        )
    assert lines["batch"].endswith("batch [OPTIONS] BOOK")
    assert lines["score"].endswith("score [OPTIONS] FILE")
    assert lines["compare"].endswith("compare [OPTIONS] BEFORE AFTER")
    assert lines["show"].endswith("show [OPTIONS] [FILE]")


def test_carescore_help_loads_no_scoring_library() -> None:
    # the commands import what they run: the help of every command needs none of it
    script = (
        "import sys\n"
        "from scoring.cli.app import app\n"
        "for args in (['--help'], ['batch', '--help'], ['score', '--help']):\n"
        "    try:\n"
        "        app(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('pandas', 'pyarrow', 'scipy', 'numpy', 'sklearn', 'glum')\n"
        "print('loaded:', [m for m in heavy if m in sys.modules], file=sys.stderr)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert "Usage:" in run.stdout
    assert "loaded: []" in run.stderr
