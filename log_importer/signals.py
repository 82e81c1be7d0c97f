"""Signals: SIGINT and SIGTERM stop a run in two steps.

The first stops reading (`stop_reading`): what was read is sent, batches already sent finish,
positions are saved, the summary is printed, and the exit status is 130 or 143. A second one
aborts (`stop_event`): requests in progress are cut (`on_abort`) and their hits stay pending.
"""
from __future__ import annotations

import logging
import signal
import threading

from .errors import EXIT_SIGINT, EXIT_SIGTERM

log = logging.getLogger("log_importer")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """The run's handler of SIGINT/SIGTERM; `received` is the first signal number, or None."""

    def __init__(self, stop_reading: threading.Event, stop_event: threading.Event):
        self.stop_reading = stop_reading
        self.stop_event = stop_event
        self.received: int | None = None
        self.on_abort = None  # called on the second signal (cuts the requests in progress)
        self._old: dict = {}

    def install(self):
        """Take over SIGINT/SIGTERM (main thread only: elsewhere signals stay as they are)."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._old = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}

    def restore(self):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old = {}

    def _handle(self, signum, frame):
        if self.received is None:
            self.received = signum
            self.stop_reading.set()
            log.warning("%s: stopping; batches already sent will finish (again to abort them)",
                        signal.Signals(signum).name)
        else:
            first = not self.stop_event.is_set()
            self.stop_event.set()
            if first:
                log.warning("%s again: abandoning the batches in flight (their hits stay pending for the next run)",
                            signal.Signals(signum).name)
            if self.on_abort is not None:
                self.on_abort()

    @property
    def name(self) -> str | None:
        """"SIGTERM", "SIGINT" or None."""
        return signal.Signals(self.received).name if self.received is not None else None

    @property
    def exit_code(self) -> int | None:
        """143 for SIGTERM, 130 for SIGINT, None when no signal came."""
        if self.received is None:
            return None
        return EXIT_SIGTERM if self.received == signal.SIGTERM else EXIT_SIGINT
