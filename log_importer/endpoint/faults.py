"""Faults on demand, counted over tracking calls (requests to matomo.php / piwik.php).

Call number n (from 1) gets, in this order of precedence: a dropped connection if n is a
multiple of `drop_every`, a 500 if of `fail_every`, an HTML page with status 200 if of
`garbage_every`, Matomo's answer when its database went away (status 200, the plain text
DB_GONE_TEXT: measured on Matomo 5.1.2, behaviour spec 7.3) if of `db_gone_every`, a rollback
(500 with `tracked=k`) if of `rollback_every`. `delay_ms` delays every tracking call (`delay`
may be changed while running; `release()` ends the waits). A dropped, failed, garbage or
db-gone call processes nothing.
"""
from __future__ import annotations

import threading

DROP = "drop"
FAIL = "fail"
GARBAGE = "garbage"
DB_GONE = "db-gone"
ROLLBACK = "rollback"

GARBAGE_PAGE = (b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body>"
                b"<h1>Service temporarily unavailable</h1><p>The server is under maintenance. "
                b"Please try again later.</p></body></html>")
DB_GONE_TEXT = b"Error:SQLSTATE[HY000]: General error: 2006 MySQL server has gone away"


class Faults:
    def __init__(self, fail_every: int = 0, drop_every: int = 0, rollback_every: int = 0,
                 garbage_every: int = 0, delay_ms: int = 0, db_gone_every: int = 0):
        for name, value in (("fail_every", fail_every), ("drop_every", drop_every),
                            ("rollback_every", rollback_every), ("garbage_every", garbage_every),
                            ("delay_ms", delay_ms), ("db_gone_every", db_gone_every)):
            if not isinstance(value, int) or value < 0:
                raise ValueError("%s must be a whole number >= 0, not %r" % (name, value))
        self.rules = [(DROP, drop_every), (FAIL, fail_every), (GARBAGE, garbage_every),
                      (DB_GONE, db_gone_every), (ROLLBACK, rollback_every)]
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
