"""Outputs that never touch inputs, files created exclusively, and one run per output.

Every command that writes files names its inputs and its outputs, each with the role
a user knows it by ("the book", "--errors", "the work folder" ...), and
:func:`check_outputs` compares them before anything is read or written: an output
that is an input, or another output, is refused (:class:`PathClashError`). Two paths
are the same file when they are by identity - device and inode, so hard links and
symlinks are seen through - or, for a file not made yet, when they resolve to the
same path. A *folder* output (a work folder a run creates and removes) also clashes
with every path inside it.

Files an output is written through (``.partial`` files, work folders) are created
exclusively (``O_CREAT | O_EXCL | O_NOFOLLOW``; ``mkdir``): a leftover of an
interrupted run is removed first - a symlink itself, never what it points to - so
nothing is ever written through a link planted beside an output.

:class:`RunLock` holds ``<output>.lock`` with ``flock`` while a run writes an
output. The kernel releases the lock when its process ends, however it ends (even
``kill -9``), so a lock file left behind by a dead run is free and simply taken
over; no process id needs guessing. The file records the holder's process id and
host, which a refused run names. Locks are advisory and local: runs on different
hosts writing to one network folder are not kept apart.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import stat
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from scoring.errors import InputError, Issue
from scoring.vocabulary import Reason

MAX_FOLDER_ENTRIES = 1_000
"""Files of an input folder (a model folder) compared with the outputs; more are not."""


class PathClashError(ValueError):
    """An output is one of the inputs, or another output: a usage error, found before
    anything is read or written."""

    def __init__(
        self,
        output_role: str,
        output: Path,
        other_role: str,
        other: Path,
        relation: str = "is the same file as",
    ) -> None:
        self.output_role, self.output = output_role, output
        self.other_role, self.other = other_role, other
        super().__init__(
            f"{output_role} {output} {relation} {other_role} {other}; "
            f"choose another {output_role.removeprefix('the ')}"
        )


class OutputBusyError(InputError):
    """Another run holds the lock on an output."""


def same_file(first: Path, second: Path) -> bool:
    """Whether two paths are one file: by device and inode when both exist (symlinks
    followed, hard links seen), by their resolved paths otherwise."""
    try:
        a, b = first.stat(), second.stat()
    except OSError:
        return _resolved(first) == _resolved(second)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve(strict=False)
    except (OSError, RuntimeError):  # a symlink loop
        return path.absolute()


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (resolved paths)."""
    return _resolved(path).is_relative_to(_resolved(folder))


def _input_files(role: str, path: Path) -> Iterator[tuple[str, Path]]:
    """An input, and when it is a folder, the files in it."""
    yield role, path
    with contextlib.suppress(OSError):
        if path.is_dir():
            for count, child in enumerate(sorted(path.iterdir())):
                if count >= MAX_FOLDER_ENTRIES:
                    break
                yield f"{role}'s file", child


def check_outputs(
    inputs: Mapping[str, Path | None],
    outputs: Mapping[str, Path | None],
    folders: Mapping[str, Path | None] | None = None,
) -> None:
    """Refuse any output that is an input or another output.

    Parameters
    ----------
    inputs
        Each input by its role, e.g. ``{"the book": path, "--model": folder}``; a folder's
        files are inputs too. ``None`` entries are skipped.
    outputs
        Each file an output is written to, by its role.
    folders
        Folders a run creates and removes: nothing else may be one of them or lie inside.

    Raises
    ------
    PathClashError
        The first clash found, naming both paths and their roles.
    """
    named_inputs = [
        pair
        for role, path in inputs.items()
        if path is not None
        for pair in _input_files(role, path)
    ]
    files = [(role, path) for role, path in outputs.items() if path is not None]
    work = [(role, path) for role, path in (folders or {}).items() if path is not None]
    for index, (role, path) in enumerate(files):
        for other_role, other in named_inputs + files[:index]:
            if same_file(path, other):
                raise PathClashError(role, path, other_role, other)
    for role, folder in work:
        for other_role, other in [*named_inputs, *files]:
            if _inside(other, folder) or same_file(other, folder):
                relation = "(made and removed by the run) would hold"
                raise PathClashError(role, folder, other_role, other, relation)


def remove_leftover(path: Path) -> None:
    """Remove what an interrupted run left at ``path``: a symlink itself (never its
    target), a file, or a folder (not followed through symlinks)."""
    try:
        status = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISDIR(status.st_mode):
        shutil.rmtree(path)
    else:
        path.unlink()


def create_new(path: Path) -> BinaryIO:
    """A new file at ``path`` for writing, created exclusively and never through a
    symlink (a leftover at ``path`` is removed first)."""
    remove_leftover(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.fdopen(os.open(path, flags, 0o666), "wb")


def make_folder(path: Path) -> Path:
    """A new, empty folder at ``path`` (a leftover removed first, its parent made)."""
    remove_leftover(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir()  # fails if anything appeared there since: never reused
    return path


def is_real_folder(path: Path) -> bool:
    """A folder, not a symlink to one."""
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        return False


def lock_path(output: Path) -> Path:
    return output.with_name(output.name + ".lock")


class RunLock:
    """The lock a run holds on its output (``<output>.lock``, ``flock``); see the module."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self.path = lock_path(output)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`OutputBusyError` naming the run holding it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        while True:
            fd = os.open(self.path, flags, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                raise OutputBusyError(
                    [
                        Issue(
                            Reason.UNREADABLE_FILE,
                            f"another carescore run ({holder}) is writing this file; wait "
                            "for it to finish, or choose another output",
                            source=str(self.output),
                        )
                    ]
                ) from None
            except BaseException:
                os.close(fd)
                raise
            # the run that held it may have removed the file between our open and lock
            try:
                current = os.stat(self.path, follow_symlinks=False)
            except FileNotFoundError:
                current = None
            opened = os.fstat(fd)
            if current is not None and (current.st_dev, current.st_ino) == (
                opened.st_dev,
                opened.st_ino,
            ):
                break
            os.close(fd)
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, record, 0)
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file and let go of the lock (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            with contextlib.suppress(OSError):
                self.path.unlink()
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()


def _holder(fd: int) -> str:
    """Who holds a lock, as its file records it."""
    try:
        record = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"process {int(record['pid'])} on {str(record['host'])[:100]}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that is still starting"


def write_through(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``path`` whole or not at all: ``write`` fills a ``.partial`` file created
    exclusively (:func:`create_new`), renamed into place when complete."""
    aside = partial_path(path)
    try:
        with create_new(aside) as sink:
            write(sink)
        aside.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            if not aside.is_symlink():
                aside.unlink(missing_ok=True)
        raise


def write_atomically(path: Path, data: bytes) -> None:
    """Write the bytes ``data`` to ``path`` whole or not at all (:func:`write_through`)."""
    write_through(path, lambda sink: sink.write(data))


def partial_path(path: Path) -> Path:
    """The ``.partial`` file ``path`` is written through."""
    return path.with_name(path.name + ".partial")
