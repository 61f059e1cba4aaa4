"""Inline SVG charts drawn from numbers alone: a histogram with a marker and horizontal bars.

Charts use black strokes, grey fills and text labels on every bar, so they read
the same on screen and in black-and-white print. Coordinates are written with
one decimal, so the same numbers always give the same bytes. Inline SVG in an
HTML document needs no namespace declaration, so none is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from scoring.report._words import shorten

WIDTH = 680
_INK = "#111"
_BAR = "#a6a6a6"
_FONT = 'font-family="Helvetica, Arial, sans-serif"'


def _n(value: float) -> str:
    return f"{value:.1f}"


def _svg(height: float, title: str, body: list[str]) -> str:
    label = escape(title)
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {_n(height)}" '
        f'role="img" aria-label="{label}" {_FONT} font-size="12">'
        f"<title>{label}</title>" + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", extra: str = "") -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{_INK}"{extra}>'
        f"{escape(text)}</text>"
    )


def bin_width(low: int, high: int, *, most_bins: int = 30) -> int:
    """The smallest round bin width that covers ``low``..``high`` in at most ``most_bins`` bins.

    Examples
    --------
    >>> bin_width(200, 700)
    20
    >>> bin_width(480, 520)
    10
    """
    for width in (10, 20, 25, 50, 100, 200, 250, 500):
        if (high - low) / width <= most_bins:
            return width
    return 1000


def histogram(values: Sequence[int], marker: int, *, title: str, marker_label: str) -> str:
    """A histogram of ``values`` with a labelled vertical line at ``marker``."""
    low = min([*values, marker]) // 10 * 10
    high = max([*values, marker]) + 1
    width = bin_width(low, high)
    low = low // width * width
    bins = max(1, -(-(high - low) // width))
    counts = [0] * bins
    for value in values:
        counts[min(bins - 1, (value - low) // width)] += 1
    tallest = max([*counts, 1])

    left, right, top, bottom = 50.0, 20.0, 34.0, 44.0
    plot_h = 180.0
    height = top + plot_h + bottom
    step = (WIDTH - left - right) / bins
    x_base = top + plot_h

    def x_of(score: float) -> float:
        return left + (score - low) / width * step

    body = [
        f'<line x1="{_n(left)}" y1="{_n(x_base)}" x2="{_n(WIDTH - right)}" y2="{_n(x_base)}" '
        f'stroke="{_INK}"/>',
        f'<line x1="{_n(left)}" y1="{_n(top)}" x2="{_n(left)}" y2="{_n(x_base)}" stroke="{_INK}"/>',
        _text(left - 6, top + 4, f"{tallest:,}", anchor="end"),
        _text(left - 6, x_base, "0", anchor="end"),
        _text(
            14,
            top + plot_h / 2,
            "facilities",
            anchor="middle",
            extra=f' transform="rotate(-90 14 {_n(top + plot_h / 2)})"',
        ),
    ]
    for i, count in enumerate(counts):
        bar_h = plot_h * count / tallest
        body.append(
            f'<rect x="{_n(left + i * step)}" y="{_n(x_base - bar_h)}" width="{_n(step)}" '
            f'height="{_n(bar_h)}" fill="{_BAR}" stroke="{_INK}" stroke-width="0.6"/>'
        )
    tick = max(100, width * 5)
    for score in range(-(-low // tick) * tick, low + bins * width + 1, tick):
        x = x_of(score)
        body.append(
            f'<line x1="{_n(x)}" y1="{_n(x_base)}" x2="{_n(x)}" y2="{_n(x_base + 5)}" '
            f'stroke="{_INK}"/>'
        )
        body.append(_text(x, x_base + 18, str(score), anchor="middle"))
    body.append(_text((left + WIDTH - right) / 2, x_base + 36, "score (0-1000)", anchor="middle"))
    x = x_of(marker + 0.5)
    anchor = "end" if x > WIDTH * 0.75 else "start"
    body.append(
        f'<line class="marker" x1="{_n(x)}" y1="{_n(top - 8)}" x2="{_n(x)}" y2="{_n(x_base)}" '
        f'stroke="{_INK}" stroke-width="2.5" stroke-dasharray="6 3"/>'
    )
    body.append(
        _text(
            x + (-6 if anchor == "end" else 6),
            top - 14,
            marker_label,
            anchor=anchor,
            extra=' font-weight="bold"',
        )
    )
    return _svg(height, title, body)


def bars(rows: Sequence[tuple[str, float, str]], *, title: str, label_chars: int = 44) -> str:
    """Horizontal bars, one per ``(label, value, value text)`` row, scaled to the largest value."""
    label_w, value_w, row_h, top = 290.0, 150.0, 26.0, 6.0
    bar_room = WIDTH - label_w - value_w
    largest = max([value for _, value, _ in rows] + [0.0])
    body = []
    for i, (label, value, value_text) in enumerate(rows):
        y = top + i * row_h
        length = 0.0 if largest <= 0 else bar_room * max(value, 0.0) / largest
        body.append(_text(label_w - 8, y + 16, shorten(label, label_chars), anchor="end"))
        body.append(
            f'<rect x="{_n(label_w)}" y="{_n(y + 4)}" width="{_n(length)}" '
            f'height="{_n(row_h - 8)}" fill="{_BAR}" stroke="{_INK}" stroke-width="0.6"/>'
        )
        body.append(_text(label_w + length + 6, y + 16, value_text))
    body.append(
        f'<line x1="{_n(label_w)}" y1="{_n(top)}" x2="{_n(label_w)}" '
        f'y2="{_n(top + len(rows) * row_h)}" stroke="{_INK}"/>'
    )
    return _svg(top * 2 + len(rows) * row_h, title, body)
