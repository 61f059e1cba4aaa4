"""The dislocation report's sections on segments, rules without an outcome change, and
versions that read the same but are not (see :mod:`scoring.portfolio.compare_segments`)."""

from __future__ import annotations

from html import escape

from scoring.portfolio.compare_result import Comparison
from scoring.report._words import money, signed_money


def _pct(value: float) -> str:
    return f"{value:+.1f}%" if abs(value) != float("inf") else "new"


def segments_section(comparison: Comparison) -> str:
    """Premium change of the matched facilities by facility type, tier, limit, outcome."""
    if not comparison.segments:
        return ""
    tables = []
    names = dict.fromkeys(s.segment for s in comparison.segments)
    for name in names:
        rows = "".join(
            f'<tr><td>{escape(s.value)}</td><td class="num">{s.facilities:,}</td>'
            f'<td class="num">{money(s.premium_before)}</td>'
            f'<td class="num">{money(s.premium_after)}</td>'
            f'<td class="num">{signed_money(s.change)}</td>'
            f'<td class="num">{_pct(s.change_pct)}</td></tr>'
            for s in comparison.segments
            if s.segment == name
        )
        tables.append(
            f"<h3>By {escape(name)}</h3>"
            f"<table><thead><tr><th>{escape(name)}</th>"
            '<th class="num">facilities</th><th class="num">premium before</th>'
            '<th class="num">premium after</th><th class="num">difference</th>'
            f'<th class="num">change</th></tr></thead><tbody>{rows}</tbody></table>'
        )
    return (
        "<section><h2>Premium change by segment</h2>"
        '<p class="muted">Matched facilities; the tier and outcome are those before.</p>'
        + "".join(tables)
        + "</section>"
    )


def unchanged_outcome_rules_section(comparison: Comparison) -> str:
    """Rules that appeared or went on facilities whose outcome did not change."""
    tallies = comparison.rules_unchanged_outcome
    if not tallies:
        return ""
    rows = "".join(
        f'<tr><td>{escape(t.rule)}</td><td class="num">{t.added:,}</td>'
        f'<td class="num">{t.removed:,}</td></tr>'
        for t in tallies
    )
    return (
        "<section><h2>Rules that changed without an outcome change</h2>"
        '<p class="muted">Matched facilities whose outcome stayed the same although a rule '
        "(or a tier referral, <code>tier_X</code>) appeared in or went from their reasons - "
        "e.g. a second reason to refer. The CSV lists each facility's rules added and "
        "removed.</p>"
        '<table><thead><tr><th>rule</th><th class="num">appeared</th>'
        f'<th class="num">went</th></tr></thead><tbody>{rows}</tbody></table></section>'
    )


def version_warnings_html(comparison: Comparison) -> str:
    """A warning for each model or plan whose version reads the same but whose files differ."""
    return "".join(
        f'<p class="warn">Warning: {escape(w)}.</p>' for w in comparison.version_warnings
    )
