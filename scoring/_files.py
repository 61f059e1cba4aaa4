"""Reading text, YAML and JSON from outside, defensively.

Everything read here comes from outside and is untrusted: sizes are bounded
before reading, bytes must be UTF-8 text, YAML is read with a safe loader that
also refuses aliases (alias expansion bombs), duplicate keys and deep nesting,
and JSON refuses duplicate keys, NaN and deep nesting.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from scoring.budget import BUDGET
from scoring.errors import InputError, Issue
from scoring.vocabulary import Reason

MAX_DOCUMENT_BYTES = BUDGET.document_bytes
MAX_NESTING = 32


def _fail(source: str, reason: Reason, message: str) -> InputError:
    return InputError([Issue(reason=reason, message=message, source=source)])


def _refuse_kind(source: str, mode: int) -> InputError:
    if stat.S_ISDIR(mode):
        return _fail(source, Reason.UNREADABLE_FILE, "is a folder, not a file")
    kind = (
        "a named pipe (FIFO)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )
    return _fail(
        source,
        Reason.UNREADABLE_FILE,
        f"is {kind}; only regular files are read",
    )


def _os_error(source: str, exc: OSError) -> InputError:
    if isinstance(exc, FileNotFoundError):
        return _fail(source, Reason.UNREADABLE_FILE, "file not found")
    if isinstance(exc, IsADirectoryError):
        return _fail(source, Reason.UNREADABLE_FILE, "is a folder, not a file")
    return _fail(source, Reason.UNREADABLE_FILE, f"cannot be read: {exc.strerror or exc}")


def regular_file_size(path: Path) -> int:
    """The size of ``path``, which must be a regular file (symlinks to one are followed).

    Devices (``/dev/zero``), named pipes, sockets and folders are refused with an
    :class:`InputError` before anything is opened, so that no reader can block on a
    pipe or read an endless device.
    """
    source = str(path)
    try:
        status = os.stat(path)
    except OSError as exc:
        raise _os_error(source, exc) from exc
    if not stat.S_ISREG(status.st_mode):
        raise _refuse_kind(source, status.st_mode)
    return status.st_size


def require_regular_file(path: Path) -> None:
    """Refuse a path that is not a regular file (see :func:`regular_file_size`)."""
    regular_file_size(path)


def check_size(path: Path, size: int, max_bytes: int) -> None:
    """Refuse a file of more than ``max_bytes`` (a count of bytes stated or read)."""
    if size > max_bytes:
        raise _fail(
            str(path),
            Reason.TOO_LARGE,
            f"file is {size:,} bytes or more; at most {max_bytes:,} bytes are accepted",
        )


def open_regular(path: Path, *, max_bytes: int | None = None) -> BinaryIO:
    """Open a regular file for reading in binary, never blocking and never a device.

    The path is checked with ``os.stat`` first (no FIFO is ever opened), opened
    without blocking, and the opened descriptor is checked again with ``fstat`` (a
    path swapped for a pipe or device between the two is refused). With
    ``max_bytes``, a file stated as larger is refused; readers still count what
    they read.
    """
    source = str(path)
    size = regular_file_size(path)
    if max_bytes is not None:
        check_size(path, size, max_bytes)
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise _os_error(source, exc) from exc
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise _refuse_kind(source, mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_bytes(path: Path, *, max_bytes: int, head: int | None = None) -> bytes:
    """Read a regular file of at most ``max_bytes``; refuse empty, oversized or missing
    files, folders, devices and pipes.

    The bytes actually read are counted (a file growing while it is read is refused
    too). With ``head``, only the first ``head`` bytes are read (for readers that
    stream the rest themselves).
    """
    source = str(path)
    with open_regular(path, max_bytes=max_bytes) as handle:
        try:
            data = handle.read(max_bytes + 1 if head is None else min(head, max_bytes + 1))
        except OSError as exc:
            raise _os_error(source, exc) from exc
    check_size(path, len(data), max_bytes)
    if not data.strip():
        raise _fail(source, Reason.EMPTY_FILE, "file is empty")
    return data


def decode_text(data: bytes, source: str) -> str:
    """Decode UTF-8 (a leading BOM is removed); binary or other encodings are refused."""
    if b"\x00" in data[:65536]:
        raise _fail(
            source, Reason.UNREADABLE_FILE, "file is binary, not text (expected UTF-8 text)"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(
            source,
            Reason.UNREADABLE_FILE,
            f"file is not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8",
        ) from exc


class _StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases, duplicate keys and deep nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(
                None,
                None,
                "aliases (*name) are not accepted; write the value out",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise yaml.MarkedYAMLError(
                    None,
                    None,
                    f"nested more than {MAX_NESTING} levels deep",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.MarkedYAMLError(
                    None,
                    None,
                    "a key must be a plain value, not a list or mapping",
                    key_node.start_mark,
                ) from None
            if key in seen:
                raise yaml.MarkedYAMLError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _no_timestamps() -> None:
    """Dates stay strings: the validator parses them with its documented rules."""
    resolvers = _StrictSafeLoader.yaml_implicit_resolvers
    for first, entries in list(resolvers.items()):
        resolvers[first] = [
            (tag, rx) for tag, rx in entries if tag != "tag:yaml.org,2002:timestamp"
        ]


_StrictSafeLoader.yaml_implicit_resolvers = {
    key: list(value) for key, value in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_no_timestamps()


def parse_yaml(text: str, source: str) -> Any:
    """Parse one YAML document safely (no code, no aliases, no duplicate keys)."""
    loader: _StrictSafeLoader | None = None
    try:
        loader = _StrictSafeLoader(text)  # a SafeLoader: plain data only, never objects or code
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise _fail(
            source, Reason.UNREADABLE_FILE, f"invalid YAML at {where}{exc.problem}"
        ) from exc
    except yaml.YAMLError as exc:
        raise _fail(source, Reason.UNREADABLE_FILE, f"invalid YAML: {exc}") from exc
    except RecursionError as exc:
        raise _fail(
            source, Reason.UNREADABLE_FILE, f"nested more than {MAX_NESTING} levels deep"
        ) from exc
    except (ValueError, KeyError, TypeError, OverflowError, IndexError) as exc:
        # a value its tag cannot make (``!!int zz``, ``!!bool maybe``), an integer of
        # thousands of digits (Python's limit on converting them)
        raise _fail(source, Reason.UNREADABLE_FILE, f"invalid YAML: {_value_problem(exc)}") from exc
    finally:
        if loader is not None:
            loader.dispose()


def _value_problem(exc: Exception) -> str:
    """What is wrong with a value a parser could not make, in a user's terms."""
    if "digits" in str(exc):
        return "a number has too many digits; write it as text in quotes if it is not a number"
    return f"a value cannot be read as its type says ({type(exc).__name__}: {str(exc)[:100]})"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number this tool accepts")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse_json(text: str, source: str) -> Any:
    """Parse JSON, refusing duplicate keys, NaN/Infinity and deep nesting."""
    if text.count("[") + text.count("{") > 0 and _bracket_depth(text) > MAX_NESTING:
        raise _fail(source, Reason.UNREADABLE_FILE, f"nested more than {MAX_NESTING} levels deep")
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise _fail(source, Reason.UNREADABLE_FILE, f"invalid JSON: {exc}") from exc
    except ValueError as exc:
        problem = _value_problem(exc) if "digits" in str(exc) else str(exc)
        raise _fail(source, Reason.UNREADABLE_FILE, f"invalid JSON: {problem}") from exc
    except RecursionError as exc:  # pragma: no cover - guarded by _bracket_depth
        raise _fail(source, Reason.UNREADABLE_FILE, "nested too deeply") from exc


def _bracket_depth(text: str) -> int:
    """Deepest bracket nesting outside strings, without building anything."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def read_document(path: Path, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """Read a YAML (``.yaml``/``.yml``) or JSON (``.json``) document from a file."""
    source = str(path)
    text = decode_text(read_bytes(path, max_bytes=max_bytes), source)
    if path.suffix.lower() == ".json":
        return parse_json(text, source)
    return parse_yaml(text, source)


class HashStoppedError(Exception):
    """A file's hash was stopped before its end, as its caller asked."""


def file_sha256(path: Path, stop: threading.Event | None = None) -> str:
    """sha256 of a file (model files, books, rating plans), read in 1 MB blocks; only a
    regular file is read, and ``stop``, once set, ends the reading between two blocks
    (:class:`HashStoppedError`), so a failing run never waits for the hash of a whole
    book."""
    digest = hashlib.sha256()
    with open_regular(path) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            if stop is not None and stop.is_set():
                raise HashStoppedError(str(path))
            digest.update(block)
    return digest.hexdigest()
