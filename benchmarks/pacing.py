"""Hits/s into a loaded Matomo stand-in for --recorders 1, 2, 4, 8 and auto, side by side (issue 16).

    .venv/bin/python benchmarks/pacing.py [--quick] [--capacities 1,2,4,16] [--costs 1,5]
                                          [--settings 1,2,4,8,auto] [--warmup 10] [--window 20]
                                          [--batch-sizes 50,200,1000] [--json FILE]

The server is the embedded endpoint with its load model (log_importer/endpoint/load.py), run in
this process on a fresh SQLite file per run: `capacity` requests served at once, each holding
its slot for cost x hits (a sleep, so the two cores stay free for the importer), a FIFO queue,
and a 500 with MySQL's lock-wait text when more than 4 x capacity wait. For every capacity and
cost, the importer (`python -m log_importer`, default options but --recorders) imports the
benchmark's generated log (benchmarks/data, 1M combined lines) once per setting, the settings
one after the other. Each run lasts --warmup + --window seconds, then gets SIGINT and, a second
later, a second SIGINT (requests still in flight are cut; their hits stay pending).

Per run, from the endpoint's record of every request (`Load.timeline()`):
- hits/s over the window (hits answered with status 200, each request's spread over the time it
  held its slot: the steady pace, after the start-up and auto's climb), and over the whole run
  from the importer's start (start-up included);
- 500s (lock-wait answers) and the importer's retries;
- the server's mean requests in service and waiting over the window, and for auto the
  concurrency (in service + waiting) per 2 seconds over the whole run;
- importer CPU (user + sys of the importer and its workers, from wait4) per 1,000 hits
  confirmed and per 1,000 lines parsed (start-up included; the lines read ahead into the
  senders' queues when the run is cut count as parsed, not as confirmed);
- checked: every hit the importer counts as imported was answered 200 by the endpoint.

The target (issue 16): auto within 5% of the best fixed setting's window hits/s in every
configuration, with at most a handful (5) of 500s. `--batch-sizes` adds auto runs at the
endpoint's defaults (capacity 2, 5 ms per hit) with other --recorder-max-payload-size values.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

import run as bench  # noqa: E402  (benchmarks/run.py: the log, the summary parser, the machine)

from log_importer.endpoint import Endpoint  # noqa: E402

PY = sys.executable
TOKEN = bench.TOKEN
TARGET_RATIO = 0.95
HANDFUL = 5


def importer_cmd(url, setting, log_path, batch=None):
    cmd = [PY, "-m", "log_importer", "--url", url, "--token-auth", TOKEN, "--idsite", "1",
           "--recorders", setting]
    if batch:
        cmd += ["--recorder-max-payload-size", str(batch)]
    return cmd + [log_path]


def served(rows, t0, t1) -> float:
    """Hits served during [t0, t1): each request's hits spread over the time it held its slot
    (at 5 ms a hit and 200 hits a request, counting whole requests by their end would move a
    20-second figure by up to 5%)."""
    total = 0.0
    for r in rows:
        overlap = min(r.ended, t1) - max(r.started, t0)
        if overlap > 0:
            total += r.hits * (overlap / (r.ended - r.started) if r.ended > r.started else 1.0)
    return total


def one_run(capacity, cost, setting, log_path, warmup, window, scratch, batch=None) -> dict:
    db = os.path.join(scratch, "endpoint.sqlite3")
    ep = Endpoint(token=TOKEN, sites={1: bench.SITE_URL}, db=db, keep_http_bodies=False,
                  capacity=capacity, cost_ms_per_hit=cost).start()
    state = os.path.join(scratch, "state")
    shutil.rmtree(state, ignore_errors=True)
    os.makedirs(state)
    out_path, err_path = os.path.join(scratch, "out.txt"), os.path.join(scratch, "err.txt")
    try:
        with open(out_path, "w") as out, open(err_path, "w") as err:
            t0 = time.monotonic()
            proc = subprocess.Popen(importer_cmd(ep.url, setting, log_path, batch), stdout=out, stderr=err,
                                    cwd=ROOT, env=dict(os.environ, XDG_STATE_HOME=state), start_new_session=True)
            start = t0 - ep.load.origin
            end = start + warmup + window
            time.sleep(max(0.0, t0 + warmup + window - time.monotonic()))
            # Stop reading; a second later, if it still runs, cut what is in flight. (os.kill and
            # wait4, not Popen's methods, which would reap the process before wait4's rusage.)
            reaped = None
            for wait in (1.0, 120.0):
                if reaped is None:
                    os.kill(proc.pid, signal.SIGINT)
                deadline = time.monotonic() + wait
                while reaped is None and time.monotonic() < deadline:
                    pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
                    reaped = (status, ru) if pid else None
                    time.sleep(0.02)
            if reaped is None:
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, ru = os.wait4(proc.pid, 0)
                reaped = (status, ru)
            status, ru = reaped
            rc = os.waitstatus_to_exitcode(status)
        ep.load.wait_idle(60)  # requests the importer cut still finish at the server
        rows = ep.load.timeline()
        text, errtext = open(out_path).read(), open(err_path).read()
    finally:
        ep.stop()
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(db + suffix)
            except OSError:
                pass
    s = bench.parse_summary(text)
    ok = [r for r in rows if r.status == 200 and r.started is not None]
    in_window = served(ok, start + warmup, end)
    whole = served(ok, start, end)
    busy = ep.load.concurrency(step=window, start=start + warmup, end=end)
    series = ep.load.concurrency(step=2.0, start=start, end=end)
    m = re.search(r"Concurrent requests \(--recorders auto\): (\d+) at the end, (\d+) to (\d+)", text)
    cpu = ru.ru_utime + ru.ru_stime
    tracked = s.get("hits") or 0
    r = {
        "capacity": capacity, "cost": cost, "setting": setting, "batch": batch or 200, "rc": rc,
        "hps_window": in_window / window, "hps_whole": whole / (warmup + window),
        "refused": sum(1 for r in rows if r.status == 500),
        "service": busy[0][1] if busy else 0.0, "waiting": busy[0][2] if busy else 0.0,
        "series": [round(a + b, 1) for _, a, b in series],
        "cpu": cpu, "tracked": tracked, "lines": s.get("lines") or 0,
        "cpu_ms_per_1k_hits": 1e6 * cpu / tracked if tracked else None,
        "cpu_ms_per_1k_lines": 1e6 * cpu / s["lines"] if s.get("lines") else None,
        "auto": tuple(int(x) for x in m.groups()) if m else None,
        "answered_200": sum(r.hits for r in ok),
    }
    problems = []
    if rc != 130 and not (rc == -signal.SIGINT and tracked):  # -2: the 2nd SIGINT came as it exited
        problems.append("exit %s: %s" % (rc, (errtext.strip().splitlines() or ["(no stderr)"])[-1][:200]))
    if r["answered_200"] < tracked:
        problems.append("the importer counts %d hits imported, the endpoint answered 200 for %d"
                        % (tracked, r["answered_200"]))
    r["problems"] = problems
    return r


def show(rows, title):
    print("\n" + title)
    hdr = ("capacity", "cost ms", "recorders", "hits/s window", "vs best fixed", "hits/s whole run", "500s",
           "in service", "waiting", "auto: end (range)", "CPU ms/1k hits", "CPU ms/1k lines")
    best = {}
    for r in rows:
        if r["setting"] != "auto":
            key = (r["capacity"], r["cost"], r["batch"])
            best[key] = max(best.get(key, 0.0), r["hps_window"])
    cells = []
    for r in rows:
        b = best.get((r["capacity"], r["cost"], r["batch"]))
        cells.append((str(r["capacity"]), "%g" % r["cost"], r["setting"] + ("" if r["batch"] == 200 else
                                                                            " (batch %d)" % r["batch"]),
                      "{:,.0f}".format(r["hps_window"]), "%.3f" % (r["hps_window"] / b) if b else "-",
                      "{:,.0f}".format(r["hps_whole"]), str(r["refused"]),
                      "%.2f" % r["service"], "%.2f" % r["waiting"],
                      "%d (%d-%d)" % r["auto"] if r["auto"] else "-",
                      "%.1f" % r["cpu_ms_per_1k_hits"] if r["cpu_ms_per_1k_hits"] else "-",
                      "%.1f" % r["cpu_ms_per_1k_lines"] if r["cpu_ms_per_1k_lines"] else "-"))
    widths = [max(len(x) for x in col) for col in zip(hdr, *cells)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(hdr, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for c in cells:
        print("| " + " | ".join(x.ljust(w) for x, w in zip(c, widths)) + " |")
    for r in rows:
        if r["setting"] == "auto":
            print("  auto, capacity %d, %g ms%s: in service + waiting per 2 s: %s" % (
                r["capacity"], r["cost"], "" if r["batch"] == 200 else ", batch %d" % r["batch"],
                " ".join("%g" % x for x in r["series"])))
        for p in r["problems"]:
            print("  !! capacity %d, %g ms, %s: %s" % (r["capacity"], r["cost"], r["setting"], p))
    return best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--capacities", default="1,2,4,16")
    p.add_argument("--costs", default="1,5", help="ms per hit")
    p.add_argument("--settings", default="1,2,4,8,auto")
    p.add_argument("--warmup", type=float, default=10.0, help="seconds before the measured window")
    p.add_argument("--window", type=float, default=20.0, help="seconds measured")
    p.add_argument("--batch-sizes", default="", help="auto at capacity 2, 5 ms with these batch sizes")
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--quick", action="store_true", help="capacity 2 and 16, 1 ms, window 8 s")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    if a.quick:
        a.capacities, a.costs, a.warmup, a.window = "2,16", "1", 6.0, 8.0
    info, code = bench.machine_info(), bench.code_state()
    print("machine: %d cores, %s, Python %s, load average at start %s" % (
        info["nproc"], info["cpu"], info["python"], " ".join(info["loadavg_start"])))
    print("importer: HEAD %s, sources sha256 %s%s" % (code["head"], code["sources_sha256"],
                                                      " (uncommitted changes)" if code["dirty"] else ""))
    import compileall
    for package in ("log_importer", "formats"):
        compileall.compile_dir(os.path.join(ROOT, package), quiet=1)
    log_path = bench.ensure_log(a.lines, 1)
    print("log: %s; each run: %g s start-up and climb, then %g s measured" % (
        os.path.relpath(log_path, ROOT), a.warmup, a.window), flush=True)
    scratch = tempfile.mkdtemp(prefix="bench-pacing-")
    started = time.time()
    rows, sizes = [], []
    try:
        for cost in [float(x) for x in a.costs.split(",")]:
            for capacity in [int(x) for x in a.capacities.split(",")]:
                for setting in a.settings.split(","):
                    r = one_run(capacity, cost, setting, log_path, a.warmup, a.window, scratch)
                    rows.append(r)
                    print("  capacity %2d, %g ms, --recorders %-4s %8s hits/s (whole run %s), 500s %d, "
                          "CPU %.1f s, load %s%s" % (
                              capacity, cost, setting, "{:,.0f}".format(r["hps_window"]),
                              "{:,.0f}".format(r["hps_whole"]), r["refused"], r["cpu"],
                              open("/proc/loadavg").read().split()[0],
                              "  !! " + "; ".join(r["problems"]) if r["problems"] else ""), flush=True)
        for batch in [int(x) for x in a.batch_sizes.split(",") if x]:
            for setting in ("2", "auto"):
                r = one_run(2, 5.0, setting, log_path, a.warmup, a.window, scratch, batch)
                sizes.append(r)
                print("  batch %4d, --recorders %-4s %8s hits/s, CPU %.1f s%s" % (
                    batch, setting, "{:,.0f}".format(r["hps_window"]), r["cpu"],
                    "  !! " + "; ".join(r["problems"]) if r["problems"] else ""), flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    best = show(rows, "RESULTS (hits/s measured over the window; one run per row, in this order)")
    if sizes:
        show(sizes, "BATCH SIZES (capacity 2, 5 ms per hit)")
    print("\nTARGET: auto within 5%% of the best fixed setting, at most %d 500s:" % HANDFUL)
    met = True
    for r in rows:
        if r["setting"] != "auto":
            continue
        b = best.get((r["capacity"], r["cost"], r["batch"]))
        ratio = r["hps_window"] / b if b else 0.0
        ok = ratio >= TARGET_RATIO and r["refused"] <= HANDFUL and not r["problems"]
        met &= ok
        print("  capacity %2d, %g ms: auto %.3f of the best fixed, %d 500s: %s" % (
            r["capacity"], r["cost"], ratio, r["refused"], "met" if ok else "MISSED"))
    print("\nload average at end: %s; took %.0f s" % (open("/proc/loadavg").read().split()[0],
                                                     time.time() - started))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": info, "code": code, "runs": rows, "batch_sizes": sizes}, f, indent=1)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
