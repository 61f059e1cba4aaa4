"""What an agent reads from ``carescore score``: an indicative premium says so, the advice
speaks in the questionnaire's words, and an unknown answer reads "don't know"."""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scoring.cli import app
from scoring.rating.plan import Outcome
from scoring.rating.result import DONT_KNOW, FIND_OUT, premium_note
from tests.conftest import EXAMPLES

runner = CliRunner()
AS_OF = ["--as-of", "2026-11-29"]
WIDE = {"COLUMNS": "400"}  # one terminal line per printed line, so phrases are not wrapped
QUOTED = EXAMPLES / "well-run-snf-group.yaml"
REFERRED = EXAMPLES / "hospice-msp-gap.yaml"
DECLINED = EXAMPLES / "rural-snf-no-mfa.yaml"
UNKNOWNS = EXAMPLES / "small-assisted-living-paper.yaml"  # days to patch, DMARC: unknown


def _score(*args: str) -> str:
    result = runner.invoke(app, ["score", *args, *AS_OF], env=WIDE)
    assert result.exit_code == 0, result.output
    return result.output


def _report(path: Path, tmp_path: Path) -> str:
    page = tmp_path / f"{path.stem}.html"
    _score(str(path), "--html", str(page))
    return page.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("path", "outcome"), [(REFERRED, "refer"), (DECLINED, "decline")], ids=["refer", "decline"]
)
def test_a_referred_or_declined_premium_is_called_indicative_everywhere(
    path: Path, outcome: Outcome, tmp_path: Path
) -> None:
    note = premium_note(outcome)
    assert note is not None
    assert note.startswith("Indicative only")
    assert " ".join(_score(str(path)).replace("│", " ").split()).count(note) == 1
    result = json.loads(_score(str(path), "--json"))
    assert result["outcome"] == outcome
    assert result["premium_note"] == note
    assert escape(note) in _report(path, tmp_path)


def test_a_quoted_premium_carries_no_caveat(tmp_path: Path) -> None:
    assert "Indicative only" not in _score(str(QUOTED))
    result = json.loads(_score(str(QUOTED), "--json"))
    assert result["outcome"] == "quote"
    assert result["premium_note"] is None
    assert "Indicative only" not in _report(QUOTED, tmp_path)


def test_fewest_fixes_and_notes_name_questions_not_ids(tmp_path: Path) -> None:
    result = json.loads(_score(str(UNKNOWNS), "--json"))
    advice = result["advice"]
    ids = {*advice["insurable"]["fixes"], *advice["next_tier"]["fixes"]}
    ids |= {note["question_id"] for note in result["notes"]}
    assert {"eol_systems_isolated", "days_to_patch_critical", "dmarc_policy"} <= ids
    words = [*advice["insurable"]["questions"], *advice["next_tier"]["questions"]]
    words += [note["question"] for note in result["notes"]]
    terminal = _score(str(UNKNOWNS))
    page = _report(UNKNOWNS, tmp_path)
    for question_id in ids:  # a rule id may contain a question id: whole words only
        assert re.search(rf"\b{question_id}\b", terminal) is None
        assert re.search(rf"\b{question_id}\b", page) is None
    for text in words:
        assert text in terminal
        assert escape(text) in page
    assert "Fewest fixes to be quoted" in terminal


def test_fix_sets_keep_their_ids_for_machines_with_the_text_beside_them() -> None:
    result = json.loads(_score(str(REFERRED), "--json"))
    insurable = result["advice"]["insurable"]
    assert insurable["fixes"] == ["msp_mfa", "remote_support_tools_mfa"]
    assert insurable["questions"] == [
        "Must your IT company use MFA every time it connects to your systems?",
        "Do all remote-support tools (such as TeamViewer, AnyDesk or ScreenConnect) need MFA "
        "to connect?",
    ]


def _with_unknown_dmarc(tmp_path: Path) -> Path:
    text = QUOTED.read_text(encoding="utf-8")
    assert "  dmarc_policy: p_reject\n" in text
    path = tmp_path / "dmarc-unknown.yaml"
    path.write_text(text.replace("  dmarc_policy: p_reject\n", "  dmarc_policy: unknown\n"))
    return path


def test_an_unknown_answer_reads_dont_know_and_the_advice_is_to_find_out(
    tmp_path: Path,
) -> None:
    path = _with_unknown_dmarc(tmp_path)
    result = json.loads(_score(str(path), "--json"))
    (fix,) = (f for f in result["advice"]["fixes"] if f["question_id"] == "dmarc_policy")
    assert fix["unknown"] is True
    assert fix["answer"] == DONT_KNOW
    (factor,) = (f for f in result["factors"] if f["question_id"] == "dmarc_policy")
    assert (factor["unknown"], factor["answer"]) == (True, DONT_KNOW)
    assert not any(f["unknown"] for f in result["factors"] if f["question_id"] != "dmarc_policy")
    assert [n["question_id"] for n in result["notes"]] == ["dmarc_policy"]

    terminal = _score(str(path), "--fixes", "20")
    assert DONT_KNOW in terminal
    assert FIND_OUT.split(":")[0] in terminal
    assert "No DMARC record" not in terminal  # the worst answer it is priced as, not the answer
    page = _report(path, tmp_path)
    assert f"Now: {escape(DONT_KNOW)}" in page
    assert escape(FIND_OUT) in page
    assert "No DMARC record" not in page


def test_a_known_answer_is_shown_as_given(tmp_path: Path) -> None:
    result = json.loads(_score(str(UNKNOWNS), "--json"))
    known = [f for f in result["advice"]["fixes"] if f["question_id"] == "payment_change_callback"]
    assert [(f["unknown"], f["answer"]) for f in known] == [(False, "No")]
    assert DONT_KNOW not in _score(str(QUOTED))


def test_why_no_fixes_reach_a_quote_is_said_in_words(tmp_path: Path) -> None:
    result = json.loads(_score(str(DECLINED), "--json"))
    note = result["advice"]["insurable"]["note"]
    assert result["advice"]["insurable"]["reached"] is False
    assert "ransomware in the last 24 months without documented remediation" in note
    assert "recent_ransomware_unremediated" not in note
    (line,) = (line for line in _score(str(DECLINED)).splitlines() if "No fixes to be" in line)
    assert "do not depend" not in line
    assert "does not depend on controls alone (ransomware in the last 24 months" in line
    assert "recent_ransomware_unremediated" not in _report(DECLINED, tmp_path)
