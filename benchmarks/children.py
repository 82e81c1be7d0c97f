"""A benchmark that is stopped leaves nothing running.

`make bench` stopped with SIGTERM (GNU make passes it on to the command it runs), SIGHUP (the
terminal closed) or Ctrl-C: the benchmark stops every process it started, and theirs (importers
and their parsing workers, endpoints, generators), then exits with 128 + the signal's number,
its `finally` blocks run (temporary files). Python's default for SIGTERM would end the script
at once and leave them all running. The processes are found through /proc as the descendants of
this one, since run.py starts its importers and endpoints in sessions of their own (a timeout
kills a whole group), where the terminal's Ctrl-C does not reach them.

    import children
    children.install()   # first thing in main()
"""
from __future__ import annotations

import atexit
import os
import signal
import time

GRACE = 3.0  # seconds between SIGTERM and SIGKILL
_installed = []


def _stat(pid: int):
    """(parent pid, state, start time) of a process, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), fields[0], int(fields[19])


def descendants(pid: int | None = None) -> dict:
    """{pid: start time} of every process below `pid` (default: this one), zombies left out."""
    pid = os.getpid() if pid is None else pid
    below: dict = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None and st[1] != "Z":
                below.setdefault(st[0], []).append((int(entry), st[2]))
    found, todo = {}, [pid]
    while todo:
        for child, started in below.get(todo.pop(), []):
            found[child] = started
            todo.append(child)
    return found


def _alive(pid: int, started: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1] != "Z" and st[2] == started  # not a reused pid


def stop_all():
    """SIGTERM every descendant, SIGKILL the ones still there after GRACE seconds."""
    procs = descendants()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid, started in procs.items():
            if _alive(pid, started):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        deadline = time.monotonic() + GRACE
        while time.monotonic() < deadline and any(_alive(p, s) for p, s in procs.items()):
            time.sleep(0.05)
        procs.update(descendants())  # started meanwhile, or still ours


def _on_signal(signum, frame):
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # once is enough
    stop_all()
    raise SystemExit(128 + signum)


def install():
    """Stop every descendant on SIGTERM, SIGINT and SIGHUP, and at exit."""
    if _installed:
        return
    _installed.append(True)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    atexit.register(stop_all)
