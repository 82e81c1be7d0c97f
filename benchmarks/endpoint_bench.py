"""Bulk ingestion speed of the embedded tracking endpoint (issues 3 and 14: at least 20,000
hits/s; `make bench` runs it with --target 20000, which fails below that).

    .venv/bin/python benchmarks/endpoint_bench.py [--hits 100000] [--batch 200] [--senders 4]
                                                  [--target HITS_PER_S]

Starts `log-importer-endpoint` in its own process (temporary db, 127.0.0.1, free port), builds
bulk bodies like the importer sends them (`{"requests":[{...}], "token_auth": ...}` with rec,
apiv, idsite, url, urlref, cip, cdt, ua, dp, queuedtracking, cvar, bw_bytes, pf_srv), POSTs them
from a few threads over keep-alive connections, checks every hit was tracked and stored, and
prints hits/s. The bodies are encoded before the clock starts.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

import httpx
import orjson

import children  # benchmarks/children.py

TOKEN = "0123456789abcdef0123456789abcdef"
UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.6723.107 Mobile Safari/537.36",
]
PAGES = ["/", "/blog/analytics", "/docs/install", "/products/pricing", "/about", "/news/2024",
         "/support/faq", "/shop/category/privacy?page=2", "/wiki/self-hosting", "/search?q=import"]


def make_bodies(hits: int, batch: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    visitors = ["%d.%d.%d.%d" % (rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255),
                                 rng.randint(1, 254)) for _ in range(5000)]
    t0 = 1772323200  # 2026-03-01 00:00:00 UTC
    bodies, requests = [], []
    for i in range(hits):
        t = t0 + i // 20
        ip = visitors[rng.randrange(len(visitors))]
        requests.append({
            "rec": 1, "apiv": 1, "idsite": 1,
            "url": "https://www.example.com" + PAGES[rng.randrange(len(PAGES))],
            "urlref": "https://www.google.com/" if rng.random() < 0.3 else "",
            "cip": ip,
            "cdt": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)),
            "ua": UAS[hash(ip) % len(UAS)], "dp": 1, "queuedtracking": 0,
            "cvar": '{"1": ["HTTP-code", "200"]}', "bw_bytes": rng.randint(800, 90000),
            "pf_srv": rng.randint(3, 900)})
        if len(requests) == batch:
            bodies.append(orjson.dumps({"requests": requests, "token_auth": TOKEN}))
            requests = []
    if requests:
        bodies.append(orjson.dumps({"requests": requests, "token_auth": TOKEN}))
    return bodies


def start_endpoint(db: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "log_importer.endpoint.cli", "--port", "0", "--db", db,
         "--token", TOKEN, "--site", "1=https://www.example.com"],
        stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit("the endpoint did not start: %r" % line)
    return proc, line.split()[-1]


def send_all(url: str, bodies: list[bytes], senders: int) -> tuple[float, list[dict]]:
    results: list[dict] = []
    todo = list(enumerate(bodies))
    lock = threading.Lock()

    def worker():
        with httpx.Client(timeout=60) as client:
            while True:
                with lock:
                    if not todo:
                        return
                    _, body = todo.pop(0)
                r = client.post(url + "/piwik.php?queuedtracking=0", content=body,
                                headers={"Content-Type": "application/json"})
                r.raise_for_status()
                with lock:
                    results.append(r.json())

    threads = [threading.Thread(target=worker) for _ in range(senders)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - start, results


def main() -> int:
    children.install()  # stopped by a signal, it leaves nothing running
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hits", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--target", type=int, default=0,
                    help="exit 1 when fewer hits/s than this were ingested")
    args = ap.parse_args()
    bodies = make_bodies(args.hits, args.batch)
    tmp = tempfile.mkdtemp(prefix="endpoint-bench-")
    db = os.path.join(tmp, "bench.sqlite3")
    proc, url = start_endpoint(db)
    try:
        # Warm up (connections, caches) with one small batch outside the timing.
        httpx.post(url + "/piwik.php", content=make_bodies(10, 10, seed=2)[0]).raise_for_status()
        elapsed, results = send_all(url, bodies, args.senders)
        tracked = sum(r["tracked"] for r in results)
        report = httpx.get(url + "/report.json").json()["sites"]["1"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for name in os.listdir(tmp):
            os.remove(os.path.join(tmp, name))
        os.rmdir(tmp)
    stored = report["actions"] - 10
    print("hits: %d in %d bulk requests of %d, %d senders" % (args.hits, len(bodies), args.batch,
                                                             args.senders))
    print("tracked: %d, actions stored: %d, visits: %d" % (tracked, stored, report["visits"]))
    print("elapsed: %.2f s" % elapsed)
    print("hits/s: %.0f" % (args.hits / elapsed))
    if tracked != args.hits or stored != args.hits:
        print("ERROR: not every hit was tracked and stored", file=sys.stderr)
        return 1
    if args.target and args.hits / elapsed < args.target:
        print("ERROR: below the target of %d hits/s" % args.target, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
