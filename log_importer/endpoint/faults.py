"""Faults on demand, counted over tracking calls (requests to matomo.php / piwik.php).

Call number n (from 1) gets, in this order of precedence: a dropped connection if n is a
multiple of `drop_every`, a 500 if of `fail_every`, an HTML page with status 200 if of
`garbage_every`, a rollback (500 with `tracked=k`) if of `rollback_every`. `delay_ms` delays
every tracking call (`delay` may be changed while running; `release()` ends the waits). A
dropped, failed or garbage call processes nothing.
"""
from __future__ import annotations

import threading

DROP = "drop"
FAIL = "fail"
GARBAGE = "garbage"
ROLLBACK = "rollback"

GARBAGE_PAGE = (b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body>"
                b"<h1>Service temporarily unavailable</h1><p>The server is under maintenance. "
                b"Please try again later.</p></body></html>")


class Faults:
    def __init__(self, fail_every: int = 0, drop_every: int = 0, rollback_every: int = 0,
                 garbage_every: int = 0, delay_ms: int = 0):
        for name, value in (("fail_every", fail_every), ("drop_every", drop_every),
                            ("rollback_every", rollback_every), ("garbage_every", garbage_every),
                            ("delay_ms", delay_ms)):
            if not isinstance(value, int) or value < 0:
                raise ValueError("%s must be a whole number >= 0, not %r" % (name, value))
        self.rules = [(DROP, drop_every), (FAIL, fail_every), (GARBAGE, garbage_every),
                      (ROLLBACK, rollback_every)]
        self.delay = delay_ms / 1000.0
        self.calls = 0
        self._lock = threading.Lock()
        self._released = threading.Event()

    def pause(self):
        """The delay of one tracking call; `release()` ends it early."""
        if self.delay:
            self._released.wait(self.delay)

    def release(self):
        """No more delay: calls waiting now go on at once, later calls are not delayed."""
        self.delay = 0
        self._released.set()

    def next(self) -> str | None:
        """Count one tracking call and return the fault it gets, if any."""
        with self._lock:
            self.calls += 1
            n = self.calls
        for fault, every in self.rules:
            if every and n % every == 0:
                return fault
        return None
