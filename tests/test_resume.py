"""Nothing lost, nothing twice: positions per file and destination, rotation, kill -9, signals."""
import gzip
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, line
from conftest import TOKEN
from test_import_http import importer, write


def stored(ep):
    return sorted(json.dumps(r["params"], sort_keys=True) for r in ep.received() if r["outcome"] == "stored")


def lines_for(n, start=0, day="01"):
    return [line(ip="192.0.2.%d" % (i % 50), request="GET /p%d HTTP/1.1" % i,
                 date="%s/Mar/2026:10:%02d:%02d +0000" % (day, (i // 60) % 60, i % 60))
            for i in range(start, start + n)]


def args_for(ep, *files, extra=()):
    return ["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--retry-delay", 0] + list(extra) + list(files)


def test_a_second_run_imports_nothing_and_says_so(endpoint, tmp_path):
    ep = endpoint()
    log = write(tmp_path, lines_for(30))
    code, text = importer(args_for(ep, log))
    assert code == 0 and len(ep.received()) == 30
    code, text = importer(args_for(ep, log))
    assert code == 0 and len(ep.received()) == 30
    assert "skipped 30 lines already imported on 20" in text and "--reimport" in text
    code, text = importer(args_for(ep, log, extra=["--reimport"]))
    assert len(ep.received()) == 60


def test_growing_and_rotating_logs_import_each_line_once(endpoint, tmp_path):
    ep = endpoint()
    log = tmp_path / "access.log"
    log.write_text("".join(text + "\n" for text in lines_for(40)))
    assert importer(args_for(ep, tmp_path / "access.log*"))[0] == 0
    with open(log, "a") as f:  # the log grows
        f.write("".join(text + "\n" for text in lines_for(25, 40)))
    code, text = importer(args_for(ep, tmp_path / "access.log*"))
    assert code == 0 and len(ep.received()) == 65
    assert "skipped 40 lines" in text
    os.rename(log, tmp_path / "access.log.1")  # rotation
    log.write_text("".join(text + "\n" for text in lines_for(10, 0, day="02")))
    with open(tmp_path / "access.log.1", "a") as f:  # the last lines written before rotation
        f.write("".join(text + "\n" for text in lines_for(5, 65)))
    code, text = importer(args_for(ep, tmp_path / "access.log*"))
    assert code == 0 and len(ep.received()) == 80, text
    # compression of the rotated file: recognised through decompression
    rotated = tmp_path / "access.log.1"
    (tmp_path / "access.log.2.gz").write_bytes(gzip.compress(rotated.read_bytes()))
    rotated.unlink()
    code, text = importer(args_for(ep, tmp_path / "access.log*"))
    assert code == 0 and len(ep.received()) == 80, text
    assert "skipped 70 lines" in text and "skipped 10 lines" in text
    assert len(set(stored(ep))) == 80


def test_destinations_have_their_own_positions(endpoint, tmp_path):
    log = write(tmp_path, lines_for(10))
    a, b = endpoint(), endpoint()
    importer(args_for(a, log))
    importer(args_for(b, log))
    assert len(a.received()) == len(b.received()) == 10


def test_short_files_are_not_remembered(endpoint, tmp_path):
    ep = endpoint()
    log = tmp_path / "tiny.log"
    log.write_text("1.2.3.4 - - [x] \"GET / HTTP/1.1\" 200 1\n")  # < 64 bytes
    importer(args_for(ep, log))
    code, text = importer(args_for(ep, log))
    assert "skipped" not in text


def test_state_is_per_state_dir_and_locked(endpoint, tmp_path):
    ep = endpoint()
    log = write(tmp_path, lines_for(10))
    state = tmp_path / "st"
    importer(args_for(ep, log, extra=["--state-dir", state]))
    files = list(state.glob("*.json"))
    assert len(files) == 1
    data = json.loads(files[0].read_text())
    assert data["version"] == 1 and data["destination"]["idsite"] == 1
    [entry] = data["files"]
    assert entry["lines"] == 10 and entry["offset"] == log.stat().st_size and entry["name"] == str(log)
    import fcntl
    fd = os.open(str(files[0]) + ".lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        code, text = importer(args_for(ep, log, extra=["--state-dir", state]))
    finally:
        os.close(fd)
    assert code == 2 and "another import into the same destination is running" in text


def _start(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "log_importer"] + [str(a) for a in args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def _wait_for_hits(ep, n, limit=60):
    deadline = time.monotonic() + limit
    while len(ep.received()) < n:
        assert time.monotonic() < deadline, "the import did not start"
        time.sleep(0.05)


def test_a_second_signal_cuts_requests_that_hang(endpoint, loggen):
    """A tracker that stops answering: the second signal ends the requests in progress at once,
    instead of after --request-timeout, and their hits stay pending for the next run."""
    log = loggen(3000, seed=12)
    clean = endpoint()
    assert importer(args_for(clean, log))[0] == 0
    expected = stored(clean)
    ep = endpoint(delay_ms=50)  # slow enough that the import is still running when it hangs
    args = args_for(ep, log, extra=["--recorders", 2, "--recorder-max-payload-size", 20,
                                    "--request-timeout", 120])
    proc = _start(args)
    _wait_for_hits(ep, 40)
    ep.faults.delay = 100.0  # from now on the tracker hangs
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    cut = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert time.monotonic() - cut < 10, out
    assert proc.returncode == 143, out
    assert "in-flight batches were abandoned" in out and "Traceback" not in out
    ep.faults.release()  # the hung calls go on (the server stores them: duplicates, bounded)
    code, text = importer(args)
    assert code == 0, text
    got = stored(ep)
    assert set(got) == set(expected)
    assert len(got) - len(expected) <= 2 * 3 * 20


def test_kill_9_then_run_again_loses_nothing(endpoint, tmp_path, loggen):
    log = loggen(4000, seed=6)
    clean = endpoint()
    assert importer(args_for(clean, log, extra=["--recorder-max-payload-size", 20]))[0] == 0
    expected = stored(clean)
    ep = endpoint(delay_ms=40)
    args = args_for(ep, log, extra=["--recorders", 2, "--recorder-max-payload-size", 20])
    proc = _start(args)
    _wait_for_hits(ep, len(expected) // 3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < len(ep.received()) < len(expected)
    code, text = importer(args)
    assert code == 0, text
    assert "lines already imported" in text
    got = stored(ep)
    assert set(got) == set(expected)
    # at most the batches in flight are sent twice: 2 senders x (2 queued + 1 sending) x 20 hits
    assert len(got) - len(expected) <= 2 * 3 * 20


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_cleanly_saves_and_resumes_without_duplicates(endpoint, loggen, tmp_path, sig, code):
    log = loggen(3000, seed=7)
    clean = endpoint()
    assert importer(args_for(clean, log))[0] == 0
    expected = stored(clean)
    ep = endpoint(delay_ms=40)
    summary = tmp_path / "summary.json"
    args = args_for(ep, log, extra=["--recorders", 2, "--recorder-max-payload-size", 20, "--summary-json", summary])
    proc = _start(args)
    _wait_for_hits(ep, len(expected) // 4)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == code, out
    assert "INTERRUPTED: stopped by %s" % signal.Signals(sig).name in out and "Logs import summary" in out
    data = json.loads(summary.read_text())
    assert data["exit_code"] == code and data["tracked"] == len(ep.received())
    first = len(ep.received())
    assert first < len(expected)
    rc, text = importer(args)
    assert rc == 0, text
    assert stored(ep) == expected  # everything once: nothing in flight was abandoned


def test_failed_run_resumes_where_it_stopped(endpoint, loggen):
    log = loggen(2000, seed=8)
    clean = endpoint()
    importer(args_for(clean, log))
    expected = stored(clean)
    ep = endpoint(fail_every=5)  # tracking calls 5, 10, 15... answer 500
    # One sender: with several, a resent batch can meet the next "every 5th call" fault again.
    args = args_for(ep, log, extra=["--recorder-max-payload-size", 30, "--recorders", 1])
    code, text = importer(args + ["--retry-max-attempts", 1])
    assert code == 1 and "gave up after 1 attempts" in text and "run the same command again" in text
    first = stored(ep)
    assert 0 < len(first) < len(expected)
    code, text = importer(args + ["--retry-max-attempts", 3])
    assert code == 0, text
    assert stored(ep) == expected  # the rest, and nothing twice


def test_a_file_named_twice_or_copied_is_imported_once(endpoint, tmp_path):
    ep = endpoint()
    log = write(tmp_path, lines_for(20))
    copy = tmp_path / "copy.log"
    copy.write_bytes(log.read_bytes())
    code, text = importer(args_for(ep, log, tmp_path / "*.log", copy))
    assert code == 0, text
    assert len(ep.received()) == 20
    assert "(a copy?)" in text


def test_a_second_signal_abandons_what_is_in_flight_and_nothing_is_lost(endpoint, loggen):
    log = loggen(3000, seed=10)
    clean = endpoint()
    assert importer(args_for(clean, log))[0] == 0
    expected = stored(clean)
    ep = endpoint(delay_ms=300)
    args = args_for(ep, log, extra=["--recorders", 2, "--recorder-max-payload-size", 20])
    proc = _start(args)
    _wait_for_hits(ep, 40)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, out
    assert "in-flight batches were abandoned" in out and "Traceback" not in out
    code, text = importer(args)
    assert code == 0, text
    got = stored(ep)
    assert set(got) == set(expected)
    assert len(got) - len(expected) <= 2 * 3 * 20
