"""Sources: expand the inputs, open them (decompressing by content), read blocks of whole lines.

Offsets are byte offsets in the decompressed stream; each block ends at a line end (except the
last block of a file without a final newline).
"""
from __future__ import annotations

import bz2
import glob
import gzip
import lzma
import os
import sys

from .errors import UsageError

STDIN = "-"
_MAGIC = [
    (b"\x1f\x8b", "gz"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zst"),
]


def expand(patterns) -> list[str]:
    """Files named by the arguments: globs expanded and sorted, '-' kept; a missing file is an error."""
    files = []
    for pattern in patterns:
        if pattern == STDIN:
            files.append(STDIN)
            continue
        if glob.has_magic(pattern):
            matched = sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
            if not matched:
                raise UsageError("no file matches %s" % pattern)
            files.extend(matched)
        elif os.path.isdir(pattern):
            raise UsageError("%s is a directory, not a log file" % pattern)
        elif not os.path.exists(pattern):
            raise UsageError("%s: no such file" % pattern)
        else:
            files.append(pattern)
    seen, unique = set(), []
    for f in files:  # a file named twice (a glob and its name) is read once
        key = f if f == STDIN else os.path.realpath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def compression_of(head: bytes) -> str | None:
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


class Source:
    """One input: a file (plain or compressed) or standard input."""

    def __init__(self, name: str):
        self.name = name
        self.is_stdin = name == STDIN
        self.display_name = "(stdin)" if self.is_stdin else name
        if self.is_stdin:
            self._raw = sys.stdin.buffer
            self.size = None
        else:
            try:
                self._raw = open(name, "rb")
            except OSError as e:
                raise UsageError("cannot open %s: %s" % (name, e.strerror)) from None
            self.size = os.fstat(self._raw.fileno()).st_size
        self._raw_read = 0
        self._prefix = b""
        self.compression = None
        if not self.is_stdin:
            head = self._raw.read(8)
            self._raw.seek(0)
            self.compression = compression_of(head)
        self.stream = self._open_stream()

    def _open_stream(self):
        raw = self._raw
        kind = self.compression
        if kind is None:
            return raw
        if kind == "gz":
            return gzip.GzipFile(fileobj=raw, mode="rb")
        if kind == "bz2":
            return bz2.BZ2File(raw, mode="rb")
        if kind == "xz":
            return lzma.LZMAFile(raw, mode="rb")
        try:
            import zstandard
        except ImportError:
            raise UsageError("%s is zstd-compressed: install the 'zstandard' package" % self.name) from None
        return zstandard.ZstdDecompressor().stream_reader(raw)

    @property
    def position(self) -> int:
        """Bytes of the input itself read so far (compressed bytes for a compressed file)."""
        if self.is_stdin:
            return self._raw_read
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def blocks(self, block_size: int):
        """Yield (offset, data): data holds whole lines, offset is its position in the stream.

        Compressed streams are read in small steps, so that a damaged archive still gives every
        whole line before the damage (then SourceError).
        """
        offset = 0
        pending = b""
        read = self.stream.read
        step = block_size if self.compression is None else min(block_size, 1 << 16)
        while True:
            try:
                data = read(step)
            except (OSError, EOFError, lzma.LZMAError, ValueError) as e:
                cut = pending.rfind(b"\n") + 1
                if cut:
                    yield offset, pending[:cut]
                raise SourceError("%s: cannot read (%s)" % (self.display_name, e)) from None
            if self.is_stdin:
                self._raw_read += len(data)
            if not data:
                if pending:
                    yield offset, pending
                return
            pending += data
            if len(pending) < block_size:
                continue
            cut = pending.rfind(b"\n") + 1
            if not cut:
                continue
            block, pending = pending[:cut], pending[cut:]
            yield offset, block
            offset += len(block)

    def close(self):
        if not self.is_stdin:
            try:
                self.stream.close()
            finally:
                self._raw.close()


class SourceError(Exception):
    """An input that cannot be read any further (a truncated archive, an I/O error)."""


def copy_lines(name: str, numbers: set, out, block_size: int = 1 << 19):
    """Write the lines of file `name` whose 1-based numbers are in `numbers` to `out` (binary)."""
    source = Source(name)
    try:
        number = 0
        for _, block in source.blocks(block_size):
            lines = block.split(b"\n")
            if block.endswith(b"\n"):
                lines.pop()
            for raw in lines:
                number += 1
                if number in numbers:
                    out.write(raw + b"\n")
    finally:
        source.close()


def head_lines(block: bytes, encoding: str, limit: int = 200) -> list[str]:
    """The first lines of a block, decoded leniently, for format detection."""
    text = block[:1 << 20].decode(encoding, errors="replace")
    return text.split("\n", limit)[:limit]


__all__ = ["expand", "Source", "SourceError", "copy_lines", "head_lines", "STDIN"]
