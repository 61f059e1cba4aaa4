"""The report's inline stylesheet: readable on screen, on A4 or Letter, and in black and white.

Printed, the report is a summary of a page or two - the outcome, tier, score and
premium, the to-do list (its first rows) and the goals - and then the detail (other
amounts of cover, peers, losses by type, what drives the price), which starts a new
page. The document holds them in that order: the summary in ``SUMMARY_CLASS``, the
detail in ``DETAIL_CLASS``.
"""

from __future__ import annotations

SUMMARY_CLASS = "summary"
"""The part of the report that is printed first."""
DETAIL_CLASS = "detail"
"""The part of the report that starts a new printed page."""

CSS = """
*{box-sizing:border-box}
body{margin:0;color:#111;background:#fff;font:15px/1.45 Helvetica,Arial,sans-serif}
main{max-width:180mm;margin:0 auto;padding:18px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:19px;margin:26px 0 8px;border-bottom:2px solid #111;padding-bottom:3px;
break-after:avoid;page-break-after:avoid}
h3{font-size:16px;margin:0 0 6px}
p{margin:6px 0}
.muted{color:#444;font-size:13px}
.card{border:1px solid #111;border-radius:6px;padding:10px 14px;margin:10px 0;
break-inside:avoid;page-break-inside:avoid}
.grid{display:flex;flex-wrap:wrap;gap:10px}
.grid .card{flex:1 1 30%;margin:0}
.big{font-size:34px;font-weight:bold;line-height:1.1}
.badge{display:inline-block;border:3px solid #111;border-radius:6px;padding:4px 12px;
font-size:20px;font-weight:bold;letter-spacing:.02em}
.badge.quote{border-style:solid}
.badge.refer{border-style:dashed}
.badge.decline{border-style:double;border-width:5px}
.ladder{display:flex;gap:4px;margin:6px 0}
.ladder span{flex:1;text-align:center;border:1px solid #777;padding:2px 0;color:#555}
.ladder span.here{border:3px solid #111;color:#111;font-weight:bold}
table{width:100%;border-collapse:collapse;font-size:13.5px}
th,td{border-bottom:1px solid #999;padding:5px 6px;text-align:left;vertical-align:top}
th{border-bottom:2px solid #111}
td.num,th.num{text-align:right;white-space:nowrap}
tr{break-inside:avoid;page-break-inside:avoid}
thead{display:table-header-group}
tr.requested td{font-weight:bold}
.small{font-size:12.5px;color:#333}
svg.chart{width:100%;height:auto;display:block}
figure{margin:8px 0}
figcaption{font-size:13px;color:#333}
footer{margin-top:26px;border-top:1px solid #111;padding-top:6px;font-size:12px;color:#333;
word-break:break-all}
@page{margin:14mm}
@media print{
body{font-size:10pt;line-height:1.3}
main{max-width:none;padding:0}
h1{font-size:20pt}
h2{font-size:13pt;margin-top:10px}
.card{padding:6px 10px;margin:6px 0}
.big{font-size:22pt}
table{font-size:9pt}
th,td{padding:3px 4px}
.card,figure,tr{break-inside:avoid;page-break-inside:avoid}
.summary figure{display:none}
.detail{break-before:page;page-break-before:always}
footer{break-before:avoid}
}
"""
