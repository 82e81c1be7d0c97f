"""Every format imported whole, over real HTTP, into the embedded endpoint.

For each format: its sample lines (written from the vendor's documentation, in formats/) give
exactly these tracking requests; and a generated log of that format (log_importer.loggen) gives
the same visits as the same hits written as a combined (or, for formats without a user agent,
common) log.
"""
import datetime
from urllib.parse import quote

import pytest

import formats
from conftest import ROOT, TOKEN, process_lines, unordered
from log_importer.loggen import generate
from test_import_http import importer, write

COMMON = {"rec": "1", "apiv": "1", "idsite": 1, "dp": "1", "queuedtracking": "0"}
SITE = "https://www.example.com"
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
          "Safari/537.36")
GOOGLE = "https://www.google.com/"


def cvar(status):
    return '{"1": ["HTTP-code", "%s"]}' % status


def title(status, url):
    return "%s/URL = %s" % (status, quote(url, ""))


def page(url, cdt, cip, ua="", urlref="", status="200", **more):
    """The request of one tracked line (--idsite 1, --enable-http-errors, --enable-http-redirects)."""
    req = dict(COMMON, url=url, urlref=urlref, cip=cip, cdt=cdt, ua=ua, cvar=cvar(status), **more)
    if status[0] in "345" and status != "304":
        req["action_name"] = title(status, url)
    return req


# The requests of each format's sample lines, in order (formats/*.py hold the lines). Times are
# UTC; a line without a host goes to the site's main URL; pf_srv is in milliseconds.
EXPECTED = {
    "common": [
        page(SITE + "/blog/intro?page=2", "2026-03-01 09:00:00", "192.0.2.1", bw_bytes=5120),
        page(SITE + "/login", "2026-03-01 15:00:01", "2001:db8::7", status="302", uid="alice"),
    ],
    "common_vhost": [page(SITE + "/", "2026-03-01 10:00:00", "192.0.2.1", bw_bytes=312)],
    "ncsa_extended": [
        page(SITE + "/docs/install", "2026-03-01 09:00:00", "192.0.2.1", FIREFOX_LINUX, GOOGLE, bw_bytes=5120),
        page(SITE + '/a%22q%22/p', "2026-03-01 09:00:00", "192.0.2.9", 'Mozilla/5.0 "weird" agent', bw_bytes=512),
    ],
    "common_complete": [
        page("https://blog.example.org/news", "2026-03-01 09:00:00", "192.0.2.1", FIREFOX_LINUX, bw_bytes=99)],
    "icecast2": [page(SITE + "/live.ogg", "2026-03-01 09:00:00", "192.0.2.1", "VLC/3.0.20 LibVLC/3.0.20",
                      download=SITE + "/live.ogg", bw_bytes=1048576)],
    "ovh": [page(SITE + "/docs/install", "2026-03-01 09:00:00", "192.0.2.1", FIREFOX_LINUX, GOOGLE, uid="alice",
                 bw_bytes=5120)],
    "gandi": [
        page(SITE + "/docs/install", "2026-03-01 09:00:00", "192.0.2.1", FIREFOX_LINUX, GOOGLE, uid="alice",
             bw_bytes=5120),
        page(SITE + "/", "2026-03-01 09:00:01", "2001:db8::7", FIREFOX_LINUX, status="301"),
    ],
    "s3": [
        page(SITE + "/docs/install?page=2", "2026-03-01 09:00:00", "192.0.2.1", FIREFOX_LINUX, GOOGLE, bw_bytes=5120),
        page(SITE + "/files/report.pdf", "2026-03-01 09:00:01", "2001:db8::7", "aws-cli/2.15.0",
             uid="arn:aws:iam::123456789012:user/alice", download=SITE + "/files/report.pdf", bw_bytes=2048),
    ],
    "elb": [
        page(SITE + "/docs/install?page=2", "2026-03-01 09:00:00", "192.0.2.1", CHROME, pf_srv=25, bw_bytes=5120),
        page(SITE + "/blog/2024", "2026-03-01 09:00:01", "2001:db8::7", CHROME, pf_srv=87, bw_bytes=2048),
        page(SITE + "/pricing", "2026-03-01 09:00:02", "192.0.2.9", CHROME, status="301", bw_bytes=310),
    ],
    "haproxy": [  # the proxy's local time, as logged (no offset in the line)
        page(SITE + "/docs/install?page=2", "2026-03-01 10:00:00", "192.0.2.1", bw_bytes=5120),
        page(SITE + "/login", "2026-03-01 10:00:01", "2001:db8::7", status="302", bw_bytes=310),
    ],
    "amazon_cloudfront": [
        page(SITE + "/docs/caf%C3%A9?page=2", "2026-03-01 09:00:00", "192.0.2.1", "Mozilla/5.0 (X11; Linux x86_64)",
             GOOGLE, pf_srv=4, bw_bytes=5120)],
    "incapsula_w3c": [
        page(SITE + "/docs/install?page=2", "2026-03-01 09:00:00", "192.0.2.1", CHROME, GOOGLE, bw_bytes=5120),
        page(SITE + "/feed", "2026-03-01 09:00:01", "192.0.2.1", CHROME),
    ],
    "shoutcast": [page(SITE + "/stream?title=Morning%20Show", "2026-03-01 09:00:00", "192.0.2.1",
                       "VLC/3.0.20 LibVLC/3.0.20", pf_srv=65000, bw_bytes=1048576)],
    "netscaler": [page(SITE + "/docs/install?page=2", "2026-03-01 09:00:00", "192.0.2.1",
                       "Mozilla/5.0+(X11;+Linux+x86_64)", GOOGLE, pf_srv=1000, bw_bytes=5120)],
    "iis": [page(SITE + "/blog/2024", "2026-03-01 09:00:00", "192.0.2.1", "Mozilla/5.0+(Windows+NT+10.0)", pf_srv=135)],
    "w3c_extended": [page(SITE + "/docs/install?page=2", "2026-03-01 09:00:00", "192.0.2.1",
                          "Mozilla/5.0+(X11;+Linux+x86_64)", GOOGLE, pf_srv=250, bw_bytes=5120)],
    "nginx_json": [  # the second sample is curl: a bot, skipped
        page(SITE + "/docs/install?page=2", "2026-03-01 09:00:00", "192.0.2.1", FIREFOX_MAC, GOOGLE, pf_srv=25,
             bw_bytes=5120)],
    "traefik_json": [page(SITE + "/docs/install?page=2", "2026-03-01 09:00:00", "192.0.2.1", FIREFOX_MAC, GOOGLE,
                          pf_srv=25, bw_bytes=5120)],
    "caddy_json": [
        page(SITE + "/docs/install?page=2", "2026-03-01 09:00:00", "192.0.2.1", FIREFOX_MAC, GOOGLE, pf_srv=25,
             bw_bytes=5120),
        page("https://shop.example.net/", "2026-03-01 09:00:01", "2001:db8::7", status="304", uid="alice", pf_srv=2),
    ],
    # Beyond the reference. A full URL in the line gives the host and scheme (varnishncsa, squid,
    # bunny); the second samples of varnishncsa and bunny are curl: a bot, skipped.
    "varnishncsa": [page("http://www.example.com/docs/install?page=2", "2026-03-01 09:00:00", "192.0.2.1",
                         FIREFOX_LINUX, GOOGLE, bw_bytes=5120)],
    "traefik_clf": [
        page(SITE + "/docs/install?page=2", "2026-03-01 09:00:00", "192.0.2.1", FIREFOX_LINUX, GOOGLE, pf_srv=25,
             bw_bytes=5120),
        page(SITE + "/login", "2026-03-01 09:00:01", "2001:db8::7", FIREFOX_LINUX, status="302", uid="alice"),
    ],
    "caddy": [
        page(SITE + "/docs/install?page=2", "2026-03-01 09:00:00", "192.0.2.1", bw_bytes=5120),
        page(SITE + "/", "2026-03-01 09:00:01", "2001:db8::7", FIREFOX_LINUX, GOOGLE, uid="alice", bw_bytes=312),
    ],
    "squid": [  # epoch time with milliseconds; no agent, no referrer
        page("http://www.example.com/docs/install?page=2", "2026-03-01 09:00:00", "192.0.2.1", pf_srv=25,
             bw_bytes=5120),
        page("https://shop.example.net/", "2026-03-01 09:00:01", "2001:db8::7", status="304", uid="alice",
             bw_bytes=312),
    ],
    "bunny": [page(SITE + "/docs/install?page=2", "2026-03-01 09:00:00", "192.0.2.1", FIREFOX_LINUX, GOOGLE,
                   bw_bytes=5120)],
    "gcs": [  # its header line is not an invalid line; time_taken_micros 1200 is 1.2 ms
        page(SITE + "/docs/install?page=2", "2026-03-01 09:00:00", "192.0.2.1", FIREFOX_LINUX, GOOGLE, pf_srv=25,
             bw_bytes=5120),
        page(SITE + "/files/report.pdf", "2026-03-01 09:00:01", "2001:db8::7", 'Mozilla/5.0 "quoted" agent',
             download=SITE + "/files/report.pdf", pf_srv=1, bw_bytes=2048),
    ],
    "cloudflare_json": [  # EdgeStartTimestamp in nanoseconds, then as RFC 3339
        page(SITE + "/docs/install?page=2", "2026-03-01 09:00:00", "192.0.2.1", FIREFOX_MAC, GOOGLE, pf_srv=25,
             bw_bytes=5120),
        page("https://shop.example.net/", "2026-03-01 09:00:01", "2001:db8::7", FIREFOX_MAC, status="304"),
    ],
    "akamai_json": [  # the agent and referrer were URL-encoded
        page(SITE + "/docs/install?page=2", "2026-03-01 09:00:00", "192.0.2.1", FIREFOX_MAC, GOOGLE, pf_srv=25,
             bw_bytes=5120),
        page("https://shop.example.net/", "2026-03-01 09:00:01", "2001:db8::7", status="304", bw_bytes=312),
    ],
}
OPTIONS = ["--idsite", 1, "--enable-http-errors", "--enable-http-redirects"]


def test_every_format_has_its_expected_requests():
    assert set(EXPECTED) == set(formats.REGISTRY)


@pytest.mark.parametrize("name", sorted(formats.REGISTRY))
def test_whole_import_sends_the_exact_requests(name, endpoint, tmp_path):
    fmt = formats.REGISTRY[name]
    header = fmt.header_lines
    log = write(tmp_path, header + [line for line, _ in fmt.samples], name="%s.log" % name)
    by_name = [] if fmt.detectable else ["--log-format-name", name]
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN] + OPTIONS + by_name + [log])
    assert code == 0, text
    assert unordered(r["params"] for r in ep.received()) == unordered(EXPECTED[name])
    assert "0 invalid log lines" in text


RTMP = ["#Version: 1.0",
        "#Fields: date time x-edge-location c-ip x-event sc-bytes x-cf-status x-cf-client-id cs-uri-stem cs-uri-query "
        "c-referrer x-page-url\tc-user-agent x-sname x-sname-query x-file-ext x-sid"]


def _rtmp(time, ip, event, sent, name):
    return ("2026-03-01\t %s\t CDG50\t %s\t %s\t %d\t OK\t bfd8a98bee0840d9b871b7f6ade9908f\t "
            "rtmp://s5c39gqb8ow64r.cloudfront.net/cfx/st\tkey=value\t http://player.example.com/player.swf\t "
            "https://www.example.com/videos\t LNX%%2010,0,32,18\t %s\t -\t flv\t 1" % (time, ip, event, sent, name))


def test_cloudfront_rtmp_lines_become_events(endpoint, tmp_path):
    log = write(tmp_path, RTMP + [_rtmp("09:00:00", "192.0.2.1", "connect", 2014, "-"),
                                  _rtmp("09:00:01", "192.0.2.1", "play", 3914, "intro"),
                                  _rtmp("09:02:44", "192.0.2.1", "stop", 323914, "intro")])
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0, text
    url = SITE + "/s5c39gqb8ow64r.cloudfront.net/cfx/st?key=value"
    stream = dict(COMMON, url=url, urlref="", cip="192.0.2.1", ua="LNX 10,0,32,18", cvar=cvar(200),
                  e_c="cloudfront_rtmp")
    assert [r["params"] for r in ep.received()] == [
        dict(stream, cdt="2026-03-01 09:00:00", e_a="connect", bw_bytes=2014),
        dict(stream, cdt="2026-03-01 09:00:01", e_a="play", e_n="intro", bw_bytes=3914),
        dict(stream, cdt="2026-03-01 09:02:44", e_a="stop", e_n="intro", bw_bytes=323914),
    ]


# A generated log of each format: the same visits as the same hits in a combined (or common) log.
WITHOUT_AGENT = {"common", "common_vhost", "haproxy", "squid"}  # no user agent: bots are not told apart
LOCAL_TIME = {"haproxy"}  # no offset in the line: imported as the proxy's local time (+01:00 here)
GENERATED = ["combined", "common", "vhost", "common_vhost", "w3c", "syslog"] + sorted(
    n for n in formats.REGISTRY if n not in ("ncsa_extended", "common", "common_complete", "common_vhost", "iis"))
LINES = 1500


def _visits(requests, shift=0):
    """What each tracked hit says of the visit: client, UTC time, path with query, status."""
    out = []
    for r in requests:
        cdt = r["cdt"]
        if shift:
            cdt = str(datetime.datetime.fromisoformat(cdt) - datetime.timedelta(seconds=shift))
        out.append((r["cip"], cdt, r["url"].split("/", 3)[3], r["cvar"]))
    return sorted(out)


@pytest.fixture(scope="module")
def baseline():
    """The visits of the generated log written as combined and as common (the chunk stage alone)."""
    out = {}
    for kind in ("combined", "common"):
        lines = [t.decode() for t in generate(LINES, kind, seed=11)]
        out[kind] = _visits(process_lines(lines, formats.REGISTRY["ncsa_extended" if kind == "combined"
                                                                  else "common"], idsite=1)[1])
    return out


@pytest.mark.parametrize("name", GENERATED)
def test_a_generated_log_of_each_format_imports_end_to_end(name, endpoint, tmp_path, loggen, baseline):
    log = loggen(LINES, seed=11, fmt=name)
    named = name in formats.REGISTRY and not formats.REGISTRY[name].detectable
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1]
                          + (["--log-format-name", name] if named else []) + [log])
    assert code == 0, text
    assert "0 invalid log lines" in text
    received = [r["params"] for r in ep.received()]
    assert "%d requests imported successfully" % len(received) in text
    expected = baseline["common" if name in WITHOUT_AGENT else "combined"]
    assert len(expected) > 300
    assert _visits(received, 3600 if name in LOCAL_TIME else 0) == expected


def test_a_by_name_only_format_needs_its_name(endpoint, tmp_path, loggen):
    """ovh's lines read as combined lines: without --log-format-name the host is lost, not the hits."""
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--dry-run", "-d", loggen(50, fmt="ovh")])
    assert code == 0 and "ncsa_extended" in text, text


def test_json_lines_piped_on_stdin_with_unknown_lines_counted(endpoint, tmp_path):
    """The issue's first user: an nginx JSON log_format piped in; an odd line is counted, not fatal."""
    import subprocess
    import sys
    lines = [t.decode() for t in generate(40, "nginx_json", seed=3)] + ["this is not JSON"]
    ep = endpoint()
    proc = subprocess.run([sys.executable, "-m", "log_importer", "--url", ep.url, "--token-auth", TOKEN,
                           "--idsite", "1", "-"], input="\n".join(lines).encode() + b"\n",
                          capture_output=True, cwd=ROOT)
    code, text = proc.returncode, (proc.stdout + proc.stderr).decode()
    assert code == 0, text
    assert "1 invalid log lines" in text and len(ep.received()) > 5


REGEX_FORMATS = sorted(n for n, f in formats.REGISTRY.items() if f.json_map is None)


@pytest.mark.parametrize("name", REGEX_FORMATS)
def test_dump_log_regex_output_used_again_imports_the_same_hits(name, endpoint, tmp_path, loggen):
    """--dump-log-regex prints the options that read a format again (its date format too), and
    --log-format-regex accepts them, extra groups such as session_time or win32_status included."""
    import shlex
    log = loggen(200, seed=5, fmt=name)
    code, dump = importer(["--dump-log-regex", "--log-format-name", name, log])
    assert code == 0, dump
    (again,) = [ln for ln in dump.splitlines() if ln.startswith("to use it again: ")]
    options = shlex.split(again[len("to use it again: "):])
    assert options[0] == "--log-format-regex" and options[2] == "--log-date-format"
    got = []
    for args in (["--log-format-name", name], options):
        ep = endpoint()
        code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--reimport"] + args + [log])
        assert code == 0, text
        got.append([r["params"] for r in ep.received()])
    assert len(got[0]) > 50
    # The fields the named format converts (CloudFront's and SHOUTcast's URL-encoded fields: the
    # dump says so) are the only difference.
    params = {"path": "url", "query_string": "url", "referrer": "urlref", "user_agent": "ua", "status": "cvar"}
    converted = {params[f] for f in formats.REGISTRY[name].converters}
    converted |= {"download", "action_name"} if "url" in converted else set()
    assert unordered({k: v for k, v in r.items() if k not in converted} for r in got[0]) == unordered(
        {k: v for k, v in r.items() if k not in converted} for r in got[1])
    if not converted:
        assert unordered(got[0]) == unordered(got[1])


def _w3c_with_changing_header(loggen, tmp_path):
    """A generated W3C log whose #Fields: header changes twice, as IIS writes it when its logging
    settings change: the last two fields swapped, then c-ip moved first and cs-host dropped."""
    lines = loggen(300, seed=6, fmt="w3c_extended").read_text().splitlines()
    header, body = lines[:4], lines[4:]
    names = header[3].split()[1:]
    swapped = names[:-2] + names[-2:][::-1]
    moved = ["c-ip"] + [n for n in swapped if n not in ("c-ip", "cs-host")]

    def written(fields, text):
        values = dict(zip(names, text.split()))
        return " ".join(values[n] for n in fields)
    out = header + body[:100] + ["#Fields: " + " ".join(swapped)] + [written(swapped, t) for t in body[100:200]]
    out += ["#Fields: " + " ".join(moved)] + [written(moved, t) for t in body[200:]]
    path = tmp_path / "changing.log"
    path.write_text("\n".join(out) + "\n")
    return path, body


def test_a_w3c_header_that_changes_applies_to_the_lines_after_it(endpoint, tmp_path, loggen):
    import io
    from log_importer.config import Config
    from log_importer.run import run
    log, body = _w3c_with_changing_header(loggen, tmp_path)
    plain = tmp_path / "plain.log"
    plain.write_text("\n".join(log.read_text().splitlines()[:4] + body) + "\n")
    results = []
    for path, options in ((plain, {}), (log, {}), (log, {"chunk_bytes": 4096, "workers": 2})):
        ep = endpoint()
        out = io.StringIO()
        code = run(Config(files=[str(path)], url=ep.url, token_auth=TOKEN, idsite=1, reimport=True, **options),
                   out, out)
        assert code == 0, out.getvalue()
        assert "0 invalid log lines" in out.getvalue()
        got = [r["params"] for r in ep.received()]
        results.append(unordered((r["cip"], r["cdt"], r["ua"], r["urlref"], r["url"].split("/", 3)[3]) for r in got))
    assert len(results[0]) > 50
    assert results[1] == results[0] and results[2] == results[0]
    assert all(not ua.startswith("http") and not ref.startswith("Mozilla") for _, _, ua, ref, _ in results[1])


def test_a_resumed_w3c_file_is_read_with_the_header_in_force_where_it_resumes(endpoint, tmp_path, loggen):
    log, _ = _w3c_with_changing_header(loggen, tmp_path)
    lines = log.read_text().splitlines()
    cut = lines.index(next(t for t in lines[5:] if t.startswith("#Fields:"))) + 20  # 20 lines into layout 2
    growing = tmp_path / "growing.log"
    growing.write_text("\n".join(lines[:cut]) + "\n")
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, growing])
    assert code == 0 and "0 invalid log lines" in text, text
    first = len(ep.received())
    with open(growing, "a") as f:
        f.write("\n".join(lines[cut:]) + "\n")
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, growing])
    assert code == 0 and "skipped %d lines already imported" % cut in text, text
    assert "0 invalid log lines" in text
    got = [r["params"] for r in ep.received()][first:]
    assert len(got) > 20 and not any(r["urlref"].startswith("Mozilla") or r["ua"].startswith("http") for r in got)


def test_a_detected_format_without_host_names_the_by_name_format_that_reads_the_host(endpoint, tmp_path, loggen):
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, loggen(100, seed=2, fmt="ovh")])
    assert code == 2 and len(text.strip().splitlines()) == 1
    assert ("was detected as ncsa_extended, which has no host, but ovh reads its lines with their host: give "
            "--log-format-name ovh") in text
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--log-format-name", "ovh",
                           loggen(100, seed=2, fmt="ovh")])
    assert code == 0 and {r["params"]["idsite"] for r in ep.received()} == {1, 2}
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, loggen(100, seed=2, fmt="combined")])
    assert code == 2 and "ovh" not in text and "has no host: give the Matomo site with --idsite" in text
