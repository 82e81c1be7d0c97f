"""Capacity of benchmarks/instant_endpoint.py on its own: is it fast enough not to be the bottleneck?

    .venv/bin/python benchmarks/instant_capacity.py [--hits 400000] [--batch 200] [--senders 2]
                                                    [--count fast|parse]

Starts the instant endpoint, pre-encodes bulk bodies shaped like the importer's (flat request
objects of ~400 bytes, 200 per body), then POSTs them over raw keep-alive sockets from a few
threads (no HTTP library on the client side, so the client costs little). Checks the endpoint's
`tracked` total and prints hits/s and the endpoint's CPU seconds per 1M hits (from /proc), i.e.
the share of a core the endpoint takes at a given import rate.
"""
from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import threading
import time

import orjson

import children  # benchmarks/children.py

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "0123456789abcdef0123456789abcdef"
CLK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK  # utime, stime


def start_endpoint(extra=()):
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "instant_endpoint.py"), "--token", TOKEN, *extra],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith("listening on "):
        p.kill()
        raise SystemExit("instant endpoint did not start: %r" % line)
    port = int(line.rsplit(":", 1)[1])
    return p, port


def make_bodies(hits: int, batch: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    bodies, reqs = [], []
    for i in range(hits):
        reqs.append({"rec": "1", "apiv": "1", "idsite": 1,
                     "url": "https://www.example.com/blog/post-%d?utm_source=x&n=%d" % (rng.randrange(500), i),
                     "urlref": "https://www.google.com/search?q=%d" % rng.randrange(10000),
                     "cip": "10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(256)),
                     "cdt": "2026-03-01 00:%02d:%02d" % (i // 60 % 60, i % 60),
                     "ua": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 {\"x\"}",
                     "dp": "1", "queuedtracking": "0", "cvar": '{"1":["HTTP-code","200"]}',
                     "bw_bytes": rng.randrange(100000)})
        if len(reqs) == batch:
            bodies.append(orjson.dumps({"requests": reqs, "token_auth": TOKEN}))
            reqs = []
    if reqs:
        bodies.append(orjson.dumps({"requests": reqs, "token_auth": TOKEN}))
    return bodies


def http_post(sock, rfile, port, body: bytes) -> bytes:
    sock.sendall(b"POST /piwik.php?queuedtracking=0 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (port, len(body)) + body)
    return read_response(rfile)


def read_response(rfile) -> bytes:
    """The body of one HTTP/1.1 answer with a Content-Length."""
    length = 0
    while True:
        line = rfile.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return rfile.read(length)


def main(argv=None):
    children.install()  # stopped by a signal, it leaves nothing running
    p = argparse.ArgumentParser()
    p.add_argument("--hits", type=int, default=400_000)
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--senders", type=int, default=2)
    p.add_argument("--count", choices=("fast", "parse"), default="fast")
    a = p.parse_args(argv)
    bodies = make_bodies(a.hits, a.batch)
    proc, port = start_endpoint(["--count", a.count])
    errors = []
    try:
        shares = [bodies[i::a.senders] for i in range(a.senders)]

        def send(share):
            s = socket.create_connection(("127.0.0.1", port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            rf = s.makefile("rb")
            for body in share:
                answer = http_post(s, rf, port, body)
                if not answer.startswith(b'{"status":"success"'):
                    errors.append(answer)
                    break
            s.close()

        cpu0 = proc_cpu(proc.pid)
        t0 = time.perf_counter()
        threads = [threading.Thread(target=send, args=(sh,)) for sh in shares]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        cpu = proc_cpu(proc.pid) - cpu0
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
        stats = orjson.loads(_get_stats(s))
        s.close()
    finally:
        proc.terminate()
        proc.wait(10)
    mb = sum(map(len, bodies)) / 1e6
    print("count mode %s: %d hits in %d bodies (%.0f MB), %d senders" % (a.count, a.hits, len(bodies), mb, a.senders))
    print("  %.0f hits/s, %.0f bodies/s, %.0f MB/s (client and endpoint share the machine)"
          % (a.hits / wall, len(bodies) / wall, mb / wall))
    print("  endpoint CPU: %.2f s = %.2f s per 1M hits (max %.0f hits/s per fully busy core)"
          % (cpu, cpu / a.hits * 1e6, a.hits / cpu if cpu else float("inf")))
    print("  endpoint stats: %s" % stats)
    ok = stats["tracked"] == a.hits and not errors and not stats["mismatches"]
    print("  counts " + ("OK" if ok else "WRONG: %s" % errors[:1]))
    return 0 if ok else 1


def _get_stats(s) -> bytes:
    return read_response(s.makefile("rb"))


if __name__ == "__main__":
    sys.exit(main())
