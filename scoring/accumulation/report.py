"""The accumulation report: a self-contained HTML page (inline CSS and SVG) and a
CSV or JSON of every figure, written into one folder, each file whole or not at all.

Text that comes from the book (an MSP's name as a facility wrote it, or its key) is
shown on one line of at most :data:`~scoring.accumulation.msp.LABEL_CHARS`
characters in the HTML (escaped) and the CSV files (with a leading ``'`` where a
spreadsheet would run it as a formula, as every CSV the project writes); the JSON
holds the keys whole."""

from __future__ import annotations

import dataclasses
import json
import math
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from scoring._outputs import write_atomically
from scoring.accumulation.analysis import Accumulation, standard_error
from scoring.accumulation.msp import NOT_NAMED, shown
from scoring.portfolio.dislocation_csv import safe_text
from scoring.report._style import CSS
from scoring.report._words import money

REPORT_FILES = (
    "accumulation.html",
    "accumulation.json",
    "tail.csv",
    "curve.csv",
    "concentration.csv",
    "msp.csv",
    "contributions.csv",
    "scenarios.csv",
    "convergence.csv",
)
"""Every file the report folder holds."""


def _cell(value: object) -> str:
    """A text cell of a CSV: one line of at most ``LABEL_CHARS`` characters, never read
    as a formula."""
    return safe_text(shown(value) if isinstance(value, str) else value)


def _csv(frame: pd.DataFrame, float_format: str = "%.2f") -> bytes:
    """A table as CSV; text cells never read as a formula (:func:`safe_text`)."""
    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(_cell)
    return safe.to_csv(index=False, float_format=float_format, lineterminator="\n").encode()


def figures(result: Accumulation) -> dict[str, object]:
    """Every figure of the report as plain JSON values."""
    return {
        "facilities": result.facilities,
        "years": result.years,
        "seed": result.seed,
        "expected_layer_loss": round(result.expected_layer_loss, 2),
        "simulated_mean": round(result.simulated_mean, 2),
        "simulated_mean_standard_error": round(standard_error(result.losses.aggregate), 2),
        "simulated_attritional_mean": round(result.simulated_attritional_mean, 2),
        "simulated_attritional_standard_error": round(standard_error(result.losses.attritional), 2),
        "tail": [
            {
                k: round(v, 2) if isinstance(v, float) else v
                for k, v in dataclasses.asdict(t).items()
            }
            for t in result.tail
        ],
        "convergence": [
            {k: round(float(v), 2) for k, v in dataclasses.asdict(c).items()}
            for c in result.convergence
        ],
        "contributions": json.loads(result.contributions.round(6).to_json(orient="records")),
        "scenarios": [
            {
                k: round(v, 2) if isinstance(v, float) else v
                for k, v in dataclasses.asdict(s).items()
            }
            for s in result.scenarios
        ],
        "concentration": json.loads(result.concentration.round(2).to_json(orient="records")),
        "vendor_answers": json.loads(result.vendor_answers.to_json(orient="records")),
        "msps": json.loads(
            result.msps.round(
                {c: 6 if str(c).startswith("share") else 2 for c in result.msps}
            ).to_json(orient="records")
        ),
    }


def write_report(result: Accumulation, folder: Path) -> list[Path]:
    """Write every file of :data:`REPORT_FILES` into ``folder`` (made if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    tail = pd.DataFrame([dataclasses.asdict(t) for t in result.tail])
    scenarios = pd.DataFrame([dataclasses.asdict(s) for s in result.scenarios])
    convergence = pd.DataFrame([dataclasses.asdict(c) for c in result.convergence])
    contents = {
        "accumulation.html": render(result).encode(),
        "accumulation.json": (json.dumps(figures(result), indent=1) + "\n").encode(),
        "tail.csv": _csv(tail),
        "curve.csv": _csv(result.curve),
        "concentration.csv": _csv(result.concentration),
        "msp.csv": _csv(result.msps, "%.6f"),
        "contributions.csv": _csv(result.contributions, "%.6f"),
        "scenarios.csv": _csv(scenarios),
        "convergence.csv": _csv(convergence),
    }
    written = []
    for name in REPORT_FILES:
        write_atomically(folder / name, contents[name])
        written.append(folder / name)
    return written


_W, _H, _PAD = 640.0, 300.0, 56.0


def short_money(amount: float) -> str:
    """An axis label: dollars in thousands, millions or billions.

    Examples
    --------
    >>> short_money(3_120_000_000), short_money(9_331_764), short_money(25_000), short_money(0)
    ('$3.1B', '$9.3M', '$25K', '$0')
    """
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(amount) >= size:
            return f"${amount / size:,.{0 if unit == 'K' else 1}f}{unit}"
    return f"${amount:,.0f}"


def curve_chart(result: Accumulation) -> str:
    """The AEP and OEP curves: loss against return period (log scale), as inline SVG."""
    curve = result.curve
    periods = curve["return_period"].to_numpy()
    top = float(max(curve["aep"].max(), 1.0))
    x_max = math.log10(max(float(periods.max()), 10.0))

    def x(t: float) -> float:
        return _PAD + (_W - 2 * _PAD) * math.log10(t) / x_max

    def y(v: float) -> float:
        return _H - _PAD + -(_H - 2 * _PAD) * v / top

    lines = []
    for name, colour in (("aep", "#1f4e79"), ("oep", "#c55a11")):
        points = " ".join(
            f"{x(t):.1f},{y(v):.1f}" for t, v in zip(periods, curve[name], strict=True)
        )
        lines.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
    ticks = []
    for t in (1, 10, 50, 100, 200, 250, 1000, 10000):
        if t <= periods.max():
            ticks.append(
                f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{_PAD / 2}" y2="{_H - _PAD}" '
                f'stroke="#ddd"/><text x="{x(t):.1f}" y="{_H - _PAD + 16}" font-size="11" '
                f'text-anchor="middle">{t}</text>'
            )
    for v in np.linspace(0, top, 5):
        ticks.append(
            f'<text x="{_PAD - 4}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end">'
            f"{escape(short_money(v))}</text>"
        )
    legend = (
        f'<text x="{_W - _PAD}" y="{_PAD / 2}" font-size="12" text-anchor="end">'
        '<tspan fill="#1f4e79">aggregate (AEP)</tspan> / '
        '<tspan fill="#c55a11">occurrence (OEP)</tspan></text>'
        f'<text x="{_W / 2}" y="{_H - 8}" font-size="12" text-anchor="middle">'
        "return period (years, log scale)</text>"
    )
    return (
        f'<svg class="chart" viewBox="0 0 {_W:.0f} {_H:.0f}" role="img" '
        'aria-label="Loss exceedance curves"><title>Loss exceedance curves</title>'
        + "".join(ticks)
        + "".join(lines)
        + legend
        + "</svg>"
    )


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(shown(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


MSP_ROWS = 25
"""The MSPs the HTML lists (largest first; every one is in msp.csv)."""


def msp_section(result: Accumulation) -> str:
    """The MSP table: the largest MSPs by facilities, and the facilities that name none."""
    msps = result.msps
    if msps.empty:
        return (
            "<p>No facility depends on an MSP, or the vendor catalogue does not group "
            "facilities by their MSP's name.</p>"
        )
    named = msps[msps["name"] != NOT_NAMED]
    unnamed = msps[msps["name"] == NOT_NAMED]
    rows = [
        [
            str(r["name"]),
            str(r["spellings"]),
            str(r["facilities"]),
            money(float(r["limits"])),
            money(float(r["premium"])),
            money(float(r["expected_loss"])),
            money(float(r["mean_annual_loss"])),
            f"{float(r['share_of_1_in_200_tvar']):.1%}",
        ]
        for r in pd.concat([named.head(MSP_ROWS), unnamed]).to_dict("records")
    ]
    note = (
        f"<p>{len(named)} MSPs named by the book's facilities (names grouped as the "
        "README says: case, punctuation, company forms and IT-services words ignored); "
        f"the {min(len(named), MSP_ROWS)} with most facilities are listed, every one is in "
        "msp.csv. Mean a year and share of the 1-in-200 TVaR are those of the MSP "
        "compromise event."
    )
    if not unnamed.empty:
        note += (
            f" {int(unnamed['facilities'].iloc[0])} facilities use an MSP without naming "
            "it: each is simulated as an MSP of its own, never pooled with the others."
        )
    table = _table(
        [
            "MSP",
            "spellings",
            "facilities",
            "limits",
            "premium",
            "expected loss",
            "mean a year",
            "share of 1-in-200 TVaR",
        ],
        rows,
    )
    return note + "</p>" + table


def render(result: Accumulation) -> str:
    """The report as one self-contained HTML page."""
    tail = _table(
        ["curve", "1 in", "PML", "TVaR"],
        [[t.curve.upper(), str(t.return_period), money(t.pml), money(t.tvar)] for t in result.tail],
    )
    top = result.contributions.head(15)
    contributions = _table(
        ["event", "vendor", "clients", "mean a year", "share of 1-in-200 TVaR"],
        [
            [
                str(r["event"]),
                str(r["vendor"]),
                str(r["clients"]),
                money(float(r["mean_annual_loss"])),
                f"{float(r['share_of_1_in_200_tvar']):.1%}",
            ]
            for r in top.to_dict("records")
        ],
    )
    conc = result.concentration.sort_values(["category", "facilities"], ascending=[True, False])
    concentration = _table(
        [
            "category",
            "vendor",
            "facilities",
            "answered",
            "allocated",
            "limits",
            "premium",
            "expected loss",
        ],
        [
            [
                str(r["category"]),
                str(r["vendor"]),
                str(r["facilities"]),
                str(int(r["answered"])),
                str(int(r["allocated"])),
                money(float(r["limits"])),
                money(float(r["premium"])),
                money(float(r["expected_loss"])),
            ]
            for r in conc.to_dict("records")
        ],
    )
    scenarios = _table(
        ["event", "vendor", "days", "clients", "facilities hit", "expected loss"],
        [
            [
                s.event,
                s.vendor,
                f"{s.duration_days:g}",
                str(s.clients),
                f"{s.facilities_hit:.1f}",
                money(s.loss),
            ]
            for s in result.scenarios[:20]
        ],
    )
    answers = _table(
        ["category", "question", "depend on it", "answered", "allocated", "not named"],
        [
            [
                str(r["category"]),
                str(r["question"]) or "(not asked)",
                str(r["exposed"]),
                str(r["answered"]),
                str(r["allocated"]),
                str(r["not_named"]),
            ]
            for r in result.vendor_answers.to_dict("records")
        ],
    )
    convergence = _table(
        ["simulated years", "1-in-200 AEP", "standard error"],
        [[str(c.years), money(c.pml), money(c.standard_error)] for c in result.convergence],
    )
    se = standard_error(result.losses.aggregate)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Portfolio accumulation</title>"
        f"<style>{CSS}</style></head><body><main>"
        "<h1>Portfolio accumulation</h1>"
        f"<p>{result.facilities} facilities, {result.years} simulated years (seed {result.seed}). "
        f"Expected loss in the layer (loss model): {money(result.expected_layer_loss)} a year; "
        f"simulated mean with correlated events: {money(result.simulated_mean)} "
        f"(standard error {money(se)}), of which independent claims "
        f"{money(result.simulated_attritional_mean)}.</p>"
        "<p>The event catalogue is calibrated to public events and judgement, not to a "
        "carrier's claims: read the curve as the shape of the book's concentration, not "
        "as a price.</p>"
        f"<h2>Loss exceedance</h2>{curve_chart(result)}{tail}"
        f"<h2>Where the tail comes from</h2>{contributions}"
        f"<h2>Scenarios</h2>{scenarios}"
        f"<h2>Concentration by vendor and technology</h2>{answers}{concentration}"
        f"<h2>Concentration by MSP</h2>{msp_section(result)}"
        f"<h2>Convergence of the 1-in-200 figure</h2>{convergence}"
        "</main></body></html>\n"
    )
