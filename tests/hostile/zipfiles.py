"""Zip archives written by hand, so that a member can decompress to far more than its size.

A member is given as pieces ``(data, times)``: each piece is deflated once, ended with a
full flush (which makes its compressed bytes independent of what came before), and its
compressed bytes are repeated ``times`` over. Gigabytes of repeated text thus cost a few
megabytes on disk and a second or two to build.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

Pieces = Sequence[tuple[bytes, int]]

_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01: archives are byte-identical run to run
_MAX_ZIP32 = 0xFFFFFFFF


@dataclass(frozen=True)
class Member:
    """One compressed member: its raw deflate stream, CRC-32 and decompressed size."""

    name: str
    deflated: bytes
    crc: int
    size: int


def deflate(name: str, pieces: Pieces) -> Member:
    """The member ``name`` whose content is each piece's data repeated ``times`` times."""
    streams: list[bytes] = []
    crc = size = 0
    for data, times in pieces:
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        block = compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)
        streams.append(block * times)
        for _ in range(times):
            crc = zlib.crc32(data, crc)
        size += len(data) * times
    streams.append(zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH))
    if size > _MAX_ZIP32:
        raise ValueError(f"member {name} would need zip64: {size:,} bytes")
    return Member(name, b"".join(streams), crc, size)


def member(name: str, data: bytes) -> Member:
    """An ordinary member holding ``data``."""
    return deflate(name, [(data, 1)])


def write_zip(path: Path, members: Iterable[Member]) -> None:
    """Write ``members`` as a zip archive at ``path`` (at most 65,535 members, no zip64)."""
    central: list[bytes] = []
    with path.open("wb") as archive:
        for item in members:
            name = item.name.encode("utf-8")
            offset = archive.tell()
            fields = (20, 0, 8, 0, _DOS_DATE, item.crc, len(item.deflated), item.size, len(name))
            archive.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", *fields, 0))
            archive.write(name)
            archive.write(item.deflated)
            central.append(
                struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, 0, offset) + name
            )
        if len(central) > 0xFFFF:
            raise ValueError(f"{len(central):,} members would need zip64")
        start = archive.tell()
        for record in central:
            archive.write(record)
        size = archive.tell() - start
        count = len(central)
        archive.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, size, start, 0))
