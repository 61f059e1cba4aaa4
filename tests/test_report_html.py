"""The HTML report: one self-contained, deterministic, escaped document per applicant."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scoring.report
from scoring.rating.result import Note, Scenario, ScoreResult
from scoring.rating.score import score
from scoring.report import render_html
from tests.conftest import EXAMPLES
from tests.conftest import EXAMPLES_AS_OF as AS_OF

FACILITIES = sorted(EXAMPLES.glob("*.yaml"))
HOSTILE = "<script>alert(1)</script>"
PEERS = [300 + (i * 37) % 400 for i in range(400)]


@pytest.fixture(scope="module")
def results() -> dict[str, ScoreResult]:
    return {path.stem: score(path, as_of=AS_OF) for path in FACILITIES}


@pytest.fixture(scope="module")
def imaging(results: dict[str, ScoreResult]) -> ScoreResult:
    return results["imaging-centre-exposed-pacs"]


def test_the_package_exports_render_html_only() -> None:
    assert scoring.report.__all__ == ["render_html"]


@pytest.mark.parametrize("path", FACILITIES, ids=lambda p: p.stem)
def test_each_example_renders_as_one_document_with_svg_charts(
    path: Path, results: dict[str, ScoreResult]
) -> None:
    page = render_html(results[path.stem], peers=PEERS, peers_label="test peers")
    assert page.startswith("<!DOCTYPE html>\n<html")
    assert page.endswith("</html>\n")
    for tag in ("<!DOCTYPE", "<html", "<head>", "<body>", "</html>"):
        assert page.count(tag) == 1
    assert page.count("<svg") >= 2
    assert page.count("<svg") == page.count("</svg>")


@pytest.mark.parametrize("path", FACILITIES, ids=lambda p: p.stem)
def test_each_example_is_self_contained(path: Path, results: dict[str, ScoreResult]) -> None:
    page = render_html(results[path.stem], peers=PEERS, peers_label="test peers").lower()
    for external in ("http://", "https://", "src=", "href=", "<script", "<link", "@import", "url("):
        assert external not in page


@pytest.mark.parametrize("path", FACILITIES, ids=lambda p: p.stem)
def test_two_renders_are_byte_identical(path: Path, results: dict[str, ScoreResult]) -> None:
    first = render_html(results[path.stem], peers=PEERS, peers_label="test peers")
    second = render_html(results[path.stem], peers=list(PEERS), peers_label="test peers")
    assert first.encode() == second.encode()


def test_a_hostile_facility_name_appears_only_escaped(imaging: ScoreResult) -> None:
    hostile = imaging.model_copy(update={"facility_name": HOSTILE, "facility_id": "\"&'<id>"})
    page = render_html(hostile, peers=PEERS, peers_label=HOSTILE)
    assert HOSTILE not in page
    assert "<script" not in page
    assert page.count(escape(HOSTILE)) >= 3  # title, heading, peers caption
    assert escape("\"&'<id>") in page


def test_hostile_answers_and_advice_appear_only_escaped(imaging: ScoreResult) -> None:
    assert imaging.advice is not None
    fix = imaging.advice.fixes[0].model_copy(
        update={"question": HOSTILE, "answer": HOSTILE, "why": HOSTILE, "hicp": (HOSTILE,)}
    )
    factor = imaging.factors[0].model_copy(update={"question": HOSTILE, "answer": HOSTILE})
    rule = imaging.rules[0].model_copy(update={"reason": HOSTILE})
    hostile = imaging.model_copy(
        update={
            "advice": imaging.advice.model_copy(update={"fixes": (fix, *imaging.advice.fixes[1:])}),
            "factors": (factor, *imaging.factors[1:]),
            "rules": (rule, *imaging.rules[1:]),
            "warnings": (HOSTILE,),
            "tier_description": HOSTILE,
        }
    )
    page = render_html(hostile)
    assert "<script" not in page
    assert "alert(1)</" not in page


@settings(max_examples=40, deadline=None)
@given(name=st.text(min_size=1, max_size=40))
def test_any_facility_name_is_escaped(imaging: ScoreResult, name: str) -> None:
    result = imaging.model_copy(update={"facility_name": name})
    page = render_html(result)
    assert f"<h1>{escape(name)}</h1>" in page
    assert "<script" not in page


def test_money_is_written_in_whole_dollars(imaging: ScoreResult) -> None:
    page = render_html(imaging)
    assert f"${round(imaging.premium):,}" in page
    for option in imaging.options:
        assert f">${round(option.premium):,}<" in page
    assert re.search(r"\$\d+\.\d", page) is None


def test_a_referral_lists_every_rule_reason(imaging: ScoreResult) -> None:
    page = render_html(imaging)
    assert "Referred to an underwriter" in page
    for rule in imaging.rules:
        assert escape(rule.reason) in page


def test_a_quote_shows_no_reasons(results: dict[str, ScoreResult]) -> None:
    page = render_html(results["well-run-snf-group"])
    assert "Quote offered" in page
    assert "because:" not in page


def test_an_uninsurable_decline_shows_the_note(results: dict[str, ScoreResult]) -> None:
    result = results["rural-snf-no-mfa"]
    assert result.advice is not None
    assert result.advice.insurable is not None
    assert not result.advice.insurable.reached
    page = render_html(result)
    assert "Declined for now" in page
    assert escape(result.advice.insurable.note) in page


def test_the_tier_a_example_says_it_is_already_in_the_best_tier(
    results: dict[str, ScoreResult],
) -> None:
    result = results["well-run-snf-group"]
    assert result.tier == "A"
    page = render_html(result)
    assert "already in the best tier" in page
    assert "can already be quoted" in page


def test_the_peers_chart_is_omitted_with_a_sentence_without_peers(imaging: ScoreResult) -> None:
    without = render_html(imaging)
    drawn = render_html(imaging, peers=PEERS, peers_label="400 nearby imaging centres")
    assert "No comparison with other facilities was requested" in without
    assert 'class="marker"' not in without
    assert drawn.count("<svg") == without.count("<svg") + 1
    assert 'class="marker"' in drawn
    assert f"Your score: {imaging.score}" in drawn
    assert "400 nearby imaging centres" in drawn


def test_empty_peers_are_omitted_with_a_sentence(imaging: ScoreResult) -> None:
    page = render_html(imaging, peers=[])
    assert "no peer scores" in page
    assert 'class="marker"' not in page


def test_perils_use_plain_names(imaging: ScoreResult) -> None:
    page = render_html(imaging)
    for name in (
        "Ransomware and extortion",
        "Email and payment fraud",
        "Privacy breach",
        "Vendor outage",
        "Medical and imaging device compromise",
    ):
        assert name in page
    assert "email_fraud" not in page


def test_the_to_do_list_shows_fifteen_fixes_and_counts_the_rest(imaging: ScoreResult) -> None:
    assert imaging.advice is not None
    total = len(imaging.advice.fixes)
    assert total > 15
    page = render_html(imaging)
    todo = page[page.index("Your to-do list") : page.index("Your goals")]
    assert todo.count('<tr><td class="num">') == 15
    assert f"Showing the first 15 of {total} fixes; {total - 15} more are not shown." in page
    assert "Change to: No" in todo  # the scenario's answer, in the questionnaire's words


def test_the_savings_chart_draws_the_top_ten_fixes(imaging: ScoreResult) -> None:
    page = render_html(imaging)
    chart = re.search(r'<svg[^>]*aria-label="What each fix is worth a year".*?</svg>', page)
    assert chart is not None
    assert chart.group(0).count("<rect") == 10


def test_zero_savings_are_said_in_a_sentence(results: dict[str, ScoreResult]) -> None:
    """When a cap holds the premium whatever is fixed, the page says so and why, and that
    the fixes are ranked by what they are worth; it never claims a fix lowers the risk
    unless it does (every fix listed lowers the expected loss)."""
    result = results["rural-snf-no-mfa"]
    assert result.advice is not None
    assert all(fix.loss_saving > 0 or fix.clears for fix in result.advice.fixes)

    def held(scenario: Scenario) -> Scenario:
        return scenario.model_copy(update={"saving": 0.0, "premium": result.premium})

    capped = result.model_copy(
        update={
            "premium_cap": "schedule_debit_cap",
            "premium_cap_note": "The offered premium is held by the debit cap.",
            "advice": result.advice.model_copy(
                update={
                    "fixes": tuple(
                        f.model_copy(
                            update={
                                "next": held(f.next),
                                "best": None if f.best is None else held(f.best),
                            }
                        )
                        for f in result.advice.fixes
                    )
                }
            ),
        }
    )
    page = render_html(capped)
    assert "None of these fixes lowers the premium offered as things stand: the offered " in page
    assert "ranked by what each is worth before the cap" in page
    assert "None of these fixes lowers" not in render_html(result)


def test_an_empty_fix_list_is_said_in_a_sentence(imaging: ScoreResult) -> None:
    assert imaging.advice is not None
    empty = imaging.model_copy(
        update={"advice": imaging.advice.model_copy(update={"fixes": (), "by_value": ()})}
    )
    page = render_html(empty)
    assert "nothing on your to-do list" in page


def test_a_result_without_advice_still_renders(imaging: ScoreResult) -> None:
    page = render_html(imaging.model_copy(update={"advice": None}))
    assert "No advice was worked out" in page
    assert page.endswith("</html>\n")


def test_the_footer_names_the_versions_and_the_caveat(imaging: ScoreResult) -> None:
    page = render_html(imaging)
    footer = page[page.index("<footer>") :]
    versions = imaging.versions
    for text in (versions.model_id, versions.model_sha256, versions.rating_plan):
        assert text in footer
    assert versions.questionnaire in footer
    assert "indicative" in footer
    assert "not to an insurer's claims experience" in footer.replace("&#x27;", "'")


def test_the_page_has_print_rules(imaging: ScoreResult) -> None:
    page = render_html(imaging)
    assert "@media print" in page
    assert "break-inside:avoid" in page


def test_hostile_notes_on_answers_appear_only_escaped(imaging: ScoreResult) -> None:
    note = Note(question_id="q", question=HOSTILE, message=HOSTILE)
    page = render_html(imaging.model_copy(update={"notes": (note,), "warnings": ("q: x",)}))
    assert HOSTILE not in page
    assert f"<li>{escape(HOSTILE)} - {escape(HOSTILE)}</li>" in page
    assert "q: x" not in page  # the notes in words are shown, not the raw warnings


def test_the_premium_caveat_is_the_results_own_words(results: dict[str, ScoreResult]) -> None:
    for result in results.values():
        page = render_html(result)
        if result.outcome == "quote":
            assert result.premium_note is None
            assert "Indicative only" not in page
        else:
            assert result.premium_note is not None
            assert escape(result.premium_note) in page


def _print_rules(page: str) -> str:
    """The body of the stylesheet's ``@media print{...}`` block."""
    start = page.index("@media print{") + len("@media print{")
    depth, end = 1, start
    while depth:
        depth += {"{": 1, "}": -1}.get(page[end], 0)
        end += 1
    return page[start : end - 1]


@pytest.mark.parametrize("path", FACILITIES, ids=lambda p: p.stem)
def test_printed_the_summary_comes_first_and_the_detail_starts_a_new_page(
    path: Path, results: dict[str, ScoreResult]
) -> None:
    # what a browser prints is not checked here (no headless browser in the test
    # environment); the document's order and the print rules are
    page = render_html(results[path.stem], peers=PEERS, peers_label="test peers")
    rules = _print_rules(page)
    assert ".detail{break-before:page;page-break-before:always}" in rules
    assert ".summary figure{display:none}" in rules
    summary = page.index('<div class="summary">')
    detail = page.index('<div class="detail">')
    for heading in ("<h2>Outcome</h2>", "<h3>Tier</h3>", "<h3>Annual premium</h3>"):
        assert summary < page.index(heading) < detail, heading
    for heading in ("Your to-do list", "Your goals"):
        assert summary < page.index(heading) < detail, heading
    for heading in ("Other amounts of cover", "What drives your price"):
        assert detail < page.index(heading) < page.index("<footer>"), heading
    assert page.count('<div class="detail">') == 1
