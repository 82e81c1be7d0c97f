"""What the operator sees (issue 15): messages, progress, summary and demo that never mislead.

Every case runs the console script `log-importer` in a subprocess, against the embedded endpoint
over real HTTP on 127.0.0.1, with real signals, and asserts the text a user reads and the exit
status. The arithmetic of every summary is checked by conftest.py (summary_check.py).
"""
import fcntl
import gzip
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from conftest import CLI, ROOT, TOKEN, cli, line


def start(args, **kw):
    return subprocess.Popen([CLI] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=ROOT, **kw)


def to(ep, *extra):
    return ["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1] + list(extra)


def wait_for(condition, limit=60):
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def stored(ep):
    return sorted(json.dumps(r["params"], sort_keys=True) for r in ep.received() if r["outcome"] == "stored")


def number(text, label):
    m = re.search(r"([\d,]+) %s" % re.escape(label), text)
    assert m, (label, text)
    return int(m.group(1).replace(",", ""))


# Waits -------------------------------------------------------------------------------------------------
def test_the_last_answers_and_standard_input_are_waits_that_say_so(endpoint, tmp_path):
    ep = endpoint(delay_ms=2600)  # every tracking call: the pre-flight's (test_connections.py), the batch's
    log = tmp_path / "access.log"
    log.write_text(line() + "\n")
    code, text = cli(to(ep, "--request-timeout", 30, log))
    assert code == 0, text
    assert "log-importer: INFO: waiting for Matomo to answer the last batches (about 1)\n" in text
    assert "1 requests imported successfully" in text
    # A pipe that brings nothing for a while, twice: said once, and counted as idle time.
    proc = start(to(endpoint(), "-"), stdin=subprocess.PIPE)
    time.sleep(2.5)
    proc.stdin.write(line() + "\n")
    proc.stdin.flush()
    time.sleep(2.5)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert out.count("log-importer: INFO: waiting for more lines on standard input (the import ends when it is "
                     "closed; Ctrl-C stops it)\n") == 1
    idle = re.search(r"\n +idle, waiting for standard input: ([\d.]+) s \((\d+)%\)\n", out)
    assert idle and float(idle.group(1)) >= 4, out
    assert re.search(r"Bottleneck: standard input brought nothing new for %s%% of the time" % idle.group(2), out)


# A stop by signal -------------------------------------------------------------------------------
def _continue_with(text):
    """The command the summary gives to continue, with the token given again."""
    m = re.search(r"How to continue\n-+\n\n.*\n        (log-importer .*)\n", text)
    assert m, text
    return m.group(1).replace("<hidden>", TOKEN)


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_shows_the_true_position_and_the_command_to_continue(endpoint, loggen, sig, code):
    log = loggen(6000, seed=31)
    clean = endpoint()
    assert cli(to(clean, log))[0] == 0
    expected = stored(clean)
    ep = endpoint(delay_ms=60)
    args = to(ep, "--recorders", 2, "--recorder-max-payload-size", 20, "--show-progress",
              "--show-progress-delay", "0.2", log)
    proc = start(args)
    wait_for(lambda: len(ep.received()) >= len(expected) // 5)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == code, out
    name = signal.Signals(sig).name
    assert "log-importer: WARNING: %s: stopping; batches already sent will finish" % name in out
    # the progress stops where the import stands: not at 100%
    final = [ln for ln in out.splitlines() if ln.startswith("log-importer: progress: stopped: ")]
    assert len(final) == 1 and "100%" not in final[0], out
    after = out[out.index("%s: stopping" % signal.Signals(sig).name):]
    assert not [ln for ln in after.splitlines() if ln.startswith("log-importer: progress:") and " left" in ln], after
    done = int(re.search(r"stopped: (\d+)% of ", final[0]).group(1))
    assert 0 < done < 100
    summary = out[out.index("Logs import summary"):]
    assert re.search(r"INTERRUPTED: stopped by %s: batches already sent were finished; %d%% of the input was "
                     r"parsed \([\d.]+ [KM]B of [\d.]+ [KM]B\)" % (name, done), summary), summary
    assert "0 retries" in summary and "may be sent twice" not in summary
    command = _continue_with(summary)
    assert command.startswith("log-importer --url %s --token-auth " % ep.url)
    assert re.search(r"\n    %s: continues after line [\d,]+\n" % re.escape(str(log)), summary)
    assert summary.rstrip().endswith(str(log) + ": continues after line %s" % re.search(
        r"continues after line ([\d,]+)", summary).group(1))
    # the command continues: everything once
    code2, text2 = cli(command.split()[1:])
    assert code2 == 0, text2
    assert "lines already imported" in text2
    assert stored(ep) == expected


def test_a_second_signal_says_how_many_hits_may_go_twice_and_counts_no_retry(endpoint, loggen):
    log = loggen(3000, seed=32)
    clean = endpoint()
    assert cli(to(clean, log))[0] == 0
    expected = stored(clean)
    ep = endpoint(delay_ms=400)
    proc = start(to(ep, "--recorders", 2, "--recorder-max-payload-size", 20, "--retry-delay", 8, log))
    wait_for(lambda: len(ep.received()) >= 40)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "SIGINT again: abandoning the batches in flight" in out
    # the connections the importer cut itself are neither warned about nor counted as retries
    assert "retrying" not in out and "cannot reach" not in out
    assert "0 retries" in out
    twice = number(out, "hits may be sent twice")
    # the requests in flight (one per sender), and what other senders had confirmed past the first
    assert 0 < twice <= 2 * 3 * 20 and "whose requests went unanswered (cut off by the stop" in out
    assert "INTERRUPTED: stopped by SIGINT: in-flight batches were abandoned" in out
    command = _continue_with(out)
    code, text = cli(command.split()[1:])
    assert code == 0, text
    got = stored(ep)
    assert set(got) == set(expected) and len(got) - len(expected) <= twice


# Causes named from the answer ---------------------------------------------------------------------
def test_a_database_gone_away_is_named_as_such_and_retried(endpoint, loggen):
    log = loggen(2000, seed=33)
    ep = endpoint(db_gone_every=4)  # call 1 is the pre-flight's
    code, text = cli(to(ep, "--recorder-max-payload-size", 100, "--retry-delay", 0, log))
    assert code == 0, text
    warnings = [ln for ln in text.splitlines() if "WARNING" in ln]
    assert warnings and all(
        "the tracker did not answer JSON (HTTP 200, the text 'Error:SQLSTATE[HY000]: General error: 2006 MySQL "
        "server has gone away': Matomo's database failed: the database server closed Matomo's connection" in w
        and "retrying in 0.0 s (attempt 2 of 3)" in w for w in warnings), warnings
    assert not any(word in text for word in ("BulkTracking", "QueuedTracking", "proxy"))
    assert number(text, "retries") == len(warnings) == ep.faults.calls // 4
    assert number(text, "requests imported successfully") == len(ep.received())


# The summary ---------------------------------------------------------------------------------------
def test_no_core_archive_advice_for_the_embedded_endpoint(endpoint, tmp_path, monkeypatch):
    log = tmp_path / "access.log"
    log.write_text(line() + "\n")
    ep = endpoint()
    code, text = cli(to(ep, log))
    assert code == 0 and "core:archive" not in text and "Processing your log data" not in text
    assert "Bottleneck: " in text and "more --recorders" not in text  # the endpoint is no server to scale
    # The same answers from a server that does not name itself as the embedded endpoint: a Matomo.
    from log_importer.endpoint import server
    monkeypatch.setattr(server._Handler, "server_version", "Apache")
    ep = endpoint()
    code, text = cli(to(ep, log))
    assert code == 0
    assert "./console core:archive --force-all-websites --url='%s'" % ep.url in text


def test_summary_lines_never_end_with_a_dangling_colon(endpoint, tmp_path):
    log = tmp_path / "access.log"
    log.write_text(line() + "\n")
    code, text = cli(to(endpoint(), log))
    assert code == 0
    assert "\n    0 sites were created\n" in text
    assert "\n    0 distinct hostnames did not match any existing site\n" in text
    assert not re.search(r":\n(\n|\S|$)", text)


def test_the_time_is_split_and_the_bottleneck_named(endpoint, loggen):
    ep = endpoint(delay_ms=50)
    code, text = cli(to(ep, "--recorder-max-payload-size", 10, loggen(1000, seed=34)))
    assert code == 0, text
    m = re.search(r"Total time: ([\d.]+) seconds\n +reading and parsing the logs: ([\d.]+) s \(\d+%\)\n"
                  r" +waiting for Matomo: ([\d.]+) s \((\d+)%\)\n", text)
    assert m, text
    assert float(m.group(2)) + float(m.group(3)) == pytest.approx(float(m.group(1)), abs=1e-6)
    assert re.search(r"Bottleneck: Matomo answered in [\d.]+ ms per hit on average \([\d.]+ ms per request of up "
                     r"to 10 hits\): %s%% of the time was spent waiting for it\n" % m.group(4), text)


# --summary-json -------------------------------------------------------------------------------------
@pytest.mark.parametrize("where,why", [("no/such/folder/summary.json", "No such file or directory"),
                                       (".", "this is a folder")])
def test_summary_json_is_checked_before_anything_is_sent(endpoint, tmp_path, where, why):
    log = tmp_path / "access.log"
    log.write_text(line() + "\n")
    ep = endpoint()
    target = tmp_path / where
    code, text = cli(to(ep, "--summary-json", target, log))
    assert code == 2
    assert text.startswith("log-importer: error: --summary-json %s: " % target) and why in text
    assert "nothing was imported" in text and len(text.splitlines()) == 1
    assert ep.received() == []
    code, text = cli(to(ep, "--invalid-lines-file", tmp_path / "no" / "refused.log", log))
    assert code == 2 and "--invalid-lines-file" in text and ep.received() == []


def test_summary_json_is_written_when_a_check_before_sending_stops_the_run(endpoint, tmp_path):
    log = tmp_path / "access.log"
    log.write_text(line() + "\n")
    ep = endpoint()
    summary = tmp_path / "summary.json"
    code, text = cli(["--url", ep.url, "--token-auth", "f" * 32, "--idsite", 1, "--summary-json", summary, log])
    assert code == 2 and "token" in text, text
    data = json.loads(summary.read_text())
    assert data["exit_code"] == 2 and "token" in data["error"] and "f" * 32 not in summary.read_text()
    assert (data["hits_sent"], data["tracked"], data["lines_read"]) == (0, 0, 0)
    garbage = tmp_path / "garbage.log"
    garbage.write_text("no format reads this\n" * 5)
    code, text = cli(to(ep, "--summary-json", summary, garbage))
    assert code == 2 and "format" in text, text
    data = json.loads(summary.read_text())
    assert data["exit_code"] == 2 and "format" in data["error"] and ep.received() == []


def test_summary_json_is_rewritten_when_an_input_is_missing(tmp_path):
    """The trial: a log moved away (a missing file, a glob matching nothing) stopped the run
    with exit 2 and left the previous run's JSON saying exit_code 0."""
    log = tmp_path / "access.log"
    log.write_text(line() + "\n")
    summary = tmp_path / "summary.json"
    code, text = cli(["--dry-run", "--summary-json", summary, log])
    assert code == 0 and json.loads(summary.read_text())["exit_code"] == 0
    for missing in (tmp_path / "rotated*.log", tmp_path / "gone.log"):
        code, text = cli(["--dry-run", "--summary-json", summary, log, missing])
        assert code == 2, text
        data = json.loads(summary.read_text())
        assert data["exit_code"] == 2 and data["error"] == text.strip().removeprefix("log-importer: error: ")


def test_summary_json_of_a_dry_run_says_nothing_was_sent(tmp_path, loggen):
    log = loggen(500, seed=35)
    summary = tmp_path / "summary.json"
    code, text = cli(["--dry-run", "--summary-json", summary, log])
    assert code == 0, text
    data = json.loads(summary.read_text())
    assert data["schema_version"] == 1 and data["dry_run"] is True and data["destination"] is None
    assert data["hits_built"] > 100
    assert (data["hits_sent"], data["tracked"], data["requests"], data["not_confirmed"]) == (0, 0, 0, 0)
    readme = (ROOT / "README.md").read_text()
    schema = readme[readme.index("### `--summary-json`"):]
    schema = schema[:schema.index("\n#")]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", schema, re.M))
    assert set(data) <= documented, set(data) - documented  # every field is in the README's schema


def test_a_dry_run_counts_a_copy_once_as_the_import_does(endpoint, loggen, tmp_path):
    log = loggen(800, seed=36)
    copy = tmp_path / "copy.log"
    copy.write_bytes(log.read_bytes())
    code, dry = cli(["--dry-run", log, copy])
    assert code == 0 and "(a copy?): it is not imported twice" in dry
    ep = endpoint()
    code, real = cli(to(ep, log, copy))
    assert code == 0
    assert number(dry, "requests would be imported") == number(real, "requests imported successfully") \
        == len(ep.received())


# Progress ----------------------------------------------------------------------------------------------
def on_a_terminal(args, size=None):
    """Run the console script with stderr on a pseudo-terminal of `size` (rows, columns; None: a
    new pty's 0 x 0); assert it exits 0; return (stdout, what the terminal showed)."""
    master, slave = pty.openpty()
    if size is not None:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    assert struct.unpack("HHHH", fcntl.ioctl(slave, termios.TIOCGWINSZ, b"\0" * 8))[:2] == (size or (0, 0))
    proc = subprocess.Popen([CLI] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=slave, cwd=ROOT,
                            text=True)
    os.close(slave)
    chunks = []
    while True:
        ready = select.select([master], [], [], 60)[0]
        assert ready, "no progress"
        try:
            data = os.read(master, 65536)
        except OSError:  # the importer closed the terminal
            break
        if not data:
            break
        chunks.append(data.decode("utf-8", "replace"))
    os.close(master)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out, "".join(chunks)


def test_progress_on_a_terminal_is_a_bar_with_one_line_per_file(endpoint, loggen, tmp_path):
    ep = endpoint(delay_ms=20)
    plain = loggen(3000, seed=37)
    packed = tmp_path / "b.log.gz"
    packed.write_bytes(gzip.compress(loggen(3000, seed=38).read_bytes()))
    total = plain.stat().st_size + packed.stat().st_size  # compressed files by their compressed bytes
    out, screen = on_a_terminal(to(ep, "--recorder-max-payload-size", 50, "--show-progress-delay", "0.2", plain,
                                   packed), size=(40, 200))  # a terminal of 200 columns
    frames = [f for f in re.split(r"[\r\n]", screen) if "%|" in f]
    assert frames, screen
    last = frames[-1]
    size = "%.0fk" % (total / 1024)  # tqdm's way: 1024 bytes a k
    assert re.search(r" 100%\|█+\| " + size + "/" + size + r" \[", last), (size, last)
    assert re.search(r"[\d,]+ lines/s, [\d,]+ hits/s, %s confirmed, 0 retries" % "{:,}".format(
        number(out, "requests imported successfully")), last), last
    assert any(re.search(r"<\d\d:\d\d", f) for f in frames)  # the time left
    assert "done: %s: 3,000 lines" % plain in screen and "done: %s: 3,000 lines" % packed in screen


def test_a_terminal_without_a_size_gets_the_plain_progress_lines(endpoint, loggen):
    """The trial: on a terminal that says 0x0 (a serial console, `script` without a tty) tqdm drew
    nothing at all, not even the final state."""
    ep = endpoint(delay_ms=20)
    log = loggen(3000, seed=37)
    out, screen = on_a_terminal(to(ep, "--recorder-max-payload-size", 50, "--show-progress-delay", "0.2", log))
    assert "log-importer: progress: finished: 100% of " in screen, screen


def test_progress_when_stderr_is_not_a_terminal_is_a_plain_line_every_delay(endpoint, loggen):
    ep = endpoint(delay_ms=100)
    log = loggen(3000, seed=39)
    began = time.monotonic()
    code, text = cli(to(ep, "--recorder-max-payload-size", 40, "--show-progress", "--show-progress-delay", 0.5, log))
    took = time.monotonic() - began
    assert code == 0, text
    lines = [ln for ln in text.splitlines() if ln.startswith("log-importer: progress: ")]
    assert lines[-1].startswith("log-importer: progress: finished: 100% of ")
    assert re.match(r"log-importer: progress: \d+% of [\d.]+ KB parsed \(" + re.escape(str(log))
                    + r"\), [\d,]+ lines/s, [\d,]+ hits/s, [\d,]+ confirmed, \d+ retries", lines[0]), lines[0]
    assert 0.5 * (len(lines) - 1) <= took + 0.5  # one a delay, not more
    assert "\r" not in text and "%|" not in text  # no bar in a log file
    code, text = cli(to(ep, log, "--reimport"))  # not a terminal, no --show-progress: nothing
    assert "log-importer: progress:" not in text


# The README -----------------------------------------------------------------------------------------------
def test_the_readme_shows_a_real_summary(endpoint, loggen):
    """The README's summary is what the command it names prints; only the times (and the state
    file's folder) may differ from run to run."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```\nLogs import summary\n-------------------\n\n    20,000 lines parsed")
    shown = readme[start + 4:readme.index("```", start + 4)].splitlines()
    ep = endpoint(delay_ms=50)  # log-importer-endpoint --delay-ms 50
    code, text = cli(to(ep, loggen(20000, seed=5)))  # log-importer-loggen --lines 20000 --seed 5
    assert code == 0, text
    real = text.splitlines()
    varying = ("seconds", " s (", "per second", "Bottleneck: ", "import positions saved in ",
               "Concurrent requests (--recorders auto)")  # auto's limit follows the moment's latency
    assert len(shown) == len(real)
    for mine, theirs in zip(shown, real):
        if any(v in mine for v in varying):
            assert re.sub(r"[\d.,]+", "N", mine.split(" saved in ")[0]) == re.sub(r"[\d.,]+", "N", theirs.split(
                " saved in ")[0]), (mine, theirs)
        else:
            assert mine == theirs
