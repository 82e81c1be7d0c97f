"""Batching: per-partition buffers of serialised hits, cut into bulk batches in log order.

A partition is one sender: every hit of a visitor lands in the same partition (workers pick it
from the visitor key), and buffers are filled in log order, so one visitor's hits reach Matomo
in order. A batch closes when it holds --recorder-max-payload-size hits, when its oldest hit has
waited too long, or at the end of the input.
"""
from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Batch:
    id: int
    partition: int
    parts: list  # bytes: JSON request objects separated by commas
    count: int
    segments: list = field(default_factory=list)  # (file_index, offsets array, line-index array, line_base)
    firsts: list = field(default_factory=list)  # (idsite, UTC bucket) first seen, per chunk, in this batch

    def requests_json(self) -> bytes:
        return b",".join(self.parts)

    def locate(self, index: int):
        """(file_index, 1-based line number) of the hit at `index` in this batch."""
        for file_index, offsets, idxs, line_base in self.segments:
            if index < len(idxs):
                return file_index, line_base + idxs[index] + 1
            index -= len(idxs)
        raise IndexError(index)

    def min_offsets(self) -> dict:
        """file_index -> (offset, lines before it) of this batch's first hit in that file."""
        found: dict = {}
        for file_index, offsets, idxs, line_base in self.segments:
            if offsets:
                low = (offsets[0], line_base + idxs[0])  # offsets rise within a segment
                if file_index not in found or low < found[file_index]:
                    found[file_index] = low
        return found


class _Segment:
    __slots__ = ("data", "ends", "offsets", "idxs", "file_index", "line_base", "pos", "born", "firsts")

    def __init__(self, part, file_index, line_base, born, firsts=()):
        self.data, self.ends, self.offsets, self.idxs = part
        self.file_index = file_index
        self.line_base = line_base
        self.pos = 0
        self.born = born
        self.firsts = firsts  # (hit index, idsite, bucket), by index: ChunkResult.firsts


class Batcher:
    """Cuts batches in log order. A partial batch whose first hit falls more than `lag_lines`
    behind the batch being sent is sent too, so that no partition holds a file's committed
    position far back while the others go on (which would resend their hits after a crash)."""

    def __init__(self, partitions: int, max_hits: int, emit, clock=time.monotonic, lag_lines=None):
        self.max_hits = max(1, max_hits)
        self.lag_lines = lag_lines if lag_lines is not None else 3 * partitions * self.max_hits
        self.emit = emit  # called with each closed Batch; may block (backpressure)
        self.clock = clock
        self._buffers = [deque() for _ in range(partitions)]
        self._counts = [0] * partitions
        self._ids = itertools.count(1)

    def add(self, result, line_base: int, buffered=None):
        """Queue one chunk's hits (chunks must arrive in file order), then emit full batches.

        `buffered()` is called once every hit of the chunk is in a buffer, before any emit
        (which may block): the chunk's lines are then accounted for.
        """
        now = self.clock()
        firsts = result.firsts or [()] * len(result.parts)
        for p, part in enumerate(result.parts):
            if part is not None:
                self._buffers[p].append(_Segment(part, result.file_index, line_base, now, firsts[p]))
                self._counts[p] += len(part[1])
        if buffered is not None:
            buffered()
        parts = range(len(self._buffers))
        while True:
            full = [p for p in parts if self._counts[p] >= self.max_hits]
            if not full:
                return
            p = min(full, key=self._head)
            file_index, line = self._head(p)
            for q in parts:
                if q != p and self._counts[q]:
                    head = self._head(q)
                    if head[0] < file_index or head[1] < line - self.lag_lines:
                        while self._counts[q]:
                            self.emit(self._take(q, self.max_hits))
            self.emit(self._take(p, self.max_hits))

    def _head(self, p):
        seg = self._buffers[p][0]
        return seg.file_index, seg.line_base + seg.idxs[seg.pos]

    def _take(self, p: int, n: int) -> Batch:
        buf = self._buffers[p]
        parts, segments, firsts, taken = [], [], [], 0
        while taken < n and buf:
            seg = buf[0]
            i0 = seg.pos
            i1 = min(len(seg.ends), i0 + n - taken)
            # ends[k] is the length of bodies 0..k, each followed by a comma in data
            a = seg.ends[i0 - 1] + i0 if i0 else 0
            b = seg.ends[i1 - 1] + i1 - 1
            parts.append(seg.data[a:b])  # without the trailing comma
            segments.append((seg.file_index, seg.offsets[i0:i1], seg.idxs[i0:i1], seg.line_base))
            if seg.firsts:
                k = 0
                while k < len(seg.firsts) and seg.firsts[k][0] < i1:
                    k += 1
                firsts += [f[1:] for f in seg.firsts[:k]]
                seg.firsts = seg.firsts[k:]
            taken += i1 - i0
            seg.pos = i1
            if i1 == len(seg.ends):
                buf.popleft()
        self._counts[p] -= taken
        return Batch(next(self._ids), p, parts, taken, segments, firsts)

    def flush_older_than(self, age: float):
        """Close partial batches whose oldest hit has waited `age` seconds or more."""
        limit = self.clock() - age
        for p, buf in enumerate(self._buffers):
            if buf and buf[0].born <= limit:
                while self._counts[p]:
                    self.emit(self._take(p, self.max_hits))

    def flush_all(self):
        for p in range(len(self._buffers)):
            while self._counts[p]:
                self.emit(self._take(p, self.max_hits))

    def buffered(self) -> int:
        return sum(self._counts)

    def head_offsets(self) -> dict:
        """file_index -> (offset, lines before it) of the first hit still buffered (not in a batch)."""
        found: dict = {}
        for buf in self._buffers:
            for seg in buf:
                if seg.pos < len(seg.offsets):
                    low = (seg.offsets[seg.pos], seg.line_base + seg.idxs[seg.pos])
                    if seg.file_index not in found or low < found[seg.file_index]:
                        found[seg.file_index] = low
        return found
