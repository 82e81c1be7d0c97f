"""The worker processes: results in order, failures reported, and stopping never hangs."""
import os
import signal

import pytest

from conftest import line
from log_importer import chunks
from log_importer.config import Config
from log_importer.workers import WorkerFailed, WorkerPool

import formats


def task(k, lines):
    data = "".join(text + "\n" for text in lines).encode()
    sites = chunks.SiteMap(static=chunks.Site(1, "https://www.example.com"))
    return chunks.ChunkTask(0, k, 0, data, formats.REGISTRY["ncsa_extended"], sites, 1)


def test_results_come_back_in_submission_order():
    pool = WorkerPool(3, Config())
    try:
        for k in range(10):
            pool.submit(task(k, [line()] * (k + 1)))
        got = [pool.next_result() for _ in range(10)]
        assert [r.seq for r in got] == list(range(10))
        assert [r.lines for r in got] == list(range(1, 11))
    finally:
        pool.close()
    assert all(not p.is_alive() for p in pool.processes)


def test_a_worker_error_is_reported_not_hung():
    pool = WorkerPool(2, Config())
    try:
        bad = task(0, [line()])
        bad.fmt = formats.Format("broken", r"(?P<ip>\S+")  # does not compile in the worker
        pool.submit(bad)
        with pytest.raises(WorkerFailed, match="invalid regex"):
            pool.next_result()
    finally:
        pool.close()


def test_a_killed_worker_is_reported_and_kill_never_hangs():
    pool = WorkerPool(2, Config())
    os.kill(pool.processes[0].pid, signal.SIGKILL)
    pool.processes[0].join(5)
    pool.submit(task(0, [line()]))
    with pytest.raises(WorkerFailed, match="died"):
        pool.next_result()
    pool.kill()
    assert all(not p.is_alive() for p in pool.processes)


def test_a_task_that_cannot_be_sent_is_reported_not_hung():
    """A task that does not pickle (the trial's JSON format with a closure) ended the feeder
    thread, and the run waited for its result for ever, deaf to signals."""
    pool = WorkerPool(2, Config())
    try:
        bad = task(0, [line()])
        bad.fmt = formats.Format("unpicklable", r"(?P<ip>\S+)")
        bad.fmt.json_map = {"ip": lambda v: v}
        pool.submit(bad)
        with pytest.raises(WorkerFailed, match="(?s)could not be sent.*pickle"):
            pool.next_result()
    finally:
        pool.close()


class _Sleeps:
    """Unpickled in the worker as a call to time.sleep: a worker stuck on its task."""

    def __reduce__(self):
        import time
        return (time.sleep, (60,))


def test_waiting_for_a_stuck_worker_ends_when_the_run_is_aborted():
    import threading
    import time
    pool = WorkerPool(1, Config())
    abort = threading.Event()
    try:
        pool.submit(_Sleeps())
        threading.Timer(0.5, abort.set).start()
        started = time.monotonic()
        assert pool.next_result(abort) is None
        assert time.monotonic() - started < 10
    finally:
        pool.kill()
    assert all(not p.is_alive() for p in pool.processes)
