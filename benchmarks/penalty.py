"""The scale-free penalty against the penalty it replaced: held-out deviance and time.

Trains the bundled questionnaire's model twice on the same synthetic book, each fit in
its own process: with the scale-free first-stage lasso (each coefficient's penalty
weighted by its feature's standard deviation, as carescore trains) and with every
coefficient's penalty weighted 1 (the features' own units, as before). Both are then
evaluated on the same held-out book (another seed): Poisson deviance of the claim
counts per peril (and the Gamma deviance of claim sizes), and the number of answers
each kept.

Usage::

    python benchmarks/penalty.py --facilities 200000 --years 5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from _harness import OUT, report_child, run_child
from train import book_path


def step_fit(which: str, path: Path, holdout: Path) -> dict[str, Any]:
    import numpy as np

    from scoring import bundled_questionnaire
    from scoring.model import training
    from scoring.model.evaluation import evaluate_book
    from scoring.model.training import train_book

    if which == "unit":  # the penalty as it was: every coefficient's weighted 1

        def unit(X: np.ndarray, weights: np.ndarray) -> np.ndarray:
            return np.ones(X.shape[1])

        training._spread = unit
    questionnaire = bundled_questionnaire()
    start = time.perf_counter()
    model = train_book(path, questionnaire, model_id=which, fingerprint="-")
    seconds = time.perf_counter() - start
    report = evaluate_book(model, holdout, questionnaire, challenger=False)
    return {
        "seconds": seconds,
        "deviance": {p: r["poisson_deviance"] for p, r in report["perils"].items()},
        "gamma_deviance": {p: r.get("gamma_deviance") for p, r in report["perils"].items()},
        "kept": {
            p.value: [
                sum(c != 0 for c in m.frequency.coefficients),
                sum(c != 0 for c in m.severity.coefficients),
            ]
            for p, m in model.perils.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--facilities", type=int, default=200_000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--child", nargs=3, metavar=("WHICH", "BOOK", "HOLDOUT"))
    args = parser.parse_args()
    if args.child:
        which, book, holdout = args.child
        report_child(step_fit, which, Path(book), Path(holdout))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    path = book_path(args.facilities, args.years)
    holdout = book_path(args.facilities // 5, args.years, seed=12)
    report: dict[str, Any] = {
        which: run_child(__file__, which, str(path), str(holdout))
        for which in ("scale_free", "unit")
    }
    report["seconds_scale_free_over_unit"] = (
        report["scale_free"]["seconds"] / report["unit"]["seconds"]
    )
    report["deviance_scale_free_over_unit"] = {
        peril: report["scale_free"]["deviance"][peril] / report["unit"]["deviance"][peril]
        for peril in report["unit"]["deviance"]
    }
    (OUT / f"penalty-{args.facilities}x{args.years}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
