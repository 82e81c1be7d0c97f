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
from .finishing import check_writable, finish, write_summary_json
from .positions import Positions
from .preflight import connect
from .pacing import Pacer
from .pump import Pump
from .sending import Sender, TrackerTransport
from .signals import StopSignals
from .site_days import SiteDays
from .sites import SiteResolver
from .sources import IDLE, STDIN, Source, SourceError, expand, head_lines
from .stats import MATOMO, Stats
from .tasks import TaskMaker
from .waiting import Wait
from .workers import WorkerFailed, WorkerPool

log = logging.getLogger("log_importer")
TEST_FORMAT_LINES = 10  # --test-format: the lines shown


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def display_names(files) -> list:
    """The inputs as the summary names them: standard input as "(stdin)"."""
    return ["(stdin)" if f == STDIN else f for f in files]


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
        self.outputs_checked = False  # --summary-json can be written (checked before the run)
        self.finished = False         # finish() wrote the summary and --summary-json

    def prepare(self):
        """Check the outputs can be written, expand the inputs; then (unless --dump-log-regex or
        --test-format) pre-flight, sites and positions. From the outputs' check on, a run that
        stops writes --summary-json (run()), an input missing included: its `inputs` are then
        the names as given."""
        c = self.config
        if not (c.dump_log_regex or c.test_format):
            check_writable(c)
            self.outputs_checked = True
            self.stats.files = display_names(c.files)
        self.files = expand(c.files)
        self.stats.files = display_names(self.files)
        self.stats.stdin_used = "-" in self.files
        if c.dump_log_regex or c.test_format:
            return
        with self.stats.timing(MATOMO) if not c.dry_run else contextlib.nullcontext():
            if not c.dry_run:
                self.connection = connect(c)
                self.stats.destination = "embedded" if self.connection.embedded else "matomo"
            self.resolver = SiteResolver(c, self.connection.api if self.connection else None, self.stats)
            self.resolver.start()
        self.positions.open(self.files, self.connection.tracker_url if self.connection else None)

    def run(self) -> int:
        c = self.config
        self.prepare()
        if c.dump_log_regex:
            return self.dump_regex()
        if c.test_format:
            return self.test_format()
        workers = worker_count(c)
        partitions = 1 if c.dry_run else max(1, c.recorders)
        self.stats.workers, self.stats.recorders, self.stats.cores = workers, partitions, available_cores()
        acks = self.acks = Acknowledger(self.stats, self.stats.files, self.stop_event,
                                        probe_hits=c.recorder_max_payload_size)
        self.positions.acks = acks
        acks.on_progress = self.positions.save
        if workers > 1:
            # Fork the workers before any thread of ours starts.
            self.pool = WorkerPool(workers, c)
        self.signals.install()
        self.batcher = Batcher(partitions, c.recorder_max_payload_size, self.start_sending(partitions))
        self.task_maker = TaskMaker(c, self.files, self.stats, self.positions, acks, self.resolver, self.stop_reading)
        sizes = [None if f == STDIN else os.path.getsize(f) for f in self.files]
        self.stats.bytes_total = None if None in sizes else sum(sizes)
        redirect = contextlib.nullcontext()
        if self._show_progress():
            from .progress import Progress
            terminal = self._terminal()
            self.progress = Progress(self.stats, self.err, self.stats.files, sizes, self._bytes_done,
                                     c.show_progress_delay, c.dry_run, terminal, self.stop_reading)
            if terminal:  # messages go above the bar, not through it
                from tqdm.contrib.logging import logging_redirect_tqdm
                redirect = logging_redirect_tqdm(loggers=[log])
        pump = Pump(c, self.stats, self.resolver, acks, self.batcher, self.pool, self.positions,
                    self.stop_reading, self.stop_event,
                    frozenset(i for i, f in enumerate(self.files) if f == STDIN), self.task_maker.consumed)
        complete = False
        try:
            with redirect:
                if self.progress is not None:
                    self.progress.start()
                pump.run(self.task_maker.tasks(partitions), workers)
                complete = not (self.stop_reading.is_set() or self.stop_event.is_set() or pump.limit_reached)
                if not self.stop_event.is_set():  # on a first signal too: what is read gets sent
                    self.finish_sending()
        finally:
            self.shutdown()
            self.hold_unreadable()
            self.positions.save(final=True)
            self.positions.close()
            self.stats.stopped = time.monotonic()
            if self.pacer is not None:
                self.stats.pace = (self.pacer.adaptive, self.pacer.limit, self.pacer.lowest, self.pacer.highest)
            self.stats.bytes_done = self._bytes_done(complete and not acks.fatal)
            if self.progress is not None:
                self.progress.close(complete and not acks.fatal, self.stats.bytes_done)
        self.record_positions(complete and not acks.fatal)
        self.stats.confirmed_ahead = self.positions.not_remembered()
        self.finished = True
        return finish(c, self.stats, acks.fatal, self.signals, self.stop_event.is_set(),
                      self.positions.store_path, self.out)

    def _bytes_done(self, complete: bool = False) -> int:
        """Input bytes done: every byte read once the run is complete; before, the bytes of the
        chunks handed on to the senders (the progress and the summary show it)."""
        return self.task_maker.bytes_read() if complete else self.task_maker.bytes_done()

    def hold_unreadable(self):
        """Inputs none of whose lines could be read with their format are not imported: their
        positions stay where the run found them, so that a run with the right format reads
        them (not "already imported"), and the run ends with exit status 1 saying so."""
        s = self.stats
        for fi in s.unreadable_inputs():
            s.held_inputs.add(fi)
            self.positions.hold(fi)
            name, detected = s.file_formats.get(fi, ("?", False))
            s.input_errors.append(
                "%s: none of its %s lines could be read with the format %s%s (see \"Why lines were invalid\"): "
                "nothing of it was imported%s" % (
                    s.files[fi], "{:,}".format(s.lines_by_file[fi]), name, " (detected)" if detected else "",
                    ", and its position is not saved: run again with its format" if self._remembered(fi) else ""))

    def _remembered(self, file_index: int) -> bool:
        resume = self.positions.file_state.get(file_index)
        return resume is not None and resume.remembered and not self.config.dry_run

    def record_positions(self, complete: bool):
        """Where each input stands after the run: finished, or the lines a next run skips (the
        inputs after the one being read when the run stopped were not started)."""
        s = self.stats
        for fi in range(len(self.files)):
            if fi in s.held_inputs:
                resume = self.positions.file_state.get(fi)
                s.resume_lines[fi] = resume.start[1] if resume is not None else 0
            elif complete or (fi < s.consumed_index and self.acks.all_done(fi)):
                s.inputs_finished.add(fi)
            elif fi <= s.consumed_index:
                s.resume_lines[fi] = self.acks.committed(fi)[1]

    def start_sending(self, partitions: int):
        """Start the senders (none in a dry run); return emit(batch), the batcher's outlet."""
        acks = self.acks
        if self.config.dry_run:
            def emit(batch):  # counted when built (Stats.hits_built); nothing is sent
                return None
            return emit
        conn = self.connection
        self.pacer = Pacer(partitions, self.config.auto_recorders, SiteDays(self.resolver.timezone))
        transport = self.transport = TrackerTransport(self.config, conn.client, conn.token, self.stop_event,
                                                      conn.tracker_url, conn.ssl_context, self.pacer)
        transport.on_retry = self._count_retry
        transport.on_attempt = self.stats.add_attempt
        self.signals.on_abort = transport.cut  # requests in progress end now, unconfirmed
        self.senders = [Sender(i, transport, acks) for i in range(partitions)]
        for s in self.senders:
            s.start()
        full = Wait("Matomo (the batches sent wait for its answers, and every sender's queue is full)",
                    repeat=60.0)

        def emit(batch):
            acks.batch_created(batch, self.batcher.head_offsets())
            sender = self.senders[batch.partition]
            if not sender.queue.full():  # only this thread puts: room now is room for the put
                queued = sender.put(batch, self.stop_event)
            else:
                with self.stats.timing(MATOMO), full:
                    queued = sender.put(batch, self.stop_event)
            if not queued:
                acks.batch_abandoned(batch)
        return emit

    def finish_sending(self):
        """Send what is left in the batcher and wait for every answer (senders end)."""
        in_flight = self.acks.in_flight + self.batcher.buffered() // max(1, self.config.recorder_max_payload_size)
        what = ("Matomo to answer the batches already sent (about %d; send the signal again to abandon them)"
                if self.stop_reading.is_set() else "Matomo to answer the last batches (about %d)")
        with self.stats.timing(MATOMO), Wait(what % max(1, in_flight)):
            self.batcher.flush_all()
            self.stop_senders()

    def stop_senders(self):
        """Tell the senders to end once their queues are done, and wait for them."""
        senders, self.senders = self.senders, []
        for s in senders:
            s.put(None, self.stop_event)
        for s in senders:
            s.join()

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
            self.stop_senders()
        finally:
            self.signals.restore()
        if self.transport is not None:
            self.transport.close()
        if self.connection is not None:
            self.connection.close()

    def _format_of(self, path):
        """(the format of the file at `path`, from the options and its first block; its first lines)."""
        c = self.config
        source = Source(path, last_line_complete=True)
        try:
            first = next((b for b in source.blocks(c.chunk_bytes) if b[1] is not IDLE), (0, b""))
            head = head_lines(first[1], c.encoding)
            return formats.resolve(c, head, source.display_name), head
        finally:
            source.close()

    def dump_regex(self) -> int:
        fmt, _ = self._format_of(self.files[0])
        self.out.write("".join(text + "\n" for text in formats.describe(fmt)))
        return EXIT_OK

    def test_format(self) -> int:
        """--test-format FILE: the format of FILE (given or detected) and the fields it reads from
        the first lines, as a table, with the `cdt` each line's date gives (in UTC, after
        --log-timezone and --add-to-date)."""
        from formats.explain import fields_table
        from .chunks import date_converter
        fmt, head = self._format_of(self.config.test_format)
        dates = date_converter(fmt, self.config)
        self.out.write("format: %s\n" % fmt.name)
        self.out.write("".join(text + "\n" for text in fields_table(fmt, head, TEST_FORMAT_LINES, dates=dates)))
        return EXIT_OK

    def _terminal(self) -> bool:
        return hasattr(self.err, "isatty") and self.err.isatty()

    def _show_progress(self):
        """On a terminal by default; elsewhere (a plain line) with --show-progress."""
        c = self.config
        if c.show_progress is not None:
            return c.show_progress
        return self._terminal()


def run(config: Config, out=None, err=None) -> int:
    """Run one import and return its exit status; a UserError carries the one-line reason.

    A run that stops before finishing (Matomo misconfigured, a wrong token, an undetectable
    format: exit 2) still writes --summary-json, with the reason in `error`, so that a cron
    monitor reading it sees the failure (README, "--summary-json").
    """
    importer = Importer(config, out, err)
    try:
        return importer.run()
    except (formats.FormatError, SourceError) as e:
        failure: UserError = UsageError(str(e))
    except WorkerFailed as e:  # a bug, not a user error: say so in one line, details with --debug
        log.debug("%s", e)
        failure = ImportFailed("internal error in a parsing worker (%s); run with --debug for details, "
                               "and please report it" % str(e).strip().splitlines()[-1])
    except UserError as e:
        failure = e
    if importer.outputs_checked and not importer.finished:
        importer.stats.stopped = time.monotonic()
        write_summary_json(config, importer.stats, failure.exit_code, str(failure), importer.signals.name, None)
    raise failure from None


__all__ = ["run", "Importer", "UserError"]
