"""run(config): one import, from the inputs to the summary. Everything else is a stage it calls.

Flow: pre-flight (preflight.py) → positions of earlier runs (positions.py) → chunk tasks, format
resolved once per file (tasks.py) → workers (chunks.py: parse, classify, build, serialise) →
results consumed in file order (pump.py) → batcher (per-visitor partitions) → senders →
acknowledger → finishing (finishing.py: summary, exit status). SIGINT/SIGTERM: signals.py.
Chunk results come back in order through a bounded window, and senders have bounded queues, so
memory stays flat whatever the input size.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time

import formats

from .acks import Acknowledger
from .batching import Batcher
from .config import Config
from .errors import EXIT_OK, ImportFailed, UsageError, UserError
from .finishing import finish
from .positions import Positions
from .preflight import connect
from .pacing import Pacer
from .pump import Pump
from .responses import OK, Outcome
from .sending import Sender, TrackerTransport
from .signals import StopSignals
from .site_days import SiteDays
from .sites import SiteResolver
from .sources import Source, SourceError, expand, head_lines
from .stats import Stats
from .tasks import TaskMaker
from .workers import WorkerFailed, WorkerPool

log = logging.getLogger("log_importer")


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def worker_count(config: Config) -> int:
    if config.debug_request_limit is not None:
        return 1  # the limit is counted in order, inline
    return max(1, config.workers or available_cores())


class Importer:
    """One run: set up the stages, pump the inputs through them, shut down, finish."""

    def __init__(self, config: Config, out=None, err=None):
        self.config = config
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.stats = Stats()
        self.stop_event = threading.Event()     # abort: stop sending at once
        self.stop_reading = threading.Event()   # stop reading; let queued batches finish
        self.signals = StopSignals(self.stop_reading, self.stop_event)
        self.positions = Positions(config, self.stats)
        self.connection = None
        self.transport = None
        self.pool = None
        self.senders: list[Sender] = []
        self.pacer = None
        self.batcher = None
        self.acks = None
        self.progress = None
        self.task_maker = None

    def prepare(self):
        """Expand the inputs; then (unless --dump-log-regex) pre-flight, sites and positions."""
        c = self.config
        self.files = expand(c.files)
        self.stats.files = ["(stdin)" if f == "-" else f for f in self.files]
        self.stats.stdin_used = "-" in self.files
        if c.dump_log_regex:
            return
        if not c.dry_run:
            self.connection = connect(c)
        self.resolver = SiteResolver(c, self.connection.api if self.connection else None, self.stats)
        self.resolver.start()
        self.positions.open()

    def run(self) -> int:
        c = self.config
        self.prepare()
        if c.dump_log_regex:
            return self.dump_regex()
        workers = worker_count(c)
        partitions = 1 if c.dry_run else max(1, c.recorders)
        acks = self.acks = Acknowledger(self.stats, self.stats.files, self.stop_event,
                                        probe_hits=c.recorder_max_payload_size)
        self.positions.acks = acks
        acks.on_progress = self.positions.save
        if workers > 1:
            # Fork the workers before any thread of ours starts.
            self.pool = WorkerPool(workers, c)
        self.signals.install()
        self.batcher = Batcher(partitions, c.recorder_max_payload_size, self.start_sending(partitions))
        self.task_maker = TaskMaker(c, self.files, self.stats, self.positions, acks, self.resolver)
        if self._show_progress():
            from .progress import Progress
            total = sum(os.path.getsize(f) for f in self.files if f != "-") or None
            self.progress = Progress(total, self.stats, self.err, c.show_progress_delay, c.dry_run)
        redirect = contextlib.nullcontext()
        if self.progress is not None:  # messages go above the bar, not through it
            from tqdm.contrib.logging import logging_redirect_tqdm
            redirect = logging_redirect_tqdm(loggers=[log])
        pump = Pump(c, self.stats, self.resolver, acks, self.batcher, self.pool, self.positions.save,
                    self.stop_reading, self.stop_event, self.progress, self.task_maker.bytes_read)
        try:
            with redirect:
                pump.run(self.task_maker.tasks(partitions), workers)
                if not self.stop_event.is_set():  # on a first signal too: what is read gets sent
                    self.batcher.flush_all()
        finally:
            self.shutdown()
            self.positions.save(final=True)
            self.positions.close()
        self.stats.stopped = time.monotonic()
        if self.pacer is not None:
            self.stats.pace = (self.pacer.adaptive, self.pacer.limit, self.pacer.lowest, self.pacer.highest)
        if self.progress is not None:
            self.progress.close(self.task_maker.bytes_read())
        return finish(c, self.stats, acks.fatal, self.signals, self.stop_event.is_set(),
                      self.positions.store_path, self.out)

    def start_sending(self, partitions: int):
        """Start the senders (none in a dry run); return emit(batch), the batcher's outlet."""
        acks = self.acks
        if self.config.dry_run:
            def emit(batch):
                acks.batch_created(batch, self.batcher.head_offsets())
                acks.batch_done(batch, Outcome(OK, tracked=batch.count))
            return emit
        conn = self.connection
        self.pacer = Pacer(partitions, self.config.auto_recorders, SiteDays(self.resolver.timezone))
        transport = self.transport = TrackerTransport(self.config, conn.client, conn.token, self.stop_event,
                                                      self.pacer)
        transport.on_retry = self._count_retry
        self.signals.on_abort = transport.cut  # requests in progress end now, unconfirmed
        self.senders = [Sender(i, transport, acks) for i in range(partitions)]
        for s in self.senders:
            s.start()

        def emit(batch):
            acks.batch_created(batch, self.batcher.head_offsets())
            if not self.senders[batch.partition].put(batch, self.stop_event):
                acks.batch_abandoned(batch)
        return emit

    def _count_retry(self, outcome):
        with self.stats.lock:
            self.stats.retries += 1

    def shutdown(self):
        """Stop the workers and the senders, restore the signals, close the connections. The
        senders finish their queued batches here: a second signal must still cut them."""
        try:
            if self.pool is not None:
                if self.stop_event.is_set() or self.stop_reading.is_set():
                    self.pool.kill()  # chunks still being parsed are not wanted
                else:
                    self.pool.close()
                self.pool = None
            for s in self.senders:
                s.put(None, self.stop_event)
            for s in self.senders:
                s.join()
        finally:
            self.signals.restore()
        if self.transport is not None:
            self.transport.close()
        if self.connection is not None:
            self.connection.close()

    def dump_regex(self) -> int:
        source = Source(self.files[0])
        try:
            first = next(source.blocks(self.config.chunk_bytes), (0, b""))
            fmt = formats.resolve(self.config, head_lines(first[1], self.config.encoding), source.display_name)
        finally:
            source.close()
        self.out.write("format: %s\nregex: %s\n" % (fmt.name, fmt.regex))
        return EXIT_OK

    def _show_progress(self):
        c = self.config
        if c.show_progress is not None:
            return c.show_progress
        return hasattr(self.err, "isatty") and self.err.isatty()


def run(config: Config, out=None, err=None) -> int:
    """Run one import and return its exit status; a UserError carries the one-line reason."""
    try:
        return Importer(config, out, err).run()
    except (formats.FormatError, SourceError) as e:
        raise UsageError(str(e)) from None
    except WorkerFailed as e:  # a bug, not a user error: say so in one line, details with --debug
        log.debug("%s", e)
        raise ImportFailed("internal error in a parsing worker (%s); run with --debug for details, "
                           "and please report it" % str(e).strip().splitlines()[-1]) from None


__all__ = ["run", "Importer", "UserError"]
