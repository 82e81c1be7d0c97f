"""Standard input kept open (tail -F, Apache's piped CustomLog), signals while waiting on it, and
compressed data on it: over real pipes, into the embedded endpoint over real HTTP."""
import bz2
import gzip
import json
import lzma
import signal
import subprocess
import sys
import threading
import time

import pytest
import zstandard

import summary_check
from conftest import ROOT, TOKEN, line
from test_import_http import importer

THREE = [line(ip="198.51.100.%d" % i, request="GET /live/%d HTTP/1.1" % i) for i in (1, 2, 3)]


def start(ep, *extra):
    args = ["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1] + list(extra) + ["-"]
    return subprocess.Popen([sys.executable, "-m", "log_importer"] + [str(a) for a in args], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


class Output:
    """The importer's output, read as it comes (a thread), so a test can wait for a line."""

    def __init__(self, proc):
        self.lines = []
        self.thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        for raw in stream:
            self.lines.append(raw.decode("utf-8", "replace"))

    def has(self, text):
        return any(text in ln for ln in self.lines)

    def text(self):
        self.thread.join(30)
        text = "".join(self.lines)
        summary_check.check_text(text)  # read here, not through communicate(): checked here
        return text


def wait_until(condition, limit=30.0):
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def preflight_done(ep):
    """The importer checked the tracker: it is past its start-up, reading standard input."""
    return any(h["path"].startswith("/piwik.php") for h in ep.http_log)


def test_live_lines_reach_matomo_while_the_pipe_stays_open(endpoint):
    ep = endpoint()
    proc = start(ep)
    try:
        proc.stdin.write("".join(t + "\n" for t in THREE).encode())
        proc.stdin.flush()
        assert wait_until(lambda: len(ep.received()) == 3), "the hits did not arrive while the pipe was open"
        assert proc.poll() is None  # still reading: the pipe is open
        assert sorted(r["params"]["url"] for r in ep.received()) == [
            "https://www.example.com/live/%d" % i for i in (1, 2, 3)]
        # More lines later go too, one at a time.
        proc.stdin.write((line(ip="198.51.100.4", request="GET /live/4 HTTP/1.1") + "\n").encode())
        proc.stdin.flush()
        assert wait_until(lambda: len(ep.received()) == 4)
        assert proc.poll() is None
    finally:
        proc.stdin.close()  # the end of the input: the run finishes
    out = proc.stdout.read()
    summary_check.check_text(out.decode())
    assert proc.wait(60) == 0, out
    assert b"4 requests imported successfully" in out
    assert all(r["outcome"] == "stored" for r in ep.received())


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_while_waiting_on_stdin_sends_what_was_read(endpoint, tmp_path, sig, code):
    ep = endpoint()
    summary = tmp_path / "summary.json"
    # --idle-flush 600: the hits read stay in a partial batch until the signal comes.
    proc = start(ep, "--idle-flush", 600, "--summary-json", summary, "--debug")
    output = Output(proc)
    try:
        proc.stdin.write("".join(t + "\n" for t in THREE).encode())
        proc.stdin.flush()
        assert wait_until(lambda: output.has("format of (stdin)")), output.text()  # the lines are read
        time.sleep(0.5)
        assert ep.received() == []
        signalled = time.monotonic()
        proc.send_signal(sig)
        proc.wait(30)  # standard input stays open: the signal alone ends the run
        assert time.monotonic() - signalled < 10
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
    text = output.text()
    assert proc.returncode == code, text
    assert "INTERRUPTED: stopped by %s" % signal.Signals(sig).name in text
    assert "3 requests imported successfully" in text and "Traceback" not in text
    assert [r["outcome"] for r in ep.received()] == ["stored"] * 3
    data = json.loads(summary.read_text())
    assert data["exit_code"] == code and data["tracked"] == 3


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress,
                                      zstandard.ZstdCompressor().compress],
                         ids=["gz", "bz2", "xz", "zst"])
def test_compressed_data_on_stdin_is_recognised_by_content(endpoint, loggen, compress):
    log = loggen(800, seed=3)
    plain = endpoint()
    code, text = importer(["--url", plain.url, "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0, text
    expected = sorted(json.dumps(r["params"], sort_keys=True) for r in plain.received())
    assert len(expected) > 100
    ep = endpoint()
    proc = start(ep)
    out, _ = proc.communicate(compress(log.read_bytes()), timeout=120)
    assert proc.returncode == 0, out
    assert b"800 lines parsed" in out
    assert sorted(json.dumps(r["params"], sort_keys=True) for r in ep.received()) == expected


def test_a_stalled_compressed_pipe_is_stopped_by_a_signal(endpoint, loggen, tmp_path):
    """Half a gzip stream, then the writer waits (less than a chunk of lines): SIGTERM still
    ends the run at once, and the whole lines decompressed so far are sent."""
    ep = endpoint()
    log = loggen(3000, seed=5)
    data = gzip.compress(log.read_bytes())
    summary = tmp_path / "summary.json"
    proc = start(ep, "--summary-json", summary)
    output = Output(proc)
    try:
        proc.stdin.write(data[:len(data) // 2])
        proc.stdin.flush()
        assert wait_until(lambda: preflight_done(ep))
        time.sleep(1.5)  # the half is decompressed, the reader waits for more
        assert ep.received() == []  # less than a chunk: nothing handed on yet
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)  # standard input stays open
        assert time.monotonic() - signalled < 10
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
    text = output.text()
    assert proc.returncode == 143, text
    assert "Traceback" not in text and "cannot read" not in text
    parsed = json.loads(summary.read_text())["lines_read"]
    assert 500 < parsed < 3000  # the whole lines of the half that arrived
    assert len(ep.received()) > 100 and all(r["outcome"] == "stored" for r in ep.received())
    plain = endpoint()  # the same lines from a file send the same hits
    head = tmp_path / "head.log"
    head.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:parsed]))
    assert importer(["--url", plain.url, "--token-auth", TOKEN, "--idsite", 1, head])[0] == 0
    assert sorted(json.dumps(r["params"], sort_keys=True) for r in ep.received()) == sorted(
        json.dumps(r["params"], sort_keys=True) for r in plain.received())
