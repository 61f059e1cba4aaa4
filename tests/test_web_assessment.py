"""The facility's assessment pages over HTTP: the wizard, skip logic, validation,
save and resume, review, submit, report, what if, history, and tenancy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from markupsafe import escape
from sqlalchemy.orm import Session

from scoring import default_engine, score
from scoring.service.tables import Assessment
from scoring.service.web import assessment_pages
from scoring.service.web.pages import MAX_FORM_BYTES, MAX_FORM_FIELDS
from tests.web_support import (
    CSRF,
    NOW,
    Site,
    complete_and_submit,
    example,
    fill_all,
    make_site,
    row_version,
    section_form,
    start,
    validated_answers,
)

ENGINE = default_engine()
QUESTIONNAIRE = ENGINE.questionnaire
IMAGING = QUESTIONNAIRE.sections[[s.id for s in QUESTIONNAIRE.sections].index("imaging")]
IMAGING_NUMBER = [s.id for s in QUESTIONNAIRE.sections].index("imaging") + 1


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    made = make_site(f"sqlite+pysqlite:///{tmp_path / 'web.db'}", tmp_path)
    yield made
    made.client.close()
    made.database.dispose()


def _stored(site: Site, assessment: int) -> Assessment:
    with Session(site.database) as session:
        found = session.get(Assessment, assessment)
        assert found is not None
        return found


def test_an_assessment_typed_in_section_by_section_is_the_yaml_file_and_scores_as_it(
    site: Site,
) -> None:
    _facility, token = site.facility_user("Brightwater Diagnostic Imaging", "pm@brightwater.test")
    browser = site.browser(token)
    document = example("imaging-centre-exposed-pacs.yaml")
    assessment = start(browser)
    fill_all(browser, QUESTIONNAIRE, assessment, document["answers"])

    stored = _stored(site, assessment)
    assert stored.status == "draft"
    expected_answers = validated_answers({**document, "assessed_on": None}, QUESTIONNAIRE)
    assert validated_answers(dict(stored.answers), QUESTIONNAIRE) == expected_answers

    review = browser.get(f"/assessments/{assessment}/review")
    assert "Every question is answered" in review.text
    assert "answers still needed" not in review.text  # every section shows as answered
    submitted = browser.post(
        f"/assessments/{assessment}/submit",
        data={
            "csrf_token": CSRF,
            "row_version": row_version(review.text),
            "attested_name": "Dana Reyes",
            "confirm": "yes",
        },
    )
    assert submitted.status_code == 303
    assert submitted.headers["location"] == f"/assessments/{assessment}/report"
    report = browser.get(submitted.headers["location"])
    assert report.status_code == 200

    expected = score({**document, "assessed_on": NOW.date().isoformat()}, as_of=NOW.date())
    assert f"${expected.premium:,.0f}" in report.text
    assert f"<dd>{expected.tier}</dd>" in report.text
    assert expected.advice is not None
    assert expected.advice.fixes
    assert expected.advice.fixes[0].question in report.text
    stored = _stored(site, assessment)
    assert stored.status == "submitted"
    assert stored.attested_name == "Dana Reyes"


def test_the_imaging_questions_show_only_for_a_facility_with_imaging(site: Site) -> None:
    _, token = site.facility_user("Maple Court", "admin@maple.test")
    browser = site.browser(token)
    assessment = start(browser)
    url = f"/assessments/{assessment}/sections/{IMAGING_NUMBER}"
    page = browser.get(url)
    assert re.search(r'id="q-has_pacs"[^>]*hidden', page.text)
    assert not re.search(r'id="q-has_imaging"[^>]*hidden', page.text)

    shown = browser.post(
        f"{url}/relevance", data={"csrf_token": CSRF, "a.has_imaging": "yes"}
    ).json()["visible"]
    assert "has_pacs" in shown
    assert "modality_count" in shown
    assert "pacs_internet_exposed" not in shown  # only once there is a PACS
    hidden = browser.post(
        f"{url}/relevance", data={"csrf_token": CSRF, "a.has_imaging": "no"}
    ).json()["visible"]
    assert hidden == ["has_imaging"]

    said_yes = browser.post(
        url,
        data=section_form(IMAGING, {"has_imaging": "yes"}, row_version(page.text)),
    )
    assert said_yes.status_code == 200  # the same section again, with its new questions
    assert "More questions appeared" in said_yes.text
    assert not re.search(r'id="q-has_pacs"[^>]*hidden', said_yes.text)

    answers = {"has_imaging": "yes", "has_pacs": "yes", "pacs_internet_exposed": "yes"}
    browser.post(url, data=section_form(IMAGING, answers, row_version(said_yes.text), "save"))
    assert _stored(site, assessment).answers["answers"]["pacs_internet_exposed"] == "yes"
    page = browser.get(url)
    browser.post(
        url,
        data=section_form(
            IMAGING, {**answers, "has_imaging": "no"}, row_version(page.text), "save"
        ),
    )
    kept = _stored(site, assessment).answers["answers"]
    assert kept == {"has_imaging": "no"}  # what it said of a PACS it no longer has is dropped


def test_a_wrong_answer_is_shown_in_plain_words_on_its_question_and_nothing_is_saved(
    site: Site,
) -> None:
    _, token = site.facility_user("Maple Court", "admin@maple.test")
    browser = site.browser(token)
    assessment = start(browser)
    page = browser.get(f"/assessments/{assessment}/sections/1")
    before = _stored(site, assessment).row_version
    refused = browser.post(
        f"/assessments/{assessment}/sections/1",
        data=section_form(
            QUESTIONNAIRE.sections[0],
            {"facility_type": "skilled_nursing", "sites": "two"},
            row_version(page.text),
        ),
    )
    assert refused.status_code == 422
    assert "There is a problem" in refused.text
    assert "Please enter a whole number, like 12." in refused.text
    assert f'href="/assessments/{assessment}/sections/1?check=1#q-sites"' in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert 'value="two"' in refused.text  # what was typed stays, to be corrected
    assert _stored(site, assessment).row_version == before


def test_answers_are_kept_and_shown_again_when_the_facility_comes_back(site: Site) -> None:
    _, token = site.facility_user("Maple Court", "admin@maple.test")
    browser = site.browser(token)
    assessment = start(browser)
    page = browser.get(f"/assessments/{assessment}/sections/1")
    browser.post(
        f"/assessments/{assessment}/sections/1",
        data=section_form(
            QUESTIONNAIRE.sections[0],
            {"facility_type": "skilled_nursing", "sites": "3"},
            row_version(page.text),
            "exit",
        ),
    )
    again = site.browser(token)  # another visit
    listing = again.get("/assessments")
    assert "Continue your assessment" in listing.text
    page = again.get(f"/assessments/{assessment}/sections/1")
    assert re.search(r'name="a.sites" value="3"', page.text)
    assert re.search(r'value="skilled_nursing" checked', page.text)
    assert "Please answer this question." not in page.text  # not nagged before review
    review = again.get(f"/assessments/{assessment}/review")
    assert "Facility profile and exposure</a> - answers still needed" in review.text
    assert "Please answer this question." in review.text


def test_a_form_without_the_browsers_csrf_token_is_refused(site: Site) -> None:
    _, token = site.facility_user("Maple Court", "admin@maple.test")
    browser = site.browser(token)
    refused = browser.post("/assessments", data={"csrf_token": "x" * 43})
    assert refused.status_code == 403
    assert browser.post("/assessments", data={"go": "next"}).status_code == 403
    with Session(site.database) as session:
        assert session.query(Assessment).count() == 0


def test_pages_ask_to_sign_in_and_come_back(site: Site) -> None:
    page = site.client.get("/assessments/1/sections/2")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fassessments%2F1%2Fsections%2F2"


def test_one_facility_never_sees_another_facilitys_pages(site: Site) -> None:
    _, mine = site.facility_user("Maple Court", "admin@maple.test")
    _, theirs = site.facility_user("Birch House", "admin@birch.test")
    browser = site.browser(mine)
    assessment = start(browser)
    other = site.browser(theirs)
    tried = 0
    for route in assessment_pages.router.routes:  # every page about one assessment
        path = getattr(route, "path", "")
        if "{assessment_id}" not in path:
            continue
        url = path.replace("{assessment_id}", str(assessment)).replace("{number}", "1")
        for method in getattr(route, "methods", set()) & {"GET", "POST"}:
            answer = other.request(method, url, data={"csrf_token": CSRF})
            assert answer.status_code == 404, (method, url, answer.status_code)
            tried += 1
    assert tried >= 8
    assert "Birch House" in other.get("/assessments").text
    assert "Maple Court" not in other.get("/history").text
    assert browser.get(f"/assessments/{assessment}/review").status_code == 200


def test_what_if_prices_chosen_fixes_by_the_engine_and_changes_no_answer(site: Site) -> None:
    _, token = site.facility_user("Brightwater", "pm@brightwater.test")
    browser = site.browser(token)
    document = example("imaging-centre-exposed-pacs.yaml")
    assessment = complete_and_submit(browser, QUESTIONNAIRE, document["answers"])
    before = dict(_stored(site, assessment).answers)
    now = score({**document, "assessed_on": NOW.date().isoformat()}, as_of=NOW.date())
    assert now.advice is not None
    fix = now.advice.fixes[1]
    priced = browser.post(
        f"/assessments/{assessment}/what-if",
        data={"csrf_token": CSRF, "fix": [fix.question_id]},
    )
    assert priced.status_code == 200
    target = (fix.best or fix.next).answers
    changed = {
        **document,
        "assessed_on": NOW.date().isoformat(),
        "answers": {**document["answers"], **target},
    }
    expected = score(changed, as_of=NOW.date(), advise=False)
    assert "If you made the chosen fixes" in priced.text
    assert f"<dd>${expected.premium:,.0f}</dd>" in priced.text
    assert dict(_stored(site, assessment).answers) == before


def test_history_shows_each_submitted_assessment_and_what_changed(site: Site) -> None:
    _, token = site.facility_user("Brightwater", "pm@brightwater.test")
    browser = site.browser(token)
    document = example("imaging-centre-exposed-pacs.yaml")
    for rdp in ("no", "yes"):
        complete_and_submit(browser, QUESTIONNAIRE, {**document["answers"], "rdp_exposed": rdp})
    history = browser.get("/history")
    assert "What changed from version 1 to version 2" in history.text
    label = next(q.label for q in QUESTIONNAIRE.questions if q.id == "rdp_exposed")
    assert label in history.text
    assert history.text.count("Report of version") == 2


def test_a_name_with_markup_is_shown_as_text(site: Site) -> None:
    _, token = site.facility_user("<script>alert(1)</script>", "x@evil.test")
    page = site.browser(token).get("/assessments")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_every_page_forbids_inline_script(site: Site) -> None:
    _, token = site.facility_user("Maple Court", "admin@maple.test")
    page = site.browser(token).get("/assessments")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "<script>" not in page.text
    assert " style=" not in page.text


def test_a_page_that_is_not_found_says_so_in_words_and_the_api_in_problem_details(
    site: Site,
) -> None:
    _, token = site.facility_user("Maple Court", "admin@maple.test")
    browser = site.browser(token)
    page = browser.get("/assessments/999/review")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "There is nothing at this address, or it is not yours to see." in page.text
    api = browser.get("/v1/facilities/999")
    assert api.headers["content-type"] == "application/problem+json"


def test_a_question_shows_its_help_why_and_what_dont_know_means_for_the_price(
    site: Site,
) -> None:
    _, token = site.facility_user("Maple Court", "admin@maple.test")
    browser = site.browser(token)
    assessment = start(browser)
    question = next(q for q in IMAGING.questions if q.id == "pacs_internet_exposed")
    assert question.help is not None
    assert question.control is not None
    assert question.control.why is not None
    assert question.allow_unknown
    page = browser.get(f"/assessments/{assessment}/sections/{IMAGING_NUMBER}")
    section = page.text[page.text.index('id="q-pacs_internet_exposed"') :]
    section = section[: section.index('<div class="question')]
    assert escape(question.label) in section
    assert escape(question.help) in section
    assert escape(question.control.why) in section
    assert 'value="unknown"' in section
    assert "Don&#39;t know: priced as the weakest answer until you find out" in section


def test_the_report_says_the_price_is_an_indication_and_gives_goals_and_references(
    site: Site,
) -> None:
    _, token = site.facility_user("Brightwater", "pm@brightwater.test")
    browser = site.browser(token)
    document = example("imaging-centre-exposed-pacs.yaml")
    assessment = complete_and_submit(browser, QUESTIONNAIRE, document["answers"])
    report = browser.get(f"/assessments/{assessment}/report").text
    expected = score({**document, "assessed_on": NOW.date().isoformat()}, as_of=NOW.date())
    assert expected.advice is not None
    assert "not an offer of insurance" in report
    assert "An underwriter would need to look at your answers" in report  # a referral
    assert expected.advice.insurable is not None
    assert "<h3>To be offered cover</h3>" in report
    first = expected.advice.fixes[0]
    assert "HICP " + ", ".join(first.hicp) in report
    assert f"{first.cost_low:,.0f}" in report


def test_a_hostile_form_is_refused_before_it_is_read_whole_and_nothing_changes(
    site: Site,
) -> None:
    _, token = site.facility_user("Maple Court", "admin@maple.test")
    browser = site.browser(token)
    assessment = start(browser)
    url = f"/assessments/{assessment}/sections/1"
    before = _stored(site, assessment).row_version
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    huge = browser.post(url, content=b"a.sites=" + b"9" * (MAX_FORM_BYTES + 1), headers=form)
    assert huge.status_code == 413
    assert "at most 256,000 bytes" in huge.text
    binary = browser.post(
        url, content=b"csrf_token=" + CSRF.encode() + b"&a.sites=\xff\xfe", headers=form
    )
    assert binary.status_code == 400
    many = "&".join(f"f{i}=1" for i in range(MAX_FORM_FIELDS + 1))
    assert browser.post(url, content=many.encode(), headers=form).status_code == 400
    json_body = browser.post(url, json={"csrf_token": CSRF})
    assert json_body.status_code == 400
    assert "application/x-www-form-urlencoded" in json_body.text
    assert _stored(site, assessment).row_version == before
