"""`make demo` runs end to end: imports the sample logs and a log of every format loggen.py writes
into the embedded endpoint, prints the summaries and the report, and leaves the report page in a
file."""
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from conftest import ROOT
from log_importer.loggen import FORMATS


def test_demo_imports_the_samples_and_every_generated_format_and_keeps_the_report(tmp_path):
    report = tmp_path / "report.html"
    proc = subprocess.run([sys.executable, "-m", "log_importer.demo", "--report", str(report)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.count("Logs import summary") == 2
    assert "requests imported successfully" in out and "\n            0 requests imported successfully" not in out
    inputs = sum(int(n) for n in re.findall(r"lines parsed from (\d+) input\(s\)", out))
    assert inputs == 4 + len(FORMATS)  # the 4 sample logs and one log per generated format
    assert proc.stderr == ""  # no warning: every file is read as it should be
    assert "<token>" in out  # the token is never printed
    assert "core:archive" not in out  # no advice that applies to a real Matomo only
    # the report: each site's actions explained completely (site searches counted)
    for idsite in (1, 2, 3):
        m = re.search(r"\nsite %d: \d+ visits, \d+ visitors, (\d+) actions \(([^)]*)\)\n" % idsite, out)
        assert m, out
        parts = [int(p.split()[0]) for p in m.group(2).split(", ")]
        assert sum(parts) == int(m.group(1)) and "site searches" in m.group(2)
    # the report page is kept in a file, with the day's visits
    assert "is saved in %s: open it in a browser" % report in out
    page = report.read_text()
    day = re.search(r"\n    (2026-\d\d-\d\d): (\d+) visits", out)
    assert day and day.group(1) in page and "Tracking endpoint report" in page
    assert out.rstrip().endswith("Endpoint stopped.")


def test_make_demo_serve_keeps_the_endpoint_up_until_ctrl_c(tmp_path):
    report = tmp_path / "report.html"
    proc = subprocess.Popen(["make", "-s", "demo-serve", "DEMO_ARGS=--report %s" % report], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")},
                            start_new_session=True)
    seen = []
    try:
        for text in proc.stdout:
            seen.append(text)
            if text.startswith("The endpoint stays up: open "):
                break
        url = re.search(r"open (http://[\d.:]+)/report", seen[-1]).group(1)
        page = httpx.get(url + "/report", timeout=30)
        assert page.status_code == 200 and "Tracking endpoint report" in page.text
        time.sleep(1)
        assert httpx.get(url + "/report.json", timeout=30).status_code == 200  # still up
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # the demo ended cleanly (make, which got the Ctrl-C too, ends by the signal as it always does)
    assert proc.returncode == -signal.SIGINT and "Error" not in rest, "".join(seen) + rest
    assert rest.strip().endswith("Endpoint stopped.")
    assert "is saved in %s: open it in a browser" % report in "".join(seen)
    assert report.read_text().startswith("<!DOCTYPE html>")
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/report", timeout=5)
