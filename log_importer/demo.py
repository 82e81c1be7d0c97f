"""`make demo`: the whole job on this machine, with no Matomo needed.

Starts the embedded endpoint on a free port with a temporary database, imports the sample logs
in fixtures/ (several formats) with log-importer, prints the import summaries and the report,
and stops the endpoint.
"""
from __future__ import annotations

import secrets
import sys
import tempfile
from pathlib import Path

from .cli import main as importer_main
from .endpoint import Endpoint

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SITES = {
    1: ["https://www.example.com", "https://example.com"],
    2: ["https://blog.example.org"],
    3: ["https://shop.example.net"],
}


def _show(args, token, state):
    shown = ["<token>" if a == token else "<temporary dir>" if a == state else a for a in args]
    print("\n$ log-importer " + " ".join(shown), flush=True)


def main() -> int:
    token = secrets.token_hex(16)
    runs = [
        # Logs without a host: every hit goes to one site.
        ["--idsite", "1", "--enable-http-errors", str(FIXTURES / "access-combined.log"),
         str(FIXTURES / "access-common.log"), str(FIXTURES / "u_ex260301-iis.log")],
        # Virtual-host logs: the site is found from each hit's host.
        ["--recorders", "2", str(FIXTURES / "access-vhost.log")],
    ]
    with Endpoint(token=token, sites=SITES) as ep, tempfile.TemporaryDirectory() as state:
        print("Embedded Matomo-compatible endpoint listening on %s (temporary database)" % ep.url)
        for extra in runs:
            # A throw-away --state-dir: the demo leaves no import positions behind.
            args = ["--url", ep.url, "--token-auth", token, "--state-dir", state] + extra
            _show(args, token, state)
            code = importer_main(args)
            if code != 0:
                print("demo: the import failed (exit %d)" % code, file=sys.stderr)
                return code
        report = ep.report()
        print("\nReport (also at %s/report.json and, with a chart, %s/report while it runs)"
              % (ep.url, ep.url))
        print("-" * 60)
        for idsite, site in sorted(report["sites"].items(), key=lambda kv: int(kv[0])):
            print("site %s: %d visits, %d visitors, %d actions (%d pageviews, %d downloads)"
                  % (idsite, site["visits"], site["visitors"], site["actions"], site["pageviews"],
                     site["downloads"]))
            for day, n in sorted(site["days"].items()):
                print("    %s: %d visits, %d actions" % (day, n["visits"], n["actions"]))
            for url, n in site["top_pages"][:3]:
                print("    top page: %s (%d)" % (url, n))
    print("\nEndpoint stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
