"""Running a hostile case with one command and judging what it did.

``python -m tests.hostile.runner [CASE ...]`` runs the corpus (or the cases named) and
prints one line per run: what it did and what is wrong with it.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.hostile import books
from tests.hostile.corpus import AS_OF, CASES, Case, Setup, runs
from tests.hostile.measure import MEMORY_BUDGET_BYTES, Run, run_measured

ROOT = books.ROOT
WORK_SUFFIXES = (".partial", ".parts")


def environment() -> dict[str, str]:
    """The child's environment: this checkout's code first, a wide terminal, no colour."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "200",
        "NO_COLOR": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def carescore(argv: list[str], seconds: float) -> Run:
    """``python -m scoring ARGV`` from the checkout's root, measured."""
    command = [sys.executable, "-m", "scoring", *argv]
    return run_measured(command, cwd=ROOT, env=environment(), seconds=seconds)


def make_scored_book(folder: Path) -> Path:
    """A good output of ``carescore batch``, for the cases of ``compare``."""
    book = books.write_book_csv(folder / "good-book.csv", count=5)
    output = folder / "good-book.parquet"
    argv = ["batch", str(book), "-o", str(output), "--quiet", "--threads", "1", "--as-of", AS_OF]
    run = carescore(argv, seconds=120.0)
    if run.returncode != 0:
        raise RuntimeError(f"cannot make a scored book: {run.describe()}\n{run.output}")
    return output


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry below ``folder`` (links not followed): its kind, and a file's sha256."""
    entries: dict[str, str] = {}
    for top, folders, names in os.walk(folder, followlinks=False):
        for name in [*folders, *names]:
            path = Path(top, name)
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                entry = "link to " + os.readlink(path)
            elif stat.S_ISREG(mode):
                entry = "file " + hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISDIR(mode):
                entry = "folder"
            else:
                entry = f"special {stat.S_IFMT(mode):o}"
            entries[str(path.relative_to(folder))] = entry
    return entries


def _files_changed(before: dict[str, str], after: dict[str, str], setup: Setup) -> list[str]:
    problems = []
    if not setup.outputs_allowed:
        added = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
        for label, names in (("left behind", added), ("removed", removed), ("changed", changed)):
            if names:
                problems.append(f"{label}: {', '.join(names[:5])}")
        return problems
    for name, entry in before.items():
        in_work_folder = any(part.endswith(".parts") for part in Path(name).parts)
        if entry.startswith("file ") and not in_work_folder and after.get(name) != entry:
            problems.append(f"{'changed' if name in after else 'removed'}: {name}")
    left = sorted(name for name in set(after) - set(before) if name.endswith(WORK_SUFFIXES))
    if left:
        problems.append(f"work files left behind: {', '.join(left)}")
    return problems


def judge(case: Case, run: Run, setup: Setup, folder: Path, before: dict[str, str]) -> list[str]:
    """What is wrong with ``run``: an empty list when it did what the case demands."""
    problems: list[str] = []
    if run.timed_out:
        problems.append(f"still running after {case.seconds:.0f} s")
    if run.over_budget or run.peak_rss_bytes > MEMORY_BUDGET_BYTES:
        problems.append(f"peak memory {run.peak_rss_bytes / 1e9:.2f} GB over the budget")
    if run.returncode is not None and run.returncode not in case.codes:
        problems.append(f"exit {run.returncode}, expected {sorted(case.codes)}")
    output = run.output
    for marker in ("Traceback", "internal error"):
        if marker in output:
            problems.append(f"{marker!r} in the output")
    finished = run.returncode is not None
    if finished and setup.names and not any(name in output for name in setup.names):
        problems.append(f"the message names none of {list(setup.names)[:2]}")
    missing = [text for text in setup.also if text not in output]
    if finished and missing:
        problems.append(f"the output lacks {missing}")
    false = [text for text in setup.never if text.lower() in output.lower()]
    if false:
        problems.append(f"false message: {false}")
    problems += _files_changed(before, snapshot(folder), setup)
    if finished and setup.check is not None and not problems:
        try:
            setup.check(folder, output)
        except AssertionError as exc:
            problems.append(str(exc))
    return problems


@dataclass(frozen=True)
class Outcome:
    run: Run
    problems: list[str]

    def describe(self) -> str:
        return self.run.describe() + ("" if not self.problems else " | " + "; ".join(self.problems))


def execute(case: Case, command: str, folder: Path, scored_book: Path) -> Outcome:
    """Build ``case`` in ``folder``, run ``command`` on it and judge the run."""
    setup = case.build(folder, scored_book)
    before = snapshot(folder)
    run = carescore(setup.argv[command], seconds=case.seconds)
    return Outcome(run, judge(case, run, setup, folder, before))


def main(names: list[str], workers: int = 2) -> int:
    """Run the corpus (or the cases named), ``workers`` runs at once; one line per run."""
    unknown = set(names) - {case.name for case in CASES}
    if unknown:
        print(f"unknown cases: {sorted(unknown)}", file=sys.stderr)
        return 2
    failed = 0
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        scored_book = make_scored_book(Path(scratch))
        chosen = [pair for pair in runs() if not names or pair[0].name in names]

        def run(indexed: tuple[int, tuple[Case, str]]) -> Outcome:
            index, (case, command) = indexed
            folder = Path(scratch, f"run-{index}")
            folder.mkdir()
            return execute(case, command, folder, scored_book)

        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            for (case, command), outcome in zip(
                chosen, pool.map(run, enumerate(chosen)), strict=True
            ):
                failed += bool(outcome.problems)
                verdict = "FAIL" if outcome.problems else "ok"
                print(f"{verdict}\t{case.name}\t{command}\t{outcome.describe()}", flush=True)
    print(f"{len(chosen)} runs, {failed} failed, {time.monotonic() - start:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
