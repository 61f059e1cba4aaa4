"""Outputs for people: one applicant's score as a self-contained HTML report.

:func:`render_html` turns a :class:`~scoring.rating.result.ScoreResult` into one
printable HTML document with inline CSS and SVG charts (no script, no external
reference, byte-identical for the same input).
"""

from scoring.report.html import render_html

__all__ = ["render_html"]
