"""Counters per stage: the progress bar and the final summary read the same ones."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from . import classify as C


@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    stopped: float | None = None
    files: list = field(default_factory=list)     # display names, in order
    lines_read: int = 0        # every line of every input, --skip'd ones included
    lines_skipped_option: int = 0  # --skip
    comment_lines: int = 0     # W3C '#' header lines
    skipped: dict = field(default_factory=lambda: dict.fromkeys(C.SKIP_REASONS, 0))
    hits_built: int = 0        # tracked hits handed to the senders
    downloads: int = 0         # of those, downloads
    hits_sent: int = 0         # hits in requests Matomo answered
    tracked: int = 0           # confirmed by Matomo
    rejected: int = 0          # answered as invalid by Matomo (final)
    unconfirmed: int = 0       # answered, but neither tracked nor invalid
    pending_unsent: int = 0    # built but never sent (the run stopped early)
    retries: int = 0
    requests: int = 0
    rejected_lines: list = field(default_factory=list)  # (file, line) of hits Matomo refused
    sites_used: set = field(default_factory=set)
    sites_created: list = field(default_factory=list)  # (host, idsite)
    hosts_no_site: set = field(default_factory=set)
    dates: set = field(default_factory=set)
    stdin_used: bool = False
    resumed: list = field(default_factory=list)  # (file, lines already imported, date)
    input_errors: list = field(default_factory=list)  # inputs that could not be read to the end
    pace: tuple | None = None  # (adaptive, concurrent requests at the end, lowest, highest): pacing.Pacer
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_chunk(self, result):
        """Fold one chunk's counters in (main thread)."""
        self.lines_read += result.lines
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

    @property
    def elapsed(self):
        return (self.stopped or time.monotonic()) - self.started

    @property
    def total_skipped(self):
        return sum(self.skipped.values())
