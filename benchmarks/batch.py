"""Portfolio rescoring end to end, against a floor and a per-row peer, in one run.

Each step runs in its own process, so its peak memory is its own:

* floor: read the book's CSV with pyarrow and compute one vectorised linear score
  over the encoded answers (each control's answer mapped to its level, times a
  weight) - the least any scoring of the file can cost;
* batch: ``carescore batch BOOK -o OUT.parquet`` end to end (chunked reading,
  validation, encoding, rating, the 3 best fixes priced for every facility,
  drivers, errors file, manifest), as a user runs it;
* per-row: one pydantic model per row, validated, encoded and rated one by one
  (``validate_document`` + ``score_applicant`` without advice), on a sample
  scaled to the whole book.

Usage::

    python benchmarks/batch.py --rows 1000000 [--sample 2000] [--repeat 3]

The floor and batch steps run ``--repeat`` times, one after the other in turn, so
that both meet the same load on a shared machine; the ratio is of their medians,
and every run's figures are kept in the report.

The book is the same synthetic CSV as validate_encode.py's (cached in out/).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _harness import OUT, report_child, run_child
from validate_encode import AS_OF, book_path


def step_floor(path: Path, _: int) -> dict[str, Any]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from scoring import bundled_questionnaire

    questionnaire = bundled_questionnaire()
    controls = [q for q in questionnaire.controls if q.control and q.control.order]
    start = time.perf_counter()
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(column_types={q.id: pa.string() for q in controls}),
    )
    score = np.zeros(table.num_rows)
    for weight, question in enumerate(controls, start=1):
        assert question.control is not None
        order = list(question.control.order or ())
        index = pc.index_in(table.column(question.id), value_set=pa.array(order))
        level = pc.fill_null(index, 0).to_numpy(zero_copy_only=False) / (len(order) - 1)
        score += weight * level
    return {
        "seconds": time.perf_counter() - start,
        "rows": table.num_rows,
        "check": float(score.sum()),
    }


THREADS = 0
"""--threads passed to carescore batch; 0 = its default (the cores available, up to 4)."""


def step_batch(path: Path, _: int) -> dict[str, Any]:
    """carescore batch as a user runs it (a child of this child, timed from outside)."""
    output = OUT / f"batch-{path.stem}.parquet"
    start = time.perf_counter()
    process = subprocess.run(
        [
            "/usr/bin/time",
            "-f",
            "%M",
            sys.executable,
            "-m",
            "scoring",
            "batch",
            str(path),
            "-o",
            str(output),
            "--as-of",
            AS_OF.isoformat(),
            "--quiet",
            *(["--threads", str(THREADS)] if THREADS else []),
        ],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if process.returncode not in (0, 1):  # 1: some rows rejected
        raise RuntimeError(process.stderr)
    manifest = json.loads(output.with_name(output.name + ".manifest.json").read_text())
    return {
        "seconds": seconds,
        "rows": manifest["rows_read"],
        "scored": manifest["rows_scored"],
        "rejected": manifest["rows_rejected"],
        "steps": manifest["seconds"],
        "batch_peak_rss_mb": int(process.stderr.strip().splitlines()[-1]) / 1024,
    }


def step_per_row(path: Path, sample: int) -> dict[str, Any]:
    import csv

    from scoring import applicants, default_engine, score_applicant, validate_document

    engine = default_engine()
    questions = {q.id for q in engine.questionnaire.questions}
    start = time.perf_counter()
    done = 0
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            answers = {k: v for k, v in row.items() if k in questions and v}
            document = {
                "questionnaire": row["questionnaire"],
                "questionnaire_version": row["questionnaire_version"],
                "facility_id": row["facility_id"],
                "answers": answers,
            }
            validation = validate_document(document, engine.questionnaire, as_of=AS_OF)
            for applicant in applicants(engine, validation):
                score_applicant(engine, applicant, advise=False)
            done += 1
            if done == sample:
                break
    return {"seconds": time.perf_counter() - start, "rows": done}


STEPS = {"floor": step_floor, "batch": step_batch, "per_row": step_per_row}


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median time (the lower middle one of an even number)."""
    ordered = sorted(runs, key=lambda run: run["seconds"])
    return ordered[(len(ordered) - 1) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--threads", type=int, default=0, help="carescore batch --threads")
    parser.add_argument("--repeat", type=int, default=3, help="floor and batch runs, in turn")
    parser.add_argument("--child", nargs=2, metavar=("STEP", "PATH"))
    args = parser.parse_args()
    global THREADS
    THREADS = args.threads
    if args.child:
        report_child(STEPS[args.child[0]], Path(args.child[1]), args.sample)
        return
    path = book_path(args.rows)
    sample = ["--sample", str(args.sample), "--threads", str(args.threads)]
    floors, batches = [], []
    for _ in range(max(1, args.repeat)):
        floors.append(run_child(__file__, "floor", str(path), *sample))
        batches.append(run_child(__file__, "batch", str(path), *sample))
    floor, batch = _median_run(floors), _median_run(batches)
    pairs = list(zip(floors, batches, strict=True))
    per_row = run_child(__file__, "per_row", str(path), *sample)
    per_row_scaled = per_row["seconds"] * args.rows / per_row["rows"]
    report = {
        "rows": args.rows,
        "threads": args.threads or "default",
        "cores": len(os.sched_getaffinity(0)),
        "csv_mb": round(path.stat().st_size / 1e6, 1),
        "floor": floor,
        "batch": batch,
        "floor_runs": floors,
        "batch_runs": batches,
        "batch_over_floor_by_run": [b["seconds"] / f["seconds"] for f, b in pairs],
        "batch_peak_rss_mb_max": max(b["batch_peak_rss_mb"] for b in batches),
        "per_row_sample": per_row,
        "per_row_scaled_seconds": per_row_scaled,
        "batch_over_floor": batch["seconds"] / floor["seconds"],
        "per_row_over_batch": per_row_scaled / batch["seconds"],
        "batch_rows_per_second": args.rows / batch["seconds"],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"batch-{args.rows}.json").write_text(json.dumps(report, indent=2))
    runs = ", ".join(f"{f['seconds']:.1f}/{b['seconds']:.1f} s" for f, b in pairs)
    print(
        f"{args.rows:,} rows, {report['csv_mb']:,.0f} MB CSV; runs (floor/batch): {runs}\n"
        f"  floor (read + linear score)  {floor['seconds']:8.2f} s  "
        f"peak {floor['peak_rss_mb']:6.0f} MB\n"
        f"  carescore batch -> Parquet   {batch['seconds']:8.2f} s  "
        f"peak {batch['batch_peak_rss_mb']:6.0f} MB"
        f"  (read {batch['steps']['read']:.1f}, score {batch['steps']['score']:.1f}, "
        f"write {batch['steps']['write']:.1f})\n"
        f"  per-row (scaled from {per_row['rows']:,}) {per_row_scaled:8.2f} s\n"
        f"  batch / floor = {report['batch_over_floor']:.2f}x (medians; by run "
        f"{', '.join(f'{r:.2f}' for r in report['batch_over_floor_by_run'])}x); "
        f"peak at most {report['batch_peak_rss_mb_max']:.0f} MB; per-row / batch = "
        f"{report['per_row_over_batch']:.1f}x; {report['batch_rows_per_second']:,.0f} rows/s"
    )


if __name__ == "__main__":
    main()
