"""run(config): one import, from the inputs to the summary. Everything else is a stage it calls.

Flow: sources → chunk tasks (format resolved once per file) → workers (parse, classify, build,
serialise) → results consumed in file order → batcher (per-visitor partitions) → senders →
acknowledger → summary. Chunk results come back in order through a bounded window, and senders
have bounded queues, so memory stays flat whatever the input size.
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import os
import signal
import sys
import threading
import time
from collections import deque

import httpx
import orjson

import formats

from . import chunks
from .acks import Acknowledger
from .api import MatomoApi, make_client, obtain_token, with_suffix
from .batching import Batcher
from .checkpoint import CheckpointStore, FileIdentity, default_state_dir, destination_of
from .config import Config
from .errors import EXIT_FAILED, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, ConfigError, ImportFailed, UsageError, UserError
from .responses import OK, Outcome, classify_bulk
from .sending import Sender, TrackerTransport
from .sites import SiteResolver
from .workers import WorkerFailed, WorkerPool
from .sources import Source, SourceError, copy_lines, expand, head_lines
from .stats import Stats
from .summary import render, summary_data

log = logging.getLogger("log_importer")

PARTIAL_BATCH_MAX_AGE = 2.0  # seconds a partial batch may wait for more hits


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
    def __init__(self, config: Config, out=None, err=None):
        self.config = config
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.stats = Stats()
        self.stop_event = threading.Event()     # abort: stop sending at once
        self.stop_reading = threading.Event()   # stop reading; let queued batches finish
        self.signal_received = None
        self.store: CheckpointStore | None = None
        self.file_state: dict = {}  # file index -> {"identity", "entry"} of its checkpoint
        self.batcher = None
        self.acks = None
        self._state_lock = threading.Lock()
        self._last_saved = None
        self._last_sync = 0.0
        self.client = None
        self.transport = None
        self.api = None
        self.token = None
        self.pool = None
        self.senders: list[Sender] = []
        self.progress = None
        self._processor = None
        self._sources_done_bytes = 0
        self._current_source: Source | None = None

    # Set-up ----------------------------------------------------------------------------
    def prepare(self):
        c = self.config
        self.files = expand(c.files)
        self.stats.files = ["(stdin)" if f == "-" else f for f in self.files]
        self.stats.stdin_used = "-" in self.files
        if c.dump_log_regex:
            return
        if not c.dry_run:
            self.client = make_client(c)
            self.api = MatomoApi(c, self.client)
            self.token = obtain_token(c, self.api)
            self.api.token = self.token
            self.check_matomo()
        self.resolver = SiteResolver(c, self.api, self.stats)
        self.resolver.start()
        if c.url and not (c.dry_run and c.reimport):
            self.store = CheckpointStore(c.state_dir or default_state_dir(), destination_of(c)).open(
                lock=not c.dry_run)

    def check_matomo(self):
        """Before any hit: the API answers and takes the token; the tracker answers bulk JSON."""
        c = self.config
        version = self.api.call("API.getMatomoVersion")
        log.debug("Matomo version: %s", version.get("value") if isinstance(version, dict) else version)
        if not c.bulk_tracking:
            return
        url = with_suffix(c.tracker_url, c.request_suffix, "queuedtracking=0")
        body = b'{"requests":[],"token_auth":' + orjson.dumps(self.token) + b"}"
        try:
            r = self.client.post(url, content=body, headers={"Content-Type": "application/json"})
        except httpx.TimeoutException:
            raise ConfigError("the tracker at %s did not answer within --request-timeout=%g s"
                              % (c.tracker_url, c.request_timeout)) from None
        except httpx.HTTPError as e:
            raise ConfigError("cannot reach the tracker at %s: %s (check --url and --tracker-endpoint-path)"
                              % (c.tracker_url, e)) from None
        outcome = classify_bulk(r.status_code, r.headers, r.content, 0)
        if outcome.kind != OK:
            if r.status_code == 404:
                raise ConfigError("the tracker %s does not exist (HTTP 404): check --url and "
                                  "--tracker-endpoint-path" % c.tracker_url)
            raise ConfigError("the tracker at %s is not usable: %s" % (c.tracker_url, outcome.message))

    # Tasks -----------------------------------------------------------------------------
    def _format_for(self, source: Source, first_block: bytes):
        c = self.config
        fmt = formats.resolve(c, head_lines(first_block, c.encoding), source.display_name)
        parser = fmt.compile()
        if (c.idsite is None and not c.replay_tracking and not c.log_hostname and not c.dry_run
                and "host" not in parser.present):
            raise UsageError("the log format of %s (%s) has no host: give the Matomo site with --idsite "
                             "(or a host with --log-hostname)" % (source.display_name, fmt.name))
        for group in list(c.page_cvar_groups) + list(c.visit_cvar_groups):
            if not parser.has_group(group):
                log.warning("the format %s has no group %r (for --regex-group-to-*-cvar)", fmt.name, group)
        log.debug("format of %s: %s", source.display_name, fmt.name)
        return fmt

    def tasks(self, partitions):
        c = self.config
        to_skip = c.skip
        for fi, name in enumerate(self.files):
            source = Source(name)
            self._current_source = source
            try:
                blocks = _guard(source.blocks(c.chunk_bytes), source, self.stats)
                first = next(blocks, None)
                if first is None or not first[1].strip():
                    continue
                fmt = self._format_for(source, first[1])
                try:
                    start = self._resume_point(fi, source, first[1])
                except _SameContent as same:
                    log.warning("%s starts like %s (a copy?): it is not imported twice", source.display_name, same)
                    continue
                self.acks.chunk_consumed(fi, *start)
                skipped_here = 0
                seq = 0
                for offset, data in itertools.chain([first], blocks):
                    if offset + len(data) <= start[0]:
                        continue  # imported by an earlier run
                    if offset < start[0]:
                        data, offset = data[start[0] - offset:], start[0]
                    if to_skip:
                        data, offset, skipped = _skip_lines(data, offset, to_skip)
                        to_skip -= skipped
                        skipped_here += skipped
                        self.stats.lines_read += skipped
                        self.stats.lines_skipped_option += skipped
                        # skipped lines count like filtered ones: lines are numbered past them
                        self.acks.chunk_consumed(fi, offset, start[1] + skipped_here)
                        if not data:
                            continue
                    yield chunks.ChunkTask(fi, seq, offset, data, fmt, self.resolver.site_map(), partitions)
                    seq += 1
            finally:
                if source.size:
                    self._sources_done_bytes += source.size
                self._current_source = None
                source.close()

    def _resume_point(self, fi, source, head: bytes):
        """(offset, lines) where this file starts: after what an earlier run imported."""
        if source.is_stdin or self.store is None:
            return (0, 0)
        identity = FileIdentity.of(head)
        entry = self.store.find(head) if identity is not None else None
        for other, st in self.file_state.items():
            if identity is not None and (st["identity"] == identity or (entry is not None and st["entry"] is entry)):
                raise _SameContent(self.stats.files[other])
        self.file_state[fi] = {"identity": identity, "entry": entry}
        if identity is None:
            log.info("%s is too short to be recognised later: it is not remembered", source.display_name)
            return (0, 0)
        if entry is None or self.config.reimport:
            return (0, 0)
        start = (int(entry.get("offset", 0)), int(entry.get("lines", 0)))
        if start[1]:
            when = str(entry.get("updated") or entry.get("first_imported") or "")[:10]
            self.stats.resumed.append((source.display_name, start[1], when))
        return start

    def save_state(self, final=False):
        """Write every file's committed position, atomically, when it moved (any thread).

        Called after every confirmed batch, so a run killed with SIGKILL resends at most the
        batches in flight; fsync'ed every checkpoint_interval seconds and at the end.
        """
        if self.store is None or self.config.dry_run or self.acks is None:
            return
        with self._state_lock:
            positions = {fi: self.acks.committed(fi) for fi, st in list(self.file_state.items())
                         if st["identity"] is not None}
            sync = final or time.monotonic() - self._last_sync >= self.config.checkpoint_interval
            if positions == self._last_saved and not final:
                return
            for fi, (offset, lines) in positions.items():
                st = self.file_state[fi]
                if offset == 0 and st["entry"] is None:
                    continue
                st["entry"] = self.store.record(st["entry"], st["identity"], self.stats.files[fi], offset, lines)
            try:
                self.store.save(sync=sync)
            except OSError as e:
                log.error("cannot save the import state in %s: %s", self.store.state_dir, e.strerror)
                return
            self._last_saved = positions
            if sync:
                self._last_sync = time.monotonic()

    def bytes_read(self):
        current = self._current_source.position if self._current_source is not None else 0
        return self._sources_done_bytes + current

    # The run ---------------------------------------------------------------------------
    def run(self) -> int:
        c = self.config
        self.prepare()
        if c.dump_log_regex:
            return self.dump_regex()
        workers = worker_count(c)
        partitions = 1 if c.dry_run else max(1, c.recorders)
        acks = self.acks = Acknowledger(self.stats, self.stats.files, self.stop_event)
        acks.on_progress = self.save_state
        self.limit_left = c.debug_request_limit
        if workers > 1:
            # Fork the workers before any thread of ours starts.
            self.pool = WorkerPool(workers, c)
        self._install_signals()
        if c.dry_run:
            def emit(batch):
                acks.batch_created(batch, self.batcher.head_offsets())
                acks.batch_done(batch, Outcome(OK, tracked=batch.count))
        else:
            transport = self.transport = TrackerTransport(c, self.client, self.token, self.stop_event)
            transport.on_retry = self._count_retry
            self.senders = [Sender(i, transport, acks) for i in range(partitions)]
            for s in self.senders:
                s.start()

            def emit(batch):
                acks.batch_created(batch, self.batcher.head_offsets())
                if not self.senders[batch.partition].put(batch, self.stop_event):
                    acks.batch_abandoned(batch)
        self.batcher = Batcher(partitions, c.recorder_max_payload_size, emit)
        if self._show_progress():
            from .progress import Progress
            total = sum(os.path.getsize(f) for f in self.files if f != "-") or None
            self.progress = Progress(total, self.stats, self.err, c.show_progress_delay, c.dry_run)
        redirect = contextlib.nullcontext()
        if self.progress is not None:  # messages go above the bar, not through it
            from tqdm.contrib.logging import logging_redirect_tqdm
            redirect = logging_redirect_tqdm(loggers=[log])
        try:
            with redirect:
                self.pump(workers, partitions)
                if not self.stop_event.is_set():  # on a first signal too: what is read gets sent
                    self.batcher.flush_all()
        finally:
            self.shutdown()
            self.save_state(final=True)
            if self.store is not None:
                self.store.close()
        return self.finish()

    def _install_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum, frame):
            if self.signal_received is None:
                self.signal_received = signum
                self.stop_reading.set()
                log.warning("%s: stopping; batches already sent will finish (again to abort them)",
                            signal.Signals(signum).name)
            else:
                self.stop_event.set()
                if self.transport is not None:
                    self.transport.cut()  # requests in progress end now, unconfirmed
        self._old_signals = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}

    def pump(self, workers, partitions):
        c = self.config
        window: deque = deque()
        depth = workers * 2 + 1
        tasks = self.tasks(partitions)
        exhausted = False
        line_bases: dict = {}  # file index -> lines before its next chunk
        next_save = time.monotonic() + c.checkpoint_interval
        while True:
            if time.monotonic() >= next_save:
                self.save_state()  # also moves positions over skipped lines when nothing is sent
                next_save = time.monotonic() + c.checkpoint_interval
            if self.stop_reading.is_set():
                break
            while not exhausted and len(window) < depth and not self.stop_event.is_set():
                task = next(tasks, None)
                if task is None:
                    exhausted = True
                    break
                if self.pool is not None:
                    self.pool.submit(task)
                window.append(task)
            if not window or self.stop_event.is_set():
                break
            task = window.popleft()
            if self.pool is not None:
                result = self.pool.next_result()
            else:
                if self.limit_left is not None:
                    task.max_valid = self.limit_left
                result = self.processor.process(task)
            while result.need_keys:
                try:
                    self.resolver.resolve(result.need_keys)
                except UserError as e:  # the API failed mid-run: hits may have been sent
                    self.acks.abort(str(e))
                    break
                task = dataclasses.replace(task, sites=self.resolver.site_map())
                result = self.processor.process(task)
            if self.stop_event.is_set():
                break
            fi = result.file_index
            if fi not in line_bases:
                line_bases[fi] = self.acks.committed(fi)[1]  # lines imported by earlier runs
            base = line_bases[fi]
            line_bases[fi] = base + result.lines
            self.stats.add_chunk(result)
            for i, reason, text in result.invalid_samples:
                log.debug("invalid line %s:%d (%s): %s", self.stats.files[fi], base + i + 1, reason, text)
            self.batcher.add(result, base, lambda: self.acks.chunk_consumed(
                fi, result.end, base + result.lines, self.batcher.head_offsets()))
            self.batcher.flush_older_than(PARTIAL_BATCH_MAX_AGE)
            if self.progress is not None:
                self.progress.update(self.bytes_read())
            if self.limit_left is not None:
                self.limit_left -= result.lines - result.counts.get("invalid", 0) - result.counts.get("comment", 0)
                if result.limit_reached or self.limit_left <= 0:
                    log.info("reached --debug-request-limit=%d: stopping", c.debug_request_limit)
                    break
        tasks.close()

    @property
    def processor(self):
        if self._processor is None:
            self._processor = chunks.ChunkProcessor(self.config)
        return self._processor

    def _count_retry(self, outcome):
        with self.stats.lock:
            self.stats.retries += 1

    def shutdown(self):
        for sig, old in getattr(self, "_old_signals", {}).items():
            signal.signal(sig, old)
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
        if self.transport is not None:
            self.transport.close()
        if self.client is not None:
            self.client.close()

    def finish(self) -> int:
        self.stats.stopped = time.monotonic()
        if self.progress is not None:
            self.progress.close(self.bytes_read())
        interrupted = None
        if self.signal_received is not None:
            interrupted = "stopped by %s: %s" % (
                signal.Signals(self.signal_received).name,
                "in-flight batches were abandoned" if self.stop_event.is_set() and not self.acks.fatal
                else "batches already sent were finished")
        self.write_invalid_lines()
        self.out.write(render(self.stats, self.config, interrupted or self.acks.fatal,
                              self.store.path if self.store is not None and not self.config.dry_run else None))
        self.out.flush()
        if self.signal_received is not None:
            code = EXIT_SIGTERM if self.signal_received == signal.SIGTERM else EXIT_SIGINT
        elif self.acks.fatal or self.stats.input_errors:
            code = EXIT_FAILED
        else:
            code = EXIT_OK
        self.write_summary_json(code)
        if code == EXIT_FAILED and self.acks.fatal:
            raise ImportFailed(self.acks.fatal + ("; run the same command again to send what is left"
                                                  if self.store is not None else ""))
        if code == EXIT_FAILED:
            raise ImportFailed("%d input(s) could not be read to the end: %s"
                               % (len(self.stats.input_errors), "; ".join(self.stats.input_errors)))
        return code

    def write_invalid_lines(self):
        """--invalid-lines-file: the log lines of the hits Matomo refused, as they were."""
        path = self.config.invalid_lines_file
        if not path or not self.stats.rejected_lines:
            return
        wanted: dict = {}
        for name, line in self.stats.rejected_lines:
            wanted.setdefault(name, set()).add(line)
        try:
            with open(path, "ab") as out:
                for name, lines in wanted.items():
                    if name == "(stdin)":
                        log.warning("the refused lines of standard input cannot be written to %s", path)
                    else:
                        copy_lines(name, lines, out, self.config.chunk_bytes)
        except (OSError, UserError, SourceError) as e:
            log.error("cannot write --invalid-lines-file %s: %s", path, e)

    def write_summary_json(self, code):
        path = self.config.summary_json
        if not path:
            return
        data = summary_data(self.stats, self.config, code, self.acks.fatal,
                            signal.Signals(self.signal_received).name if self.signal_received else None,
                            self.store.path if self.store is not None else None)
        try:
            tmp = path + ".tmp"
            with open(tmp, "w", encoding="utf8") as f:
                json.dump(data, f, indent=1)
            os.replace(tmp, path)
        except OSError as e:
            log.error("cannot write --summary-json %s: %s", path, e.strerror)

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


def _guard(blocks, source, stats):
    """The blocks of one input; a read error (a truncated archive) ends that input, not the run."""
    try:
        yield from blocks
    except SourceError as e:
        log.error("%s; the lines before were imported", e)
        stats.input_errors.append(str(e))


class _SameContent(Exception):
    """An input whose first bytes are those of another input of the same run."""


def _skip_lines(data: bytes, offset: int, n: int):
    """Drop up to n whole lines from the front of a block: (rest, new offset, lines dropped)."""
    pos, dropped = 0, 0
    while dropped < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            if pos < len(data):
                dropped += 1
                pos = len(data)
            break
        pos = nl + 1
        dropped += 1
    return data[pos:], offset + pos, dropped


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
