"""Outputs never touch inputs; one run per output; failures are sentences, not bugs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from scoring import InputError, default_engine, synthetic_responses
from scoring._files import HashStoppedError, file_sha256
from scoring._outputs import (
    OutputBusyError,
    PathClashError,
    RunLock,
    check_outputs,
    create_new,
)
from scoring.cli._common import EXIT_INTERNAL, EXIT_INVALID, EXIT_USAGE, exit_code_for
from scoring.cli.app import app
from scoring.portfolio.run import score_book
from tests.conftest import EXAMPLES, EXAMPLES_AS_OF, ROOT

runner = CliRunner()
PORTFOLIO = EXAMPLES / "portfolio.csv"
APPLICANT = EXAMPLES / "imaging-centre-exposed-pacs.yaml"
AS_OF = ["--as-of", "2026-11-29"]


def _book(path: Path, rows: int, seed: int = 11) -> Path:
    table = synthetic_responses(
        default_engine().questionnaire, rows, seed=seed, as_of=EXAMPLES_AS_OF, blank_share=0.0
    )
    pacsv.write_csv(table, path)
    return path


def _snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: a file's bytes, a symlink's target."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_file():
            found[key] = path.read_bytes()
        else:
            found[key] = "folder"
    return found


def _clash_cases(tmp: Path) -> dict[str, list[str]]:
    """Each clash from the issue, as a command line over files in ``tmp``."""
    book = tmp / "in.csv"
    shutil.copy(PORTFOLIO, book)
    shutil.copy(PORTFOLIO, tmp / "x.errors.csv")
    shutil.copy(APPLICANT, tmp / "app.yaml")
    (tmp / "a.parquet").write_bytes(b"PAR1 not read")
    (tmp / "b.parquet").write_bytes(b"PAR1 not read either")
    os.link(book, tmp / "hard.csv")
    (tmp / "soft.csv").symlink_to(book)
    (tmp / "out.parquet.parts").mkdir()
    shutil.copy(PORTFOLIO, tmp / "out.parquet.parts" / "book.csv")
    model = tmp / "model"
    shutil.copytree(ROOT / "models" / "care-cyber-default", model, symlinks=True)
    (tmp / "q.yaml").write_text("not read\n")
    (tmp / "bundled").mkdir()
    for bundled in (ROOT / "questionnaires").glob("*.yaml"):
        shutil.copy(bundled, tmp / "bundled" / bundled.name)
    t = str(tmp)
    return {
        "batch X -o X": ["batch", f"{t}/in.csv", "-o", f"{t}/in.csv"],
        "batch --errors X": ["batch", f"{t}/in.csv", "-o", f"{t}/o.parquet", "--errors", book],
        "the default errors path is the book": ["batch", f"{t}/x.errors.csv", "-o", f"{t}/x.csv"],
        "--errors equal to -o": [
            "batch", f"{t}/in.csv", "-o", f"{t}/o.csv", "--errors", f"{t}/o.csv",
        ],
        "a hard link of the book": ["batch", f"{t}/in.csv", "-o", f"{t}/hard.csv"],
        "a symlink to the book": ["batch", f"{t}/in.csv", "-o", f"{t}/soft.csv"],
        "the book inside the work folder": [
            "batch", f"{t}/out.parquet.parts/book.csv", "-o", f"{t}/out.parquet",
        ],
        "batch into the model folder": [
            "batch", f"{t}/in.csv", "-o", f"{t}/o.csv", "--model", f"{t}/model",
            "--errors", f"{t}/model/rating-plan.yaml",
        ],
        "score --html X": ["score", f"{t}/app.yaml", "--html", f"{t}/app.yaml"],
        "score --html the model card": [
            "score", f"{t}/app.yaml", "--model", f"{t}/model", "--html", f"{t}/model/MODEL_CARD.md",
        ],
        "compare --html the first book": [
            "compare", f"{t}/a.parquet", f"{t}/b.parquet", "--html", f"{t}/a.parquet",
        ],
        "compare --csv the second book": [
            "compare", f"{t}/a.parquet", f"{t}/b.parquet", "--csv", f"{t}/b.parquet",
        ],
        "compare --csv equal to --html": [
            "compare", f"{t}/a.parquet", f"{t}/b.parquet", "--csv", f"{t}/r", "--html", f"{t}/r",
        ],
        "template over the bundled questionnaire": [
            "questionnaire", "template", "-f", "yaml", "-o",
            f"{t}/bundled/care-cyber-1.0.0.yaml",
        ],
        "template over its questionnaire": [
            "questionnaire", "template", "-f", "yaml", "-q", f"{t}/q.yaml", "-o", f"{t}/q.yaml",
        ],
    }  # fmt: skip


CLASHES = [
    "batch X -o X",
    "batch --errors X",
    "the default errors path is the book",
    "--errors equal to -o",
    "a hard link of the book",
    "a symlink to the book",
    "the book inside the work folder",
    "batch into the model folder",
    "score --html X",
    "score --html the model card",
    "compare --html the first book",
    "compare --csv the second book",
    "compare --csv equal to --html",
    "template over its questionnaire",
    "template over the bundled questionnaire",
]


@pytest.mark.parametrize("case", CLASHES)
def test_an_output_that_is_an_input_is_a_usage_error_and_nothing_is_touched(
    tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scoring.cli import _common

    command = _clash_cases(tmp_path)[case]
    # the bundled questionnaires (inputs of every command), copied here
    monkeypatch.setattr(_common, "questionnaire_dir", lambda: tmp_path / "bundled")
    before = _snapshot(tmp_path)
    result = runner.invoke(app, [*command, *(AS_OF if command[0] in ("batch", "score") else [])])
    assert result.exit_code == EXIT_USAGE, result.output
    assert "choose another" in result.output
    assert "Traceback" not in result.output
    assert _snapshot(tmp_path) == before  # inputs byte-identical, nothing made or removed


def test_a_clash_message_names_both_paths_and_their_roles(tmp_path: Path) -> None:
    book = _book(tmp_path / "x.errors.csv", 3)
    with pytest.raises(PathClashError, match=r"the errors file .*x\.errors\.csv is the same file"):
        check_outputs({"the book": book}, {"the output": tmp_path / "x.csv",
                                           "the errors file": book})  # fmt: skip
    with pytest.raises(PathClashError, match=r"is the same file as the book .*x\.errors\.csv"):
        score_book(book, book.with_suffix(".parquet"), default_engine(), as_of=EXAMPLES_AS_OF,
                   errors=book)  # fmt: skip


def test_the_library_refuses_a_clash_before_writing(tmp_path: Path) -> None:
    book = _book(tmp_path / "in.csv", 5)
    data = book.read_bytes()
    with pytest.raises(PathClashError, match="is the same file as the book"):
        score_book(book, book, default_engine(), as_of=EXAMPLES_AS_OF)
    assert book.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def _batch_command(book: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "scoring", "batch", str(book), "-o", str(out),
        "--chunk-rows", "200", "--quiet", *AS_OF, *extra,
    ]  # fmt: skip


def _start(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("start", ["together", "once the first holds the lock"])
def test_two_runs_to_one_output_leave_one_good_output_and_one_clear_refusal(
    tmp_path: Path, start: str
) -> None:
    rows = 6000
    book = _book(tmp_path / "book.csv", rows)
    out = tmp_path / "out.parquet"
    command = _batch_command(book, out)
    runs = [_start(command)]
    if start != "together":
        lock = tmp_path / "out.parquet.lock"
        deadline = time.monotonic() + 120
        while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
    runs.append(_start(command))
    errors = {run.pid: run.communicate(timeout=300)[1] for run in runs}
    codes = {run.pid: run.returncode for run in runs}
    assert sorted(codes.values()) == [0, EXIT_INVALID], errors
    winner = next(pid for pid, code in codes.items() if code == 0)
    loser = next(pid for pid, code in codes.items() if code != 0)
    if start != "together":
        assert winner == runs[0].pid
    assert f"another carescore run (process {winner} on" in errors[loser]
    assert "Traceback" not in errors[loser]
    scored = pq.read_table(out)
    assert scored.num_rows == rows
    manifest = json.loads((tmp_path / "out.parquet.manifest.json").read_text())
    assert manifest["rows_read"] == manifest["rows_scored"] == rows
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "book.csv", "out.errors.csv", "out.parquet", "out.parquet.manifest.json",
        "out.warnings.csv",
    ]  # fmt: skip


def test_a_lock_file_that_is_a_symlink_is_refused_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "out.parquet.lock").symlink_to(victim)
    out = tmp_path / "out.parquet"
    result = runner.invoke(app, ["batch", str(PORTFOLIO), "-o", str(out), *AS_OF])
    assert result.exit_code == EXIT_INVALID
    assert "symbolic links" in result.output
    assert victim.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet.lock", "victim.txt"]


def test_a_run_holding_the_output_is_named_when_another_is_refused(tmp_path: Path) -> None:
    book = _book(tmp_path / "book.csv", 5)
    out = tmp_path / "out.parquet"
    with RunLock(out):
        with pytest.raises(
            OutputBusyError, match=rf"another carescore run \(process {os.getpid()} on"
        ):
            score_book(book, out, default_engine(), as_of=EXAMPLES_AS_OF)
        assert not (tmp_path / "out.parquet.parts").exists()
    assert not (tmp_path / "out.parquet.lock").exists()


def test_a_run_writing_the_same_errors_file_is_refused(tmp_path: Path) -> None:
    book = _book(tmp_path / "book.csv", 5)
    shared = tmp_path / "shared.errors.csv"
    with RunLock(shared):
        with pytest.raises(
            OutputBusyError,
            match=rf"shared\.errors\.csv: another carescore run \(process {os.getpid()} on",
        ):
            score_book(book, tmp_path / "b.parquet", default_engine(), as_of=EXAMPLES_AS_OF,
                       errors=shared)  # fmt: skip
        assert sorted(p.name for p in tmp_path.iterdir()) == ["book.csv", "shared.errors.csv.lock"]


def test_the_lock_of_a_run_killed_outright_is_taken_over(tmp_path: Path) -> None:
    book = _book(tmp_path / "book.csv", 5)
    out = tmp_path / "out.parquet"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from scoring._outputs import RunLock; RunLock(Path(sys.argv[1])).acquire(); "
         "print('held', flush=True); time.sleep(120)", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(OutputBusyError, match=f"process {holder.pid}"):
        RunLock(out).acquire()
    holder.send_signal(signal.SIGKILL)
    holder.communicate()
    assert f'"pid": {holder.pid}' in (tmp_path / "out.parquet.lock").read_text()  # left behind
    summary = score_book(book, out, default_engine(), as_of=EXAMPLES_AS_OF)
    assert summary.rows_scored == 5
    assert not (tmp_path / "out.parquet.lock").exists()


@pytest.mark.parametrize(
    "planted",
    ["out.parquet.partial", "out.errors.csv.partial", "out.parquet.manifest.json.partial"],
)
def test_a_symlink_planted_beside_the_output_is_not_followed(tmp_path: Path, planted: str) -> None:
    book = _book(tmp_path / "book.csv", 5)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / planted).symlink_to(victim)
    out = tmp_path / "out.parquet"
    summary = score_book(book, out, default_engine(), as_of=EXAMPLES_AS_OF)
    assert summary.rows_scored == 5
    assert victim.read_text() == "precious"
    assert pq.read_table(out).num_rows == 5
    assert not out.is_symlink()
    assert not (tmp_path / planted).exists()


def test_a_work_folder_symlink_is_not_followed(tmp_path: Path) -> None:
    book = _book(tmp_path / "book.csv", 5)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    (tmp_path / "out.parquet.parts").symlink_to(victim, target_is_directory=True)
    for resume in (True, False):
        score_book(book, tmp_path / "out.parquet", default_engine(), as_of=EXAMPLES_AS_OF,
                   resume=resume)  # fmt: skip
        assert _snapshot(victim) == {"keep.txt": b"precious"}
        (tmp_path / "out.parquet.parts").symlink_to(victim, target_is_directory=True)


def test_a_file_is_created_exclusively_through_a_leftover_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    aside = tmp_path / "out.partial"
    aside.symlink_to(victim)
    with create_new(aside) as sink:
        sink.write(b"new")
    assert victim.read_text() == "precious"
    assert not aside.is_symlink()
    assert aside.read_bytes() == b"new"


def test_facility_names_are_shown_literally_not_as_markup(tmp_path: Path) -> None:
    name = "Smith [/] Jones [link=https://x.example]here[/link] [bold]b[/bold] :smile:"
    applicant = tmp_path / "app.yaml"
    text = APPLICANT.read_text().replace(
        "facility_name: Brightwater Diagnostic Imaging", f"facility_name: '{name}'"
    )
    applicant.write_text(text)
    result = runner.invoke(app, ["score", str(applicant), *AS_OF], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert name in result.output
    assert "\x1b]8;" not in result.output  # no terminal hyperlink


def test_a_report_into_a_missing_folder_is_a_sentence_and_exit_1(tmp_path: Path) -> None:
    report = tmp_path / "missing" / "report.html"
    result = runner.invoke(app, ["score", str(APPLICANT), *AS_OF, "--html", str(report)])
    assert result.exit_code == EXIT_INVALID
    assert "No such file or directory" in result.output
    assert str(report) in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "missing").exists()


def test_a_report_into_a_read_only_folder_is_a_sentence_and_exit_1(tmp_path: Path) -> None:
    # the superuser writes into any folder whose mode says read-only; sysfs refuses a new
    # file even to the superuser
    folder = Path("/sys") if os.geteuid() == 0 else tmp_path / "locked"
    folder.mkdir(mode=0o500, exist_ok=True)
    result = runner.invoke(
        app, ["score", str(APPLICANT), *AS_OF, "--html", str(folder / "report.html")]
    )
    assert result.exit_code == EXIT_INVALID
    assert "Permission denied" in result.output


def test_corrupt_work_folder_settings_start_the_run_afresh(tmp_path: Path) -> None:
    book = _book(tmp_path / "book.csv", 20)
    parts = tmp_path / "out.parquet.parts"
    parts.mkdir()
    (parts / "settings.json").write_bytes(b'{"input": "half-writ\xff')
    (parts / "scored-000000.arrow").write_bytes(b"not a part")
    summary = score_book(
        book, tmp_path / "out.parquet", default_engine(), as_of=EXAMPLES_AS_OF, resume=True
    )
    assert (summary.rows_scored, summary.chunks_resumed) == (20, 0)
    assert not parts.exists()


def test_a_part_that_cannot_be_read_is_scored_again_on_resume(tmp_path: Path) -> None:
    book = _book(tmp_path / "book.csv", 30)
    whole = tmp_path / "whole.parquet"
    score_book(book, whole, default_engine(), as_of=EXAMPLES_AS_OF, chunk_rows=10)
    out = tmp_path / "out.parquet"
    runs: list[int] = []

    def stop_after_two(done: int, scored: int) -> None:
        runs.append(done)
        if len(runs) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_book(book, out, default_engine(), as_of=EXAMPLES_AS_OF, chunk_rows=10,
                   progress=stop_after_two)  # fmt: skip
    parts = tmp_path / "out.parquet.parts"
    (parts / "scored-000000.arrow").write_bytes(b"damaged")
    summary = score_book(
        book, out, default_engine(), as_of=EXAMPLES_AS_OF, chunk_rows=10, resume=True
    )
    assert 1 <= summary.chunks_resumed < 3  # chunk 0 scored again, chunk 1 kept
    assert out.read_bytes() == whole.read_bytes()


def test_a_failure_resume_cannot_finish_leaves_no_work_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scoring.portfolio import run

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(run, "score_chunk", broken)
    book = _book(tmp_path / "book.csv", 20)
    with pytest.raises(RuntimeError, match="a bug"):
        score_book(book, tmp_path / "out.parquet", default_engine(), as_of=EXAMPLES_AS_OF)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.csv"]


def test_an_interrupted_run_keeps_its_work_folder_for_resume(tmp_path: Path) -> None:
    book = _book(tmp_path / "book.csv", 30)

    def interrupt(done: int, scored: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_book(book, tmp_path / "out.parquet", default_engine(), as_of=EXAMPLES_AS_OF,
                   chunk_rows=10, progress=interrupt)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.csv", "out.parquet.parts"]


def test_the_input_s_hash_stops_when_asked(tmp_path: Path) -> None:
    import threading

    book = tmp_path / "big.csv"
    book.write_bytes(b"x" * (3 << 20))
    stop = threading.Event()
    assert len(file_sha256(book, stop)) == 64
    stop.set()
    with pytest.raises(HashStoppedError, match=r"big\.csv"):
        file_sha256(book, stop)


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_pipe_or_device_as_the_book_is_refused_at_once(tmp_path: Path, kind: str) -> None:
    if kind == "fifo":
        book = tmp_path / "book.csv"
        os.mkfifo(book)
    else:
        book = tmp_path / "zero.csv"
        book.symlink_to("/dev/zero")
    out = tmp_path / "out.parquet"
    started = time.monotonic()
    command = [sys.executable, "-m", "scoring", "batch", str(book), "-o", str(out), "--quiet"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert time.monotonic() - started < 60
    assert result.returncode == EXIT_INVALID, result.stderr
    assert "only regular files are read" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [book.name]
    with pytest.raises(InputError, match="only regular files are read"):
        score_book(book, out, default_engine(), as_of=EXAMPLES_AS_OF)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (PathClashError("--html", Path("a"), "the book", Path("a")), EXIT_USAGE),
        (OutputBusyError([]), EXIT_INVALID),
        (InputError([]), EXIT_INVALID),
        (OSError(28, "No space left on device"), EXIT_INVALID),
        (PermissionError(13, "Permission denied"), EXIT_INVALID),
        (RuntimeError("a bug"), EXIT_INTERNAL),
        (KeyError("a bug"), EXIT_INTERNAL),
    ],
)
def test_one_rule_gives_every_command_s_exit_code(error: BaseException, code: int) -> None:
    assert exit_code_for(error) == code


def test_an_environment_failure_no_command_caught_is_a_sentence_and_exit_1(
    tmp_path: Path,
) -> None:
    script = (
        "import importlib, sys\n"
        "cli = importlib.import_module('scoring.cli.app')\n"
        "def fail(**kwargs):\n"
        "    raise PermissionError(13, 'Permission denied', sys.argv[1])\n"
        "cli.app = fail\n"
        "cli.main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "f")], cwd=ROOT, capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == EXIT_INVALID
    assert result.stderr == f"error: Permission denied ({tmp_path / 'f'})\n"


@pytest.mark.parametrize(
    "command",
    [
        ["validate", "{fifo}"],
        ["validate", "{fifo}", "--json"],
        ["score", "{fifo}"],
        ["compare", "{fifo}", "{fifo}"],
        ["questionnaire", "lint", "{fifo}"],
        ["questionnaire", "show", "-q", "{fifo}"],
        ["batch", str(PORTFOLIO), "-o", "{out}", "--rating-plan", "{fifo}"],
    ],
)
def test_every_command_refuses_a_pipe_before_opening_it(tmp_path: Path, command: list[str]) -> None:
    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)
    args = [a.format(fifo=fifo, out=tmp_path / "out.parquet") for a in command]
    result = runner.invoke(app, args)
    assert result.exit_code == EXIT_INVALID, result.output
    assert "only regular files are read" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_a_failing_run_does_not_wait_for_the_input_s_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The book is hashed while it is read; when reading fails at once, the hash of a
    large book (8 GB, sparse here) is stopped, not waited for."""
    from scoring.errors import Issue
    from scoring.portfolio import run
    from scoring.vocabulary import Reason

    book = tmp_path / "book.csv"
    with book.open("wb") as handle:
        handle.truncate(8 << 30)

    def unreadable(*args: object, **kwargs: object) -> None:
        raise InputError([Issue(Reason.UNREADABLE_FILE, "cannot be read", source=str(book))])

    monkeypatch.setattr(run, "iter_responses", unreadable)
    started = time.monotonic()
    with pytest.raises(InputError, match="cannot be read"):
        score_book(book, tmp_path / "out.parquet", default_engine(), as_of=EXAMPLES_AS_OF)
    assert time.monotonic() - started < 3  # hashing 8 GB takes far longer
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.csv"]


def test_compare_reports_into_a_missing_folder_or_through_a_planted_symlink(
    tmp_path: Path,
) -> None:
    before, after = tmp_path / "before.parquet", tmp_path / "after.parquet"
    for book in (before, after):
        score_book(PORTFOLIO, book, default_engine(), as_of=EXAMPLES_AS_OF)
    missing = tmp_path / "missing" / "dislocation.html"
    result = runner.invoke(app, ["compare", str(before), str(after), "--html", str(missing)])
    assert result.exit_code == EXIT_INVALID
    assert f"No such file or directory ({missing.parent / 'dislocation.html.partial'})" in (
        result.output
    )
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    report = tmp_path / "dislocation.csv"
    (tmp_path / "dislocation.csv.partial").symlink_to(victim)
    result = runner.invoke(app, ["compare", str(before), str(after), "--csv", str(report)])
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "precious"
    assert report.read_text().startswith("facility_id")
    assert not (tmp_path / "dislocation.csv.partial").exists()


@pytest.mark.slow
def test_synth_train_and_evaluate_never_write_through_a_planted_symlink(tmp_path: Path) -> None:
    """Every file the model commands write goes through a file created exclusively (a
    symlink found where it is written is removed, never followed)."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    book = tmp_path / "book.parquet"
    (tmp_path / "book.parquet.partial").symlink_to(victim)
    (tmp_path / "book.truth.json.partial").symlink_to(victim)
    result = runner.invoke(app, ["synth", "--facilities", "4000", "--years", "2", "-o", str(book)])
    assert result.exit_code == 0, result.output
    assert pq.read_table(book).num_rows == 8000
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json.partial").symlink_to(victim)
    (model / "MODEL_CARD.md.partial").symlink_to(victim)
    result = runner.invoke(app, ["train", str(book), "-o", str(model), "--synthetic"])
    assert result.exit_code == 0, result.output
    evaluation = tmp_path / "evaluation"
    evaluation.mkdir()
    (evaluation / "evaluation.json.partial").symlink_to(victim)
    (evaluation / "lorenz-ransomware.png.partial").symlink_to(victim)
    result = runner.invoke(
        app, ["evaluate", str(book), "-m", str(model), "-o", str(evaluation), "--no-challenger"]
    )
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "keep me"
    assert json.loads((evaluation / "evaluation.json").read_text())["rows"] == 8000
    assert (evaluation / "lorenz-ransomware.png").read_bytes().startswith(b"\x89PNG")
    assert not [p for p in tmp_path.rglob("*.partial") if p.exists() or p.is_symlink()]
