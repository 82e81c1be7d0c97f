"""Counters per stage: the progress bar and the final summary read the same ones.

Time: `elapsed` is the run's wall time, from the main thread's point of view; `timing(kind)`
adds the time of a block to what the main thread waited for: MATOMO (the pre-flight checks,
site lookups, a full sender queue, the last answers) or IDLE (standard input brought nothing).
The rest is reading and parsing (`time_split`).
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from . import classify as C
from .invalid_lines import FORMAT_REASONS

MATOMO = "matomo"   # the main thread waited for Matomo
IDLE = "idle"       # the main thread waited for standard input


@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    stopped: float | None = None
    files: list = field(default_factory=list)     # display names, in order
    lines_read: int = 0        # every line of every input, --skip'd ones included
    lines_skipped_option: int = 0  # --skip
    comment_lines: int = 0     # W3C '#' header lines
    lines_undecodable: int = 0  # lines with bytes that are not valid in --encoding (kept)
    skipped: dict = field(default_factory=lambda: dict.fromkeys(C.SKIP_REASONS, 0))
    # (bot name, category) -> hits of that bot: skipped, or imported with --enable-bots
    bot_hits: Counter = field(default_factory=Counter)
    hits_built: int = 0        # tracked hits handed to the senders
    downloads: int = 0         # of those, downloads
    hits_sent: int = 0         # hits in requests Matomo answered
    tracked: int = 0           # confirmed by Matomo
    rejected: int = 0          # answered as invalid by Matomo (final)
    unconfirmed: int = 0       # answered, but neither tracked nor invalid
    pending_unsent: int = 0    # built but never sent (the run stopped early)
    unanswered_pending: int = 0  # pending hits whose request went unanswered: Matomo may have stored them
    confirmed_ahead: int = 0   # confirmed hits the state does not remember (not kept, or not saved): resent
    no_site_kept: int = 0      # hits that matched no site, kept pending in the state (a later run imports them)
    no_site_not_kept: int = 0  # hits that matched no site past the state's bound (positions.MAX_NO_SITE_PENDING)
    no_site_reread: int = 0    # hits of earlier runs that matched no site, read again (their site is known now)
    no_site_waiting: int = 0   # hits of earlier runs that matched no site, still pending (not read)
    unfinished_lines: list = field(default_factory=list)  # inputs whose last line has no line end yet (not read)
    retries: int = 0
    requests: int = 0
    attempts: int = 0          # tracker requests made, retries included
    answer_seconds: float = 0.0  # time those requests waited for their answers, summed over senders
    waited: dict = field(default_factory=lambda: {MATOMO: 0.0, IDLE: 0.0})  # main thread, seconds
    destination: str | None = None  # "matomo", "embedded" (the embedded endpoint); None: a dry run
    workers: int = 1           # parsing processes
    cores: int = 1             # the cores this process may use
    recorders: int = 1         # senders
    bytes_total: int | None = None  # input bytes (compressed bytes for compressed files); None: stdin
    bytes_done: int = 0  # of them, the bytes whose lines were handed on (all, once the run is complete)
    inputs_finished: set = field(default_factory=set)  # file indexes imported to their end (or skipped whole)
    consumed_index: int = -1   # the input whose chunks the pump takes now (inputs are taken in order)
    resume_lines: dict = field(default_factory=dict)   # file index -> lines done, where a next run continues
    rejected_lines: list = field(default_factory=list)  # (file, line) of hits Matomo refused
    sites_used: set = field(default_factory=set)
    sites_created: list = field(default_factory=list)  # (host, idsite)
    hosts_no_site: set = field(default_factory=set)
    dates: set = field(default_factory=set)
    stdin_used: bool = False
    resumed: list = field(default_factory=list)  # (file, lines already imported, date)
    input_errors: list = field(default_factory=list)  # inputs that could not be read to the end
    forwarded_for: dict = field(default_factory=dict)  # input -> how to read the client from its forwarded-for field
    lines_by_file: dict = field(default_factory=dict)    # file index -> lines parsed in this run
    readable_by_file: dict = field(default_factory=dict)  # file index -> of them, lines neither invalid nor comments
    held_inputs: set = field(default_factory=set)  # file indexes none of whose lines could be read: position kept
    invalid_reasons: dict = field(default_factory=dict)  # file index -> {reason: [count, first line, text, detail]}
    file_formats: dict = field(default_factory=dict)     # file index -> (format name, detected)
    pace: tuple | None = None  # (adaptive, concurrent requests at the end, lowest, highest): pacing.Pacer
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_chunk(self, result):
        """Fold one chunk's counters in (main thread)."""
        self.lines_read += result.lines
        self.lines_undecodable += result.undecodable
        for reason, n in result.counts.items():
            if reason == "comment":
                self.comment_lines += n
            else:
                self.skipped[reason] += n
        self.hits_built += result.hits
        self.downloads += result.downloads
        self.sites_used |= result.sites_used
        self.dates |= result.dates
        self.hosts_no_site |= result.no_site_keys
        self.bot_hits.update(result.bots)

    def add_invalid(self, file_index: int, line_base: int, result):
        """Fold one chunk's lines and invalid lines per reason into its file's (main thread);
        `line_base`: the file's lines before the chunk."""
        self.lines_by_file[file_index] = self.lines_by_file.get(file_index, 0) + result.lines
        self.readable_by_file[file_index] = (self.readable_by_file.get(file_index, 0) + result.lines
                                             - result.counts.get("invalid", 0) - result.counts.get("comment", 0))
        if file_index > self.consumed_index:
            self.consumed_index = file_index
        if not result.invalid_reasons:
            return
        mine = self.invalid_reasons.setdefault(file_index, {})
        for reason, (count, i, text, detail) in result.invalid_reasons.items():
            if reason in mine:
                mine[reason][0] += count
            else:
                mine[reason] = [count, line_base + i + 1, text, detail]

    def unreadable_inputs(self) -> list:
        """The file indexes of the inputs none of whose lines read in this run the format could
        read (at least one line; invalid_lines.FORMAT_REASONS): the format does not fit them (a
        wrong --log-format-*, or detection misled). Lines it read that are no hit (not a tracker
        request with --replay-tracking) are read lines."""
        return [fi for fi, n in self.lines_by_file.items()
                if n and self.readable_by_file.get(fi, 0) <= 0 and self.invalid_reasons.get(fi)
                and FORMAT_REASONS.issuperset(self.invalid_reasons[fi])]

    @property
    def elapsed(self):
        return (self.stopped or time.monotonic()) - self.started

    @contextlib.contextmanager
    def timing(self, kind: str):
        """Count the block's wall time as waiting for `kind` (MATOMO or IDLE); main thread only."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.waited[kind] += time.monotonic() - started

    def time_split(self) -> tuple:
        """(reading and parsing, waiting for Matomo, idle) in seconds; they add up to `elapsed`."""
        total = self.elapsed
        matomo = min(self.waited[MATOMO], total)
        idle = min(self.waited[IDLE], total - matomo)
        return total - matomo - idle, matomo, idle

    @property
    def may_be_sent_twice(self) -> int:
        """At most this many hits are sent twice when the import continues after a stop."""
        return self.unanswered_pending + self.confirmed_ahead

    def add_attempt(self, seconds: float):
        """One tracker request answered or failed after `seconds` (sender threads)."""
        with self.lock:
            self.attempts += 1
            self.answer_seconds += seconds

    @property
    def total_skipped(self):
        return sum(self.skipped.values())
