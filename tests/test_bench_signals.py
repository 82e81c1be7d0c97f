"""`make bench` stopped by SIGTERM leaves nothing running (benchmarks/children.py): real make, real
benchmark, real signal."""
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import ROOT

# make as a user runs it, not as a sub-make of `make test` (make[1], its flags)
TOP_LEVEL_ENV = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}


def _descendants(pid):
    """{pid: (start time, command line)} of every process below `pid`."""
    below = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open("/proc/%s/stat" % entry).read().rsplit(")", 1)[1].split()
                cmd = open("/proc/%s/cmdline" % entry, "rb").read().replace(b"\0", b" ").decode()
            except (OSError, IndexError):
                continue
            below.setdefault(int(fields[1]), []).append((int(entry), int(fields[19]), cmd))
    found, todo = {}, [pid]
    while todo:
        for child, started, cmd in below.get(todo.pop(), []):
            found[child] = (started, cmd)
            todo.append(child)
    return found


def _alive(pid, started):
    try:
        fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z" and int(fields[19]) == started


def test_make_bench_stopped_by_sigterm_leaves_nothing_running():
    proc = subprocess.Popen(["make", "bench", "BENCH_ARGS=--lines 100000 --repeat 1 --only embedded --parse-lines 0"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env=TOP_LEVEL_ENV)
    seen = {}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            seen.update(_descendants(proc.pid))
            cmds = [cmd for _, cmd in seen.values()]
            importers = [c for c in cmds if "-m log_importer --url" in c]  # the importer, then its workers
            if any("log-importer-endpoint" in c for c in cmds) and len(importers) >= 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the benchmark did not start an import")
        seen.update(_descendants(proc.pid))
        proc.send_signal(signal.SIGTERM)  # to make alone, as `kill <make's pid>` does
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # make passes SIGTERM on, says the benchmark ended with 143, and ends by the signal itself
    assert proc.returncode == -signal.SIGTERM, out
    assert re.search(r"\nmake: \*\*\* \[Makefile:\d+: bench\] Error 143\n", out), out
    time.sleep(0.5)
    left = [cmd for pid, (started, cmd) in seen.items() if _alive(pid, started)]
    assert left == [], left
    assert len(seen) >= 4  # the benchmark, the endpoint, the importer and its workers
