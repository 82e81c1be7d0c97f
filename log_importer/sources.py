"""Sources: expand the inputs, open them (decompressing by content), read blocks of whole lines.

Offsets are byte offsets in the decompressed stream; each block ends at a line end. A plain
file's last line without its line end is not handed on (`Source.unfinished`): the server may be
writing it, and the next run reads it whole; a compressed file's is (the file is complete), as
is standard input's at its end, and a plain file's with `last_line_complete`.

Standard input may stay open for days (`tail -F access.log | log-importer -`, Apache's piped
CustomLog): its lines are handed on as soon as they have arrived, and while nothing arrives the
blocks say so (IDLE, every POLL_SECONDS), so that the run can send what it holds and notice a
signal.
"""
from __future__ import annotations

import bz2
import glob
import gzip
import lzma
import os
import select
import sys

from .errors import UsageError

STDIN = "-"
_MAGIC = [
    (b"\x1f\x8b", "gz"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zst"),
]
MAGIC_BYTES = max(len(m) for m, _ in _MAGIC)
POLL_SECONDS = 0.1  # standard input: how long one wait for new data lasts


class _Idle:
    def __repr__(self):
        return "IDLE"


IDLE = _Idle()  # in (offset, IDLE) from Source.blocks: nothing new has arrived for POLL_SECONDS


def expand(patterns) -> list[str]:
    """Files named by the arguments: globs expanded and sorted, '-' kept; a missing file is an error.
    A name that is an existing file is that file, even when it holds glob characters
    (`access [1].log`, as a file manager names a copy); otherwise it is a glob."""
    files = []
    for pattern in patterns:
        if pattern == STDIN:
            files.append(STDIN)
            continue
        if os.path.isfile(pattern):
            files.append(pattern)
        elif glob.has_magic(pattern):
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
    """One input: a file (plain or compressed) or standard input.

    `stop` (a threading.Event, optional) ends a wait for standard input's next bytes inside a
    decompressor, where no IDLE can be handed out: reading then ends as at the end of the input.
    `last_line_complete`: a plain file's last line without its line end is read too (otherwise
    `unfinished` is then its length in bytes, and it is left for the next run).
    """

    def __init__(self, name: str, stop=None, last_line_complete: bool = False):
        self.name = name
        self.is_stdin = name == STDIN
        self.display_name = "(stdin)" if self.is_stdin else name
        self.stop = stop
        self.last_line_complete = last_line_complete
        self.unfinished = 0
        self._jump = None
        self._raw_read = 0
        self.compression = None
        if self.is_stdin:
            try:
                self._fd = sys.stdin.fileno()
            except (AttributeError, ValueError, OSError):
                raise UsageError("standard input (-) is not readable") from None
            self._raw = None
            self.size = None
            self.stream = None  # known once the first bytes have arrived (compressed or not)
            self._poll = select.poll()
            self._poll.register(self._fd, select.POLLIN)
            return
        try:
            self._raw = open(name, "rb")
        except OSError as e:
            raise UsageError("cannot open %s: %s" % (name, e.strerror)) from None
        self.size = os.fstat(self._raw.fileno()).st_size
        head = self._raw.read(8)
        self._raw.seek(0)
        self.compression = compression_of(head)
        self.stream = self._open_stream(self._raw)

    def _open_stream(self, raw):
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
            raise UsageError("%s is zstd-compressed: install the 'zstandard' package" % self.display_name) from None
        return zstandard.ZstdDecompressor().stream_reader(raw)

    @property
    def seekable(self) -> bool:
        """A plain file: blocks() can go straight to an offset (seek)."""
        return not self.is_stdin and self.compression is None

    def seek(self, offset: int):
        """A seekable input's next block starts at `offset` (a line start), past the bytes
        between: called between two blocks of blocks()."""
        self._jump = offset

    def head(self, size: int) -> bytes:
        """The first `size` bytes of a file, through decompression (fewer when it is shorter or
        damaged); call before blocks()."""
        out = b""
        try:
            while len(out) < size:
                data = self.stream.read(size - len(out))
                if not data:
                    break
                out += data
        except (OSError, EOFError, lzma.LZMAError, ValueError):
            pass
        return out

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
        whole line before the damage (then SourceError). Standard input also yields
        (offset, IDLE) when nothing new arrived for POLL_SECONDS.
        """
        if not self.is_stdin:
            yield from self._stream_blocks(block_size)
            return
        head = b""
        while len(head) < MAGIC_BYTES and any(m.startswith(head[:len(m)]) for m, _ in _MAGIC):
            data = self._read_stdin(MAGIC_BYTES - len(head), POLL_SECONDS)
            if data is None:
                yield 0, IDLE
            elif not data:
                break
            else:
                head += data
        self.compression = compression_of(head)
        if self.compression is None:
            yield from self._arrived_blocks(head, block_size)
        else:
            self.stream = self._open_stream(_StdinReader(self, head))
            yield from self._stream_blocks(block_size)

    def _stream_blocks(self, block_size: int):
        offset = 0
        pending = b""
        # read1: what one read of the stream gives, so that nothing decompressed waits in a
        # buffer for more input (standard input may stall, then the run may stop)
        read = getattr(self.stream, "read1", self.stream.read)
        step = block_size if self.compression is None else min(block_size, 1 << 16)
        while True:
            if self._jump is not None:
                self.stream.seek(self._jump)
                offset, pending, self._jump = self._jump, b"", None
            try:
                data = read(step)
            except _Stopped:  # the run stops while standard input stalls: hand on the whole lines
                cut = pending.rfind(b"\n") + 1
                if cut:
                    yield offset, pending[:cut]
                return
            except (OSError, EOFError, lzma.LZMAError, ValueError) as e:
                cut = pending.rfind(b"\n") + 1
                if cut:
                    yield offset, pending[:cut]
                raise SourceError("%s: cannot read (%s)" % (self.display_name, e)) from None
            if not data:
                if self.compression is None and not self.is_stdin and not self.last_line_complete:
                    cut = pending.rfind(b"\n") + 1
                    self.unfinished = len(pending) - cut
                    pending = pending[:cut]
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

    def _arrived_blocks(self, pending: bytes, block_size: int):
        """Standard input, uncompressed: each block is what has arrived (whole lines, up to about
        block_size), handed on without waiting for more."""
        offset = 0
        eof = False
        while True:
            while not eof and (len(pending) < block_size or pending.rfind(b"\n") < 0):
                data = self._read_stdin(max(block_size - len(pending), 1 << 16), 0)
                if data is None:
                    break  # nothing more has arrived yet
                if not data:
                    eof = True
                pending += data
            cut = pending.rfind(b"\n") + 1
            if cut:
                yield offset, pending[:cut]
                offset += cut
                pending = pending[cut:]
            elif eof:
                if pending:
                    yield offset, pending
                return
            elif not self._read_ready(POLL_SECONDS):
                yield offset, IDLE

    def _read_ready(self, timeout: float) -> bool:
        """Standard input has bytes (or its end) to read within `timeout` seconds."""
        return bool(self._poll.poll(timeout * 1000))

    def _read_stdin(self, size: int, timeout: float):
        """Up to `size` bytes of standard input; b"" at its end; None when nothing arrived
        within `timeout` seconds."""
        if not self._read_ready(timeout):
            return None
        try:
            data = os.read(self._fd, size)
        except OSError as e:
            raise SourceError("(stdin): cannot read (%s)" % e.strerror) from None
        self._raw_read += len(data)
        return data

    def close(self):
        if not self.is_stdin:
            try:
                self.stream.close()
            finally:
                self._raw.close()


class _Stopped(Exception):
    """Reading standard input ended because the run is stopping (Source.stop)."""


class _StdinReader:
    """Standard input as a file object for a decompressor: the bytes already read first, then
    reads that wait in steps of POLL_SECONDS and end when the source's `stop` is set."""

    def __init__(self, source: Source, head: bytes):
        self.source = source
        self.head = head

    def read(self, size: int = -1) -> bytes:
        if self.head:
            data, self.head = (self.head, b"") if size < 0 or size >= len(self.head) else \
                (self.head[:size], self.head[size:])
            return data
        while True:
            data = self.source._read_stdin(size if size > 0 else 1 << 16, POLL_SECONDS)
            if data is not None:
                return data
            if self.source.stop is not None and self.source.stop.is_set():
                raise _Stopped()

    def readable(self):
        return True

    def close(self):
        pass


class SourceError(Exception):
    """An input that cannot be read any further (a truncated archive, an I/O error)."""


def copy_lines(name: str, numbers: set, out, block_size: int = 1 << 19):
    """Write the lines of file `name` whose 1-based numbers are in `numbers` to `out` (binary)."""
    source = Source(name, last_line_complete=True)
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


_ASCII_SAMPLE = 'az AZ 09 []"#:/\n'


def ascii_compatible(encoding: str) -> bool:
    """Whether `encoding` writes ASCII as it is, one byte a character (utf8, latin-1, cp1252...):
    the importer cuts lines at the byte \\n and reads fields in bytes that must mean the same.
    UTF-16 and EBCDIC do not. LookupError for an unknown encoding."""
    try:
        return _ASCII_SAMPLE.encode("ascii").decode(encoding) == _ASCII_SAMPLE
    except UnicodeDecodeError:
        return False


def encoding_hint(block: bytes) -> str | None:
    """Why a file's first bytes may not be text in an ASCII-compatible encoding at all: NUL bytes
    between most characters are UTF-16 (as Windows tools write it), or None."""
    sample = block[:4096]
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")) or (sample and sample.count(b"\x00") * 4 > len(sample)):
        return ("its first bytes look like UTF-16 (a NUL byte beside each character), which the importer cannot "
                "read: convert it first (iconv -f UTF-16 -t UTF-8)")
    return None


def head_lines(block: bytes, encoding: str, limit: int = 200) -> list[str]:
    """The first lines of a file's first block, decoded leniently and without a byte order mark,
    for format detection."""
    text = block[:1 << 20].decode(encoding, errors="replace").removeprefix("\ufeff")
    return text.split("\n", limit)[:limit]


__all__ = ["expand", "Source", "SourceError", "copy_lines", "head_lines", "ascii_compatible", "encoding_hint",
           "STDIN", "IDLE"]
