"""`make demo` and `make demo-serve`: the whole job on this machine, with no Matomo needed.

Starts the embedded endpoint on a free port with a temporary database, imports the sample logs
of fixtures/ and a log of every format loggen.py writes (generated into a temporary folder),
prints the import summaries and the report, and writes the report page to a file whose path it
prints (default: demo-report.html in the current folder). Then it stops the endpoint, or, with
--serve (`make demo-serve`), keeps it up until Ctrl-C (SIGINT) or SIGTERM, so that its /report
page and Reporting API can be browsed.

Two imports: the logs without a host go to site 1 (--idsite 1); the logs with a host go to the
site of their host (www.example.com and example.com: site 1, blog.example.org: site 2,
shop.example.net: site 3).
"""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import tempfile
import threading
from pathlib import Path

import formats

from .cli import main as importer_main
from .config import Config
from .endpoint import Endpoint
from .loggen import ALIASES, FORMATS, generate
from .sources import head_lines

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SITES = {
    1: ["https://www.example.com", "https://example.com"],
    2: ["https://blog.example.org"],
    3: ["https://shop.example.net"],
}
GENERATED_LINES = 400  # per format
REPORT_FILE = "demo-report.html"
ACTION_KINDS = (("pageviews", "pageviews"), ("downloads", "downloads"), ("outlinks", "outlinks"),
                ("site_searches", "site searches"), ("events", "events"))


def _show(args, token, state, logs):
    shown = []
    for a in args:
        if a == token:
            a = "<token>"
        elif a == state:
            a = "<temporary dir>"
        elif a.startswith(logs):
            a = "<generated>/" + os.path.basename(a)
        else:
            a = os.path.relpath(a) if a.startswith(str(FIXTURES)) else a
        shown.append(a)
    print("\n$ log-importer " + " ".join(shown), flush=True)


def write_logs(folder: str) -> list:
    """One log of GENERATED_LINES lines in each format loggen.py writes; their paths."""
    paths = []
    for name in sorted(FORMATS):
        path = os.path.join(folder, "%s.log" % name)
        with open(path, "wb") as f:
            for line in generate(GENERATED_LINES, name, seed=len(paths) + 1):
                f.write(line + b"\n")
        paths.append(path)
    return paths


def has_host(path: str) -> bool:
    """Whether the log's detected format gives each hit its host (else the hits need --idsite)."""
    with open(path, "rb") as f:
        head = head_lines(f.read(1 << 16), "utf8")
    fmt = formats.resolve(Config(), head, path)
    return "host" in fmt.compile().present


def action_counts(site: dict) -> str:
    """"252 actions (225 pageviews, 19 downloads, 8 site searches)": every kind counted, so that
    the parts add up to the actions (anything else is named "other")."""
    parts = [(site.get(key, 0), label) for key, label in ACTION_KINDS if site.get(key, 0)]
    other = site["actions"] - sum(n for n, _ in parts)
    if other:
        parts.append((other, "other"))
    return "%d actions (%s)" % (site["actions"], ", ".join("%d %s" % p for p in parts) or "none")


def print_report(report: dict):
    print("\nReport")
    print("-" * 60)
    for idsite, site in sorted(report["sites"].items(), key=lambda kv: int(kv[0])):
        print("site %s: %d visits, %d visitors, %s" % (idsite, site["visits"], site["visitors"], action_counts(site)))
        for day, n in sorted(site["days"].items()):
            print("    %s: %d visits, %d actions" % (day, n["visits"], n["actions"]))
        for url, n in site["top_pages"][:3]:
            print("    top page: %s (%d)" % (url, n))


def wait_for_stop():
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    while not stop.wait(0.5):
        pass


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m log_importer.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--serve", action="store_true", help="keep the endpoint up until Ctrl-C (make demo-serve)")
    p.add_argument("--port", type=int, default=0, help="the endpoint's port (default: a free one)")
    p.add_argument("--report", default=REPORT_FILE, metavar="FILE",
                   help="where to write the report page (default: %(default)s)")
    a = p.parse_args(argv)
    token = secrets.token_hex(16)
    with Endpoint(token=token, sites=SITES, port=a.port) as ep, tempfile.TemporaryDirectory() as state, \
            tempfile.TemporaryDirectory() as logs:
        print("Embedded Matomo-compatible endpoint listening on %s (temporary database)" % ep.url)
        samples = sorted(str(f) for f in FIXTURES.glob("*.log"))
        generated = write_logs(logs)
        print("Sample logs: %s; generated logs (log_importer/loggen.py), %d lines in each of its %d formats: %s"
              % (", ".join(os.path.basename(f) for f in samples), GENERATED_LINES, len(generated),
                 ", ".join(sorted(set(FORMATS) - set(ALIASES)))))
        with_host = [f for f in samples + generated if has_host(f)]
        without = [f for f in samples + generated if f not in with_host]
        runs = [
            # Logs without a host: every hit goes to one site.
            ["--idsite", "1", "--enable-http-errors"] + without,
            # Logs with a host: the site is found from each hit's host.
            ["--recorders", "2"] + with_host,
        ]
        for extra in runs:
            # A throw-away --state-dir: the demo leaves no import positions behind.
            args = ["--url", ep.url, "--token-auth", token, "--state-dir", state] + extra
            _show(args, token, state, logs)
            code = importer_main(args)
            if code != 0:
                print("demo: the import failed (exit %d)" % code, file=sys.stderr)
                return code
        print_report(ep.report())
        report = os.path.abspath(a.report)
        with open(report, "w", encoding="utf8") as f:
            f.write(ep.report_page())
        print("\nThe report page, as the endpoint shows it at %s/report, is saved in %s: open it in a browser."
              % (ep.url, report))
        if a.serve:
            print("The endpoint stays up: open %s/report (its Reporting API: %s/index.php). Ctrl-C stops it."
                  % (ep.url, ep.url), flush=True)
            wait_for_stop()
    print("\nEndpoint stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
