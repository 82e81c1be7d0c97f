"""Progress while the import runs: a tqdm bar on a terminal, a plain line otherwise.

Both show the input bytes parsed of the total (the bytes whose lines were parsed and handed on
to the senders; compressed files by their compressed bytes), lines
and hits per second, the hits Matomo confirmed, the retries, the time left, and what the run is
waiting for when it waits (waiting.py). With several inputs, each one gets a line of its own
when it is done. On a terminal the bar is redrawn every --show-progress-delay seconds; when
stderr is not a terminal (cron's mail, a log file: with --show-progress) a plain line is
written every --show-progress-delay seconds instead, as a log line.

A thread of its own updates the display, so the display goes on while the run waits (for
Matomo's last answers, for standard input), and the hot path pays nothing for it. After a
stop, the display shows where reading stopped, not 100%.
"""
from __future__ import annotations

import os
import threading
import time

from . import waiting
from .stats import Stats

SMOOTHING = 0.3  # weight of the latest interval in the rates shown


def _n(value) -> str:
    return "{:,}".format(int(value))


def size_text(n: float) -> str:
    """1536 -> "1.5 KB" (binary multiples, as tqdm's unit_divisor=1024 shows them)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return ("%d %s" % (n, unit)) if unit == "B" else "%.1f %s" % (n, unit)
        n /= 1024.0
    return "%d B" % n


def duration_text(seconds: float) -> str:
    """75 -> "1:15", 3725 -> "1:02:05"."""
    seconds = int(seconds + 0.5)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return "%d:%02d:%02d" % (h, m, s) if h else "%d:%02d" % (m, s)


class Progress:
    """The progress display of one run.

    `files`: display names; `sizes`: their sizes in bytes (None: standard input); `bytes_done()`
    (called from the display's thread) gives the input bytes done. `terminal`: draw a tqdm bar
    (else plain lines). `stopping` (a threading.Event): set once a signal stopped the reading,
    after which no time left is shown (the rest will not be read).
    """

    def __init__(self, stats: Stats, stream, files: list, sizes: list, bytes_done,
                 delay: float = 1.0, dry_run: bool = False, terminal: bool = True, stopping=None):
        self.stats = stats
        self.stopping = stopping
        self.stream = stream
        self.files = files
        self.sizes = sizes
        self.total = None if any(size is None for size in sizes) else sum(sizes)
        self.bytes_done = bytes_done
        self.delay = max(0.05, delay)
        self.dry_run = dry_run
        if terminal:
            try:
                sized = os.get_terminal_size(stream.fileno()).columns > 0
            except (AttributeError, ValueError, OSError):
                sized = False
            # A terminal that does not say its size (a serial console, some `docker exec -t`):
            # tqdm draws nothing there, so the plain lines are written instead.
            terminal = sized
        self.terminal = terminal
        self.bar = None
        self._stop = threading.Event()
        self._thread = None
        self._last = None  # (time, bytes, lines, hits) at the last update
        self._rates = None  # smoothed (bytes/s, lines/s, hits/s)
        self._files_shown = 0  # inputs whose line was written
        self._complete = False
        self._started = time.monotonic()
        if terminal:
            from tqdm import tqdm  # lazily: only runs that show a bar pay for it
            self.bar = tqdm(total=self.total, unit="B", unit_scale=True, unit_divisor=1024, file=stream,
                            dynamic_ncols=True, desc=self._desc(0), leave=True,
                            smoothing=SMOOTHING, mininterval=0, miniters=1)

    # Life cycle ----------------------------------------------------------------------------
    def start(self) -> "Progress":
        waiting.announce(False)  # the display says what the run waits for
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._thread.start()
        return self

    def close(self, complete: bool, done: int):
        """The last update: `done` input bytes (100% only when every input was done; after a
        stop, where the import stands). `complete`: every input was read and handed on."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._complete = complete
        self.bytes_done = lambda: done
        self._update(final=True)
        if self.bar is not None:
            self.bar.close()
        waiting.announce(True)

    def _run(self):
        while not self._stop.wait(self.delay):
            self._update()

    # One update ----------------------------------------------------------------------------
    def _desc(self, index) -> str:
        if index is None or index < 0 or not self.files:
            return "%d inputs" % len(self.files) if len(self.files) > 1 else "read"
        name = os.path.basename(self.files[index]) or self.files[index]
        if len(name) > 32:
            name = "…" + name[-31:]
        return "[%d/%d] %s" % (index + 1, len(self.files), name) if len(self.files) > 1 else name

    def _hits(self) -> int:
        s = self.stats
        return s.hits_built if self.dry_run else s.tracked

    def _measure(self):
        """(input bytes done, smoothed (bytes/s, lines/s, hits/s)) now."""
        now = time.monotonic()
        done = self.bytes_done()
        point = (now, done, self.stats.lines_read, self._hits())
        if self._last is None:
            elapsed = max(now - self._started, 1e-6)
            rates = (done / elapsed, point[2] / elapsed, point[3] / elapsed)
        else:
            dt = max(now - self._last[0], 1e-6)
            latest = tuple((point[i] - self._last[i]) / dt for i in (1, 2, 3))
            rates = latest if self._rates is None else tuple(
                SMOOTHING * a + (1 - SMOOTHING) * b for a, b in zip(latest, self._rates))
        self._last, self._rates = point, rates
        return done, rates

    def _postfix(self, rates) -> str:
        s = self.stats
        parts = ["%s lines/s" % _n(rates[1]), "%s hits/s" % _n(rates[2])]
        if self.dry_run:
            parts.append("%s hits counted" % _n(s.hits_built))
        else:
            parts += ["%s confirmed" % _n(s.tracked), "%s retries" % _n(s.retries)]
        what = waiting.current()
        if what:
            parts.append("waiting for " + what.split(" (")[0])
        return ", ".join(parts)

    def _files_done(self, final: bool) -> list:
        """Lines for the inputs done since the last update (only when there are several)."""
        if len(self.files) < 2:
            return []
        s = self.stats
        # The pump takes inputs in order: the ones before the one it takes now are done.
        upto = len(self.files) if final and self._complete else s.consumed_index
        out = []
        while self._files_shown < min(upto, len(self.files)):
            fi = self._files_shown
            size = self.sizes[fi]
            out.append("%s: %s lines%s" % (self.files[fi], _n(s.lines_by_file.get(fi, 0)),
                                          ", %s" % size_text(size) if size is not None else ""))
            self._files_shown += 1
        return out

    def _update(self, final=False):
        done, rates = self._measure()
        index = self.stats.consumed_index  # the input whose lines are being handed on
        index = None if final or index < 0 else index
        if self.bar is not None:
            for text in self._files_done(final):
                self.bar.write("  done: " + text, file=self.stream)
            self.bar.set_description_str(self._desc(index), refresh=False)
            self.bar.set_postfix_str(self._postfix(rates), refresh=False)
            delta = done - self.bar.n
            if delta:
                self.bar.update(delta)
            self.bar.refresh()
            return
        lines = ["done: " + text for text in self._files_done(final)]
        lines.append(self._plain(done, rates, index, final))
        self.stream.write("".join("log-importer: progress: %s\n" % text for text in lines))
        self.stream.flush()

    def _plain(self, done, rates, index, final) -> str:
        if self.total:
            where = "%.0f%% of %s parsed" % (min(100.0, 100.0 * done / self.total), size_text(self.total))
        else:
            where = "%s parsed" % size_text(done)
        if index is not None and len(self.files) > 1:
            where += " (%s, %d of %d)" % (self.files[index], index + 1, len(self.files))
        elif index is not None:
            where += " (%s)" % self.files[index]
        text = "%s, %s" % (where, self._postfix(rates))
        stopping = self.stopping is not None and self.stopping.is_set()
        if not final and not stopping and self.total and rates[0] > 0 and done < self.total:
            text += ", %s left" % duration_text((self.total - done) / rates[0])
        if final:
            return ("finished: " if self._complete else "stopped: ") + text
        return text
