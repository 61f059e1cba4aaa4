"""The advice sections of the report: the to-do list and the goals (next tier, a quote).

Answer codes of the advice's scenarios are put in the questionnaire's own words
when the questionnaire the result was scored with is bundled.
"""

from __future__ import annotations

from html import escape

from scoring.questionnaire.definition import Questionnaire
from scoring.rating.result import FIND_OUT, Advice, Fix, FixSet, Scenario, ScoreResult
from scoring.report._charts import bars
from scoring.report._words import (
    OUTCOME_STATES,
    answer_words,
    money,
    question_words,
    reference_code,
)

TODO_ROWS = 15
"""Fixes listed in the to-do list; the rest are counted."""
CHART_FIXES = 10
"""Fixes drawn in the savings chart."""
REFERENCES = (
    "HICP: the US health sector's cybersecurity practices (405(d) HICP); "
    "CPG: the HHS healthcare cybersecurity performance goals; "
    "CIS: the CIS Critical Security Controls, version 8."
)


def _target(fix: Fix) -> Scenario:
    return fix.best or fix.next


def _change(fix: Fix, scenario: Scenario, questionnaire: Questionnaire | None) -> str:
    parts = [
        answer_words(questionnaire, question_id, code)
        if question_id == fix.question_id
        else f"{question_words(questionnaire, question_id)}: "
        f"{answer_words(questionnaire, question_id, code)}"
        for question_id, code in scenario.answers.items()
    ]
    return "; ".join(parts)


def _result_change(result: ScoreResult, scenario: Scenario) -> str:
    """What a scenario changes in the tier and outcome, as markup ("" when nothing)."""
    changes = []
    if scenario.tier != result.tier:
        changes.append(f"tier {escape(result.tier)} &rarr; {escape(scenario.tier)}")
    if scenario.outcome != result.outcome:
        before, after = OUTCOME_STATES[result.outcome], OUTCOME_STATES[scenario.outcome]
        changes.append(f"{escape(before)} &rarr; {escape(after)}")
    return "<br>".join(changes)


def _references(fix: Fix) -> str:
    groups = [
        f"{name} {', '.join(reference_code(code) for code in codes)}"
        for name, codes in (("HICP", fix.hicp), ("CPG", fix.cpg), ("CIS", fix.cis))
        if codes
    ]
    return "; ".join(groups)


def _find_out(fix: Fix) -> str:
    """What leads the advised answer: finding out first when the answer is unknown (markup)."""
    if not fix.unknown:
        return "Change to: "
    return f"<strong>{escape(FIND_OUT)}.</strong><br>If the answer falls short, change to: "


def _todo_row(rank: int, fix: Fix, result: ScoreResult, q: Questionnaire | None) -> str:
    target = _target(fix)
    first_step = (
        f'<p class="small">A smaller first step: {escape(_change(fix, fix.next, q))} '
        f"(worth {money(fix.next.technical_saving)} a year).</p>"
        if fix.best is not None
        else ""
    )
    references = _references(fix)
    guidance = f'<p class="small">Guidance: {escape(references)}</p>' if references else ""
    return (
        f'<tr><td class="num">{rank:d}</td>'
        f"<td><strong>{escape(fix.question)}</strong>"
        f"<p>Now: {escape(fix.answer)}<br>"
        f"{_find_out(fix)}{escape(_change(fix, target, q))}</p>"
        f"{first_step}"
        f'<p class="small">Why it matters: {escape(fix.why)}</p>{guidance}</td>'
        f'<td class="num">{money(target.technical_saving)}'
        f'<br><span class="small">{money(fix.loss_saving)} less expected loss</span></td>'
        f'<td class="num">{money(target.saving)}</td>'
        f'<td class="num">{money(fix.cost_low)}&ndash;{money(fix.cost_high)}'
        f'<br><span class="small">{escape(fix.size_band)} facility</span></td>'
        f"<td>{_result_change(result, target) or 'no change'}</td></tr>"
    )


def todo(result: ScoreResult, questionnaire: Questionnaire | None) -> str:
    """The to-do list: a chart of what each fix is worth and the ranked fixes, or a
    sentence when there are none."""
    head = "<h2>Your to-do list</h2>"
    advice = result.advice
    if advice is None:
        return f"<section>{head}<p>No advice was worked out for this assessment.</p></section>"
    if not advice.fixes:
        return (
            f"<section>{head}<p>There is nothing on your to-do list: no change to the "
            "controls we ask about would lower your risk or your premium.</p></section>"
        )
    rank = {fix.question_id: i for i, fix in enumerate(advice.fixes, start=1)}
    top = sorted(advice.fixes, key=lambda fix: -_target(fix).technical_saving)[:CHART_FIXES]
    rows = [
        (
            f"{rank[f.question_id]}. {f.question}",
            _target(f).technical_saving,
            money(_target(f).technical_saving),
        )
        for f in top
    ]
    chart = (
        f'<figure class="card">{bars(rows, title="What each fix is worth a year")}'
        f"<figcaption>The technical premium each of the {len(top)} most valuable fixes "
        "saves on its own, before any cap (numbers match the list below).</figcaption></figure>"
    )
    if all(round(_target(fix).saving) <= 0 for fix in advice.fixes):
        why = result.premium_cap_note
        chart += (
            '<p class="card">None of these fixes lowers the premium offered as things stand'
            f"{': ' + escape(why[:1].lower() + why[1:]) if why else '.'}"
            " Each still lowers your expected loss, and the list is ranked by what each is "
            "worth before the cap.</p>"
        )
    elif any(fix.capped for fix in advice.fixes):
        chart += (
            '<p class="small">A cap holds the premium offered, now or after some fixes, so '
            "their saving off the premium is less than what they are worth.</p>"
        )
    shown = advice.fixes[:TODO_ROWS]
    more = len(advice.fixes) - len(shown)
    rows_html = "".join(_todo_row(i, fix, result, questionnaire) for i, fix in enumerate(shown, 1))
    tail = (
        f"<p>Showing the first {len(shown)} of {len(advice.fixes)} fixes; "
        f"{more} more {'is' if more == 1 else 'are'} not shown.</p>"
        if more
        else ""
    )
    return (
        f"<section>{head}<p>Changes that lower your risk, first those that would get you a "
        "quote or a better tier, then the most valuable. Each is for the change on its own, "
        "a year: what it is worth (the technical premium it saves) and what it takes off the "
        "premium offered now; costs are typical one-off ranges for a facility of your "
        "size.</p>"
        f"{chart}<table><thead><tr>"
        '<th class="num">#</th><th>What to change</th><th class="num">Worth a year</th>'
        '<th class="num">Off your premium</th>'
        '<th class="num">Typical cost</th><th>New result</th>'
        f"</tr></thead><tbody>{rows_html}</tbody></table>{tail}"
        f'<p class="small">{escape(REFERENCES)}</p></section>'
    )


def _fix_list(fix_set: FixSet, advice: Advice, questionnaire: Questionnaire | None) -> str:
    questions = {fix.question_id: fix.question for fix in advice.fixes}
    words = fix_set.questions or tuple(
        questions.get(qid) or question_words(questionnaire, qid) for qid in fix_set.fixes
    )
    items = "".join(f"<li>{escape(text)}</li>" for text in words)
    return f"<ol>{items}</ol>"


def _saving_words(saving: float) -> str:
    return f"a saving of {money(saving)}" if round(saving) > 0 else "the same as now"


def _goal_box(
    title: str,
    fix_set: FixSet | None,
    advice: Advice,
    result: ScoreResult,
    questionnaire: Questionnaire | None,
    *,
    done: str,
    goal: str,
) -> str:
    if fix_set is None:
        body = f"<p>{done}</p>"
    elif not fix_set.reached or fix_set.scenario is None:
        body = (
            f"<p>We found no set of fixes that would {goal} on its own.</p>"
            f"<p><strong>{escape(fix_set.note)}</strong></p>"
        )
    else:
        scenario = fix_set.scenario
        count = len(fix_set.fixes)
        changes = _result_change(result, scenario)
        body = (
            f"<p>The fewest changes we found that {goal}: "
            f"{count:d} {'change' if count == 1 else 'changes'} together.</p>"
            f"{_fix_list(fix_set, advice, questionnaire)}"
            f"<p>Your premium would then be <strong>{money(scenario.premium)}</strong> a year "
            f"({_saving_words(scenario.saving)})"
            f"{'; ' + changes.replace('<br>', ', ') if changes else ''}.</p>"
        )
    return f'<div class="card"><h3>{title}</h3>{body}</div>'


def goals(result: ScoreResult, questionnaire: Questionnaire | None) -> str:
    """Boxes for the fewest fixes that reach the next tier and a quote."""
    advice = result.advice
    if advice is None:
        return ""
    next_tier = _goal_box(
        "Moving up a tier",
        advice.next_tier,
        advice,
        result,
        questionnaire,
        done=f"You are already in the best tier ({escape(result.tier)}); there is no tier "
        "to move up to.",
        goal="move you up a tier",
    )
    insurable = _goal_box(
        "Getting a quote",
        advice.insurable,
        advice,
        result,
        questionnaire,
        done="Your application can already be quoted; no changes are needed to get cover.",
        goal="let us offer you a quote",
    )
    return f'<section><h2>Your goals</h2><div class="grid">{next_tier}{insurable}</div></section>'
