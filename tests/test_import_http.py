"""The importer against the embedded endpoint, over real HTTP on 127.0.0.1."""
import dataclasses
import io
import json
import os

import pytest

from conftest import COMBINED_UA, TOKEN, WRITE_TOKEN, line  # the `endpoint` fixture is in conftest
from log_importer.cli import main
from log_importer.config import Config
from log_importer.run import run


def importer(args):
    """Run the CLI in-process; return (exit code, stdout+stderr text)."""
    out = io.StringIO()
    import sys
    old = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = out
    try:
        code = main([str(a) for a in args])
    finally:
        sys.stdout, sys.stderr = old
    return code, out.getvalue()


def tracking_calls(ep):
    return [h for h in ep.http_log if h["path"].startswith("/piwik.php")]


def write(tmp_path, lines, name="access.log"):
    path = tmp_path / name
    path.write_text("".join(text + "\n" for text in lines), encoding="utf-8", errors="surrogateescape")
    return path


def test_exact_requests_received(endpoint, tmp_path):
    ep = endpoint()
    log = write(tmp_path, [
        line(ip="192.0.2.1", request="GET /docs/install?a=1 HTTP/1.1", referrer="https://www.google.com/"),
        line(ip="192.0.2.1", request="GET /static/app.css HTTP/1.1"),
        line(ip="192.0.2.2", request="GET /files/report.pdf HTTP/1.1", size="-"),
        line(ip="192.0.2.3", status=404),
        "garbage line",
    ])
    # One sender: the order across visitors is the log's (each visitor's own order always is).
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--enable-http-errors",
                           "--recorders", 1, log])
    assert code == 0, text
    got = [r["params"] for r in ep.received()]
    common = {"rec": "1", "apiv": "1", "idsite": 1, "dp": "1", "queuedtracking": "0", "ua": COMBINED_UA,
              "cdt": "2026-03-01 09:00:00"}
    assert got == [
        dict(common, url="https://www.example.com/docs/install?a=1", urlref="https://www.google.com/",
             cip="192.0.2.1", cvar='{"1": ["HTTP-code", "200"]}', bw_bytes=5120),
        dict(common, url="https://www.example.com/files/report.pdf", urlref="", cip="192.0.2.2",
             cvar='{"1": ["HTTP-code", "200"]}', download="https://www.example.com/files/report.pdf"),
        dict(common, url="https://www.example.com/docs/install", urlref="", cip="192.0.2.3",
             cvar='{"1": ["HTTP-code", "404"]}', bw_bytes=5120,
             action_name="404/URL = https%3A%2F%2Fwww.example.com%2Fdocs%2Finstall"),
    ]
    assert all(r["outcome"] == "stored" for r in ep.received())
    assert "3 requests imported successfully" in text
    assert "1 invalid log lines" in text and "1 requests to static resources" in text
    # The token travels in the body only, never in a URL.
    assert all(TOKEN not in h["path"] for h in ep.http_log)
    assert any(TOKEN.encode() in h["body"] for h in tracking_calls(ep))
    assert TOKEN not in text


def test_sites_resolved_by_host_fallback_and_creation(endpoint, tmp_path):
    lines = [line(host=h, ip="192.0.2.%d" % i) for i, h in
             enumerate(["www.example.com", "blog.example.org", "new.example.net", "www.example.com"])]
    log = write(tmp_path, lines)
    one = ["--recorders", 1]  # one sender: the order across visitors is the log's
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, *one, log])
    assert code == 0, text
    got = [(r["params"]["idsite"], r["params"]["url"]) for r in ep.received()]
    assert got == [(1, "https://www.example.com/docs/install"), (2, "http://blog.example.org/docs/install"),
                   (1, "https://www.example.com/docs/install")]
    assert "1 requests that did not match any known site" in text and "new.example.net" in text
    lookups = [h for h in ep.http_log if b"getSitesIdFromSiteUrl" in h["body"]]
    assert len(lookups) == 3  # one per distinct host, cached

    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite-fallback", 2, *one, log])
    assert [r["params"]["idsite"] for r in ep.received()] == [1, 2, 2, 1]

    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--add-sites-new-hosts", *one, log])
    assert code == 0, text
    ids = [r["params"]["idsite"] for r in ep.received()]
    assert ids[:2] == [1, 2] and ids[2] not in (1, 2)
    assert "new.example.net (ID: %d)" % ids[2] in text
    assert "1 sites were created" in text


def test_each_visitor_reaches_matomo_in_log_order_with_many_senders_and_chunks(endpoint, loggen):
    log = loggen(6000, seed=4)
    ep = endpoint()
    config = Config(files=[str(log)], url=ep.url, token_auth=TOKEN, idsite=1, recorders=4, workers=2,
                    chunk_bytes=8192, recorder_max_payload_size=17, retry_delay=0)
    assert run(config, io.StringIO(), io.StringIO()) == 0
    received = [r["params"] for r in ep.received()]
    dry = dataclasses.replace(config, dry_run=True, url=None)
    out = io.StringIO()
    run(dry, out, io.StringIO())
    assert "%s requests would be imported" % "{:,}".format(len(received)) in out.getvalue()
    per_visitor = {}
    for r in received:
        per_visitor.setdefault(r["cip"], []).append(r["cdt"])
    assert len(per_visitor) > 50
    for ip, dates in per_visitor.items():
        assert dates == sorted(dates), ip
    assert len({h["headers"].get("connection", "keep-alive") for h in tracking_calls(ep)}) == 1


@pytest.mark.parametrize("fault", ["fail_every", "drop_every", "rollback_every", "garbage_every"])
def test_faults_are_retried_and_nothing_is_lost_or_doubled(endpoint, loggen, fault):
    log = loggen(3000, seed=5)
    clean = endpoint()
    args = ["--token-auth", TOKEN, "--idsite", 1, "--recorders", 2, "--retry-delay", 0,
            "--recorder-max-payload-size", 50, "--retry-max-attempts", 4, log]
    code, text = importer(["--url", clean.url] + args)
    assert code == 0, text
    faulty = endpoint(**{fault: 3})
    code, text = importer(["--url", faulty.url] + args)
    assert code == 0, text
    stored = lambda ep: sorted(json.dumps(r["params"], sort_keys=True) for r in ep.received()
                               if r["outcome"] == "stored")
    assert stored(faulty) == stored(clean)
    assert "retries" in text and " 0 retries" not in text


def test_retries_run_out_exit_1_with_file_and_line(endpoint, tmp_path):
    ep = endpoint(fail_every=1)
    log = write(tmp_path, [line()])
    # fail_every=1 also fails the pre-flight empty bulk request: nothing is sent.
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--retry-delay", 0, log])
    assert code == 2 and "tracker" in text and "Traceback" not in text
    ep = endpoint(fail_every=2, garbage_every=3)
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--retry-delay", 0,
                           "--retry-max-attempts", 2, log])
    assert code == 1, text
    assert "gave up after 2 attempts" in text and "access.log line 1" in text
    assert "Traceback" not in text


def test_html_answers_are_never_counted_as_imported(endpoint, tmp_path):
    ep = endpoint(garbage_every=2)  # the pre-flight call is 1, every batch after it answers HTML once
    log = write(tmp_path, [line(ip="192.0.2.%d" % i) for i in range(10)])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--retry-delay", 0,
                           "--retry-max-attempts", 1, "--recorders", 1, log])  # one batch of 10
    assert code == 1
    # the answer names its cause: the maintenance page of a web server or proxy, by its title
    assert "did not answer JSON (HTTP 200, an HTML page 'Maintenance'" in text and "proxy" in text
    assert "BulkTracking" not in text
    assert "0 requests imported successfully" in text
    assert "10 requests not confirmed" in text


@pytest.mark.parametrize("args,message", [
    (["--token-auth", "f" * 32], "refused the token"),
    (["--token-auth", TOKEN, "--idsite", 99], "--idsite 99"),
    (["--login", "admin", "--password", "wrong"], "--login admin"),
    ([], "no token"),
    (["--token-auth", TOKEN, "--tracker-endpoint-path", "/nope.php"], "--tracker-endpoint-path"),
])
def test_misconfiguration_stops_before_any_hit(endpoint, tmp_path, args, message):
    ep = endpoint()
    log = write(tmp_path, [line()])
    code, text = importer(["--url", ep.url, "--idsite", 1] + args + [log] if "--idsite" not in args
                          else ["--url", ep.url] + args + [log])
    assert code == 2, text
    assert message in text and "Traceback" not in text
    assert len(text.strip().splitlines()) == 1
    assert ep.received() == []
    assert "f" * 32 not in text and "wrong" not in text.replace("--login", "")


def test_unreachable_matomo_is_one_line(tmp_path):
    log = write(tmp_path, [line()])
    code, text = importer(["--url", "127.0.0.1:9", "--token-auth", TOKEN, "--idsite", 1,
                           "--retry-max-attempts", 1, log])
    assert code == 2 and "cannot reach" in text and len(text.strip().splitlines()) == 1


def test_login_and_password_get_a_token(endpoint, tmp_path):
    ep = endpoint()
    log = write(tmp_path, [line()])
    code, text = importer(["--url", ep.url, "--login", "admin", "--password", "secret", "--idsite", 1, log])
    assert code == 0, text
    assert len(ep.received()) == 1 and "secret" not in text
    assert all(b"secret" not in h["body"] for h in tracking_calls(ep))


def test_rejected_hits_are_reported_with_file_and_line(endpoint, tmp_path):
    ep = endpoint()
    log = write(tmp_path, [
        line(request="GET /matomo.php?idsite=1&rec=1&action_name=ok HTTP/1.1"),
        line(request="GET /matomo.php?idsite=1&rec=1&cid=abc HTTP/1.1"),
        line(request="GET /matomo.php?idsite=1&rec=1&action_name=ok2 HTTP/1.1"),
    ])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--replay-tracking", "--recorders", 1, log])
    assert code == 0, text  # (one sender: the three requests reach Matomo in the log's order)
    assert "refused 1 hit(s): %s:2" % log in text
    assert "1 requests refused by Matomo as invalid" in text
    assert [r["outcome"] for r in ep.received()] == ["stored", "invalid", "stored"]


def test_a_write_token_imports_its_sites_and_cannot_see_the_others(endpoint, tmp_path):
    ep = endpoint()
    lines = [line(host="www.example.com"), line(host="blog.example.org")]
    code, text = importer(["--url", ep.url, "--token-auth", WRITE_TOKEN, write(tmp_path, lines)])
    assert code == 0, text
    assert [r["params"]["idsite"] for r in ep.received()] == [1]
    assert "1 requests imported successfully" in text
    assert "1 requests that did not match any known site" in text and "blog.example.org" in text


def test_disable_bulk_tracking_sends_one_request_per_hit(endpoint, tmp_path):
    ep = endpoint()
    log = write(tmp_path, [line(ip="192.0.2.%d" % i) for i in range(5)])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--disable-bulk-tracking", log])
    assert code == 0, text
    calls = [h for h in tracking_calls(ep) if h["method"] == "POST"]  # the pre-flight GETs the tracker
    assert len(calls) == 5 and all(b'"requests"' not in h["body"] for h in calls)
    assert all(TOKEN not in h["path"] for h in calls)
    assert len(ep.received()) == 5 and "5 requests imported successfully" in text


def test_request_suffix_and_basic_auth_headers(endpoint, tmp_path):
    ep = endpoint()
    log = write(tmp_path, [line()])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--request-suffix", "x=1",
                           "--auth-user", "u", "--auth-password", "p", "--debug-tracker", log])
    assert code == 0, text
    calls = [h for h in tracking_calls(ep) if b'"requests":[{' in h["body"]]
    assert calls and all(h["path"] == "/piwik.php?queuedtracking=0&debug=1&x=1" for h in calls)
    assert all(h["path"].endswith("x=1") for h in ep.http_log)
    assert all(h["headers"]["authorization"].startswith("Basic ") for h in ep.http_log)
    assert "tracker answer" in text


def test_bulk_without_transactions_resends_only_the_untracked_part(endpoint, loggen):
    log = loggen(2000, seed=9)
    clean = endpoint()
    # One sender: with several, a resent batch can meet the next "every 3rd call" fault again.
    args = ["--token-auth", TOKEN, "--idsite", 1, "--retry-delay", 0, "--recorder-max-payload-size", 40,
            "--recorders", 1, log]
    importer(["--url", clean.url] + args)
    expected = sorted(json.dumps(r["params"], sort_keys=True) for r in clean.received() if r["outcome"] == "stored")
    stored = lambda ep: sorted(json.dumps(r["params"], sort_keys=True) for r in ep.received()
                               if r["outcome"] == "stored")
    # Without the option, a server without transactions keeps half of a failed batch: resent whole, doubled.
    ep = endpoint(rollback_every=3, transactions=False)
    assert importer(["--url", ep.url] + args)[0] == 0
    assert len(stored(ep)) > len(expected)
    ep = endpoint(rollback_every=3, transactions=False)
    code, text = importer(["--url", ep.url, "--bulk-without-transactions"] + args)
    assert code == 0, text
    assert stored(ep) == expected


def test_invalid_lines_file_gets_the_refused_lines(endpoint, tmp_path):
    ep = endpoint()
    bad = line(request="GET /matomo.php?idsite=1&rec=1&cid=abc HTTP/1.1")
    log = write(tmp_path, [line(request="GET /matomo.php?idsite=1&rec=1 HTTP/1.1"), bad])
    out = tmp_path / "refused.log"
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--replay-tracking",
                           "--invalid-lines-file", out, log])
    assert code == 0, text
    assert out.read_text() == bad + "\n"


def test_replay_expected_tracker_file(endpoint, tmp_path):
    ep = endpoint()
    log = write(tmp_path, [line(request="GET /js/tracker.php?idsite=1&rec=1 HTTP/1.1"),
                           line(request="GET /matomo.php?idsite=1&rec=1 HTTP/1.1")])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--replay-tracking",
                           "--replay-tracking-expected-tracker-file", "tracker.php", log])
    assert code == 0, text
    assert len(ep.received()) == 1 and "1 invalid log lines" in text


def test_request_timeout(endpoint, tmp_path):
    ep = endpoint(delay_ms=1500)
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--request-timeout", "0.3",
                           "--retry-max-attempts", 1, write(tmp_path, [line()])])
    assert code == 2 and "did not answer within --request-timeout=0.3 s" in text and "Traceback" not in text


def test_config_file_token_through_php(endpoint, tmp_path, monkeypatch):
    """--config runs Matomo's misc/cron/updatetoken.php with PHP, as import_logs.py does.
    PHP is not on this machine: a stand-in `php` on PATH plays updatetoken.php's part."""
    ep = endpoint()
    matomo = tmp_path / "matomo"
    (matomo / "config").mkdir(parents=True)
    (matomo / "misc" / "cron").mkdir(parents=True)
    (matomo / "config" / "config.ini.php").write_text("[database]\n")
    (matomo / "misc" / "cron" / "updatetoken.php").write_text("<?php\n")
    token_file = tmp_path / "token.txt"
    token_file.write_text("admin\t%s\n" % TOKEN)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    php = bin_dir / "php"
    php.write_text("#!/bin/sh\ncase \"$1\" in */misc/cron/updatetoken.php) echo %s;; *) exit 3;; esac\n" % token_file)
    php.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, os.environ["PATH"]))
    log = write(tmp_path, [line()])
    code, text = importer(["--url", ep.url, "--config", matomo / "config" / "config.ini.php", "--idsite", 1, log])
    assert code == 0, text
    assert len(ep.received()) == 1
    code, text = importer(["--url", ep.url, "--config", tmp_path / "nope.ini.php", "--idsite", 1, log])
    assert code == 2 and "cannot read --config" in text
    # import_logs.py's --php-binary and --enable-testmode (updatetoken.php --testmode).
    args = tmp_path / "args.txt"
    other = bin_dir / "php8.3"
    other.write_text("#!/bin/sh\necho \"$@\" > %s\necho %s\n" % (args, token_file))
    other.chmod(0o755)
    code, text = importer(["--url", ep.url, "--config", matomo / "config" / "config.ini.php", "--idsite", 1,
                           "--php-binary", "php8.3", "--enable-testmode", "--reimport", log])
    assert code == 0, text
    assert args.read_text().split()[1:] == ["--testmode", "--matomo-domain=127.0.0.1"]
    assert len(ep.received()) == 2
    code, text = importer(["--url", ep.url, "--config", matomo / "config" / "config.ini.php", "--idsite", 1,
                           "--php-binary", "php-nowhere", log])
    assert code == 2 and "php-nowhere not found: give it with --php-binary" in text


def test_debug_force_one_hit_every_n_seconds(endpoint, tmp_path):
    """import_logs.py's --debug-force-one-hit-every-Ns: one hit per request, a pause before each,
    in each recorder (one visitor's hits go through one)."""
    import time
    ep = endpoint()
    log = write(tmp_path, [line(request="GET /p%d HTTP/1.1" % k) for k in range(1, 4)])
    started = time.monotonic()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--debug-force-one-hit-every-Ns",
                           "0.3", log])
    assert code == 0, text
    assert time.monotonic() - started >= 0.9  # three pauses, whatever the machine's load
    calls = [h for h in tracking_calls(ep) if b"cip=" in h["body"]]
    assert len(calls) == 3 and not any(b'"requests"' in h["body"] for h in tracking_calls(ep))
    assert [r["params"]["url"].rsplit("/", 1)[1] for r in ep.received()] == ["p1", "p2", "p3"]


@pytest.mark.parametrize("fmt", ["combined", "w3c"])
def test_the_c_scanners_and_the_regexes_import_the_same_requests(endpoint, loggen, monkeypatch, tmp_path, fmt):
    import formats.base
    log = loggen(3000, seed=11, fmt=fmt, hostile=True)
    results = []
    for scanners in ((formats.base.Scanner, formats.base.TokenScanner), (None, None)):
        assert None not in scanners or results  # first with the extension (it must be built)
        monkeypatch.setattr(formats.base, "Scanner", scanners[0])  # workers fork: they see it too
        monkeypatch.setattr(formats.base, "TokenScanner", scanners[1])
        ep = endpoint()
        summary = tmp_path / "summary.json"
        config = Config(files=[str(log)], url=ep.url, token_auth=TOKEN, idsite=1, workers=2,
                        chunk_bytes=65536, reimport=True, summary_json=str(summary))
        assert run(config, io.StringIO(), io.StringIO()) == 0
        counts = json.loads(summary.read_text())
        results.append((sorted(json.dumps(r["params"], sort_keys=True) for r in ep.received()),
                        {k: counts[k] for k in ("lines_read", "hits_built", "tracked", "skipped", "dates")}))
    assert len(results[0][0]) > 500 and results[0][1]["skipped"]["invalid"] > 0
    assert results[0] == results[1]


def test_a_file_whose_name_holds_glob_characters_is_that_file(endpoint, tmp_path):
    (tmp_path / "sp ace").mkdir()
    log = write(tmp_path, [line(ip="192.0.2.1"), line(ip="192.0.2.2")], name="sp ace/a [1].log")
    write(tmp_path, [line(ip="192.0.2.3")], name="sp ace/a 1.log")  # what [1] would match as a glob
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0, text
    assert sorted(r["params"]["cip"] for r in ep.received()) == ["192.0.2.1", "192.0.2.2"]
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, tmp_path / "sp ace" / "a [1]*.log"])
    assert code == 0 and len(ep.received()) == 3  # as a glob, [1] is the character 1: "a 1.log"
