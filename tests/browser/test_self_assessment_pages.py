"""The facility's self-assessment in a real Chromium: typed in page by page, with
JavaScript and without, by keyboard only, checked by axe-core and against the pages'
Content-Security-Policy at every step."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from scoring import default_engine, score
from scoring.questionnaire.definition import Section
from scoring.service.accounts import create_api_key, create_invitation
from scoring.service.tables import Assessment, Facility
from scoring.service.web.facility_accounts import create_password_reset
from scoring.service.web.pages import SESSION_COOKIE
from scoring.vocabulary import AnswerKind
from tests.browser.conftest import (
    Watched,
    check_accessible,
    check_policy,
    new_page,
    pdf_page_count,
    screenshot,
)
from tests.web_support import NOW, Site, example, validated_answers

QUESTIONNAIRE = default_engine().questionnaire
IMAGING = [s.id for s in QUESTIONNAIRE.sections].index("imaging") + 1
BRIGHTWATER = example("imaging-centre-exposed-pacs.yaml")


@pytest.fixture
def signed_in(
    live_site: tuple[Site, str], browser: Any, request: pytest.FixtureRequest
) -> Iterator[tuple[Watched, Site, str]]:
    """A new facility with its user signed in, in a fresh browser context."""
    site, base = live_site
    email = f"{request.node.name[:40]}@{len(request.node.name)}.test"
    _, token = site.facility_user(f"Facility of {request.node.name[:30]}", email)
    watched = _signed_in_page(browser, base, token)
    yield watched, site, token
    check_policy(watched)
    watched.page.context.close()


def _signed_in_page(browser: Any, base: str, token: str, **options: Any) -> Watched:
    """A page in a fresh browser context, signed in with a session token."""
    watched = new_page(browser, base, **options)
    watched.page.context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": base}])
    return watched


def _checked(watched: Watched, name: str) -> None:
    """Every page visited: no serious accessibility violation (axe runs where the page
    runs scripts), no policy violation, and a screenshot."""
    if watched.scripts:
        check_accessible(watched.page)
    check_policy(watched)
    screenshot(watched.page, name)


def _start(watched: Watched) -> int:
    page = watched.page
    page.goto("/assessments")
    _checked(watched, "assessments")
    page.get_by_role("button", name=re.compile("Start")).click()
    page.wait_for_url(re.compile(r"/assessments/\d+/sections/1$"))
    found = re.search(r"/assessments/(\d+)/", page.url)
    assert found is not None
    return int(found.group(1))


def _fill(page: Any, section: Section, answers: dict[str, Any]) -> None:
    """Answer a section through its inputs, as a person would."""
    for question in section.questions:
        value = answers.get(question.id)
        if value is None:
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        single = question.kind in (AnswerKind.YES_NO, AnswerKind.SINGLE_CHOICE)
        if single:
            page.check(f'input[name="a.{question.id}"][value="{value}"]')
        elif value in ("unknown", "n/a"):
            page.select_option(f"#s-{question.id}", str(value))
        elif question.kind is AnswerKind.MULTIPLE_CHOICE:
            for code in value:
                page.check(f'input[name="a.{question.id}"][value="{code}"]')
        else:
            page.fill(f"#f-{question.id}", str(value))


def _stored(site: Site, assessment: int) -> Assessment:
    with Session(site.database) as session:
        found = session.get(Assessment, assessment)
        assert found is not None
        return found


def _complete(watched: Watched, answers: dict[str, Any], shots: str | None = None) -> int:
    page = watched.page
    assessment = _start(watched)
    for number, section in enumerate(QUESTIONNAIRE.sections, start=1):
        page.goto(f"/assessments/{assessment}/sections/{number}")
        _fill(page, section, answers)
        if shots is not None:
            _checked(watched, f"{shots}-section-{number}")
        page.get_by_role("button", name="Save and continue").click()
        page.wait_for_load_state()
    page.wait_for_url(re.compile(r"/review$"))
    return assessment


def _submit(watched: Watched, name: str = "Dana Reyes") -> None:
    page = watched.page
    page.get_by_label("Your full name").fill(name)
    page.get_by_label(re.compile("I confirm")).check()
    page.get_by_role("button", name="Submit and see my report").click()
    page.wait_for_url(re.compile(r"/report$"))


def test_the_imaging_centre_typed_in_through_the_pages_is_its_yaml_file_and_its_score(
    signed_in: tuple[Watched, Site, str],
) -> None:
    watched, site, _ = signed_in
    page = watched.page
    assessment = _complete(watched, BRIGHTWATER["answers"], shots="wizard")
    expected_answers = validated_answers({**BRIGHTWATER, "assessed_on": None}, QUESTIONNAIRE)
    stored = validated_answers(dict(_stored(site, assessment).answers), QUESTIONNAIRE)
    assert stored == expected_answers
    assert page.get_by_text("Every question is answered").is_visible()
    _checked(watched, "review")
    _submit(watched)
    _checked(watched, "report")

    expected = score({**BRIGHTWATER, "assessed_on": NOW.date().isoformat()}, as_of=NOW.date())
    figures = page.locator("dl.figures").first.inner_text()
    assert f"${expected.premium:,.0f}" in figures
    assert expected.tier in figures
    assert page.get_by_role("button", name="Print this report").is_visible()  # the script's
    pages = pdf_page_count(page, "report")
    assert 1 <= pages <= 8, pages


def test_the_imaging_questions_appear_and_disappear_as_the_answer_changes(
    signed_in: tuple[Watched, Site, str],
) -> None:
    watched, _, _ = signed_in
    page = watched.page
    assessment = _start(watched)
    page.goto(f"/assessments/{assessment}/sections/{IMAGING}")
    pacs = page.locator("#q-has_pacs")
    assert pacs.is_hidden()
    page.check('input[name="a.has_imaging"][value="yes"]')
    pacs.wait_for(state="visible")
    assert page.locator("#q-pacs_internet_exposed").is_hidden()  # only with a PACS
    page.check('input[name="a.has_pacs"][value="yes"]')
    page.locator("#q-pacs_internet_exposed").wait_for(state="visible")
    _checked(watched, "imaging-shown")
    page.check('input[name="a.has_imaging"][value="no"]')
    pacs.wait_for(state="hidden")
    assert page.locator("#q-pacs_internet_exposed").is_hidden()


def test_without_javascript_the_questions_appear_when_the_section_is_saved(
    live_site: tuple[Site, str], browser: Any
) -> None:
    site, base = live_site
    _, token = site.facility_user("No Script House", "noscript@example.test")
    watched = _signed_in_page(browser, base, token, java_script_enabled=False)
    page = watched.page
    assessment = _start(watched)
    page.goto(f"/assessments/{assessment}/sections/{IMAGING}")
    assert page.locator("#q-has_pacs").is_hidden()
    page.check('input[name="a.has_imaging"][value="yes"]')
    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_load_state()
    assert page.get_by_text("More questions appeared").is_visible()
    assert page.locator("#q-has_pacs").is_visible()
    assert page.get_by_role("button", name="Print this report").count() == 0
    _checked(watched, "no-javascript")
    page.context.close()


def test_answers_saved_in_one_browser_are_there_in_another(
    live_site: tuple[Site, str], browser: Any
) -> None:
    site, base = live_site
    _, token = site.facility_user("Resume Court", "resume@example.test")
    first = _signed_in_page(browser, base, token)
    assessment = _start(first)
    first.page.check('input[name="a.facility_type"][value="hospice"]')
    first.page.fill("#f-sites", "4")
    first.page.get_by_role("button", name="Save and finish later").click()
    first.page.wait_for_url(re.compile(r"/assessments$"))
    first.page.context.close()

    second = _signed_in_page(browser, base, token)  # another browser: only the account
    second.page.goto("/assessments")
    second.page.get_by_role("link", name="Continue your assessment").click()
    second.page.wait_for_url(re.compile(rf"/assessments/{assessment}/sections/1$"))
    assert second.page.locator('input[name="a.facility_type"][value="hospice"]').is_checked()
    assert second.page.locator("#f-sites").input_value() == "4"
    check_policy(second)
    second.page.context.close()


def test_a_wrong_answer_gets_a_message_on_its_question_and_a_summary_that_links_to_it(
    signed_in: tuple[Watched, Site, str],
) -> None:
    watched, _, _ = signed_in
    page = watched.page
    _start(watched)
    page.fill("#f-sites", "two")
    page.get_by_role("button", name="Save and continue").click()
    summary = page.locator("#error-summary")
    summary.wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.locator("#e-sites").inner_text().endswith("Please enter a whole number, like 12.")
    assert page.locator("#f-sites").get_attribute("aria-invalid") == "true"
    _checked(watched, "validation")
    summary.get_by_role("link").first.click()
    assert page.url.endswith("#q-sites")


def test_one_section_can_be_answered_with_the_keyboard_alone(
    signed_in: tuple[Watched, Site, str],
) -> None:
    watched, site, _ = signed_in
    page = watched.page
    assessment = _start(watched)
    page.goto(f"/assessments/{assessment}/sections/{IMAGING}")
    page.locator("body").focus()
    keyboard = page.keyboard
    for _ in range(60):  # Tab to the first answer of the section
        keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "a.has_imaging":
            break
    assert page.evaluate("document.activeElement.value") == "yes"
    keyboard.press("ArrowDown")  # to "No", which a radio group selects as it moves
    assert page.locator('input[name="a.has_imaging"][value="no"]').is_checked()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus is visible
    for _ in range(10):  # on to "Save and continue"
        keyboard.press("Tab")
        if page.evaluate("document.activeElement.value") == "next":
            break
    keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/sections/{IMAGING + 1}$"))
    answers = _stored(site, assessment).answers["answers"]
    assert answers == {**answers, "has_imaging": "no"}


def test_history_shows_both_assessments_and_what_changed(
    signed_in: tuple[Watched, Site, str],
) -> None:
    watched, _, _ = signed_in
    page = watched.page
    _complete(watched, BRIGHTWATER["answers"])
    _submit(watched)
    _complete(watched, {**BRIGHTWATER["answers"], "rdp_exposed": "yes"})
    _submit(watched)
    page.goto("/history")
    _checked(watched, "history")
    assert page.get_by_role("heading", name="What changed from version 1 to version 2").count()
    label = next(q.label for q in QUESTIONNAIRE.questions if q.id == "rdp_exposed")
    assert page.get_by_role("rowheader", name=label).count() == 1


def test_what_if_prices_the_chosen_fixes_in_the_page(
    signed_in: tuple[Watched, Site, str],
) -> None:
    watched, _, _ = signed_in
    page = watched.page
    _complete(watched, BRIGHTWATER["answers"])
    _submit(watched)
    page.locator('input[name="fix"]').first.check()
    page.get_by_role("button", name="Price the chosen fixes").click()
    page.get_by_role("heading", name="If you made the chosen fixes").wait_for()
    _checked(watched, "what-if")
    page.goto("/assessments")
    page.get_by_role("button", name="Make a share code").click()
    assert page.locator("#share-code").inner_text().startswith("cx_")
    _checked(watched, "share")


def test_the_checks_fail_on_inline_script_and_on_an_unlabelled_input(browser: Any) -> None:
    """The policy and accessibility checks the page tests rely on can fail."""
    watched = new_page(browser, "http://checks.test")
    page = watched.page
    page.route(
        "http://checks.test/",
        lambda route: route.fulfill(
            status=200,
            headers={
                "Content-Type": "text/html",
                "Content-Security-Policy": "default-src 'none'; script-src 'self'",
            },
            body='<!doctype html><html lang="en"><head><title>t</title></head><body>'
            '<main><script>document.title = "ran"</script><input type="text"></main>'
            "</body></html>",
        ),
    )
    page.goto("http://checks.test/")
    assert page.title() == "t"  # the inline script was blocked
    with pytest.raises(AssertionError, match="Content-Security-Policy violations"):
        check_policy(watched)
    with pytest.raises(AssertionError, match="critical label"):
        check_accessible(page)
    page.context.close()


def test_an_invited_facility_goes_from_the_link_to_its_printed_report(
    live_site: tuple[Site, str], browser: Any
) -> None:
    """A person with only a browser: the agent's link, an account, the assessment, the
    report on paper; then signing out and in again."""
    site, base = live_site
    with Session(site.database) as session:
        facility = Facility(
            organisation_id=site.agency_id,
            reference="BDI-2207",
            name="Brightwater Diagnostic Imaging",
            created_at=NOW,
        )
        session.add(facility)
        session.flush()
        token, _ = create_invitation(
            session, site.agency_id, facility.id, "pm@brightwater.example", now=NOW
        )
        session.commit()
    watched = new_page(browser, base)
    page = watched.page
    page.goto(f"/invite/{token}")
    assert page.get_by_role("heading", name=re.compile("Brightwater")).is_visible()
    _checked(watched, "invite")
    page.get_by_label("Your name").fill("Dana Reyes")
    page.get_by_label("Choose a password").fill("a long and private passphrase")
    page.get_by_role("button", name="Set up the account").click()
    page.wait_for_url(re.compile(r"/assessments$"))

    _complete(watched, BRIGHTWATER["answers"])
    _submit(watched)
    assert page.locator(".outcome").is_visible()
    assert pdf_page_count(page, "invited-report") >= 1

    page.get_by_role("button", name=re.compile("Sign out")).click()
    page.wait_for_url(re.compile(r"/$"))
    _checked(watched, "welcome")
    page.goto("/history")
    page.wait_for_url(re.compile(r"/login\?next="))
    _checked(watched, "login")
    page.get_by_label(re.compile("[Ee]mail")).fill("pm@brightwater.example")
    page.get_by_label(re.compile("[Pp]assword")).fill("a long and private passphrase")
    page.get_by_role("button", name=re.compile("Sign in")).click()
    page.wait_for_url(re.compile(r"/history$"))
    assert page.get_by_role("link", name="Report of version 1").is_visible()
    check_policy(watched)
    page.context.close()


def test_the_agents_html_report_passes_axe_and_prints(
    live_site: tuple[Site, str], browser: Any
) -> None:
    site, base = live_site
    with Session(site.database) as session:
        key = create_api_key(session, site.agency_id, "browser test", now=NOW)
        session.commit()
    agent = {"Authorization": f"Bearer {key}"}
    client = site.client
    facility = client.post(
        "/v1/facilities", json={"reference": "BDI-R", "name": "Brightwater"}, headers=agent
    ).json()["id"]
    draft = client.post(f"/v1/facilities/{facility}/assessments", json=BRIGHTWATER, headers=agent)
    assessment = draft.json()["id"]
    client.post(
        f"/v1/assessments/{assessment}/submit",
        json={"attested_name": "Dana Reyes", "attestation": "True and complete."},
        headers={**agent, "If-Match": draft.headers["ETag"]},
    )
    scored = client.post(f"/v1/assessments/{assessment}/score", headers=agent).json()["id"]
    watched = new_page(browser, base, extra_http_headers=agent)
    watched.page.goto(f"/v1/scores/{scored}/report")
    _checked(watched, "agent-report")
    assert 1 <= pdf_page_count(watched.page, "agent-report") <= 12
    watched.page.context.close()


def test_the_sign_up_reset_and_error_pages_pass_axe(
    live_site: tuple[Site, str], browser: Any
) -> None:
    site, base = live_site
    site.facility_user("Reset House", "reset@example.test")
    with Session(site.database) as session:
        token = create_password_reset(session, "reset@example.test", now=NOW)
        session.commit()
    watched = new_page(browser, base)
    page = watched.page
    for name, url in (
        ("signup", "/signup"),
        ("reset", f"/reset/{token}"),
        ("not-found", "/no-such-page"),
    ):
        page.goto(url)
        _checked(watched, name)
    page.goto("/signup")
    page.get_by_role("button", name=re.compile("[Ss]tart|[Ss]ign up|[Cc]reate")).click()
    page.locator("#error-summary, .error-summary").first.wait_for()
    _checked(watched, "signup-problems")
    page.context.close()
