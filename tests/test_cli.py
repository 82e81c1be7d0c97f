"""The command line: inputs of every kind, output options, and clear errors (dry runs: no server)."""
import bz2
import gzip
import lzma
import re
import subprocess
import sys

import pytest

from conftest import ROOT, line
from log_importer.cli import build_parser
from test_import_http import importer, write

# The options of Matomo's import_logs.py that log-importer keeps (same names, same forms, same
# defaults): a user's existing command line must keep working.
REFERENCE_OPTIONS = [
    "--accept-invalid-ssl-certificate", "--add-download-extensions", "--add-sites-new-hosts",
    "--add-to-date", "--api-url", "--auth-password", "--auth-user", "--config", "--debug",
    "--debug-force-one-hit-every-Ns", "--debug-request-limit", "--debug-tracker", "--disable-bulk-tracking",
    "--download-extensions", "--dry-run", "--dump-log-regex", "--enable-bots", "--enable-testmode",
    "--enable-http-errors", "--enable-http-redirects", "--enable-reverse-dns", "--enable-static",
    "--encoding", "--exclude-host", "--exclude-newer-than", "--exclude-older-than",
    "--exclude-path", "--exclude-path-from", "--force-lowercase-path", "--hostname", "--idsite",
    "--idsite-fallback", "--ignore-groups", "--include-host", "--include-path",
    "--include-path-from", "--log-date-format", "--log-format-name", "--log-format-regex",
    "--log-hostname", "--login", "--output", "--password", "--php-binary", "--query-string-delimiter",
    "--recorder-max-payload-size", "--recorders", "--regex-group-to-page-cvar",
    "--regex-group-to-visit-cvar", "--replay-tracking", "--replay-tracking-expected-tracker-file",
    "--request-suffix", "--request-timeout", "--retry-delay", "--retry-max-attempts",
    "--show-progress", "--show-progress-delay", "--skip", "--strip-query-string",
    "--title-category-delimiter", "--token-auth", "--track-http-method",
    "--tracker-endpoint-path", "--url", "--useragent-exclude", "--w3c-field-regex",
    "--w3c-fields", "--w3c-map-field", "--w3c-time-taken-millisecs",
]


def test_every_reference_option_is_in_help_and_readme():
    help_text = build_parser().format_help()
    readme = (ROOT / "README.md").read_text()
    options = REFERENCE_OPTIONS
    assert len(options) > 60
    missing_help = [o for o in options if o not in help_text]
    missing_readme = [o for o in options if o not in readme]
    assert missing_help == [] and missing_readme == []
    ours = re.findall(r"(--[a-z0-9-]+)", help_text)
    assert [o for o in ours if o not in readme] == []


def dry(args):
    return importer(["--dry-run"] + [str(a) for a in args])


def count(text, label):
    m = re.search(r"([\d,]+) %s" % re.escape(label), text)
    assert m, (label, text)
    return int(m.group(1).replace(",", ""))


def test_compressed_inputs_and_globs_give_the_same_counts(tmp_path, loggen):
    import zstandard
    compressors = {"a.log.gz": gzip.compress, "b.log.bz2": bz2.compress, "c.log.xz": lzma.compress,
                   "d.log.1": gzip.compress,  # compressed, recognised by content
                   "e.log.zst": zstandard.ZstdCompressor().compress}
    expected = 0
    for seed, (name, compress) in enumerate(compressors.items(), 20):
        log = loggen(2000, seed=seed)  # different logs: a copy would be counted once
        code, plain = dry([log])
        assert code == 0
        expected += count(plain, "requests would be imported")
        (tmp_path / name).write_bytes(compress(log.read_bytes()))
    assert expected > 5 * 500
    code, text = dry([tmp_path / "*.log.*"])
    assert code == 0, text
    assert count(text, "lines parsed from 5 input(s)") == 5 * 2000
    assert count(text, "requests would be imported") == expected


def test_standard_input(loggen):
    log = loggen(500, seed=2)
    proc = subprocess.run([sys.executable, "-m", "log_importer", "--dry-run", "-"], stdin=open(log, "rb"),
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "500 lines parsed" in proc.stdout
    assert "standard input cannot be resumed" in proc.stdout


def test_binary_garbage_is_counted_not_fatal(tmp_path):
    path = tmp_path / "mixed.log"
    junk = bytes(b for b in range(256) if b != 10) * 3
    path.write_bytes(b"\n".join([line().encode()] * 5 + [junk, b"\xff\xfe\x00garbage"]
                                + [line().encode()] * 5) + b"\n")
    code, text = dry([path])
    assert code == 0, text
    assert count(text, "invalid log lines") == 2
    assert count(text, "requests would be imported") == 10


def test_debug_names_file_and_line_of_invalid_lines(tmp_path):
    log = write(tmp_path, [line(), "not a log line", line()])
    code, text = dry(["--debug", log])
    assert code == 0
    assert "invalid line %s:2 (line did not match the format): not a log line" % log in text


def test_lines_keep_their_numbers_after_skip(tmp_path):
    log = write(tmp_path, [line()] * 5 + ["not a log line", line()])
    code, text = dry(["--skip", 4, "--debug", log])
    assert "invalid line %s:6 " % log in text


def test_skip_and_request_limit(tmp_path):
    log = write(tmp_path, [line(ip="192.0.2.%d" % i) for i in range(10)])
    code, text = dry(["--skip", 4, log])
    assert count(text, "requests would be imported") == 6 and count(text, "lines skipped with --skip") == 4
    code, text = dry(["--debug-request-limit", 3, log])
    assert count(text, "requests would be imported") == 3


def test_output_file_gets_everything(tmp_path):
    log = write(tmp_path, [line()])
    out = tmp_path / "out.txt"
    code, text = dry(["--output", out, log])
    assert code == 0 and text == ""
    assert "1 requests would be imported" in out.read_text()


def test_progress_of_a_dry_run_counts_the_hits_it_would_import(tmp_path, loggen):
    log = loggen(3000, seed=3)
    proc = subprocess.run([sys.executable, "-m", "log_importer", "--dry-run", "--show-progress",
                           "--show-progress-delay", "0", str(log)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    last = proc.stderr.splitlines()[-1]  # stderr is not a terminal here: plain lines (test_operator.py)
    assert re.fullmatch(r"log-importer: progress: finished: 100%% of [\d.]+ KB parsed, [\d,]+ lines/s, [\d,]+ "
                        r"hits/s, %s hits counted" % "{:,}".format(count(proc.stdout, "requests would be imported")),
                        last), last


def test_dump_log_regex(tmp_path):
    log = write(tmp_path, [line()])
    code, text = importer(["--dump-log-regex", log])
    assert code == 0 and text.startswith("format: ncsa_extended\nregex: ")


@pytest.mark.parametrize("args,message", [
    (["nope.log"], "nope.log: no such file"),
    (["/tmp/*.does-not-exist"], "no file matches"),
    (["--log-format-name", "nginx_xml", "x"], "unknown --log-format-name"),
    (["--encoding", "klingon", "x"], "unknown --encoding"),
    (["--encoding", "utf-16", "x"], "--encoding utf-16: logs are read as lines of bytes ending in \\n, with ASCII as "
                                    "it is, which utf-16 does not write: convert the file first (iconv -f UTF-16"),
    ([], "no log file given"),
])
def test_bad_inputs_are_one_line(args, message, tmp_path):
    code, text = dry(args)
    assert code == 2 and message in text and "Traceback" not in text


@pytest.mark.parametrize("args,message", [
    (["--recorders", "0", "x"], "--recorders: must be at least 1"),
    (["--dry-run", "--skip", "-5", "x"], "argument --skip: must not be negative, got -5"),
    (["--dry-run", "--exclude-older-than", "the day before", "x"], "--exclude-older-than: invalid date"),
    (["--dry-run", "--log-timezone", "Mars/Olympus_Mons", "x"], "--log-timezone: unknown time zone"),
    (["--frobnicate", "x"], "unrecognized arguments: --frobnicate"),
])
def test_bad_options_exit_2_without_traceback(args, message):
    proc = subprocess.run([sys.executable, "-m", "log_importer"] + args, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_url_is_required_for_a_real_import(tmp_path):
    code, text = importer([write(tmp_path, [line()])])
    assert code == 2 and "--url is required" in text


def test_format_without_host_needs_idsite(tmp_path):
    code, text = importer(["--url", "http://127.0.0.1:9", "--token-auth", "x", "--retry-max-attempts", "1",
                           write(tmp_path, [line()])])
    assert code == 2  # unreachable first; the host check comes with the file, after the checks


def test_exclude_dates_from_the_command_line(tmp_path):
    log = write(tmp_path, [line(date="01/Mar/2026:10:00:00 +0100"), line(date="02/Mar/2026:10:00:00 +0100")])
    code, text = dry(["--exclude-newer-than", "2026-03-01 12:00:00 +0300", log])
    assert count(text, "filtered log lines") == 1 and count(text, "requests would be imported") == 1


def test_path_patterns_from_files(tmp_path):
    log = write(tmp_path, [line(request="GET /admin/x HTTP/1.1"), line(request="GET /docs/x HTTP/1.1")])
    pats = tmp_path / "pats.txt"
    pats.write_text("/admin/*\n\n")
    code, text = dry(["--exclude-path-from", pats, log])
    assert count(text, "requests excluded by --exclude-path / --include-path") == 1


def test_a_truncated_archive_ends_that_input_not_the_run(tmp_path):
    good = write(tmp_path, [line(ip="192.0.2.%d" % i) for i in range(50)], name="good.log")
    data = gzip.compress(b"".join(line(ip="198.51.100.%d" % (i % 200)).encode() + b"\n" for i in range(20000)))
    (tmp_path / "cut.log.gz").write_bytes(data[: len(data) // 2])
    code, text = dry([tmp_path / "cut.log.gz", good])
    assert code == 1 and "cut.log.gz: cannot read" in text and "Traceback" not in text
    assert "could not be imported in full" in text
    assert 50 + 5000 < count(text, "requests would be imported") < 50 + 20000  # what was readable, and the other file


def test_runs_with_workers_end_cleanly(loggen):
    """Workers once inherited the parent's SIGTERM handler, so pool.terminate() could hang a run
    at its end and print stray 'stopping' warnings: every run must end, with nothing on stderr."""
    log = loggen(3000, seed=12)
    for _ in range(4):
        proc = subprocess.run([sys.executable, "-m", "log_importer", "--dry-run", "--workers", "2", str(log)],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert proc.returncode == 0 and proc.stderr == ""
        assert "3,000 lines parsed" in proc.stdout


def test_a_utf16_file_is_told_as_such(tmp_path):
    log = tmp_path / "u16.log"
    log.write_bytes("".join(line(ip="192.0.2.%d" % k) + "\r\n" for k in range(1, 5)).encode("utf-16"))
    code, text = dry([log])
    assert code == 2 and len(text.strip().splitlines()) == 1
    assert "%s: its first bytes look like UTF-16 (a NUL byte beside each character)" % log in text
