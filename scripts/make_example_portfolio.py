"""Regenerate the example portfolio (questionnaires/examples/portfolio.csv and .xlsx).

    python scripts/make_example_portfolio.py

The same seed gives the same CSV, byte for byte.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.csv as pacsv

from scoring import bundled_questionnaire
from scoring.synthetic.responses import synthetic_responses

FACILITIES = 240
SEED = 20261129
AS_OF = dt.date(2026, 11, 1)
OUT = Path(__file__).resolve().parent.parent / "questionnaires" / "examples"


def write_portfolio(out: Path) -> tuple[Path, Path]:
    """Write portfolio.csv and portfolio.xlsx into ``out``."""
    questionnaire = bundled_questionnaire()
    table = synthetic_responses(
        questionnaire, FACILITIES, seed=SEED, as_of=AS_OF, id_prefix="CF", blank_share=0.01
    )
    csv_path = out / "portfolio.csv"
    pacsv.write_csv(table, csv_path, write_options=pacsv.WriteOptions(quoting_style="needed"))
    frame = table.to_pandas()
    xlsx_path = out / "portfolio.xlsx"
    frame.to_excel(xlsx_path, sheet_name="responses", index=False)
    return csv_path, xlsx_path


def main() -> None:
    csv_path, xlsx_path = write_portfolio(OUT)
    print(f"wrote {csv_path} and {xlsx_path}: {FACILITIES} facilities")


if __name__ == "__main__":
    main()
