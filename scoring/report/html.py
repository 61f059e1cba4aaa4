"""One applicant's score as a self-contained, printable HTML report.

The report is written for the facility, in plain language: the outcome and its
reasons, the tier, the score and the premium, three charts (score against peers,
premium by peril, savings by fix), a ranked to-do list, the fewest fixes that
reach the next tier or a quote, and the answers that drive the price.

The document has inline CSS and inline SVG only (no script, font, image or link),
and the same result always gives the same bytes. Every piece of text that comes
from the result passes through :func:`html.escape` before it becomes markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from scoring.rating.result import Factor, ScoreResult
from scoring.report._advice import goals, todo
from scoring.report._charts import bars, histogram
from scoring.report._style import CSS, DETAIL_CLASS, SUMMARY_CLASS
from scoring.report._words import (
    OUTCOME_BADGES,
    PERIL_NAMES,
    RULE_WEIGHT,
    money,
    percent,
    questionnaire_for,
    signed_money,
)

RISK_FACTORS = 10
CLASS_FACTORS = 8
TIER_LADDER = ("A", "B", "C", "D", "E")
_REQUESTED = ' class="requested"'

NOTE = (
    "All figures are indicative. The default model is calibrated to public figures on "
    "cyber incidents in healthcare, not to an insurer's claims experience."
)


def render_html(
    result: ScoreResult, *, peers: Sequence[int] | None = None, peers_label: str = ""
) -> str:
    """One applicant's score as a complete, self-contained HTML document.

    Parameters
    ----------
    result : ScoreResult
        The scored applicant, as returned by ``scoring.rating.score.score``.
    peers : sequence of int, optional
        Scores of comparable facilities, drawn as a histogram with the applicant
        marked; the chart is replaced by a sentence when omitted.
    peers_label : str
        What the peers are, shown under the chart.

    Returns
    -------
    str
        The document: inline CSS and SVG, no script and no external reference;
        the same input always gives the same text.

    Examples
    --------
    >>> import datetime as dt
    >>> from scoring.questionnaire.loader import questionnaire_dir
    >>> from scoring.rating.score import score
    >>> example = questionnaire_dir() / "examples" / "imaging-centre-exposed-pacs.yaml"
    >>> result = score(example, as_of=dt.date(2026, 11, 29))
    >>> page = render_html(result, peers=[480, 500, 520, 610], peers_label="four neighbours")
    >>> page.startswith("<!DOCTYPE html>"), page.count("<svg"), "<script" in page
    (True, 3, False)
    """
    questionnaire = questionnaire_for(result.versions.questionnaire)
    name = result.facility_name or "Unnamed facility"
    # the summary first (what prints on the first page or two), then the detail, which
    # starts a new page when printed (scoring/report/_style.py)
    summary = [
        _header(result, name),
        _verdict(result),
        _summary(result),
        todo(result, questionnaire),
        goals(result, questionnaire),
    ]
    detail = [
        _options(result),
        _peers(result, peers, peers_label),
        _perils(result),
        _drivers(result),
    ]
    sections = [
        f'<div class="{SUMMARY_CLASS}">',
        *summary,
        f'</div>\n<div class="{DETAIL_CLASS}">',
        *detail,
        "</div>",
        _footer(result),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Cyber risk report: {escape(name)}</title>\n"
        f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(sections)
        + "\n</main>\n</body>\n</html>\n"
    )


def _header(result: ScoreResult, name: str) -> str:
    facility_id = f" &middot; ID {escape(result.facility_id)}" if result.facility_id else ""
    return (
        "<header>"
        '<p class="muted">Cyber insurance risk report</p>'
        f"<h1>{escape(name)}</h1>"
        f'<p class="muted">Assessed on {escape(result.assessed_on)}{facility_id}</p>'
        "</header>"
    )


def _verdict(result: ScoreResult) -> str:
    outcome = result.outcome
    badge = f'<span class="badge {outcome}">{escape(OUTCOME_BADGES[outcome])}</span>'
    if outcome == "quote":
        text = "<p>We can offer you cover at the price below.</p>"
    else:
        lead = (
            "An underwriter needs to look at your application before a price can be confirmed"
            if outcome == "refer"
            else "We cannot offer cover as things stand"
        )
        reasons = "".join(
            f"<li><strong>{escape(rule.reason[:1].upper() + rule.reason[1:])}</strong>"
            f' <span class="small">({escape(RULE_WEIGHT[rule.outcome])})</span></li>'
            for rule in result.rules
        )
        text = f"<p>{lead}, because:</p><ul>{reasons}</ul>"
    return f'<section class="card"><h2>Outcome</h2>{badge}{text}</section>'


def _summary(result: ScoreResult) -> str:
    ladder = (
        '<div class="ladder" aria-hidden="true">'
        + "".join(
            f'<span class="here">{t}</span>' if t == result.tier else f"<span>{t}</span>"
            for t in TIER_LADDER
        )
        + "</div>"
        if result.tier in TIER_LADDER
        else ""
    )
    tier = (
        '<div class="card"><h3>Tier</h3>'
        f'<div class="big">{escape(result.tier)}</div>{ladder}'
        f"<p>{escape(result.tier_description.capitalize())}. "
        "Tiers run from A (best) to E (worst).</p></div>"
    )
    score = (
        '<div class="card"><h3>Score</h3>'
        f'<div class="big">{result.score:d} <span class="muted">of 1000</span></div>'
        "<p>500 is the average for a facility of your type and size; every 100 points more "
        "means your expected losses are half as large.</p>"
        f'<p class="small">Your expected losses are {result.relative_risk:.2f} times those of '
        "the average facility like yours.</p></div>"
    )
    layer = result.layer
    caveat = (
        "" if result.premium_note is None else f'<p class="small">{escape(result.premium_note)}</p>'
    )
    capped = (
        ""
        if result.premium_cap_note is None
        else f'<p class="small">{escape(result.premium_cap_note)}</p>'
    )
    premium = (
        '<div class="card"><h3>Annual premium</h3>'
        f'<div class="big">{money(result.premium)}</div>'
        f"<p>For {money(layer.limit_amount)} of cover, with you paying the first "
        f"{money(layer.retention_amount)} of each claim (the retention).</p>"
        f'<p class="small">Technical premium (your own expected loss in this cover, plus '
        f"expenses and profit, before any cap): {money(result.technical_premium)}.</p>"
        f"{capped}{caveat}</div>"
    )
    return f'<section class="grid">{tier}{score}{premium}</section>'


def _options(result: ScoreResult) -> str:
    rows = "".join(
        f"<tr{_REQUESTED if option.requested else ''}>"
        f'<td class="num">{money(option.layer.limit_amount)}</td>'
        f'<td class="num">{money(option.layer.retention_amount)}</td>'
        f'<td class="num">{money(option.premium)}</td>'
        f"<td>{'what you asked for' if option.requested else ''}</td></tr>"
        for option in result.options
    )
    return (
        '<section class="card"><h2>Other amounts of cover</h2>'
        "<table><thead><tr>"
        '<th class="num">Cover (limit)</th><th class="num">You pay first (retention)</th>'
        '<th class="num">Annual premium</th><th></th>'
        f"</tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _peers(result: ScoreResult, peers: Sequence[int] | None, peers_label: str) -> str:
    head = "<h2>Your score compared with similar facilities</h2>"
    if peers is None:
        return (
            f'<section class="card">{head}<p>No comparison with other facilities was '
            "requested for this report, so this chart is left out.</p></section>"
        )
    scores = [int(p) for p in peers]
    if not scores:
        return (
            f'<section class="card">{head}<p>There are no peer scores to compare with, '
            "so this chart is left out.</p></section>"
        )
    label = peers_label or "peer facilities"
    below = sum(s < result.score for s in scores)
    chart = histogram(
        scores,
        result.score,
        title=f"Scores of {label}, with yours marked",
        marker_label=f"Your score: {result.score:d}",
    )
    return (
        f'<section><figure class="card">{head}{chart}'
        f"<figcaption>Bars: {escape(label)}. The dashed line is your score, which is higher "
        f"than {percent(below / len(scores))} of them.</figcaption></figure></section>"
    )


def _perils(result: ScoreResult) -> str:
    head = "<h2>What your premium pays for</h2>"
    total = sum(p.premium for p in result.perils)
    if total <= 0:
        return f'<section class="card">{head}<p>No premium is split by type of loss.</p></section>'
    rows = [
        (
            PERIL_NAMES.get(p.peril, str(p.peril)),
            p.premium,
            f"{money(p.premium)} ({percent(p.premium / total)})",
        )
        for p in result.perils
    ]
    chart = bars(rows, title="Premium by type of loss")
    return (
        f'<section><figure class="card">{head}{chart}'
        "<figcaption>Your annual premium split by the kind of incident it covers.</figcaption>"
        "</figure></section>"
    )


def _factor_table(rows: Sequence[tuple[Factor, float]], effect: str) -> str:
    """Factors with their dollar effects a year (premium or expected loss)."""
    body = "".join(
        f"<tr><td>{escape(f.question)}</td><td>{escape(f.answer)}</td>"
        f'<td class="num">&times;{f.relativity:.2f}</td>'
        f'<td class="num">{signed_money(amount)}</td></tr>'
        for f, amount in rows
    )
    return (
        "<table><thead><tr><th>Question</th><th>Your answer</th>"
        '<th class="num">Losses vs. reference answer</th>'
        f'<th class="num">{effect} a year</th></tr></thead><tbody>{body}</tbody></table>'
    )


def _drivers(result: ScoreResult) -> str:
    risk = sorted(
        (
            (f, f.premium_effect)
            for f in result.factors
            if f.part == "risk" and f.premium_effect is not None
        ),
        key=lambda row: -abs(row[1]),
    )[:RISK_FACTORS]
    facility = sorted(
        ((f, f.loss_effect) for f in result.factors if f.part == "class"),
        key=lambda row: -abs(row[1]),
    )[:CLASS_FACTORS]
    risk_html = (
        _factor_table(risk, "Effect on your premium")
        if risk
        else "<p>None of your answers moves the price.</p>"
    )
    class_html = _factor_table(facility, "Effect on expected losses") if facility else ""
    return (
        '<section><h2>What drives your price</h2><div class="card">'
        "<h3>Your answers about security</h3>"
        "<p>These answers move your price up (+) or down (&minus;) from that of the average "
        f"facility like yours ({money(result.class_premium)} a year). "
        "&times;1.20 means 20% more expected losses than with the reference answer.</p>"
        f'{risk_html}</div><div class="card"><h3>What kind of facility you are</h3>'
        "<p>These set the price of the average facility like yours.</p>"
        f"{class_html}</div></section>"
    )


def _footer(result: ScoreResult) -> str:
    versions = result.versions
    notes = (
        [n.message if n.question is None else f"{n.question} - {n.message}" for n in result.notes]
        if result.notes
        else list(result.warnings)
    )
    warnings = (
        "<p><strong>Notes on your answers:</strong></p><ul>"
        + "".join(f"<li>{escape(note)}</li>" for note in dict.fromkeys(notes))
        + "</ul>"
        if notes
        else ""
    )
    return (
        f"<footer>{warnings}<p>{escape(NOTE)}</p>"
        f"<p>Model {escape(versions.model_id)} (sha256 {escape(versions.model_sha256)}); "
        f"rating plan {escape(versions.rating_plan)}; questionnaire "
        f"{escape(versions.questionnaire)}; carescore {escape(versions.carescore)}.</p></footer>"
    )
