"""Validation + encoding throughput for a book of facilities, against a floor and a peer.

In one run, each step in its own process (so peak memory is its own):

* floor: ``pyarrow.csv.read_csv`` of the book (type inference, no rules);
* carescore: ``read_responses`` + ``validate`` + ``FeatureEncoder.transform``;
* per-row: one pydantic model per row, validated and encoded one by one (the
  way a form backend would do it), on a sample scaled to the whole book.

Usage::

    python benchmarks/validate_encode.py --rows 1000000 [--sample 20000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from _harness import OUT, report_child, run_child

AS_OF = dt.date(2026, 11, 1)
SEED = 7


def book_path(rows: int) -> Path:
    """Generate (once) and return a synthetic book of ``rows`` facilities as CSV."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from scoring import bundled_questionnaire
    from scoring.synthetic.responses import synthetic_responses

    path = OUT / f"book-{rows}.csv"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    questionnaire = bundled_questionnaire()
    chunk = 200_000
    writer = None
    partial = path.with_suffix(".partial")
    for start in range(0, rows, chunk):
        size = min(chunk, rows - start)
        table = synthetic_responses(
            questionnaire, size, seed=SEED + start, as_of=AS_OF, blank_share=0.01
        )
        ids = pa.array([f"B-{i:08d}" for i in range(start, start + size)])
        table = table.set_column(0, "facility_id", ids)
        if writer is None:
            writer = pacsv.CSVWriter(partial, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    partial.rename(path)
    return path


# --- the steps, each run in a child process -------------------------------------------------


def step_floor(path: Path, _: int) -> dict[str, Any]:
    import pyarrow.csv as pacsv

    start = time.perf_counter()
    table = pacsv.read_csv(path)
    return {"seconds": time.perf_counter() - start, "rows": table.num_rows}


def step_carescore(path: Path, _: int) -> dict[str, Any]:
    from scoring import FeatureEncoder, bundled_questionnaire, read_responses, validate
    from scoring.budget import Budget

    questionnaire = bundled_questionnaire()
    encoder = None
    whole = Budget(whole_table_rows=2**62, whole_table_bytes=2**62)  # the book held whole
    start = time.perf_counter()
    raw = read_responses(path, budget=whole)
    read = time.perf_counter()
    result = validate(raw, questionnaire, as_of=AS_OF)
    validated = time.perf_counter()
    table = result.table[result.valid]
    encoder = FeatureEncoder(questionnaire).fit(table)
    features = encoder.transform(table)
    end = time.perf_counter()
    return {
        "seconds": end - start,
        "read_seconds": read - start,
        "validate_seconds": validated - read,
        "encode_seconds": end - validated,
        "rows": result.n_rows,
        "valid_rows": result.n_valid,
        "issues": len(result.issues),
        "features": features.shape[1],
    }


def step_per_row(path: Path, sample: int) -> dict[str, Any]:
    """A pydantic model per row, validated and encoded in a Python loop."""
    import csv
    from typing import Literal

    from pydantic import ValidationError, create_model

    from scoring import AnswerKind, bundled_questionnaire

    questionnaire = bundled_questionnaire()
    fields: dict[str, Any] = {}
    for q in questionnaire.questions:
        kind: Any
        if q.is_choice and q.kind is not AnswerKind.MULTIPLE_CHOICE:
            kind = Literal[tuple(q.choice_codes)]  # type: ignore[valid-type]
        elif q.kind is AnswerKind.INTEGER:
            kind = int
        elif q.kind in (AnswerKind.NUMBER, AnswerKind.PERCENT):
            kind = float
        elif q.kind is AnswerKind.DATE:
            kind = dt.date
        else:
            kind = str
        fields[q.id] = (kind | None, None)
    model = create_model("Response", **fields)
    order = {q.id: q.control.order for q in questionnaire.controls if q.control.order}
    start = time.perf_counter()
    done = rejected = 0
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            answers = {k: (v or None) for k, v in row.items() if k in fields}
            try:
                response = model(**answers)
            except ValidationError:
                rejected += 1
            else:
                data = response.model_dump()
                [
                    order[k].index(v) / (len(order[k]) - 1) if v in order[k] else 0.0
                    for k, v in data.items()
                    if k in order
                ]
            done += 1
            if done == sample:
                break
    return {"seconds": time.perf_counter() - start, "rows": done, "rejected": rejected}


STEPS = {"floor": step_floor, "carescore": step_carescore, "per_row": step_per_row}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--child", nargs=2, metavar=("STEP", "PATH"))
    args = parser.parse_args()
    if args.child:
        report_child(STEPS[args.child[0]], Path(args.child[1]), args.sample)
        return
    path = book_path(args.rows)
    size_mb = path.stat().st_size / 1e6
    sample = ["--sample", str(args.sample)]
    floor = run_child(__file__, "floor", str(path), *sample)
    ours = run_child(__file__, "carescore", str(path), *sample)
    per_row = run_child(__file__, "per_row", str(path), *sample)
    per_row_scaled = per_row["seconds"] * args.rows / per_row["rows"]
    report = {
        "rows": args.rows,
        "csv_mb": round(size_mb, 1),
        "floor": floor,
        "carescore": ours,
        "per_row_sample": per_row,
        "per_row_scaled_seconds": per_row_scaled,
        "ratio_carescore_to_floor": ours["seconds"] / floor["seconds"],
        "ratio_per_row_to_carescore": per_row_scaled / ours["seconds"],
        "carescore_rows_per_second": args.rows / ours["seconds"],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"validate_encode-{args.rows}.json").write_text(json.dumps(report, indent=2))
    print(
        f"{args.rows:,} rows, {size_mb:,.0f} MB CSV, {ours['features']} features\n"
        f"  floor (pyarrow read_csv)      {floor['seconds']:7.2f} s  "
        f"peak {floor['peak_rss_mb']:7.0f} MB\n"
        f"  carescore read+validate+encode {ours['seconds']:7.2f} s  "
        f"peak {ours['peak_rss_mb']:7.0f} MB  "
        f"(read {ours['read_seconds']:.2f}, validate {ours['validate_seconds']:.2f}, "
        f"encode {ours['encode_seconds']:.2f})\n"
        f"  per-row pydantic loop          {per_row_scaled:7.2f} s  (scaled from "
        f"{per_row['rows']:,} rows)\n"
        f"  carescore / floor = {report['ratio_carescore_to_floor']:.1f}x; "
        f"per-row / carescore = {report['ratio_per_row_to_carescore']:.1f}x; "
        f"{report['carescore_rows_per_second']:,.0f} rows/s"
    )


if __name__ == "__main__":
    main()
