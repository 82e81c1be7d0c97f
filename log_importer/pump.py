"""Pumping: chunk tasks through the chunk stage (workers or inline) and their hits into the batcher.

Tasks go out through a bounded window (results come back in submission order), so memory stays
flat whatever the input size. Each result: sites it needs are resolved (then the chunk is done
again), its counters are folded into the stats, its hits go to the batcher in file order, and
the file's consumed position moves on.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque

from . import chunks
from .config import Config
from .errors import UserError
from .sources import IDLE
from .stats import IDLE as WAITED_IDLE
from .stats import MATOMO, Stats
from .waiting import Wait

log = logging.getLogger("log_importer")

PARTIAL_BATCH_MAX_AGE = 2.0  # seconds a partial batch may wait for more hits


class Pump:
    """One run's pump. `pool` is a WorkerPool or None (chunks done inline, in this process);
    `positions` (Positions) saves the state and keeps the hits that matched no site;
    `unresumable`: the file indexes of inputs that cannot be read again (standard input). The
    time the main thread spends waiting for standard input or for a site lookup is counted in
    `stats` (Stats.timing)."""

    def __init__(self, config: Config, stats: Stats, resolver, acks, batcher, pool, positions,
                 stop_reading: threading.Event, stop_event: threading.Event, unresumable=frozenset(),
                 consumed=None):
        self.config = config
        self.unresumable = unresumable  # file indexes of inputs that cannot be read again (stdin)
        self.stats = stats
        self.resolver = resolver
        self.acks = acks
        self.batcher = batcher
        self.pool = pool
        self.positions = positions
        self.stop_reading = stop_reading
        self.stop_event = stop_event
        self.limit_left = config.debug_request_limit  # --debug-request-limit: parsed lines left
        self.limit_reached = False
        self.consumed = consumed  # consumed(file index, seq): a chunk was handed on (the progress)
        self._processor = None
        self._idle = Wait("more lines on standard input (the import ends when it is closed; Ctrl-C stops it)",
                          repeat=None)  # said once a run: a live pipe is idle most of the time

    @property
    def processor(self) -> chunks.ChunkProcessor:
        """The in-process chunk stage (without workers, and to redo a chunk once sites are known)."""
        if self._processor is None:
            self._processor = chunks.ChunkProcessor(self.config)
        return self._processor

    def run(self, tasks, workers: int):
        """Consume `tasks` (ChunkTasks, or IDLE while standard input has nothing new) until it
        ends, reading stops, or the run aborts.

        While the input is idle, the chunks already read are finished, and after --idle-flush
        seconds without anything new the partial batches are sent. When reading stops (a first
        signal), the chunks already read from inputs that cannot be read again (standard input)
        are finished and handed on; a file's are dropped (the next run reads them again).
        """
        c = self.config
        window: deque = deque()
        depth = workers * 2 + 1
        exhausted = False
        line_bases: dict = {}  # file index -> lines before its next chunk
        next_save = time.monotonic() + c.checkpoint_interval
        last_arrival = time.monotonic()
        while True:
            if time.monotonic() >= next_save:
                self.positions.save()  # also moves positions over skipped lines when nothing is sent
                next_save = time.monotonic() + c.checkpoint_interval
            if self.stop_reading.is_set():
                self._finish_read(window, line_bases)
                break
            idle = False
            while (not exhausted and len(window) < depth and not self.stop_reading.is_set()
                   and not self.stop_event.is_set()):
                asked = time.monotonic()
                task = next(tasks, None)
                if task is None:
                    exhausted = True
                    break
                if task is IDLE:
                    self.stats.waited[WAITED_IDLE] += time.monotonic() - asked
                    self._idle.start()
                    idle = True
                    break
                self._idle.end()
                if self.pool is not None:
                    self.pool.submit(task)
                window.append(task)
                last_arrival = time.monotonic()
            if self.stop_event.is_set():
                break
            if not window:
                if exhausted:
                    break
                if idle and time.monotonic() - last_arrival >= c.idle_flush:
                    self.batcher.flush_all()
                continue
            result = self._result_of(window.popleft())
            if result is None or self.stop_event.is_set():
                break
            if self._take(result, line_bases):
                break
        self._idle.end()
        tasks.close()

    def _finish_read(self, window: deque, line_bases: dict):
        """Reading stopped: hand on the chunks of the window that cannot be read again (the
        others are dropped unparsed: the next run reads them again)."""
        while any(task.file_index in self.unresumable for task in window) and not self.stop_event.is_set():
            task = window.popleft()
            result = self._result_of(task)
            if result is None:
                return
            if task.file_index in self.unresumable:
                self._take(result, line_bases)

    def _take(self, result, line_bases: dict) -> bool:
        """Hand one chunk's result on, in file order; True when --debug-request-limit is reached."""
        fi = result.file_index
        if fi not in line_bases:
            line_bases[fi] = self.acks.committed(fi)[1]  # lines imported by earlier runs
        if result.picked:  # its line indexes are the file's
            base = 0
            if result.span is not None:
                line_bases[fi] = result.span[1]
        else:
            base = line_bases[fi]
            line_bases[fi] = base + result.lines
        self._hand_on(result, base)
        if self.limit_left is not None:
            self.limit_left -= result.lines - result.counts.get("invalid", 0) - result.counts.get("comment", 0)
            if result.limit_reached or self.limit_left <= 0:
                self.limit_reached = True
                log.info("reached --debug-request-limit=%d: stopping", self.config.debug_request_limit)
                return True
        return False

    def _result_of(self, task):
        """The chunk's result, redone with the sites it needed; None when resolving them failed."""
        if self.pool is not None:
            result = self.pool.next_result(self.stop_event)
            if result is None:  # aborted while waiting
                return None
        else:
            if self.limit_left is not None:
                task.max_valid = self.limit_left
            result = self.processor.process(task)
        while result.need_keys:
            try:
                with self.stats.timing(MATOMO):
                    self.resolver.resolve(result.need_keys)
            except UserError as e:  # the API failed mid-run: hits may have been sent
                self.acks.abort(str(e))
                return None
            task = dataclasses.replace(task, sites=self.resolver.site_map())
            result = self.processor.process(task)
        return result

    def _hand_on(self, result, base: int):
        """Fold a chunk's counters in and give its hits to the batcher; `base`: lines before it."""
        fi = result.file_index
        self.stats.add_chunk(result)
        self.stats.add_invalid(fi, base, result)
        for i, reason, text in result.invalid_samples:
            log.debug("invalid line %s:%d (%s): %s", self.stats.files[fi], base + i + 1, reason, text)
        for i, text in result.undecodable_samples:
            log.debug("line %s:%d has bytes that are not %s (kept: percent-encoded in the URL and referrer, "
                      "U+FFFD elsewhere): %s", self.stats.files[fi], base + i + 1, self.config.encoding, text)
        end, lines = (result.span or (None, 0)) if result.picked else (result.end, base + result.lines)
        self.positions.note_chunk(result, base)
        self.batcher.add(result, base, lambda: self.acks.chunk_consumed(fi, end, lines, self.batcher.head_offsets()))
        self.batcher.flush_older_than(PARTIAL_BATCH_MAX_AGE)
        if self.consumed is not None:
            self.consumed(fi, result.seq)
