"""Portfolio accumulation: simulated years a second and peak memory, against a floor.

Each step runs in its own process, so its peak memory is its own. Both build the
same book: the example portfolio scored (``carescore batch``'s library call) and its
exposure repeated to ``--facilities`` facilities with ids of their own (the
vendor and control mix of the example book, at scale). Then:

* floor: one vectorised pass over the book's expected losses - each facility's
  expected loss in the layer from the loss model's frequency and severity
  (``RatingEngine.layer_loss``), summed - the least any figure of the book costs;
* simulation: ``--years`` years of the whole book (attritional claims and the
  event catalogue's correlated events), seeded, on ``--workers`` threads.

Usage::

    python benchmarks/accumulation.py --facilities 100000 --years 10000 [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import OUT, report_child, run_child

AS_OF = "2026-11-29"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _repeated(use: Any, take: Any, size: int) -> Any:
    """A category's vendors for the example book repeated: catalogued vendors as they
    are; MSPs by name apart in each copy of the book (copy c of MSP k is an MSP of its
    own), so that a larger book has more MSPs, not larger ones."""
    import numpy as np

    from scoring.accumulation.exposure import VendorUse

    index, code = use.index[take], use.code[take]
    if not use.category.by_name:
        return VendorUse(use.category, index, code, use.allocated[take])
    copies = -(-len(take) // size)
    copy = np.arange(len(take)) // size
    named = index >= 0
    index = np.where(named, index + copy * len(use.keys), index)
    keys = tuple(f"{k} #{c}" for c in range(copies) for k in use.keys)
    code = np.where(named, np.array((*keys, ""), dtype=object)[index], code)
    return VendorUse(
        use.category,
        index,
        code,
        use.allocated[take],
        keys,
        use.labels * copies,
        use.spellings * copies,
    )


def _book(facilities: int) -> Any:
    """The example book's exposure repeated to ``facilities`` facilities."""
    import datetime as dt

    import numpy as np

    from scoring import default_engine
    from scoring.accumulation.book import read_scored_book
    from scoring.accumulation.catalogue import load_catalogues
    from scoring.accumulation.exposure import BookExposure, scored_book_exposure
    from scoring.portfolio.run import score_book

    engine = default_engine()
    events, vendors = load_catalogues(questionnaire=engine.questionnaire)
    root = Path(__file__).resolve().parent.parent
    as_of = dt.date.fromisoformat(AS_OF)
    with tempfile.TemporaryDirectory() as folder:
        scored = Path(folder) / "scored.csv"
        score_book(root / "questionnaires/examples/portfolio.csv", scored, engine, as_of=as_of)
        example = scored_book_exposure(
            read_scored_book(scored), engine, events, vendors, as_of=as_of
        )
    take = np.arange(facilities) % len(example)
    book = BookExposure(
        facility_id=np.array([f"F-{i:07d}" for i in range(facilities)], dtype=object),
        frequency=example.frequency[take],
        mean_claim=example.mean_claim[take],
        sigma=example.sigma,
        retention=example.retention[take],
        peril_limit=example.peril_limit[take],
        limit=example.limit[take],
        premium=example.premium[take],
        expected_loss=example.expected_loss[take],
        layer_loss=example.layer_loss[take],
        vendors={code: _repeated(use, take, len(example)) for code, use in example.vendors.items()},
        hit_factor={code: f[take] for code, f in example.hit_factor.items()},
        loss_factor={code: f[take] for code, f in example.loss_factor.items()},
    )
    return engine, events, book


def step_floor(facilities: str, years: str, workers: str) -> dict[str, Any]:
    engine, _, book = _book(int(facilities))
    before = _peak_mb()
    start = time.perf_counter()
    total = float(
        engine.layer_loss(book.frequency, book.mean_claim, book.limit, book.retention).sum()
    )
    return {
        "seconds": time.perf_counter() - start,
        "expected_layer_loss": total,
        "peak_before_mb": before,
    }


def step_simulation(facilities: str, years: str, workers: str) -> dict[str, Any]:
    from scoring.accumulation.curves import pml
    from scoring.accumulation.simulation import Simulator, simulate

    _, events, book = _book(int(facilities))
    before = _peak_mb()
    start = time.perf_counter()
    simulator = Simulator(book, events)
    losses = simulate(simulator, int(years), seed=0, workers=int(workers))
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "years_per_second": int(years) / seconds,
        "mean": float(losses.aggregate.mean()),
        "attritional_mean": float(losses.attritional.mean()),
        "pml_200": pml(losses.aggregate, 200),
        "peak_before_mb": before,
    }


def _added(step: dict[str, Any]) -> float:
    """Peak memory a step added over the book it built (before its timed part)."""
    return float(step["peak_rss_mb"] - step["peak_before_mb"])


STEPS = {"floor": step_floor, "simulation": step_simulation}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--facilities", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        report_child(STEPS[args.child[0]], *args.child[1:])
        return
    settings = (str(args.facilities), str(args.years), str(args.workers))
    floor = run_child(__file__, "floor", *settings)
    simulation = run_child(__file__, "simulation", *settings)
    report = {
        "facilities": args.facilities,
        "years": args.years,
        "workers": args.workers,
        "floor": floor,
        "simulation": simulation,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"accumulation-{args.facilities}-{args.years}.json").write_text(
        json.dumps(report, indent=2)
    )
    print(
        f"{args.facilities:,} facilities, {args.years:,} years, {args.workers} worker(s)\n"
        f"floor (one pass over expected losses): {floor['seconds']:.3f} s, "
        f"peak {floor['peak_rss_mb']:.0f} MB (+{_added(floor):.0f} MB over the book held)\n"
        f"simulation: {simulation['seconds']:.1f} s = "
        f"{simulation['years_per_second']:,.0f} years/s, peak {simulation['peak_rss_mb']:.0f} MB "
        f"(+{_added(simulation):.0f} MB over the book held; "
        f"{simulation['seconds'] / floor['seconds']:,.0f}x the floor's time)\n"
        f"mean {simulation['mean']:,.0f} (attritional {simulation['attritional_mean']:,.0f}, "
        f"expected {floor['expected_layer_loss']:,.0f}), "
        f"1-in-200 {simulation['pml_200']:,.0f}"
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
