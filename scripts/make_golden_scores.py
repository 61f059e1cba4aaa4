"""Rewrite the golden score files of the bundled example facilities.

    python scripts/make_golden_scores.py

tests/test_rating.py compares `carescore score --json` of every example in
questionnaires/examples/*.yaml with tests/golden/score/<example>.json, byte for
byte. Run this after a deliberate change to the model, the rating plan, the
remediation catalogue or the scoring code, and review the diff before committing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from scoring import score

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "questionnaires" / "examples"
GOLDEN = ROOT / "tests" / "golden" / "score"
AS_OF = dt.date(2026, 11, 29)


def main() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for path in sorted(EXAMPLES.glob("*.yaml")):
        result = score(path, as_of=AS_OF)
        target = GOLDEN / f"{path.stem}.json"
        target.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
        name = target.relative_to(ROOT)
        print(f"{name}: {result.outcome}, tier {result.tier}, ${result.premium:,.0f}")


if __name__ == "__main__":
    main()
