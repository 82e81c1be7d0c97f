"""The `log-importer-endpoint` command."""
from __future__ import annotations

import os
import re
import queue
import signal
import subprocess
import sys
import threading

import httpx
import orjson
import pytest

from log_importer.endpoint.cli import build_parser

from .calls import TOKEN

COMMAND = [sys.executable, "-m", "log_importer.endpoint.cli"]


def readline(proc, timeout=10.0) -> str:
    try:
        return proc.lines.get(timeout=timeout).strip()
    except queue.Empty:
        raise AssertionError("no output from the endpoint within %s s" % timeout) from None


@pytest.fixture
def run(tmp_path):
    procs = []

    def start(*args):
        proc = subprocess.Popen(COMMAND + ["--db", str(tmp_path / "t.sqlite3"), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc.lines = queue.Queue()
        threading.Thread(target=lambda: [proc.lines.put(x) for x in proc.stdout],
                         daemon=True).start()
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        proc.stderr.close()


def test_listening_line_tracking_and_clean_stop(run):
    proc = run("--port", "0", "--token", TOKEN, "--site", "1=https://www.example.com",
               "--site", "1=http://example.com", "--user", "admin:secret",
               "--write-token", "feedfacefeedfacefeedfacefeedface=1", "--goal", "1=2")
    line = readline(proc)
    m = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))", line)
    assert m and int(m.group(2)) > 0
    url = m.group(1)
    body = orjson.dumps({"requests": [{"idsite": 1, "rec": 1, "cip": "1.1.1.1", "idgoal": 2}],
                         "token_auth": TOKEN})
    r = httpx.post(url + "/piwik.php?queuedtracking=0", content=body)
    assert r.json() == {"status": "success", "tracked": 1, "invalid": 0, "invalid_indices": []}
    r = httpx.get(url + "/index.php", params={
        "module": "API", "method": "SitesManager.getSitesIdFromSiteUrl", "format": "json",
        "url": "https://example.com", "token_auth": TOKEN})
    assert r.json() == [{"idsite": "1"}]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert "Traceback" not in proc.stderr.read()


def test_a_generated_token_is_printed_once(run):
    proc = run("--port", "0")
    first = readline(proc)
    m = re.fullmatch(r"super user token_auth: ([0-9a-f]{32})", first)
    assert m
    url = readline(proc).split()[-1]
    r = httpx.get(url + "/index.php", params={"module": "API", "method": "API.getMatomoVersion",
                                              "format": "json", "token_auth": m.group(1)})
    assert r.json() == {"value": "5.2.0-b5"}
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0


def test_time_zone_and_dimension_options_reach_the_sites(run):
    proc = run("--port", "0", "--token", TOKEN, "--site", "1=https://www.example.com",
               "--timezone", "1=America/New_York", "--dimension", "1=3:visit")
    url = readline(proc).split()[-1]
    body = orjson.dumps({"requests": [{"idsite": 1, "rec": 1, "cip": "1.1.1.1",
                                       "cdt": "2026-03-02 03:00:00", "dimension3": "x",
                                       "url": "https://www.example.com/"}],
                         "token_auth": TOKEN})
    assert httpx.post(url + "/matomo.php", content=body).json()["tracked"] == 1
    r = httpx.get(url + "/index.php", params={
        "module": "API", "method": "CustomDimensions.getCustomDimension", "format": "json",
        "idSite": 1, "period": "day", "date": "2026-03-01", "idDimension": 3,
        "token_auth": TOKEN})
    assert [(d["label"], d["nb_visits"]) for d in r.json()] == [("x", 1)]  # 22:00 in New York
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def test_an_unknown_time_zone_is_a_clear_error(run):
    proc = run("--port", "0", "--site", "1=https://www.example.com", "--timezone", "1=Mars/Base")
    assert proc.wait(timeout=10) == 1
    assert "unknown time zone 'Mars/Base' for site 1" in proc.stderr.read()


def test_fault_options_reach_the_endpoint(run):
    proc = run("--port", "0", "--token", TOKEN, "--site", "1=https://www.example.com",
               "--fail-every", "1", "--delay-ms", "1")
    url = readline(proc).split()[-1]
    r = httpx.post(url + "/matomo.php", content=b'{"requests": [], "token_auth": "x"}')
    assert r.status_code == 500


@pytest.mark.parametrize("args, message", [
    (["--site", "foo"], "expected ID=URL"),
    (["--site", "0=https://x.example"], "site id must be > 0"),
    (["--site", "1=notaurl"], "expected ID=URL with an http:// or https:// URL"),
    (["--site", "1=ftp://x.example"], "expected ID=URL with an http:// or https:// URL"),
    (["--site", "1=http://[::1"], "expected ID=URL with an http:// or https:// URL"),
    (["--user", "admin"], "expected LOGIN:PASSWORD"),
    (["--port", "70000"], "at most 65535"),
    (["--fail-every", "-1"], ">= 0"),
    (["--drop-every", "x"], "whole number"),
    (["--write-token", "abc"], "expected TOKEN=ID"),
    (["--timezone", "1"], "expected SITE=TIMEZONE"),
    (["--dimension", "1=2:page"], "expected SITE=ID:visit or SITE=ID:action"),
    (["--no-such-option"], "unrecognized arguments"),
])
def test_bad_options_exit_2_without_a_traceback(args, message):
    r = subprocess.run(COMMAND + args, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_port_in_use_and_bad_db_exit_1_with_a_message(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run(COMMAND + ["--port", str(port), "--db", str(tmp_path / "a.db")],
                           capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "cannot listen on 127.0.0.1:%d" % port in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(COMMAND + ["--port", "0", "--db", str(tmp_path / "no" / "such" / "x.db")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "cannot open the database" in r.stderr and "Traceback" not in r.stderr


def test_help_documents_every_option():
    text = build_parser().format_help()
    for option in ("--host", "--port", "--db", "--token", "--site", "--user", "--write-token",
                   "--goal", "--fail-every", "--drop-every", "--rollback-every",
                   "--garbage-every", "--db-gone-every", "--delay-ms", "--verbose"):
        assert option in text
    for action in build_parser()._actions:  # nothing undocumented either
        for option in action.option_strings:
            assert option in text
        assert action.help


def test_console_script_is_installed():
    script = os.path.join(os.path.dirname(sys.executable), "log-importer-endpoint")
    assert os.path.exists(script)
    r = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "--fail-every" in r.stdout
