"""Training time and peak memory on a book of facility-years, and a solver comparison.

In one run, each step in its own process (so peak memory is its own):

* intake: reading the book, validating the answers and encoding them (the floor
  any training must pay);
* carescore train: the whole fit (five perils, frequency and severity, each with
  its penalty chosen by cross-validation; see README.md for the set-up);
* solvers, on the same features, one peril's frequency at one penalty: glum with
  the control bounds (what carescore uses), glum without bounds, and
  scikit-learn's PoissonRegressor (lbfgs, no bounds possible).

Usage::

    python benchmarks/train.py --facilities 200000 --years 5
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from _harness import OUT, report_child, run_child


def book_path(facilities: int, years: int, seed: int = 11) -> Path:
    suffix = "" if seed == 11 else f"-seed{seed}"
    path = OUT / f"claims-{facilities}x{years}{suffix}.parquet"
    if not path.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "scoring",
                "synth",
                "--facilities",
                str(facilities),
                "--years",
                str(years),
                "--seed",
                str(seed),
                "-o",
                str(path),
            ],
            check=True,
        )
    return path


def _features(path: Path) -> tuple[Any, Any, Any]:
    """The book read, checked and encoded in chunks, as `carescore train` reads it (a
    book over 250,000 rows is never held whole): its exposure and claims, the encoder
    and the features."""
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd

    from scoring import FeatureEncoder, bundled_questionnaire
    from scoring.model.claims_history import iter_claims_history
    from scoring.model.training import TRAINING_CHUNK_ROWS

    questionnaire = bundled_questionnaire()
    encoder = FeatureEncoder.from_state(questionnaire, {})
    parts, exposure, claims = [], [], []
    for history in iter_claims_history(path, questionnaire, TRAINING_CHUNK_ROWS):
        parts.append(encoder.transform(history.responses.table))
        exposure.append(history.exposure)
        claims.append(history.claims.reset_index(drop=True))
    book = SimpleNamespace(
        exposure=np.concatenate(exposure),
        claims=pd.concat(claims, ignore_index=True),
    )
    book.n_rows = len(book.exposure)
    return book, encoder, np.concatenate(parts)


def step_intake(path: Path) -> dict[str, Any]:
    start = time.perf_counter()
    history, _, features = _features(path)
    return {
        "seconds": time.perf_counter() - start,
        "rows": history.n_rows,
        "features": features.shape[1],
    }


def step_train(path: Path) -> dict[str, Any]:
    from scoring import bundled_questionnaire
    from scoring.model.training import train_book

    questionnaire = bundled_questionnaire()
    start = time.perf_counter()  # as carescore train runs it: the book read in chunks
    model = train_book(path, questionnaire, model_id="bench", fingerprint="-")
    return {
        "seconds": time.perf_counter() - start,
        "alphas": {p.value: [m.frequency.alpha, m.severity.alpha] for p, m in model.perils.items()},
    }


def step_solvers(path: Path) -> dict[str, Any]:
    import numpy as np
    from glum import GeneralizedLinearRegressor
    from sklearn.linear_model import PoissonRegressor

    from scoring.model.metrics import poisson_deviance

    history, encoder, features = _features(path)
    counts = history.claims["claims_ransomware"].to_numpy()
    offset = np.log(history.exposure)
    controls = encoder.feature_info_["is_control"].to_numpy(dtype=bool)
    upper = np.where(controls, 0.0, np.inf)
    results: dict[str, Any] = {}
    alpha = 1e-4
    candidates = {
        "glum_bounded": lambda: GeneralizedLinearRegressor(
            family="poisson", alpha=alpha, l1_ratio=0.0, upper_bounds=upper, gradient_tol=1e-6
        ).fit(features, counts, offset=offset),
        "glum_unbounded": lambda: GeneralizedLinearRegressor(
            family="poisson", alpha=alpha, l1_ratio=0.0, gradient_tol=1e-6
        ).fit(features, counts, offset=offset),
        # scikit-learn has no offset: model the rate with exposure as sample weight
        "sklearn_lbfgs": lambda: PoissonRegressor(alpha=alpha, max_iter=1000).fit(
            features, counts / history.exposure, sample_weight=history.exposure
        ),
    }
    for name, fit in candidates.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fit()
        seconds = time.perf_counter() - start
        rate = np.exp(model.intercept_ + features @ model.coef_)
        violations = int((model.coef_[controls] > 1e-9).sum())
        results[name] = {
            "seconds": seconds,
            "deviance": poisson_deviance(counts, rate * history.exposure),
            "controls_with_positive_coefficient": violations,
        }
    return results


STEPS = {"intake": step_intake, "train": step_train, "solvers": step_solvers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--facilities", type=int, default=200_000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--child", nargs=2, metavar=("STEP", "PATH"))
    args = parser.parse_args()
    if args.child:
        report_child(STEPS[args.child[0]], Path(args.child[1]))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    path = book_path(args.facilities, args.years)
    report = {name: run_child(__file__, name, str(path)) for name in STEPS}
    report["rows"] = report["intake"]["rows"]
    report["train_over_intake"] = report["train"]["seconds"] / report["intake"]["seconds"]
    (OUT / f"train-{report['rows']}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
