"""Acknowledgement: the one place every batch's outcome comes back to.

It keeps the counters of what Matomo confirmed or refused, reports refused hits with their file
and line, and knows each file's committed offset: the end of the longest prefix of lines that are
all confirmed, skipped or invalid (never past a hit still buffered or in flight), from where the
file started in this run (hits of earlier lines read again, which matched no site before, do not
move it back). The hits confirmed past that offset (by other senders) are handed to the run's
Positions (`progress`), which keeps them in the state: a next run does not send them again.
"""
from __future__ import annotations

import logging
import threading

from .batching import Batch
from .responses import OK, Outcome
from .stats import Stats

log = logging.getLogger("log_importer")

FIRST_BATCH_REFUSED = ("Matomo refused every hit of the first batch (%d of %d invalid): the token has no write "
                       "access to the site, or the site does not exist; check --token-auth and --idsite")
FIRST_HITS_REFUSED = ("Matomo refused every one of the first %d hits it answered: the token has no write "
                      "access to the site, or the site does not exist; check --token-auth and --idsite")


class Acknowledger:
    """`probe_hits`: when Matomo has answered that many hits (a full batch: run.py passes
    --recorder-max-payload-size) and refused every one, the token cannot write to the site: the
    run stops. Counted over the first answers, not the first batch alone: with several senders,
    the first batch to come back may be a small part of a chunk whose few hits are rightly
    refused."""

    def __init__(self, stats: Stats, file_names: list, stop_event: threading.Event | None = None,
                 probe_hits: int = 1):
        self.stats = stats
        self.file_names = file_names
        self.stop_event = stop_event or threading.Event()
        self.fatal: str | None = None
        self._lock = threading.Lock()
        self._pending: dict = {}     # batch id -> {file_index: (offset, lines before)}
        self._read_through: dict = {}  # file_index -> (end offset, lines) of the lines handed on
        self.probe_hits = max(1, probe_hits)
        self._refused_first: int | None = 0  # hits of the first answers, all refused (None: one was not)
        self._heads: dict = {}  # file_index -> (offset, lines) of the first hit still buffered
        self._floors: dict = {}  # file_index -> (offset, lines) where the file started in this run
        self._confirmed: list = []  # the segments (Batch.segments) of the batches confirmed since progress()
        self.on_progress = None  # called (outside the lock) after each confirmed batch

    # Main thread -----------------------------------------------------------------------
    def start_file(self, file_index: int, offset: int, lines: int):
        """The file starts at (offset, lines) in this run: its committed position never goes below."""
        with self._lock:
            self._floors[file_index] = self._read_through[file_index] = (offset, lines)

    def chunk_consumed(self, file_index: int, end: int | None, lines: int = 0, buffered_heads: dict | None = None):
        """A chunk's lines are handed on, up to `end` (None: lines read again before where the
        file started, which move nothing); `buffered_heads` is the batcher's head_offsets() after it."""
        with self._lock:
            if end is not None:
                self._read_through[file_index] = (end, lines)
            if buffered_heads is not None:
                self._heads = buffered_heads

    def batch_created(self, batch: Batch, buffered_heads: dict | None = None):
        """A batch left the buffers: pending until answered. `buffered_heads`: what is left."""
        with self._lock:
            self._pending[batch.id] = batch.min_offsets()
            if buffered_heads is not None:
                self._heads = buffered_heads

    def committed(self, file_index: int) -> tuple:
        """(offset, lines) below which every line of the file is confirmed, skipped or invalid."""
        with self._lock:
            return self._committed(file_index)

    def _committed(self, file_index: int) -> tuple:
        low = self._read_through.get(file_index, (0, 0))
        for offsets in list(self._pending.values()) + [self._heads]:
            off = offsets.get(file_index)
            if off is not None and off < low:
                low = off
        floor = self._floors.get(file_index)
        return floor if floor is not None and low < floor else low

    def all_done(self, file_index: int) -> bool:
        """Every line of the file handed on so far is confirmed, skipped or invalid."""
        with self._lock:
            return all(file_index not in offsets for offsets in list(self._pending.values()) + [self._heads])

    def progress(self) -> tuple:
        """({file_index: committed (offset, lines)}, [segments of each batch confirmed since the
        last call]), at one moment."""
        with self._lock:
            confirmed, self._confirmed = self._confirmed, []
            return {fi: self._committed(fi) for fi in self._read_through}, confirmed

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)

    # Sender threads --------------------------------------------------------------------
    def batch_done(self, batch: Batch, outcome: Outcome):
        s = self.stats
        with self._lock:
            if outcome.kind != OK:
                self._fail(outcome.message, batch, outcome)
                return
            if self._refused_first is not None:
                if outcome.tracked or outcome.invalid < batch.count:
                    self._refused_first = None  # Matomo takes this token's hits
                else:
                    n = self._refused_first = self._refused_first + batch.count
                    if n >= self.probe_hits:
                        self._fail(FIRST_BATCH_REFUSED % (n, n) if n == batch.count else FIRST_HITS_REFUSED % n,
                                   batch)
                        return
            del self._pending[batch.id]
            self._confirmed.append(batch.segments)
            s.requests += 1
            s.hits_sent += batch.count
            s.tracked += outcome.tracked
            s.rejected += outcome.invalid
            missing = batch.count - outcome.tracked - outcome.invalid
            if missing > 0:
                s.unconfirmed += missing
            where = []
            for index in outcome.invalid_indices or ():
                fi, line = batch.locate(index)
                where.append((self.file_names[fi], line))
            s.rejected_lines.extend(where)
        if outcome.invalid:
            if where:
                log.warning("Matomo refused %d hit(s): %s", outcome.invalid,
                            ", ".join("%s:%d" % w for w in where[:20]) + (" …" if len(where) > 20 else ""))
            else:
                log.warning("Matomo refused %d hit(s) of a batch of %d (their lines are known only with a "
                            "super-user token)", outcome.invalid, batch.count)
        if missing > 0:
            log.warning("Matomo confirmed only %d of %d hits of a batch (%d neither tracked nor invalid)",
                        outcome.tracked + outcome.invalid, batch.count, missing)
        if self.on_progress is not None:
            self.on_progress()

    def abort(self, message: str):
        """Stop the run for a reason that is not a batch's (the API failed mid-run)."""
        with self._lock:
            if self.fatal is None:
                self.fatal = message
        self.stop_event.set()

    def batch_abandoned(self, batch: Batch, sent: bool = False):
        """A batch left unconfirmed because the run is stopping: its hits stay pending. `sent`:
        its request was cut off in flight, so Matomo may have stored its hits (they may be
        sent twice when the import continues)."""
        with self._lock:
            self.stats.pending_unsent += batch.count
            if sent:
                self.stats.unanswered_pending += batch.count

    def _fail(self, message: str, batch: Batch, outcome: Outcome | None = None):
        if self.fatal is None:
            fi, line = batch.locate(0)
            self.fatal = "%s (first hit of the batch: %s line %d)" % (message, self.file_names[fi], line)
        self.stats.pending_unsent += batch.count
        if outcome is not None and outcome.details.get("unanswered"):
            self.stats.unanswered_pending += batch.count  # an attempt went unanswered: perhaps stored
        self.stop_event.set()
