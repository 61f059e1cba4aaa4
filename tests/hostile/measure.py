"""Run one command in a fresh child process and measure its peak memory and wall time.

The child is watched while it runs: it is killed when its resident memory passes the
budget (so that a memory bomb cannot take the machine down with it) or when it runs
longer than its time bound (so that a hang ends). Peak memory is the command's own
``ru_maxrss`` from ``os.wait4`` in a small launcher (``peak.py``), or the largest
resident size seen while it ran (``VmHWM``), whichever is larger.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MEMORY_BUDGET_BYTES = 2 * 1024**3
"""No input of any format may make a command use more memory than this (issue 13)."""

_POLL_SECONDS = 0.02
_PEAK = Path(__file__).with_name("peak.py")


@dataclass(frozen=True)
class Run:
    """What one command did: its exit code, its output, and what it cost."""

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    peak_rss_bytes: int
    seconds: float
    timed_out: bool
    over_budget: bool

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def first_line(self) -> str:
        """The first non-empty line of the output, to describe a run in a report."""
        for line in (self.stderr + "\n" + self.stdout).splitlines():
            if line.strip():
                return line.strip()[:160]
        return ""

    def describe(self) -> str:
        if self.timed_out:
            verdict = f"killed after {self.seconds:.1f} s (time bound)"
        elif self.over_budget:
            verdict = f"killed at {self.peak_rss_bytes / 1e9:.2f} GB (memory budget)"
        else:
            verdict = f"exit {self.returncode}"
        return (
            f"{verdict}; peak {self.peak_rss_bytes / 1e6:,.0f} MB, {self.seconds:.1f} s; "
            f"{self.first_line()!r}"
        )


def _memory(pid: int) -> tuple[int, int]:
    """The resident memory of a running process and its peak so far (0, 0 when gone)."""
    resident = peak = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    resident = int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0, 0
    return resident, peak


def _report(path: Path) -> list[int]:
    try:
        return [int(line) for line in path.read_text(encoding="ascii").split()]
    except (OSError, ValueError):
        return []


def run_measured(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    seconds: float,
    memory_bytes: int = MEMORY_BUDGET_BYTES,
) -> Run:
    """Run ``argv`` to completion, or kill it at ``seconds`` or at ``memory_bytes`` resident.

    The command runs under ``peak.py`` (which reports its true ``ru_maxrss``), in its own
    process group (killed as a whole), without standard input; its output goes to
    temporary files, so a chatty command never blocks on a pipe.
    """
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch, "peak")
        out_path, err_path = Path(scratch, "out"), Path(scratch, "err")
        launcher = [sys.executable, "-I", "-S", str(_PEAK), str(report)]
        start = time.monotonic()
        with out_path.open("wb") as out, err_path.open("wb") as err:
            process = subprocess.Popen(
                [*launcher, *argv],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        timed_out = over_budget = False
        seen_peak = 0
        while True:
            pid, status, _ = os.wait4(process.pid, os.WNOHANG)
            if pid == process.pid:
                break
            started = _report(report)
            if started:
                resident, peak = _memory(started[0])
                seen_peak = max(seen_peak, peak, resident)
                over_budget = resident > memory_bytes
            timed_out = not over_budget and time.monotonic() - start > seconds
            if timed_out or over_budget:
                os.killpg(process.pid, signal.SIGKILL)
                os.wait4(process.pid, 0)
                break
            time.sleep(_POLL_SECONDS)
        elapsed = time.monotonic() - start
        with contextlib.suppress(ProcessLookupError):  # anything left in the group
            os.killpg(process.pid, signal.SIGKILL)
        code = None if timed_out or over_budget else os.waitstatus_to_exitcode(status)
        process.returncode = -9 if code is None else code  # reaped here, by os.wait4
        measured = _report(report)
        return Run(
            argv=tuple(argv),
            returncode=code,
            stdout=out_path.read_bytes().decode("utf-8", "replace"),
            stderr=err_path.read_bytes().decode("utf-8", "replace"),
            peak_rss_bytes=max([seen_peak, *measured[1:]]),
            seconds=elapsed,
            timed_out=timed_out,
            over_budget=over_budget,
        )
