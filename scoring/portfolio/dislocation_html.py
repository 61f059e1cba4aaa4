"""The dislocation of a rescored book as a self-contained, printable HTML report.

Sections: the two books and their versions, summary counts, the tier migration
matrix (shaded by the share of each before-tier), a histogram and bands of the
premium changes, the outcome changes with the rules behind them, the biggest
movers with the answers that moved them, the facilities not compared like for
like, and the capping summary when capped.

The document has inline CSS and inline SVG only (no script, font, image or
link), and the same comparison always gives the same bytes. Every piece of text
that comes from the books passes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from pathlib import Path

import numpy as np

from scoring.portfolio.compare_result import Book, Comparison, Mover
from scoring.portfolio.dislocation_segments import (
    segments_section,
    unchanged_outcome_rules_section,
    version_warnings_html,
)
from scoring.report._style import CSS
from scoring.report._words import money, question_words, questionnaire_for, signed_money

LISTED_ROWS = 200
"""At most this many facilities per table; the CSV lists them all."""

_EXTRA_CSS = """
main{max-width:260mm}
.warn{border:3px double #111;padding:8px 12px;margin:10px 0;font-weight:bold}
table.matrix{width:auto}
table.matrix td,table.matrix th{text-align:center;min-width:52px;border:1px solid #999}
table.matrix td.diag{outline:2px solid #111;outline-offset:-3px;font-weight:bold}
td.shade,th.shade{-webkit-print-color-adjust:exact;print-color-adjust:exact}
td.diff{font-weight:bold}
ul.factors{margin:0;padding-left:16px}
.grid .card{flex:1 1 22%}
"""
_INK = "#111"
_BAR = "#a6a6a6"
_WIDTH = 680


def _pct(value: float) -> str:
    if math.isinf(value):
        return "new" if value > 0 else "-100%"
    return f"{value:+.1f}%"


def _joined(values: Sequence[str]) -> str:
    return escape(", ".join(values)) if values else '<span class="muted">(none)</span>'


def _name(facility_id: str, name: str | None) -> str:
    text = escape(facility_id)
    return text + (f'<br><span class="small">{escape(name)}</span>' if name else "")


def _header(comparison: Comparison) -> str:
    before, after = Path(comparison.before.path).name, Path(comparison.after.path).name
    return (
        "<header>"
        '<p class="muted">Rescored book: dislocation report</p>'
        f"<h1>{escape(before)} &rarr; {escape(after)}</h1>"
        '<p class="muted">Who moves, by how much and why, before any renewal letter goes out. '
        "Statistics are over the matched facilities: in both books with the same answers.</p>"
        "</header>"
    )


def _versions(comparison: Comparison) -> str:
    before, after = comparison.before, comparison.after

    def row(label: str, old: str, new: str) -> str:
        diff = ' class="diff"' if old != new else ""
        return f"<tr><th>{label}</th><td{diff}>{escape(old)}</td><td{diff}>{escape(new)}</td></tr>"

    def listed(book: Book, field: str, short: bool = False) -> str:
        values: tuple[str, ...] = getattr(book.versions, field)
        return ", ".join(v[:12] if short else v for v in values) or "(none)"

    rows = [
        row("file", Path(before.path).name, Path(after.path).name),
        row("facilities", f"{before.facilities:,}", f"{after.facilities:,}"),
        row("premium (whole book)", money(before.premium), money(after.premium)),
        row("model", listed(before, "model_id"), listed(after, "model_id")),
        row(
            "model sha256",
            listed(before, "model_sha256", short=True),
            listed(after, "model_sha256", short=True),
        ),
        row("rating plan", listed(before, "rating_plan"), listed(after, "rating_plan")),
        row(
            "rating plan sha256",
            listed(before, "rating_plan_sha256", short=True),
            listed(after, "rating_plan_sha256", short=True),
        ),
        row("questionnaire", listed(before, "questionnaire"), listed(after, "questionnaire")),
    ]
    warn = ""
    if comparison.questionnaire_differs:
        warn = (
            '<p class="warn">The two books were scored with different questionnaires; '
            "answers may not mean the same in both.</p>"
        )
    return (
        "<section><h2>The two books</h2>"
        "<table><thead><tr><th></th><th>before</th><th>after</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + warn
        + version_warnings_html(comparison)
        + "</section>"
    )


def _card(title: str, lines: Sequence[str]) -> str:
    return f'<div class="card"><h3>{title}</h3>' + "".join(f"<p>{x}</p>" for x in lines) + "</div>"


def _summary(comparison: Comparison) -> str:
    counts, migration = comparison.counts, comparison.migration
    matched, changed = counts["matched"], counts["answers_changed"]
    before, after = comparison.premium_before, comparison.premium_after
    change = _pct((after - before) / before * 100.0) if before > 0 else "n/a"
    premium = [
        f"before {money(before)}",
        f"after {money(after)} ({change})",
    ]
    if comparison.capping is not None:
        premium.append(f"capped {money(comparison.capping.premium_capped)}")
    cards = [
        _card(
            "Facilities",
            [
                f"<strong>{matched:,}</strong> matched",
                f"{changed:,} with changed answers",
                f"{counts['only_before']:,} dropped (before only)",
                f"{counts['only_after']:,} added (after only)",
                f'<span class="small">before: {comparison.before.facilities:,} = {matched:,} + '
                f"{changed:,} + {counts['only_before']:,}; after: "
                f"{comparison.after.facilities:,} = {matched:,} + {changed:,} + "
                f"{counts['only_after']:,}</span>",
            ],
        ),
        _card(
            "Tiers",
            [
                f"{migration.better:,} better",
                f"{migration.same:,} same",
                f"{migration.worse:,} worse",
            ],
        ),
        _card(
            "Outcomes",
            [
                f"{comparison.moves('newly_quotable'):,} newly quotable",
                f"{comparison.moves('newly_referred'):,} newly referred",
                f"{comparison.moves('newly_declined'):,} newly declined",
            ],
        ),
        _card("Premium (matched)", premium),
    ]
    return '<section><h2>Summary</h2><div class="grid">' + "".join(cards) + "</div></section>"


def _grey(share: float) -> tuple[str, str]:
    """Background and ink for a cell holding ``share`` of its row: darker is more."""
    level = round(255 - 170 * share)
    return f"#{level:02x}{level:02x}{level:02x}", ("#fff" if level < 140 else _INK)


def _migration(comparison: Comparison) -> str:
    migration = comparison.migration
    if not migration.tiers:
        return "<section><h2>Tier migration</h2><p>No matched facilities.</p></section>"
    head = "".join(f"<th>{escape(t)}</th>" for t in migration.tiers)
    rows = []
    for i, (tier, counts) in enumerate(zip(migration.tiers, migration.counts, strict=True)):
        total = sum(counts)
        cells = []
        for j, count in enumerate(counts):
            background, ink = _grey(count / total if total else 0.0)
            diag = " diag" if i == j else ""
            cells.append(
                f'<td class="shade{diag}" style="background:{background};color:{ink}">'
                f"{count:,}</td>"
            )
        rows.append(f"<tr><th>{escape(tier)}</th>{''.join(cells)}<td>{total:,}</td></tr>")
    totals = [sum(column) for column in zip(*migration.counts, strict=True)]
    foot = "".join(f"<td>{t:,}</td>" for t in totals)
    return (
        "<section><h2>Tier migration</h2>"
        '<p class="muted">Matched facilities by tier before (rows) and after (columns); '
        "A is the best tier. Below the diagonal: a better tier now; above: a worse one. "
        "Shading is the share of the row.</p>"
        f'<table class="matrix"><thead><tr><th>before \\ after</th>{head}<th>total</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody>"
        f"<tfoot><tr><th>total</th>{foot}<td>{sum(totals):,}</td></tr></tfoot></table>"
        "</section>"
    )


def _n(value: float) -> str:
    return f"{value:.1f}"


def _text(x: float, y: float, text: str, anchor: str = "middle") -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{_INK}">{escape(text)}</text>'
    )


def change_histogram(changes: Sequence[float], *, title: str) -> str:
    """Inline SVG histogram of premium changes in percent (clipped to -100 .. +100).

    Examples
    --------
    >>> svg = change_histogram([-12.0, 3.3, 3.4, 4.0], title="changes")
    >>> svg.startswith("<svg"), "<script" in svg
    (True, False)
    """
    values = np.clip(np.round(np.asarray(changes, dtype=np.float64), 6), -100.0, 100.0)
    low_value, high_value = float(values.min()), float(values.max())
    width = 50.0
    for step in (1.0, 2.0, 5.0, 10.0, 20.0, 25.0):
        span = math.floor(high_value / step) * step + step - math.floor(low_value / step) * step
        if span / step <= 30:
            width = step
            break
    low = math.floor(low_value / width) * width
    bins = round((math.floor(high_value / width) * width + width - low) / width)
    counts = np.bincount(np.floor((values - low) / width).astype(int), minlength=bins)
    tallest = max(int(counts.max()), 1)
    left, right, top, bottom, plot_h = 50.0, 20.0, 20.0, 44.0, 180.0
    base = top + plot_h
    step = (_WIDTH - left - right) / bins
    body = [
        f'<line x1="{_n(left)}" y1="{_n(base)}" x2="{_n(_WIDTH - right)}" y2="{_n(base)}" '
        f'stroke="{_INK}"/>',
        f'<line x1="{_n(left)}" y1="{_n(top)}" x2="{_n(left)}" y2="{_n(base)}" stroke="{_INK}"/>',
        _text(left - 6, top + 4, f"{tallest:,}", anchor="end"),
        _text(left - 6, base, "0", anchor="end"),
    ]
    for i, count in enumerate(counts):
        bar_h = plot_h * int(count) / tallest
        body.append(
            f'<rect x="{_n(left + i * step)}" y="{_n(base - bar_h)}" width="{_n(step)}" '
            f'height="{_n(bar_h)}" fill="{_BAR}" stroke="{_INK}" stroke-width="0.6"/>'
        )
    every = max(1, math.ceil(bins / 10))
    for i in range(0, bins + 1, every):
        x = left + i * step
        body.append(
            f'<line x1="{_n(x)}" y1="{_n(base)}" x2="{_n(x)}" y2="{_n(base + 5)}" stroke="{_INK}"/>'
        )
        edge = low + i * width
        body.append(_text(x, base + 18, f"{edge:+g}%" if edge else "0%"))
    if low < 0 < low + bins * width:
        x = left + (0 - low) / width * step
        body.append(
            f'<line x1="{_n(x)}" y1="{_n(top - 6)}" x2="{_n(x)}" y2="{_n(base)}" '
            f'stroke="{_INK}" stroke-width="2" stroke-dasharray="6 3"/>'
        )
    body.append(
        _text((left + _WIDTH - right) / 2, base + 36, f"premium change, % ({width:g}-point bins)")
    )
    label = escape(title)
    return (
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {_n(base + bottom)}" role="img" '
        f'aria-label="{label}" font-family="Helvetica, Arial, sans-serif" font-size="12">'
        f"<title>{label}</title>" + "".join(body) + "</svg>"
    )


def _premium(comparison: Comparison) -> str:
    matched = comparison.facilities[comparison.facilities["status"] == "matched"]
    changes = [float(v) for v in matched["change_pct"]]
    chart = (
        "<figure>"
        + change_histogram(changes, title="Premium change of the matched facilities, %")
        + "<figcaption>Matched facilities by premium change; changes beyond +/-100 % are "
        "drawn at the edge.</figcaption></figure>"
        if changes
        else "<p>No matched facilities.</p>"
    )
    rows = "".join(
        f'<tr><td>{escape(band.label)}</td><td class="num">{band.facilities:,}</td>'
        f'<td class="num">{money(band.premium_before)}</td>'
        f'<td class="num">{money(band.premium_after)}</td>'
        f'<td class="num">{signed_money(band.premium_after - band.premium_before)}</td></tr>'
        for band in comparison.bands
    )
    before, after = comparison.premium_before, comparison.premium_after
    return (
        "<section><h2>Premium changes</h2>"
        + chart
        + '<table><thead><tr><th>change</th><th class="num">facilities</th>'
        '<th class="num">premium before</th><th class="num">premium after</th>'
        f'<th class="num">difference</th></tr></thead><tbody>{rows}</tbody>'
        f'<tfoot><tr><th>total</th><td class="num">{len(changes):,}</td>'
        f'<td class="num">{money(before)}</td><td class="num">{money(after)}</td>'
        f'<td class="num">{signed_money(after - before)}</td></tr></tfoot></table></section>'
    )


def _more(shown: int, total: int) -> str:
    if total <= shown:
        return ""
    return f'<p class="muted">{shown:,} of {total:,} shown; the CSV lists them all.</p>'


def _outcomes(comparison: Comparison, limit: int) -> str:
    changes = comparison.outcome_changes
    if not changes:
        return (
            "<section><h2>Outcome changes</h2><p>No matched facility changed outcome.</p></section>"
        )
    tally = "".join(
        f'<tr><td>{escape(t.rule)}</td><td class="num">{t.added:,}</td>'
        f'<td class="num">{t.removed:,}</td></tr>'
        for t in comparison.rules
    )
    rows = "".join(
        f"<tr><td>{_name(c.facility_id, c.facility_name)}</td>"
        f"<td>{escape(c.move.replace('_', ' '))}</td>"
        f"<td>{escape(c.outcome_before)} &rarr; {escape(c.outcome_after)}</td>"
        f"<td>{_joined(c.rules_added)}</td><td>{_joined(c.rules_removed)}</td></tr>"
        for c in changes[:limit]
    )
    return (
        "<section><h2>Outcome changes</h2>"
        '<p class="muted">Rules (and tier referrals, <code>tier_X</code>) that appeared in or '
        "went from the reasons of the facilities whose outcome changed.</p>"
        '<table><thead><tr><th>rule</th><th class="num">appeared</th>'
        f'<th class="num">went</th></tr></thead><tbody>{tally}</tbody></table>'
        "<h3>Facilities</h3>"
        "<table><thead><tr><th>facility</th><th>change</th><th>outcome</th>"
        "<th>rules added</th><th>rules removed</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        + _more(min(limit, len(changes)), len(changes))
        + "</section>"
    )


def _factors(mover: Mover, questionnaire_key: str) -> str:
    questionnaire = questionnaire_for(questionnaire_key) if questionnaire_key else None
    if not mover.factors:
        return '<span class="muted">no change in the listed drivers</span>'
    items = "".join(
        f"<li>{escape(question_words(questionnaire, f.question_id))} "
        f'<span class="small">({escape(f.question_id)}: {signed_money(f.before)} &rarr; '
        f"{signed_money(f.after)})</span> <strong>{signed_money(f.change)}</strong></li>"
        for f in mover.factors
    )
    return f'<ul class="factors">{items}</ul>'


def _movers(comparison: Comparison) -> str:
    movers = comparison.movers
    if not movers:
        return "<section><h2>Biggest movers</h2><p>No matched premium changed.</p></section>"
    keys = comparison.after.versions.questionnaire
    key = keys[0] if len(keys) == 1 else ""
    rows = "".join(
        f'<tr><td class="num">{rank}</td><td>{_name(m.facility_id, m.facility_name)}</td>'
        f"<td>{escape(m.tier_before)} &rarr; {escape(m.tier_after)}<br>"
        f'<span class="small">{escape(m.outcome_before)} &rarr; {escape(m.outcome_after)}</span>'
        f'</td><td class="num">{money(m.premium_before)} &rarr; {money(m.premium_after)}<br>'
        f"<strong>{signed_money(m.change)}</strong> ({_pct(m.change_pct)})</td>"
        f"<td>{_factors(m, key)}</td></tr>"
        for rank, m in enumerate(movers, start=1)
    )
    return (
        "<section><h2>Biggest movers</h2>"
        '<p class="muted">The largest absolute premium changes. Factors are the change of each '
        "answer's premium effect between the two books' <code>drivers</code>. Drivers list "
        "only each facility's top answers, so an answer listed in one book only counts as $0 "
        "in the other.</p>"
        '<table><thead><tr><th class="num">#</th><th>facility</th><th>tier, outcome</th>'
        '<th class="num">premium</th><th>factors (effect before &rarr; after, change)</th>'
        f"</tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _others(comparison: Comparison, limit: int) -> str:
    frame = comparison.facilities
    parts = []
    titles = {
        "answers_changed": "With changed answers (in both books, different validated answers)",
        "only_before": "Dropped (in the before book only)",
        "only_after": "Added (in the after book only)",
    }
    for status, title in titles.items():
        rows = frame[frame["status"] == status]
        if rows.empty:
            continue
        body = "".join(
            f"<tr><td>{_name(r['facility_id'], r['facility_name'])}</td>"
            f"<td>{escape(r['tier_before'] or '')} &rarr; {escape(r['tier_after'] or '')}</td>"
            f"<td>{escape(r['outcome_before'] or '')} &rarr; {escape(r['outcome_after'] or '')}"
            f'</td><td class="num">{_money_or_blank(r["premium_before"])} &rarr; '
            f"{_money_or_blank(r['premium_after'])}</td>"
            + (f"<td>{_changed(r['changed_answers'])}</td>" if status == "answers_changed" else "")
            + "</tr>"
            for r in rows.iloc[:limit].to_dict("records")
        )
        answers_head = "<th>answers changed</th>" if status == "answers_changed" else ""
        parts.append(
            f"<h3>{title}: {len(rows):,}</h3>"
            "<table><thead><tr><th>facility</th><th>tier</th><th>outcome</th>"
            f'<th class="num">premium</th>{answers_head}</tr></thead><tbody>{body}</tbody></table>'
            + _more(min(limit, len(rows)), len(rows))
        )
    if not parts:
        return ""
    return (
        "<section><h2>Not compared like for like</h2>"
        '<p class="muted">Kept out of the statistics above; listed so none is missed.</p>'
        + "".join(parts)
        + "</section>"
    )


def _changed(questions: object) -> str:
    """The questions whose answers changed, as ``a, b``; blank when not known (books
    written before answers were kept)."""
    if not isinstance(questions, str):
        return ""
    return escape(", ".join(questions.split(";")))


def _money_or_blank(value: float) -> str:
    return "" if math.isnan(value) else money(value)


def _capping(comparison: Comparison) -> str:
    capping = comparison.capping
    if capping is None:
        return ""
    cap = f"{capping.cap * 100:g}%"
    return (
        f"<section><h2>Transition capping at +/-{escape(cap)}</h2>"
        "<p>Each matched premium is kept within the cap of its premium before, in whole "
        "dollars, for this renewal.</p><table><tbody>"
        f'<tr><th>premium after, uncapped</th><td class="num">'
        f"{money(comparison.premium_after)}</td></tr>"
        f'<tr><th>premium after, capped</th><td class="num">{money(capping.premium_capped)}</td>'
        "</tr>"
        f'<tr><th>increases capped</th><td class="num">{capping.capped_increases:,}</td></tr>'
        f'<tr><th>premium given up on increases (uncapped - capped)</th><td class="num">'
        f"{money(capping.increase_forgone)}</td></tr>"
        f'<tr><th>decreases capped</th><td class="num">{capping.capped_decreases:,}</td></tr>'
        f'<tr><th>premium kept on decreases (capped - uncapped)</th><td class="num">'
        f"{money(capping.decrease_withheld)}</td></tr>"
        "</tbody></table></section>"
    )


def _footer(comparison: Comparison) -> str:
    lines = []
    for side, book in (("before", comparison.before), ("after", comparison.after)):
        shas = ", ".join(book.versions.model_sha256) or "(none)"
        lines.append(f"{side}: {escape(book.path)}; model sha256 {escape(shas)}")
    return "<footer>" + "<br>".join(lines) + "</footer>"


def render_dislocation_html(comparison: Comparison, *, rows: int = LISTED_ROWS) -> str:
    """The comparison as a complete, self-contained HTML document (see the module docstring).

    ``rows`` limits each facility table; the CSV lists every facility.
    """
    sections = [
        _header(comparison),
        _versions(comparison),
        _summary(comparison),
        _migration(comparison),
        _premium(comparison),
        segments_section(comparison),
        _outcomes(comparison, rows),
        unchanged_outcome_rules_section(comparison),
        _movers(comparison),
        _capping(comparison),
        _others(comparison, rows),
        _footer(comparison),
    ]
    title = (
        f"Dislocation: {Path(comparison.before.path).name} to {Path(comparison.after.path).name}"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>{CSS}{_EXTRA_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(s for s in sections if s)
        + "\n</main>\n</body>\n</html>\n"
    )


def write_dislocation_html(comparison: Comparison, path: Path, *, rows: int = LISTED_ROWS) -> None:
    """Write :func:`render_dislocation_html` to ``path``: aside first, then renamed."""
    aside = path.with_name(path.name + ".partial")
    aside.write_text(render_dislocation_html(comparison, rows=rows), encoding="utf-8")
    aside.replace(path)
