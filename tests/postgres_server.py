"""A real PostgreSQL server for the tests, started on loopback in a temporary folder.

Debian's ``postgresql`` package (installed by ``.ci/run`` when missing) gives the
binaries; the cluster is made with ``initdb`` in a fresh folder, listens on 127.0.0.1
at a free port with its socket in that folder, trusts local connections, and is
stopped and removed at the end. PostgreSQL refuses to run as root, so as root the
cluster belongs to the ``postgres`` user (which the package creates).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def binaries() -> Path | None:
    """The folder of PostgreSQL's server programs, or None when it is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_owner(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def running() -> Iterator[str]:
    """A running server with its data in a new temporary folder (removed at the end:
    pytest's own folders are private to their owner, which ``postgres`` is not);
    yields its SQLAlchemy URL."""
    bin_dir = binaries()
    assert bin_dir is not None
    folder = Path(tempfile.mkdtemp(prefix="carescore-pg-"))
    data = folder / "pgdata"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        os.chmod(folder, 0o700)
    port = _free_port()
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    subprocess.run(
        _as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", "carescore", "-A", "trust"]),
        **run,
    )
    options = f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off"
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log")]
    subprocess.run(_as_owner([*pg_ctl, "-o", options, "-w", "start"]), **run)
    try:
        yield f"postgresql+psycopg://carescore@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(folder, ignore_errors=True)
