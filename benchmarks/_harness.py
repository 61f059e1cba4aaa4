"""What the benchmarks share: each measured step runs in a child process of its own."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"


def run_child(script: str, step: str, *args: str) -> dict[str, Any]:
    """Run ``script --child STEP ARGS...`` and return the JSON it prints last."""
    process = subprocess.run(
        [sys.executable, script, "--child", step, *args], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(process.stdout.strip().splitlines()[-1])
    return result


def report_child(step: Callable[..., dict[str, Any]], *args: Any) -> None:
    """In the child: run the step, add its peak resident memory, print the JSON."""
    result = step(*args)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))
