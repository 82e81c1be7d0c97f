"""Parse cost per line of every format, by family, with import_logs.py's cost on the same lines.

    .venv/bin/python benchmarks/parse_cost.py [--lines 50000] [--reference /tmp/import_logs.py]
                                              [--only nginx_json,combined] [--repeat 3]

(`make bench` runs it after the end-to-end scenarios: benchmarks/run.py --parse-lines, --reference.)
For each format the project's generator writes a log of --lines lines (cached in benchmarks/data/).
Each measure runs in a child process of its own (so that LOG_IMPORTER_NO_SCANNER can turn the C
scanners off), on one core, as CPU time (time.process_time), best of --repeat passes:

- decode: the format's decoder alone, `extract(line)` on every line (formats/);
- chunk stage: ChunkProcessor.process on the whole log in 4 MiB chunks (decode, date, classify,
  build, serialise: what a worker does), a fresh processor each pass, like a worker's;
- both again with LOG_IMPORTER_NO_SCANNER=1 where the format has a C scanner (the regexes alone);
- reference: import_logs.py --dry-run --idsite 1 --log-format-name NAME on the same file, its CPU
  time (it waits for its recorder thread in 1 s sleeps, so its wall time says little) minus the
  CPU of a 1,000-line run of the same format (start-up, the one API call its dry run makes for
  --idsite: it needs a server, so an embedded endpoint answers), per line. Its --dry-run parses,
  classifies and builds hits, but does not serialise requests: the nearest to our chunk stage.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import children  # benchmarks/children.py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(HERE, "data")
TOKEN = "0123456789abcdef0123456789abcdef"

# Generator format -> the importer's name for it, by family.
FAMILIES = {
    "space-separated": {"combined": "ncsa_extended", "common": "common", "vhost": "common_complete",
                        "icecast2": "icecast2", "ovh": "ovh", "gandi": "gandi", "s3": "s3", "elb": "elb",
                        "haproxy": "haproxy"},
    "W3C-like": {"w3c": "iis", "w3c_extended": "w3c_extended", "amazon_cloudfront": "amazon_cloudfront",
                 "incapsula_w3c": "incapsula_w3c", "shoutcast": "shoutcast", "netscaler": "netscaler"},
    "JSON": {"nginx_json": "nginx_json", "traefik_json": "traefik_json", "caddy_json": "caddy_json"},
    # Formats beyond the reference (issue 11): the reference has no cost for them.
    "beyond the reference": {"varnishncsa": "varnishncsa", "traefik_clf": "traefik_clf", "caddy": "caddy",
                             "squid": "squid", "bunny": "bunny", "gcs": "gcs", "cloudflare_json": "cloudflare_json",
                             "akamai_json": "akamai_json", "syslog": "syslog+ncsa_extended"},
}
# Format strings (generator format, name): the defaults compile into the named formats (with their C scanner).
FORMAT_STRINGS = [("combined", "apache combined"), ("combined", "nginx main")]
REFERENCE_NAME = {"netscaler": "w3c_extended"}  # not a name of the reference: its header reads as w3c
NOT_IN_REFERENCE = set(FAMILIES["beyond the reference"].values()) | {name for _, name in FORMAT_STRINGS}
# The options that give a format that is not a name.
FORMAT_OPTIONS = {
    "apache combined": {"log_format_apache": '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'},
    "nginx main": {"log_format_nginx": '$remote_addr - $remote_user [$time_local] "$request" $status '
                                       '$body_bytes_sent "$http_referer" "$http_user_agent"'},
}


def ensure_log(fmt: str, lines: int, seed: int = 1) -> str:
    os.makedirs(DATA, exist_ok=True)
    path = os.path.join(DATA, "%s-%d-s%d.log" % (fmt, lines, seed))
    if not os.path.exists(path):
        tmp = path + ".tmp%d" % os.getpid()
        subprocess.run([sys.executable, "-m", "log_importer.loggen", "--lines", str(lines), "--seed", str(seed),
                        "--format", fmt, "-o", tmp], check=True, cwd=ROOT)
        os.replace(tmp, path)
    return path


def _measure(name: str, path: str, repeat: int) -> dict:
    """In the child: CPU µs per line of the decoder and of the chunk stage (best of `repeat`)."""
    sys.path.insert(0, ROOT)
    import formats
    from log_importer import chunks
    from log_importer.config import Config

    with open(path, "rb") as f:
        data = f.read()
    text_lines = data.decode("utf-8", "surrogateescape").split("\n")[:-1]
    config = Config(**FORMAT_OPTIONS.get(name, {"log_format_name": name}), idsite=1, dry_run=True)
    fmt = formats.resolve(config, text_lines[:200])
    records = [ln for ln in text_lines if not ln.startswith("#")]
    decoder = fmt.compile()
    best_decode = best_chunk = float("inf")
    for _ in range(repeat):
        extract = fmt.compile().extract
        t0 = time.process_time()
        for line in records:
            extract(line)
        best_decode = min(best_decode, time.process_time() - t0)
        processor = chunks.ChunkProcessor(config)
        sites = chunks.SiteMap(static=chunks.Site(1, "https://www.example.com"))
        t0 = time.process_time()
        pos, seq, hits = 0, 0, 0
        while pos < len(data):
            end = data.rfind(b"\n", pos, pos + (4 << 20)) + 1 or len(data)
            result = processor.process(chunks.ChunkTask(0, seq, pos, data[pos:end], fmt, sites, 1))
            hits += result.hits
            pos, seq = end, seq + 1
        best_chunk = min(best_chunk, time.process_time() - t0)
    return {"format": fmt.name, "lines": len(records), "scanned": decoder.scanned, "hits": hits,
            "decode_us": best_decode / len(records) * 1e6, "chunk_us": best_chunk / len(text_lines) * 1e6}


def child(name, path, repeat, no_scanner=False) -> dict:
    env = dict(os.environ)
    if no_scanner:
        env["LOG_IMPORTER_NO_SCANNER"] = "1"
    p = subprocess.run([sys.executable, __file__, "--measure", name, path, "--repeat", str(repeat)],
                       capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    return json.loads(p.stdout)


def reference_cost(reference: str, name: str, path: str, small: str, url: str) -> float | None:
    """CPU microseconds per line of import_logs.py --dry-run, start-up taken out."""
    def cpu(log):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.run([sys.executable, reference, "--url", url, "--token-auth", TOKEN, "--idsite", "1",
                            "--dry-run", "--log-format-name", REFERENCE_NAME.get(name, name), log],
                           capture_output=True, text=True, timeout=1800)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            print("  !! the reference failed on %s: %s" % (name, (p.stderr or p.stdout).strip()[-300:]))
            return None
        return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    big, little = cpu(path), cpu(small)
    if big is None or little is None:
        return None
    return (big - little) / (_count(path) - _count(small)) * 1e6


def _count(path):
    with open(path, "rb") as f:
        return sum(1 for line in f if not line.startswith(b"#"))


def run(lines: int, repeat: int, reference: str | None, only=None) -> list[dict]:
    rows = []
    endpoint = None
    if reference:
        sys.path.insert(0, ROOT)
        from log_importer.endpoint import Endpoint
        endpoint = Endpoint(token=TOKEN, sites={1: "https://www.example.com"}).start()
    try:
        families = [(family, list(members.items())) for family, members in FAMILIES.items()]
        for family, members in families + [("format strings", FORMAT_STRINGS)]:
            for fmt, name in members:
                if only and fmt not in only and name not in only:
                    continue
                path, small = ensure_log(fmt, lines), ensure_log(fmt, 1000)
                row = {"family": family, "name": name, **child(name, path, repeat)}
                if row["scanned"]:
                    regex = child(name, path, repeat, no_scanner=True)
                    row["decode_regex_us"], row["chunk_regex_us"] = regex["decode_us"], regex["chunk_us"]
                if reference and name not in NOT_IN_REFERENCE:
                    row["reference_us"] = reference_cost(reference, name, path, small, endpoint.url)
                rows.append(row)
                print("  %-17s decode %5.2f µs  chunk stage %5.2f µs%s%s" % (
                    name, row["decode_us"], row["chunk_us"],
                    "  (regexes: %.2f / %.2f)" % (row["decode_regex_us"], row["chunk_regex_us"])
                    if "decode_regex_us" in row else "",
                    "  reference %.2f µs" % row["reference_us"] if row.get("reference_us") else ""), flush=True)
    finally:
        if endpoint is not None:
            endpoint.stop()
    return rows


def report(rows: list[dict], lines: int) -> None:
    print("\nPARSE COST PER LINE (%s generated lines per format, CPU µs per line on one core, best of runs)" %
          f"{lines:,}")
    hdr = ("family", "format", "decode", "decode, regexes", "chunk stage", "chunk stage, regexes",
           "import_logs.py --dry-run", "reference / our chunk stage")
    out = []
    for r in rows:
        regex_chunk = r.get("chunk_regex_us")
        ref = r.get("reference_us")
        out.append((r["family"], r["name"], "%.2f" % r["decode_us"],
                    "%.2f" % r["decode_regex_us"] if "decode_regex_us" in r else "(no scanner)",
                    "%.2f" % r["chunk_us"], "%.2f" % regex_chunk if regex_chunk else "-",
                    "%.1f" % ref if ref else "-", "%.1fx" % (ref / r["chunk_us"]) if ref else "-"))
    widths = [max(len(str(x)) for x in col) for col in zip(hdr, *out)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(hdr, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in out:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
    by = {r["name"]: r for r in rows}
    apache = by.get("ncsa_extended")
    if apache and "chunk_regex_us" in apache:
        for name in ("nginx_json", "traefik_json", "caddy_json"):
            if name in by:
                j = by[name]
                print("%s / combined with its regexes: decode %.2fx (%.2f vs %.2f µs), chunk stage %.2fx "
                      "(%.2f vs %.2f µs)%s" % (
                          name, j["decode_us"] / apache["decode_regex_us"], j["decode_us"], apache["decode_regex_us"],
                          j["chunk_us"] / apache["chunk_regex_us"], j["chunk_us"], apache["chunk_regex_us"],
                          "" if j["chunk_us"] <= apache["chunk_regex_us"] else "  !! JSON slower than the regexes"))


def main(argv=None) -> int:
    children.install()  # stopped by a signal, it leaves nothing running
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=50_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--reference", help="path of a local copy of import_logs.py (not part of this repository)")
    p.add_argument("--only", help="comma list of formats")
    p.add_argument("--measure", nargs=2, metavar=("NAME", "PATH"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.measure:
        print(json.dumps(_measure(a.measure[0], a.measure[1], a.repeat)))
        return 0
    rows = run(a.lines, a.repeat, a.reference, a.only.split(",") if a.only else None)
    report(rows, a.lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
