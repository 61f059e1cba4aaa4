"""Run one command in a fresh child process and measure its peak memory and wall time.

The child is watched while it runs: it is killed when its resident memory passes the
budget (so that a memory bomb cannot take the machine down with it) or when it runs
longer than its time bound (so that a hang ends). Peak memory is the child's own
``ru_maxrss`` as reported by ``os.wait4``, or the last resident size seen when it
had to be killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MEMORY_BUDGET_BYTES = 2 * 1024**3
"""No input of any format may make a command use more memory than this (issue 13)."""

_POLL_SECONDS = 0.02


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


def _resident_bytes(pid: int) -> int:
    """The resident memory of a running process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def run_measured(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    seconds: float,
    memory_bytes: int = MEMORY_BUDGET_BYTES,
) -> Run:
    """Run ``argv`` to completion, or kill it at ``seconds`` or at ``memory_bytes`` resident.

    The child gets its own process group (killed as a whole) and no standard input;
    its output goes to temporary files, so a chatty child never blocks on a pipe.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        timed_out = over_budget = False
        seen_rss = 0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid == process.pid:
                break
            rss = _resident_bytes(process.pid)
            seen_rss = max(seen_rss, rss)
            if rss > memory_bytes:
                over_budget = True
            elif time.monotonic() - start > seconds:
                timed_out = True
            if timed_out or over_budget:
                os.killpg(process.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(_POLL_SECONDS)
        elapsed = time.monotonic() - start
        code = os.waitstatus_to_exitcode(status)
        process.returncode = code  # reaped here, by os.wait4
        with contextlib.suppress(ProcessLookupError):  # a grandchild left in the group
            os.killpg(process.pid, signal.SIGKILL)
        out.seek(0)
        err.seek(0)
        return Run(
            argv=tuple(argv),
            returncode=None if timed_out or over_budget else code,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            peak_rss_bytes=max(usage.ru_maxrss * 1024, seen_rss),
            seconds=elapsed,
            timed_out=timed_out,
            over_budget=over_budget,
        )
