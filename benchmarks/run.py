"""End-to-end speed and memory of the importer (issue 5): what `make bench` runs.

    .venv/bin/python benchmarks/run.py [--lines 1000000] [--quick] [--repeat 3] [--big]
                                       [--profile] [--only a,b] [--timeout 900] [--json FILE]

Generates a combined access log with the project's generator, `python -m log_importer.loggen`
(cached in benchmarks/data/,
keyed by lines and seed), then runs the importer CLI (`python -m log_importer`) as a separate
process per scenario, `--repeat` rounds, the scenarios interleaved within each round so that
the machine's noise spreads evenly over them. Per run it measures:

- wall time from process start to exit (so lines/s includes interpreter start-up and the
  Matomo checks), and the importer's own "Lines parsed per second" for reference;
- CPU seconds (user+sys) of the importer and every process it waited for (its workers), from
  os.wait4; cross-checked against /proc sampling;
- every ~50 ms, VmRSS of the importer and all its descendants (/proc/<pid>/status), summed:
  the peak of that sum, and the peak of the summed Pss (/proc/<pid>/smaps_rollup, which shares
  the pages forked workers have in common with the parent fairly); plus ru_maxrss from wait4
  (the largest single process);
- for endpoint scenarios, the endpoint's CPU seconds during the run, and that the endpoint
  received exactly the hits the importer says it imported.

Scenarios: dry run (default workers / --workers 1), the instant endpoint (benchmarks/
instant_endpoint.py: answers at once; default (--recorders auto) / --workers 1 / --recorders 1
/ --recorders 4), and the embedded
endpoint (log-importer-endpoint on a fresh SQLite db per run). `--big` adds a 10x log (the
generated log concatenated 10 times) for the memory claim, run once per scenario listed in
--big-scenarios.

`--profile` runs the chunk stage (ChunkProcessor.process: parse, classify, build, serialise)
in this process on --profile-lines lines under cProfile, attributes the time to stages, then
re-times each stage without the profiler on the recorded inputs, and times the parent's
sending path (Batcher + TrackerTransport, over http.client and over httpx) against the instant endpoint.

Then the parse cost per line of every format, by family (benchmarks/parse_cost.py: --parse-lines,
0 skips it), with import_logs.py's cost on the same lines where --reference gives a local copy.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import children  # benchmarks/children.py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(HERE, "data")
SCRATCH = "/tmp/bench-helper"
LOGGEN = [sys.executable, "-m", "log_importer.loggen"]  # the project's own generator
PY = sys.executable
TOKEN = "0123456789abcdef0123456789abcdef"
SITE_URL = "https://www.example.com"
CLK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

TARGET_INSTANT = 150_000  # lines/s end to end into an instant endpoint, default recorders
TARGET_DRY = 250_000      # lines/s, dry run
TARGET_RSS_MB = 250       # peak RSS, 1M and 10M lines

SCENARIOS = [
    # key, label, endpoint, extra args
    ("dry", "dry run, all workers (default)", None, []),
    ("dry-w1", "dry run, --workers 1", None, ["--workers", "1"]),
    # The C scanner and split (formats/_scan.c) turned off: the formats' regexes do the parsing.
    ("dry-regex", "dry run, regexes instead of the C scanner", None, ["ENV:LOG_IMPORTER_NO_SCANNER=1"]),
    # The same two on an IIS log (W3C, built from its #Fields: header) of as many lines.
    ("dry-iis", "dry run, IIS log", None, ["LOG:w3c"]),
    ("dry-iis-regex", "dry run, IIS log, regexes", None, ["LOG:w3c", "ENV:LOG_IMPORTER_NO_SCANNER=1"]),
    # Issue 12: 20,000 never-seen user agents per 1M lines, each decided bot or not (BOTS below).
    ("dry-agents", "dry run, 20,000 distinct agents per 1M lines", None, ["AGENTS:20000"]),
    # The JSON family: an nginx JSON log (Matomo's documented keys) of the same hits.
    ("dry-json", "dry run, nginx JSON log", None, ["LOG:nginx_json"]),
    ("instant", "instant endpoint, default options (--recorders auto)", "instant", []),
    ("instant-w1", "instant endpoint, --workers 1", "instant", ["--workers", "1"]),
    ("instant-r1", "instant endpoint, --recorders 1 (the default before issue 16)", "instant",
     ["--recorders", "1"]),
    ("instant-r4", "instant endpoint, --recorders 4", "instant", ["--recorders", "4"]),
    ("embedded", "embedded endpoint (SQLite), default options", "embedded", []),
]


# Machine and code ------------------------------------------------------------------------------
def machine_info() -> dict:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = "%.1f GB" % (int(f.readline().split()[1]) / 1024 / 1024)
    except (OSError, ValueError, IndexError):
        pass
    return {
        "nproc": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "cpu": model, "memory": mem,
        "python": platform.python_version(), "kernel": platform.release(),
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
    }


def code_state() -> dict:
    """Which importer code is measured: HEAD, and a hash of the working-tree sources (read-only)."""
    def git(*args):
        try:
            return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True,
                                  timeout=20).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"
    h = hashlib.sha256()
    for sub in ("log_importer", "formats"):
        for dirpath, _, files in sorted(os.walk(os.path.join(ROOT, sub))):
            for name in sorted(files):
                if name.endswith(".py"):
                    p = os.path.join(dirpath, name)
                    h.update(p.encode())
                    with open(p, "rb") as f:
                        h.update(f.read())
    dirty = git("status", "--porcelain", "--", "log_importer", "formats")
    return {"head": git("rev-parse", "--short", "HEAD"), "sources_sha256": h.hexdigest()[:12],
            "dirty": bool(dirty)}


# Logs ------------------------------------------------------------------------------------------
def ensure_log(lines: int, seed: int, fmt: str = "combined", agents: int = 0) -> str:
    """A generated log (cached in data/); `agents`: loggen's --distinct-agents."""
    os.makedirs(DATA, exist_ok=True)
    path = os.path.join(DATA, "%s-%d-s%d%s.log" % (fmt, lines, seed, "-a%d" % agents if agents else ""))
    if os.path.exists(path):
        return path
    print("generating %s (%s lines)..." % (os.path.relpath(path, ROOT), f"{lines:,}"), flush=True)
    tmp = path + ".tmp%d" % os.getpid()
    t0 = time.perf_counter()
    with open(tmp, "wb") as out:
        subprocess.run(LOGGEN + ["--lines", str(lines), "--seed", str(seed), "--format", fmt]
                       + (["--distinct-agents", str(agents)] if agents else []), stdout=out, check=True, cwd=ROOT)
    os.replace(tmp, path)
    print("  done in %.0f s, %.0f MB" % (time.perf_counter() - t0, os.path.getsize(path) / 1e6), flush=True)
    return path


def ensure_big_log(base: str, times: int = 10) -> str:
    path = base.replace(".log", "-x%d.log" % times)
    if os.path.exists(path) and os.path.getsize(path) == times * os.path.getsize(base):
        return path
    print("building %s (%d x %s)..." % (os.path.relpath(path, ROOT), times, os.path.basename(base)), flush=True)
    tmp = path + ".tmp%d" % os.getpid()
    with open(tmp, "wb") as out:
        for _ in range(times):
            with open(base, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
    os.replace(tmp, path)
    return path


def count_lines(path: str) -> int:
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 24)
            if not b:
                return n
            n += b.count(b"\n")


# /proc -----------------------------------------------------------------------------------------
def children_of(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                    out.extend(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


def tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children_of(p))
    return found


def _proc_kb(pid: int, name: str, key: str) -> int:
    """A "Key:  N kB" figure from /proc/<pid>/<name>, 0 when the process is gone."""
    try:
        with open("/proc/%d/%s" % (pid, name)) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def vm_rss_kb(pid: int) -> int:
    return _proc_kb(pid, "status", "VmRSS:")


def pss_kb(pid: int) -> int:
    return _proc_kb(pid, "smaps_rollup", "Pss:")


def proc_cpu(pid: int) -> float:
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / CLK
    except (OSError, ValueError, IndexError):
        return 0.0


class Sampler(threading.Thread):
    """Peak summed VmRSS / Pss of a process tree, and the last CPU seen per pid, every `every` s."""

    def __init__(self, pid: int, every: float = 0.05, pss_every: int = 4):
        super().__init__(daemon=True)
        self.pid = pid
        self.every = every
        self.pss_every = pss_every
        self.stop = threading.Event()
        self.peak_rss_kb = 0
        self.peak_pss_kb = 0
        self.peak_procs = 0
        self.cpu_seen: dict[int, float] = {}
        self.peak_by_pid: dict[int, int] = {}  # kB
        self.samples = 0

    def run(self):
        i = 0
        while not self.stop.is_set():
            pids = tree(self.pid)
            total = 0
            for p in pids:
                rss = vm_rss_kb(p)
                total += rss
                if rss > self.peak_by_pid.get(p, 0):
                    self.peak_by_pid[p] = rss
                self.cpu_seen[p] = max(self.cpu_seen.get(p, 0.0), proc_cpu(p))
            self.peak_rss_kb = max(self.peak_rss_kb, total)
            self.peak_procs = max(self.peak_procs, len(pids))
            if i % self.pss_every == 0:
                self.peak_pss_kb = max(self.peak_pss_kb, sum(pss_kb(p) for p in pids))
            i += 1
            self.samples += 1
            self.stop.wait(self.every)


# Endpoints -------------------------------------------------------------------------------------
class Endpoint:
    def __init__(self, kind: str):
        self.kind = kind
        self.db = None
        if kind == "instant":
            cmd = [PY, os.path.join(HERE, "instant_endpoint.py"), "--token", TOKEN]
        else:
            self.db = tempfile.mktemp(prefix="embedded-", suffix=".sqlite3", dir=SCRATCH)
            cmd = [os.path.join(os.path.dirname(PY), "log-importer-endpoint"), "--port", "0",
                   "--db", self.db, "--token", TOKEN, "--site", "1=" + SITE_URL]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line or line.startswith("listening on "):
                break
        if not line.startswith("listening on "):
            self.close()
            raise RuntimeError("%s endpoint did not start: %r" % (kind, line))
        self.url = line.split("listening on ", 1)[1].strip()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stdout:
            self.last_line = line

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid)

    def instant_stats(self) -> dict:
        with urllib.request.urlopen(self.url + "/stats", timeout=10) as r:
            return json.loads(r.read())

    def stored(self) -> dict:
        import sqlite3
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            return dict(con.execute("SELECT outcome, count(*) FROM request GROUP BY outcome").fetchall())
        finally:
            con.close()

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def remove_db(self):
        if self.db:
            for suffix in ("", "-wal", "-shm", "-journal"):
                try:
                    os.unlink(self.db + suffix)
                except OSError:
                    pass


# One run ---------------------------------------------------------------------------------------
SUMMARY_PATTERNS = {
    "lines": r"([\d,]+) lines parsed from",
    "hits": r"([\d,]+) requests (?:imported successfully|would be imported)",
    "reported_lps": r"Lines parsed per second: ([\d,]+)",
    "reported_time": r"Total time: ([\d.]+) seconds",
    "requests_sent": r"([\d,]+) tracking requests sent",
    "retries": r"([\d,]+) retries",
    "not_confirmed": r"([\d,]+) requests not confirmed",
    "refused": r"([\d,]+) requests refused",
}


def parse_summary(text: str) -> dict:
    out = {}
    for key, pat in SUMMARY_PATTERNS.items():
        m = re.search(pat, text)
        if m:
            v = m.group(1).replace(",", "")
            out[key] = float(v) if "." in v else int(v)
    return out


def run_once(key, label, endpoint_kind, extra, log_path, expected_lines, timeout, instant, tag) -> dict:
    ep = None
    if endpoint_kind == "embedded":
        ep = Endpoint("embedded")
    elif endpoint_kind == "instant":
        ep = instant
    cmd = [PY, "-m", "log_importer"]
    if endpoint_kind is None:
        cmd += ["--dry-run"]
    else:
        cmd += ["--url", ep.url, "--token-auth", TOKEN, "--idsite", "1"]
    cmd += [x for x in extra if not x.startswith(("ENV:", "LOG:", "AGENTS:"))] + [log_path]
    out_path = os.path.join(SCRATCH, "runs", "%s-%s.out" % (tag, key))
    err_path = out_path[:-4] + ".err"
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    before = ep.instant_stats() if endpoint_kind == "instant" else None
    ep_cpu0 = ep.cpu() if ep else 0.0
    load = open("/proc/loadavg").read().split()[0]
    timed_out = threading.Event()
    # A fresh state dir per run: the importer remembers imported positions per file and
    # destination (checkpoints); a remembered position would make the next run skip the file.
    state_home = os.path.join(SCRATCH, "state", "%s-%s" % (tag, key))
    shutil.rmtree(state_home, ignore_errors=True)
    os.makedirs(state_home)
    env = dict(os.environ, XDG_STATE_HOME=state_home)
    env.update(x[4:].split("=", 1) for x in extra if x.startswith("ENV:"))
    with open(out_path, "w") as out, open(err_path, "w") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT, start_new_session=True, env=env)
        sampler = Sampler(proc.pid)
        sampler.start()

        def kill():
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        timer = threading.Timer(timeout, kill)
        timer.daemon = True  # a benchmark stopped meanwhile must not wait for it (children.py)
        timer.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        timer.cancel()
        sampler.stop.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    # Workers the importer did not reap would be missing from wait4's rusage: compare with /proc.
    try:
        os.killpg(proc.pid, 0)
        leftovers = True  # something of the importer's process group is still alive
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        leftovers = False
    ep_cpu = (ep.cpu() - ep_cpu0) if ep else 0.0
    shutil.rmtree(state_home, ignore_errors=True)
    text = open(out_path).read()
    errtext = open(err_path).read()
    s = parse_summary(text)
    r = {
        "key": key, "label": label, "rc": proc.returncode, "timed_out": timed_out.is_set(),
        "wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "user": ru.ru_utime, "sys": ru.ru_stime,
        "cpu_sampled": sum(sampler.cpu_seen.values()), "maxrss_mb": ru.ru_maxrss / 1024,
        "parent_cpu": sampler.cpu_seen.get(proc.pid, 0.0),
        "parent_rss_mb": sampler.peak_by_pid.get(proc.pid, 0) / 1024,
        "worker_rss_mb": max([v for k, v in sampler.peak_by_pid.items() if k != proc.pid] or [0]) / 1024,
        "peak_rss_mb": sampler.peak_rss_kb / 1024, "peak_pss_mb": sampler.peak_pss_kb / 1024,
        "procs": sampler.peak_procs, "samples": sampler.samples, "endpoint_cpu": ep_cpu,
        "load1": float(load), "leftover_processes": leftovers, "stdout": out_path, "stderr": err_path,
        **s,
    }
    problems = []
    if r["rc"] != 0:
        problems.append("exit %s%s: %s" % (r["rc"], " (timeout)" if r["timed_out"] else "",
                                           (errtext.strip().splitlines() or ["(no stderr)"])[-1][:300]))
    if s.get("lines") != expected_lines:
        problems.append("lines parsed %s != %s in the file" % (s.get("lines"), expected_lines))
    if s.get("not_confirmed") or s.get("refused"):
        problems.append("not confirmed %s, refused %s" % (s.get("not_confirmed"), s.get("refused")))
    if errtext.strip():
        problems.append("stderr: " + errtext.strip().splitlines()[-1][:300])
    if leftovers:
        problems.append("processes of the importer were still alive after it exited (killed)")
    if endpoint_kind == "instant":
        after = ep.instant_stats()
        got = after["tracked"] - before["tracked"]
        r["endpoint_hits"] = got
        r["endpoint_posts"] = after["bulk_posts"] - before["bulk_posts"]
        if got != s.get("hits"):
            problems.append("instant endpoint received %s hits, importer reports %s" % (got, s.get("hits")))
        if after["mismatches"] != before["mismatches"] or after["errors"] != before["errors"]:
            problems.append("instant endpoint count mismatches/errors: %s" % after)
    if endpoint_kind == "embedded":
        ep.close()
        try:
            stored = ep.stored()
        except Exception as e:  # noqa: BLE001 - report, don't crash the benchmark
            stored = {"error": str(e)}
        r["endpoint_stored"] = stored
        if stored.get("stored") != s.get("hits"):
            problems.append("embedded endpoint stored %s, importer reports %s" % (stored, s.get("hits")))
        ep.remove_db()
    if r["cpu_sampled"] > r["cpu"] * 1.10 + 0.2:
        problems.append("CPU seen in /proc (%.1f s) exceeds wait4's (%.1f s): unreaped workers?"
                        % (r["cpu_sampled"], r["cpu"]))
    r["problems"] = problems
    return r


# Report ----------------------------------------------------------------------------------------
def med(rows, field):
    vals = [r[field] for r in rows if r.get(field) is not None]
    return statistics.median(vals) if vals else None


def summarise(runs: list[dict], lines: int) -> dict:
    by = {}
    for r in runs:
        by.setdefault(r["key"], []).append(r)
    table = {}
    for key, rows in by.items():
        ok = [r for r in rows if r["rc"] == 0] or rows
        lps = [lines / r["wall"] for r in ok]
        table[key] = {
            "label": rows[0]["label"], "n": len(rows), "failed": sum(1 for r in rows if r["rc"] != 0),
            "lps": statistics.median(lps), "lps_min": min(lps), "lps_max": max(lps),
            "reported_lps": med(ok, "reported_lps"),
            "hits": ok[0].get("hits"), "hps": statistics.median([(r.get("hits") or 0) / r["wall"] for r in ok]),
            "wall": med(ok, "wall"),
            "cpu_per_m": statistics.median([r["cpu"] / lines * 1e6 for r in ok]),
            "user_per_m": statistics.median([r["user"] / lines * 1e6 for r in ok]),
            "sys_per_m": statistics.median([r["sys"] / lines * 1e6 for r in ok]),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in ok),
            "peak_pss_mb": max(r["peak_pss_mb"] for r in ok),
            "maxrss_mb": max(r["maxrss_mb"] for r in ok),
            "parent_rss_mb": max(r["parent_rss_mb"] for r in ok),
            "worker_rss_mb": max(r["worker_rss_mb"] for r in ok),
            "procs": max(r["procs"] for r in ok),
            "endpoint_cpu_per_m": statistics.median([r["endpoint_cpu"] / lines * 1e6 for r in ok]),
            "parent_cpu_per_m": statistics.median([r["parent_cpu"] / lines * 1e6 for r in ok]),
            "problems": sorted({p for r in rows for p in r["problems"]}),
        }
    return table


def fmt_int(v):
    return "-" if v is None else f"{v:,.0f}"


def print_table(table: dict, lines: int, title: str):
    print("\n%s (%s lines; medians over runs, lines/s from wall time incl. start-up)" % (title, f"{lines:,}"))
    hdr = ("scenario", "runs", "lines/s", "(min-max)", "importer says", "hits/s", "CPU s/1M lines",
           "of which parent", "peak RSS sum", "peak PSS sum", "peak parent / worker", "maxrss (wait4)",
           "endpoint CPU s/1M")
    rows = []
    for key, t in table.items():
        rows.append((
            key, "%d%s" % (t["n"], " (%d FAILED)" % t["failed"] if t["failed"] else ""),
            fmt_int(t["lps"]), "%s-%s" % (fmt_int(t["lps_min"]), fmt_int(t["lps_max"])),
            fmt_int(t["reported_lps"]), fmt_int(t["hps"]),
            "%.2f (u %.2f s %.2f)" % (t["cpu_per_m"], t["user_per_m"], t["sys_per_m"]),
            "%.2f" % t["parent_cpu_per_m"],
            "%.0f MB /%d" % (t["peak_rss_mb"], t["procs"]), "%.0f MB" % t["peak_pss_mb"],
            "%.0f / %s MB" % (t["parent_rss_mb"], "%.0f" % t["worker_rss_mb"] if t["worker_rss_mb"] else "-"),
            "%.0f MB" % t["maxrss_mb"],
            "%.2f" % t["endpoint_cpu_per_m"] if t["endpoint_cpu_per_m"] else "-"))
    widths = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    print(line(hdr))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    for key, t in table.items():
        print("  %-10s %s; hits per run: %s" % (key, t["label"], fmt_int(t["hits"])))
        for p in t["problems"]:
            print("  !! %s: %s" % (key, p))


def ratios(table: dict, lines: int) -> list[str]:
    out = []

    def ratio(a, b, what):
        if a in table and b in table:
            ta, tb = table[a], table[b]
            out.append("%-40s %5.2fx lines/s (%s vs %s), CPU/1M lines %.2f vs %.2f s" % (
                what, ta["lps"] / tb["lps"], fmt_int(ta["lps"]), fmt_int(tb["lps"]),
                ta["cpu_per_m"], tb["cpu_per_m"]))
    ratio("dry", "dry-w1", "dry run: all workers / 1 worker")
    ratio("dry", "dry-regex", "dry run: C scanner / regexes")
    ratio("dry-iis", "dry-iis-regex", "IIS dry run: C scanner / regexes")
    ratio("dry-iis", "dry", "IIS / combined (dry run)")
    ratio("dry-json", "dry-regex", "nginx JSON / combined with regexes (dry)")
    ratio("instant", "instant-w1", "instant: all workers / 1 worker")
    ratio("instant", "dry", "instant default / dry run default")
    ratio("instant-w1", "dry-w1", "instant --workers 1 / dry --workers 1")
    ratio("instant", "instant-r1", "instant default (auto) / --recorders 1")
    ratio("instant-r4", "instant-r1", "instant --recorders 4 / --recorders 1")
    ratio("embedded", "instant", "embedded endpoint / instant endpoint")
    if "instant" in table and "dry" in table:
        t, d = table["instant"], table["dry"]
        out.append("sending cost (instant - dry, default options): +%.2f s wall per 1M lines, "
                   "+%.2f CPU s per 1M lines of the importer, %.2f CPU s per 1M lines in the instant endpoint"
                   % ((t["wall"] - d["wall"]) / lines * 1e6, t["cpu_per_m"] - d["cpu_per_m"],
                      t["endpoint_cpu_per_m"]))
    if "instant-w1" in table and "dry-w1" in table:
        t, d = table["instant-w1"], table["dry-w1"]
        out.append("sending cost (--workers 1): +%.2f s wall, +%.2f CPU s per 1M lines"
                   % ((t["wall"] - d["wall"]) / lines * 1e6, t["cpu_per_m"] - d["cpu_per_m"]))
    return out


def targets(table: dict, big: dict | None) -> list[str]:
    out = []

    def check(ok, text):
        out.append(("MET     " if ok else "NOT MET ") + text)
    if "instant" in table:
        v = table["instant"]["lps"]
        check(v >= TARGET_INSTANT, "instant endpoint, default recorders: %s lines/s (target >= %s)"
              % (fmt_int(v), fmt_int(TARGET_INSTANT)))
    if "dry" in table:
        v = table["dry"]["lps"]
        check(v >= TARGET_DRY, "dry run: %s lines/s (target >= %s)" % (fmt_int(v), fmt_int(TARGET_DRY)))
    for name, tab in (("main log", table), ("10x log", big or {})):
        for key, t in tab.items():
            check(t["peak_rss_mb"] < TARGET_RSS_MB,
                  "peak RSS %s %s: %.0f MB summed over %d processes (PSS %.0f MB, largest process %.0f MB)"
                  " (target < %d MB)" % (name, key, t["peak_rss_mb"], t["procs"], t["peak_pss_mb"],
                                         t["maxrss_mb"], TARGET_RSS_MB))
    return out


# Profile ---------------------------------------------------------------------------------------
def profile(log_path: str, nlines: int, instant: Endpoint | None):
    import cProfile
    import pstats
    from types import SimpleNamespace

    import orjson

    import formats
    from log_importer import chunks
    from log_importer.cli import config_from_args
    from log_importer.sources import head_lines

    url = instant.url if instant else "http://127.0.0.1:9"
    config = config_from_args(["--url", url, "--token-auth", TOKEN, "--idsite", "1", log_path])
    with open(log_path, "rb") as f:
        data = b"".join(f.readline() for _ in range(nlines))
    nlines = data.count(b"\n")
    fmt = formats.resolve(config, head_lines(data[:1 << 20], config.encoding), log_path)
    sites = chunks.SiteMap(static=chunks.Site(1, SITE_URL))
    tasks, pos, seq = [], 0, 0
    while pos < len(data):
        end = data.rfind(b"\n", pos, pos + config.chunk_bytes) + 1
        if end <= pos:
            end = len(data)
        tasks.append(chunks.ChunkTask(0, seq, pos, data[pos:end], fmt, sites, 1))
        pos, seq = end, seq + 1

    def run_all(proc):
        return [proc.process(t) for t in tasks]

    # 1. Without the profiler (a fresh processor, like a worker's: memo caches start empty).
    plain = float("inf")
    for _ in range(3):  # best of 3: the machine is shared
        t0 = time.perf_counter()
        results = run_all(chunks.ChunkProcessor(config))
        plain = min(plain, time.perf_counter() - t0)
    hits = sum(r.hits for r in results)
    print("\nPROFILE: chunk stage in-process, %s lines (%d chunks of %d KB), %s hits" % (
        f"{nlines:,}", len(tasks), config.chunk_bytes // 1024, f"{hits:,}"))
    print("  without profiler (best of 3): %.2f s = %s lines/s on one core (%.2f CPU s per 1M lines)"
          % (plain, fmt_int(nlines / plain), plain / nlines * 1e6))

    # 2. cProfile, time attributed to stages.
    prof = cProfile.Profile()
    proc = chunks.ChunkProcessor(config)
    prof.enable()
    run_all(proc)
    prof.disable()
    st = pstats.Stats(prof).stats  # func -> (cc, nc, tt, ct, callers)
    total = sum(v[2] for v in st.values())

    own = {
        ("formats/base.py", "extract"): "parse: regex + field tuple",
        ("formats/base.py", "convert"): "parse: date -> cdt (memoised)",
        ("formats/base.py", "_parse_apache"): "parse: date -> cdt (memoised)",
        ("formats/base.py", "_parse_iso"): "parse: date -> cdt (memoised)",
        ("formats/base.py", "timezone_offset"): "parse: date -> cdt (memoised)",
        ("log_importer/classify.py", "*"): "classify",
        ("log_importer/tracking.py", "*"): "build request dict",
        ("log_importer/chunks.py", "process"): "chunk loop body (process() itself)",
        ("log_importer/chunks.py", "tracked_hits"): "chunk loop body (process() itself)",
        ("log_importer/chunks.py", "serialised"): "chunk loop body (process() itself)",
        ("log_importer/chunks.py", "decode"): "split + decode chunk",
        ("log_importer/chunks.py", "partition"): "partition + bookkeeping",
        ("log_importer/chunks.py", "_normal_host"): "chunk loop body (process() itself)",
        ("log_importer/chunks.py", "_url_host"): "chunk loop body (process() itself)",
    }
    from_process = {
        "dumps": "serialise: orjson.dumps + join", "join": "serialise: orjson.dumps + join",
        "decode": "split + decode chunk", "split": "split + decode chunk", "isascii": "split + decode chunk",
        "crc32": "partition + bookkeeping", "encode": "partition + bookkeeping",
        "extract": "parse: line scanner (C) + field tuple",
    }

    def own_stage(func):
        filename, _, name = func
        for (suffix, fname), stage in own.items():
            if filename.endswith(suffix) and (fname == "*" or fname == name):
                return stage
        return None

    memo = {}

    def shares(func, depth=0):
        if func in memo:
            return memo[func]
        stage = own_stage(func)
        if stage:
            memo[func] = {stage: 1.0}
            return memo[func]
        callers = st[func][4] if func in st else {}
        name = func[2]
        result: dict = {}
        weight = sum(c[2] for c in callers.values()) or 0.0
        for caller, c in callers.items():
            w = (c[2] / weight) if weight else 1.0 / len(callers)
            if own_stage(caller) == "chunk loop body (process() itself)":
                key = next((v for k, v in from_process.items() if k in name), "partition + bookkeeping")
                sub = {key: 1.0}
            elif depth > 20:
                sub = {"other": 1.0}
            else:
                sub = shares(caller, depth + 1)
            for k, v in sub.items():
                result[k] = result.get(k, 0.0) + w * v
        if not result:
            result = {"other": 1.0}
        memo[func] = result
        return result

    stages: dict = {}
    for func, v in st.items():
        for k, share in shares(func).items():
            stages[k] = stages.get(k, 0.0) + v[2] * share
    print("  under cProfile: %.2f s (profiler overhead inflates per-call costs); own time by stage:" % total)
    for k, v in sorted(stages.items(), key=lambda kv: -kv[1]):
        print("    %-40s %6.2f s  %5.1f%%" % (k, v, 100 * v / total))
    print("  top functions by own time:")
    for func, v in sorted(st.items(), key=lambda kv: -kv[1][2])[:14]:
        filename, line, name = func
        where = "%s:%d" % (os.path.relpath(filename, ROOT) if filename.startswith(ROOT) else filename, line)
        print("    %7.3f s %9d calls  %-38s %s" % (v[2], v[1], name[:38], where if line else ""))

    # 3. Without the profiler: each stage re-timed alone on the inputs recorded from a real pass,
    #    and the rest of process() timed with every stage replaced by a stub returning the
    #    recorded result (so the parts add up to the whole, give or take call overheads).
    stage_names = ("extract", "convert", "path_info", "classify", "build", "dumps")
    rec = {k: [] for k in stage_names}

    def recording(name, fn):
        store = rec[name]

        def wrapper(*args):
            result = fn(*args)
            store.append((args, result))
            return result
        return wrapper

    def patch(proc, make):
        parser, dates = proc.parser_for(fmt)
        parser.extract = make("extract", parser.extract)
        dates.convert = make("convert", dates.convert)
        proc.classifier.path_info = make("path_info", proc.classifier.path_info)
        proc.classifier.classify = make("classify", proc.classifier.classify)
        proc.build = make("build", proc.build)
        return SimpleNamespace(dumps=make("dumps", orjson.dumps))

    saved_orjson = chunks.orjson
    try:
        chunks.orjson = patch(chunks.ChunkProcessor(config), recording)
        proc = chunks.ChunkProcessor(config)
        chunks.orjson = patch(proc, recording)
        run_all(proc)
    finally:
        chunks.orjson = saved_orjson
    # Fresh objects for the timing: memo caches warm up during the pass, as in a worker.
    proc2 = chunks.ChunkProcessor(config)
    parser2, dates2 = proc2.parser_for(fmt)
    fns = {"extract": parser2.extract, "convert": dates2.convert, "path_info": proc2.classifier.path_info,
           "classify": proc2.classifier.classify, "build": proc2.build, "dumps": orjson.dumps}
    labels = {"extract": "parse: scanner or regex (extract)", "convert": "parse: date -> cdt (convert)",
              "path_info": "classify: path_info (memoised)", "classify": "classify: classify()",
              "build": "build: request dict (build)", "dumps": "serialise: orjson.dumps",
              "glue": "rest of process() (loop glue)"}

    def noop(*a):
        return None
    t0 = time.perf_counter()
    for args, _ in rec["extract"]:
        noop(*args)
    call_cost = (time.perf_counter() - t0) / max(1, len(rec["extract"]))
    timed, counts = {}, {}
    for name in stage_names:
        fn, calls = fns[name], rec[name]
        best = float("inf")
        for _ in range(3):  # best of 3; memo caches (dates, paths, bots) are warm after the first
            t0 = time.perf_counter()
            for args, _ in calls:
                fn(*args)
            best = min(best, time.perf_counter() - t0)
            if name in ("convert", "path_info", "classify"):
                break  # memoised: a second pass would only measure cache hits
        timed[name] = max(0.0, best - call_cost * len(calls))
        counts[name] = len(calls)

    # The glue: process() with every stage a stub that hands back the recorded result.
    def stubbing(name, fn):
        if name == "convert":  # called on memo misses only: a stub would not fill the memo
            return fn
        if name in ("build", "dumps"):  # once per hit, in order (their arguments are not hashable)
            nxt = iter([r for _, r in rec[name]]).__next__
            return lambda *a: nxt()
        table = {args: r for args, r in rec[name]}  # by argument: robust to call order and count
        return lambda *a: table[a]
    glue = float("inf")
    for _ in range(3):  # (if process() calls a stage more often than recorded, this raises)
        proc3 = chunks.ChunkProcessor(config)
        stubbed = patch(proc3, stubbing)
        try:
            chunks.orjson = stubbed
            t0 = time.perf_counter()
            run_all(proc3)
            glue = min(glue, time.perf_counter() - t0)
        finally:
            chunks.orjson = saved_orjson
    stub_cost = call_cost * sum(len(rec[n]) for n in stage_names if n != "convert")
    timed["glue"] = max(0.0, glue - stub_cost - timed["convert"])
    counts["glue"] = nlines
    parts = sum(timed.values())
    print("  without profiler, each stage timed alone on the recorded inputs (call overhead of %.0f ns"
          " subtracted); sum of parts %.2f s vs whole %.2f s:" % (call_cost * 1e9, parts, plain))
    for name in ("extract", "convert", "path_info", "classify", "build", "dumps", "glue"):
        t = timed[name]
        print("    %-40s %6.3f s  %5.1f%%  %9d calls  %6.0f ns/call  %5.2f s per 1M lines" % (
            labels[name], t, 100 * t / parts, counts[name], 1e9 * t / max(1, counts[name]),
            t / nlines * 1e6))
    print("    (convert: memo misses only, the memo is read inline; loop glue = splitting the chunk "
          "into str lines, tuple unpacking, date memo, qs/host/ua/ref handling, site lookup, int(), "
          "crc32, arrays, sets, final join)")

    # 4. The parent's sending path, against the instant endpoint.
    if instant is None:
        return
    from log_importer.api import make_client
    from log_importer.batching import Batcher
    from log_importer.sending import TrackerTransport
    batches = []
    b = Batcher(1, config.recorder_max_payload_size, batches.append)
    for r in results:
        b.add(r, 0)
    b.flush_all()
    print("  sending path in-process (Batcher + TrackerTransport.deliver, 1 thread, %d batches of <= %d hits):"
          % (len(batches), config.recorder_max_payload_size))
    for label, via_httpx in (("http.client (tracker_http.py, the importer's)", False),
                             ("httpx (the client it replaced)", True)):
        client = make_client(config)
        transport = TrackerTransport(config, client, TOKEN)
        transport.http.via_httpx = via_httpx
        ep_cpu0 = instant.cpu()
        before = instant.instant_stats()
        c0, t0 = time.process_time(), time.perf_counter()
        tracked = 0
        for batch in batches:
            outcome = transport.deliver(batch)
            tracked += outcome.tracked
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        ep_cpu = instant.cpu() - ep_cpu0
        transport.close()
        client.close()
        got = instant.instant_stats()["tracked"] - before["tracked"]
        print("    over %s: %.2f s wall, %.2f CPU s in the sender = %.0f us CPU per batch, %.2f CPU s "
              "per 1M hits (one sender alone tops out near %s hits/s); endpoint %.2f CPU s; tracked %s of %s%s"
              % (label, wall, cpu, 1e6 * cpu / max(1, len(batches)), cpu / max(1, hits) * 1e6,
                 fmt_int(hits / wall), ep_cpu, f"{tracked:,}", f"{hits:,}",
                 "" if tracked == hits == got else "  !! COUNT MISMATCH (endpoint %s)" % got))


# Main ------------------------------------------------------------------------------------------
def main(argv=None):
    children.install()  # stopped by a signal, it leaves nothing running
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="100k-line smoke run (overrides --lines)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--only", default="", help="comma-separated scenario keys (default: all): "
                   + ", ".join(k for k, *_ in SCENARIOS))
    p.add_argument("--big", action="store_true", help="also run a 10x log (10M lines by default)")
    p.add_argument("--big-scenarios", default="dry,instant")
    p.add_argument("--profile", action="store_true", help="also profile the chunk stage and sending")
    p.add_argument("--profile-only", action="store_true", help="only the profile, no scenarios")
    p.add_argument("--profile-lines", type=int, default=200_000)
    p.add_argument("--timeout", type=float, default=900, help="seconds per importer run")
    p.add_argument("--json", default=None, help="write all measurements here")
    p.add_argument("--parse-lines", type=int, default=50_000,
                   help="lines per format for the parse cost table (benchmarks/parse_cost.py); 0 skips it")
    p.add_argument("--reference", help="a local copy of Matomo's import_logs.py: its parse cost beside ours")
    a = p.parse_args(argv)
    if a.quick:
        a.lines = 100_000
    os.makedirs(SCRATCH, exist_ok=True)

    info = machine_info()
    code = code_state()
    print("machine: %d cores (%d usable), %s, %s RAM, Python %s, Linux %s, load average at start %s"
          % (info["nproc"], info["affinity"], info["cpu"], info["memory"], info["python"], info["kernel"],
             " ".join(info["loadavg_start"])))
    print("importer: HEAD %s, sources sha256 %s%s" % (code["head"], code["sources_sha256"],
                                                      " (uncommitted changes)" if code["dirty"] else ""))
    # As pip does for an installed package: each run then loads bytecode instead of compiling
    # the sources (which PYTHONDONTWRITEBYTECODE, set on some machines, would make every run do).
    import compileall
    for package in ("log_importer", "formats"):
        compileall.compile_dir(os.path.join(ROOT, package), quiet=1)
    log_path = ensure_log(a.lines, a.seed)
    expected = count_lines(log_path)
    print("log: %s, %s lines, %.0f MB" % (os.path.relpath(log_path, ROOT), f"{expected:,}",
                                          os.path.getsize(log_path) / 1e6))
    wanted = [s for s in SCENARIOS if not a.only or s[0] in a.only.split(",")]
    other_logs: dict = {}

    def other_log(fmt, agents=0):  # another format ("LOG:w3c") or more agents ("AGENTS:N"), same size and seed
        if (fmt, agents) not in other_logs:
            path = ensure_log(a.lines, a.seed, fmt, agents)
            other_logs[fmt, agents] = (path, count_lines(path))
        return other_logs[fmt, agents]
    if a.profile_only:
        wanted = []
    need_instant = (any(s[2] == "instant" for s in wanted) or a.profile
                    or (a.big and any(k.startswith("instant") for k in a.big_scenarios.split(","))))
    instant = Endpoint("instant") if need_instant else None
    runs, big_runs = [], []
    started = time.time()
    try:
        for rnd in range(a.repeat if wanted else 0):
            for key, label, kind, extra in wanted:
                fmt = next((x[4:] for x in extra if x.startswith("LOG:")), None)
                agents = next((int(x[7:]) for x in extra if x.startswith("AGENTS:")), 0)
                if fmt is None and not agents:
                    path, lines = log_path, expected
                else:
                    path, lines = other_log(fmt or "combined", agents)
                r = run_once(key, label, kind, extra, path, lines, a.timeout, instant,
                             "r%d-%d" % (rnd + 1, a.lines))
                runs.append(r)
                print("  round %d %-11s %6.1f s  %9s lines/s  CPU %6.1f s  peak RSS %5.0f MB (PSS %4.0f)"
                      "  load %.2f%s" % (rnd + 1, key, r["wall"], fmt_int(a.lines / r["wall"]), r["cpu"],
                                         r["peak_rss_mb"], r["peak_pss_mb"], r["load1"],
                                         "  !! " + "; ".join(r["problems"]) if r["problems"] else ""),
                      flush=True)
        table = summarise(runs, expected) if runs else {}
        big_table = None
        if a.big:
            big_path = ensure_big_log(log_path, 10)
            big_lines = expected * 10
            for key, label, kind, extra in SCENARIOS:
                if key not in a.big_scenarios.split(","):
                    continue
                r = run_once(key, label, kind, extra, big_path, big_lines, a.timeout * 10, instant,
                             "big-%d" % big_lines)
                big_runs.append(r)
                print("  10x    %-11s %6.1f s  %9s lines/s  CPU %6.1f s  peak RSS %5.0f MB (PSS %4.0f)%s"
                      % (key, r["wall"], fmt_int(big_lines / r["wall"]), r["cpu"], r["peak_rss_mb"],
                         r["peak_pss_mb"], "  !! " + "; ".join(r["problems"]) if r["problems"] else ""),
                      flush=True)
            big_table = summarise(big_runs, big_lines)
        if table:
            print_table(table, expected, "RESULTS")
        if big_table:
            print_table(big_table, expected * 10, "RESULTS, 10x log")
        if table:
            print("\nRATIOS (same run, side by side):")
            for line in ratios(table, expected):
                print("  " + line)
            print("\nTARGETS (issue 5)%s:" % ("" if a.lines == 1_000_000 else
                                            ", which are set for 1,000,000 lines: this run has %s" % f"{a.lines:,}"))
            for line in targets(table, big_table):
                print("  " + line)
        if "dry-agents" in table:
            import bots_bench
            agents_log = other_log("combined", 20000)[0]
            workers = len(os.sched_getaffinity(0))  # the importer's default
            print("\nBOTS (issue 12): the dry-agents scenario's log, %d workers as in its runs" % workers)
            for text in bots_bench.scores():
                print("  " + text)
            for text in bots_bench.cost_lines(bots_bench.cost(agents_log, workers),
                                              table["dry-agents"]["cpu_per_m"] * expected / 1e6):
                print("  " + text)
        if a.parse_lines and not a.profile_only:
            import parse_cost
            print("\nparse cost per line, format by format (benchmarks/parse_cost.py):", flush=True)
            parse_rows = parse_cost.run(a.parse_lines, 3, a.reference)
            parse_cost.report(parse_rows, a.parse_lines)
        if a.profile or a.profile_only:
            try:
                profile(log_path, a.profile_lines, instant)
            except Exception:  # noqa: BLE001 - the importer changes under us: report, keep the rest
                import traceback
                print("!! the profile failed:")
                traceback.print_exc(file=sys.stdout)
    finally:
        if instant is not None:
            instant.close()
    code_end = code_state()
    load_end = open("/proc/loadavg").read().split()[:3]
    print("\nload average at end: %s; benchmark took %.0f s" % (" ".join(load_end), time.time() - started))
    if code_end["sources_sha256"] != code["sources_sha256"]:
        print("!! the importer's sources changed during the benchmark (%s -> %s): runs may mix versions"
              % (code["sources_sha256"], code_end["sources_sha256"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": info, "code": code, "code_end": code_end, "load_end": load_end,
                       "lines": expected, "runs": runs, "big_runs": big_runs}, f, indent=1, default=str)
    failed = [r for r in runs + big_runs if r["rc"] != 0]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
