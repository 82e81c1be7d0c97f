"""Progress: a tqdm bar of input bytes read (percentage, ETA), with lines/s and hits sent.

Updated once per chunk from the main thread, so it costs nothing on the hot path.
"""
from __future__ import annotations

import time

from .stats import Stats


class Progress:
    def __init__(self, total_bytes: int | None, stats: Stats, stream, delay: float = 1.0, dry_run=False):
        from tqdm import tqdm  # lazily: only runs that show progress pay for it
        self.stats = stats
        self.dry_run = dry_run
        self.bar = tqdm(total=total_bytes, unit="B", unit_scale=True, unit_divisor=1024, file=stream,
                        mininterval=delay, dynamic_ncols=True, desc="reading", leave=True,
                        smoothing=0.1)
        self._done = 0
        self._last = 0.0
        self.delay = delay

    def update(self, bytes_done: int, force=False):
        now = time.monotonic()
        if not force and now - self._last < self.delay:
            return
        self._last = now
        s = self.stats
        delta = bytes_done - self._done
        if delta > 0:
            self._done = bytes_done
            self.bar.update(delta)
        rate = s.lines_read / max(s.elapsed, 1e-9)
        sent = s.hits_built if self.dry_run else s.tracked
        self.bar.set_postfix_str("%s lines/s, %s hits %s" % (
            "{:,}".format(int(rate)), "{:,}".format(sent), "built" if self.dry_run else "sent"), refresh=False)
        self.bar.refresh()

    def close(self, bytes_done: int):
        self.update(bytes_done, force=True)
        self.bar.close()
