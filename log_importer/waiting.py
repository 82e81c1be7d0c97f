"""Waits that say what they wait for.

Whatever the run waits for where the user could think it hangs (Matomo's answer to the checks
before the first hit, a site lookup, a PHP run for --config's token, room in a sender's queue,
the last answers once reading is done, standard input bringing nothing) is wrapped in a `Wait`.
A wait that lasts NOTICE_AFTER seconds (2 s) is announced with one line, "waiting for …", that
names what it waits for and how long it may last. `current()` names the wait in progress, for
the progress line; while a progress display shows it (`announce(False)`), no line is logged.
"""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("log_importer")

NOTICE_AFTER = 2.0  # seconds

_lock = threading.Lock()
_active: list = []  # the Waits in progress, oldest first
_announce = [True]


def current() -> str | None:
    """What the run waits for now (the latest wait begun and not ended), or None."""
    with _lock:
        return _active[-1].what if _active else None


def announce(on: bool):
    """Log a line for long waits (True), or leave them to a progress display (False)."""
    _announce[0] = on


class Wait:
    """One thing the run may wait for: `with Wait("what"):`, or start() and end() around a wait
    that spans several steps. `what` follows the words "waiting for". A wait that lasts `after`
    seconds is announced (logged at INFO); the same Wait is announced again only `repeat`
    seconds after its last notice (None: never again)."""

    def __init__(self, what: str, after: float = NOTICE_AFTER, repeat: float | None = 0.0):
        self.what = what
        self.after = after
        self.repeat = repeat
        self._timer = None       # None: not waiting; False: waiting without a notice to give
        self._last_notice = None

    def start(self) -> "Wait":
        if self._timer is not None:
            return self
        with _lock:
            _active.append(self)
        last = self._last_notice
        if last is None or (self.repeat is not None and time.monotonic() - last >= self.repeat):
            self._timer = threading.Timer(self.after, self._notice)
            self._timer.daemon = True
            self._timer.start()
        else:
            self._timer = False
        return self

    def end(self):
        timer, self._timer = self._timer, None
        if timer is None:
            return
        if timer:
            timer.cancel()
            timer.join()  # its thread ends now: none is left running (a fork may follow)
        with _lock:
            if self in _active:
                _active.remove(self)

    def _notice(self):
        self._last_notice = time.monotonic()
        if _announce[0]:
            log.info("waiting for %s", self.what)

    def __enter__(self) -> "Wait":
        return self.start()

    def __exit__(self, *exc):
        self.end()
