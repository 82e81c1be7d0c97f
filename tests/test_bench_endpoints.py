"""The benchmarks' Matomo stand-in (benchmarks/instant_endpoint.py) passes the importer's checks
before the first hit and counts what it acknowledges: a change to those checks must not leave
`make bench`'s instant scenarios stopping with exit 2 (which they did, unnoticed)."""
import json
import subprocess
import sys
import urllib.request

from conftest import ROOT, TOKEN, cli


def test_the_instant_endpoint_takes_a_real_import(loggen, tmp_path):
    log = loggen(600, seed=41)
    server = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "instant_endpoint.py"), "--port", "0",
                               "--token", TOKEN], stdout=subprocess.PIPE, text=True)
    try:
        first = server.stdout.readline()
        assert first.startswith("listening on http://127.0.0.1:"), first
        url = first.split()[-1]
        summary = tmp_path / "summary.json"
        code, text = cli(["--url", url, "--token-auth", TOKEN, "--idsite", 1, "--state-dir", tmp_path / "state",
                          "--summary-json", summary, log])
        assert code == 0, text
        tracked = json.loads(summary.read_text())["tracked"]
        with urllib.request.urlopen(url + "/stats", timeout=10) as answer:
            stats = json.loads(answer.read())
        assert tracked > 100 and stats["tracked"] == tracked and stats["mismatches"] == 0
    finally:
        server.terminate()
        server.wait(10)
