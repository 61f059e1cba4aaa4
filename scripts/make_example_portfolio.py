"""Regenerate the example portfolio (questionnaires/examples/portfolio.csv and .xlsx).

    python scripts/make_example_portfolio.py

The portfolio is 240 synthetic facilities answering the bundled questionnaire
(care_cyber 1.1.0), drawn from the market of the newest version it reads
(models/synthetic-truth/care-cyber-market-1.0.0.yaml), 1 % of control answers left
blank. Every 1.0.0 answer is the one the same seed drew under 1.0.0; the five vendor
questions 1.1.0 adds (the IT company and its remote-management tool, the claims
clearinghouse, the email and cloud platforms) are drawn from a random stream of their
own, at the vendor catalogue's market shares, with the shares of "not sure" and the
IT company roster of models/synthetic-truth/care-cyber-vendors-1.1.0.yaml.

The market makes dangerous facilities rare, so the last four rows (CF-237 .. CF-240)
are kept dangerous on purpose, to show what an underwriter must see: each is the
first facility of a second draw from the same market (seed + 1) that answers as listed
in ``DANGEROUS`` - RDP open to the internet; a PACS reachable from the internet; no
MFA on remote access (RDP closed); and RDP open with no MFA on remote access or email.

The same seed gives the same CSV, byte for byte.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from scoring import bundled_questionnaire
from scoring.synthetic.responses import synthetic_responses

FACILITIES = 240
SEED = 20261129
AS_OF = dt.date(2026, 11, 1)
BLANK_SHARE = 0.01
POOL = 20_000
"""Facilities of the second draw the dangerous rows are picked from."""
DANGEROUS: tuple[dict[str, str], ...] = (
    {"rdp_exposed": "yes"},
    {"pacs_internet_exposed": "yes"},
    {"mfa_remote_access": "no_mfa", "rdp_exposed": "no"},
    {"rdp_exposed": "yes", "mfa_remote_access": "no_mfa", "mfa_email": "no_mfa"},
)
OUT = Path(__file__).resolve().parent.parent / "questionnaires" / "examples"


def portfolio_table() -> pa.Table:
    """The portfolio: a draw from the market, then the dangerous facilities."""
    questionnaire = bundled_questionnaire()
    kept = FACILITIES - len(DANGEROUS)
    table = synthetic_responses(
        questionnaire, kept, seed=SEED, as_of=AS_OF, id_prefix="CF", blank_share=BLANK_SHARE
    )
    pool = synthetic_responses(
        questionnaire, POOL, seed=SEED + 1, as_of=AS_OF, id_prefix="CF", blank_share=BLANK_SHARE
    )
    picked: list[int] = []
    for answers in DANGEROUS:
        matches = np.ones(POOL, dtype=np.bool_)
        for qid, answer in answers.items():
            matches &= np.asarray(pool[qid].to_pylist(), dtype=object) == answer
        matches[picked] = False
        picked.append(int(np.flatnonzero(matches)[0]))
    dangerous = pool.take(pa.array(picked))
    ids = pa.array([f"CF-{kept + i + 1:03d}" for i in range(len(picked))])
    dangerous = dangerous.set_column(0, "facility_id", ids)
    return pa.concat_tables([table, dangerous])


def write_portfolio(out: Path) -> tuple[Path, Path]:
    """Write portfolio.csv and portfolio.xlsx into ``out``."""
    table = portfolio_table()
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
