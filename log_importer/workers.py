"""Worker processes for the chunk stage, with results in submission order.

Each worker has its own task pipe and result pipe, so no lock is shared between processes:
a worker that dies or is killed can never leave the others, or the parent, waiting on a lock
(multiprocessing.Pool's terminate() can hang that way). Task k goes to worker k mod N, and each
worker answers in order, so result k is the next one read from that worker. Tasks are sent by
one feeder thread per worker, so the parent never blocks on a send while a worker blocks on
sending it a result.
"""
from __future__ import annotations

import multiprocessing
import queue
import threading
import traceback

from . import chunks
from .config import Config


PIPE_BYTES = 1 << 20  # Linux's default limit for a pipe's size (/proc/sys/fs/pipe-max-size)
ABORT_POLL_SECONDS = 0.2  # next_result: how often a wait for a worker looks at the abort event


class WorkerFailed(Exception):
    """A worker raised, or died, while processing a chunk."""


class _Failure:
    def __init__(self, text):
        self.text = text


def _worker_main(config: Config, tasks, results):
    chunks.init_worker(config)
    while True:
        try:
            task = tasks.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            result = chunks.run_task(task)
        except Exception:
            result = _Failure(traceback.format_exc())
        try:
            results.send(result)
        except (BrokenPipeError, OSError):
            return


def _widen(conn, size=PIPE_BYTES):
    """Linux: a pipe that holds a whole chunk, so that a send is one copy and one wake-up
    instead of one per 64 KiB (the default). Elsewhere, or past the system's limit, as is."""
    try:
        import fcntl
        fcntl.fcntl(conn.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (ImportError, OSError):
        pass


class WorkerPool:
    def __init__(self, size: int, config: Config):
        ctx = multiprocessing.get_context("fork")
        self.size = size
        self.processes, self.results, self._feeds, task_ends = [], [], [], []
        for i in range(size):  # every fork before any thread starts
            task_r, task_w = ctx.Pipe(duplex=False)
            result_r, result_w = ctx.Pipe(duplex=False)
            for conn in (task_w, result_w):
                _widen(conn)
            p = ctx.Process(target=_worker_main, args=(config, task_r, result_w), name="chunk-worker-%d" % i,
                            daemon=True)
            p.start()
            task_r.close()
            result_w.close()
            self.processes.append(p)
            self.results.append(result_r)
            task_ends.append(task_w)
        self._feed_errors: dict[int, str] = {}
        for i, task_w in enumerate(task_ends):
            feed: queue.Queue = queue.Queue()
            threading.Thread(target=self._feed, args=(i, feed, task_w), name="feeder-%d" % i, daemon=True).start()
            self._feeds.append(feed)
        self._submitted = 0
        self._received = 0

    def _feed(self, index: int, feed: queue.Queue, conn):
        """Send worker `index` its tasks. A task that cannot be sent (it does not pickle: a bug)
        is recorded, so that next_result raises WorkerFailed with the reason instead of waiting
        for a result that never comes."""
        while True:
            task = feed.get()
            try:
                conn.send(task)
            except (BrokenPipeError, OSError):
                return
            except Exception:
                self._feed_errors[index] = traceback.format_exc()
                return
            if task is None:
                conn.close()
                return

    def submit(self, task):
        self._feeds[self._submitted % self.size].put(task)
        self._submitted += 1

    def next_result(self, abort: threading.Event | None = None):
        """The result of the oldest task not yet collected; None when `abort` is set while
        waiting for it (a second SIGINT/SIGTERM: a worker stuck on a line must not keep the run
        from stopping). Raises WorkerFailed when the worker failed, died or never got the task."""
        index = self._received % self.size
        conn = self.results[index]
        try:
            while not conn.poll(ABORT_POLL_SECONDS):
                if index in self._feed_errors:  # the task never reached the worker
                    raise WorkerFailed("a chunk could not be sent to a parsing worker:\n" + self._feed_errors[index])
                if abort is not None and abort.is_set():
                    return None
            result = conn.recv()
        except (EOFError, OSError):
            raise WorkerFailed("a parsing worker died (exit code %s)" % self.processes[index].exitcode) from None
        self._received += 1
        if isinstance(result, _Failure):
            raise WorkerFailed("a parsing worker failed:\n" + result.text)
        return result

    def close(self, timeout: float = 5.0):
        """Stop the workers: ask nicely, then kill what is left. Never hangs."""
        for feed in self._feeds:
            feed.put(None)
        for p in self.processes:
            p.join(timeout)
        for p in self.processes:
            if p.is_alive():
                p.kill()
                p.join(1.0)
        for conn in self.results:
            conn.close()

    def kill(self):
        for p in self.processes:
            if p.is_alive():
                p.kill()
        self.close(timeout=1.0)
