"""Odd input from real users' logs never loses or garbles a hit: undecodable bytes, client
addresses that are not IPs, empty virtual hosts, and lines that are invalid for a reason the
summary names. Every case goes to the embedded endpoint over real HTTP."""
import json

import orjson
import pytest

from conftest import COMBINED_UA, TOKEN, line, unordered
from test_import_http import importer

CAFE = (b'198.51.100.9 - - [02/Mar/2026:08:15:00 +0000] "GET /menu/caf\xe9-cr\xe8me HTTP/1.1" 200 812 '
        b'"-" "Mozilla/5.0"')


def write_bytes(tmp_path, lines, name="access.log"):
    path = tmp_path / name
    path.write_bytes(b"".join(text + b"\n" for text in lines))
    return path


def sent(ep):
    return [r["params"] for r in ep.received()]


def test_undecodable_bytes_keep_the_hit_percent_encoded_in_the_url(endpoint, tmp_path):
    ep = endpoint(sites={1: "http://site.example"})
    log = write_bytes(tmp_path, [
        CAFE,
        # a Latin-1 referrer, and a raw byte in the user agent
        b'198.51.100.10 - - [02/Mar/2026:08:15:01 +0000] "GET /menu HTTP/1.1" 200 812 '
        b'"http://search.example/?q=cr\xe8me br\xfbl\xe9e" "Mozilla/5.0 (Fran\xe7ais)"',
        line(ip="198.51.100.11", request="GET /caf\u00e9 HTTP/1.1").encode(),  # valid UTF-8: as it is
    ])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--debug", log])
    assert code == 0, text
    got = sorted(sent(ep), key=lambda r: [int(n) for n in r["cip"].split(".")])  # three visitors: in log order
    assert [r["url"] for r in got] == ["http://site.example/menu/caf%E9-cr%E8me", "http://site.example/menu",
                                       "http://site.example/caf\u00e9"]
    assert got[1]["urlref"] == "http://search.example/?q=cr%E8me%20br%FBl%E9e"  # the space too: url_text
    assert got[1]["ua"] == "Mozilla/5.0 (Fran\ufffdais)"
    assert all(r["outcome"] == "stored" for r in ep.received())
    # What went over the wire is valid UTF-8 JSON.
    bodies = [h["body"] for h in ep.http_log if h["path"].startswith("/piwik.php") and b'"requests":[{' in h["body"]]
    assert bodies and all(orjson.loads(b.decode("utf-8")) for b in bodies)
    assert "3 requests imported successfully" in text and "0 invalid log lines" in text
    assert "2 lines with undecodable bytes for --encoding=utf8: kept" in text
    # --debug says where, with the bytes shown as \xNN
    assert "line %s:1 has bytes that are not utf8" % log in text and "caf\\xe9-cr\\xe8me" in text
    assert "line %s:2 has bytes" % log in text and "line %s:3 has bytes" % log not in text


def test_a_raw_byte_in_a_replayed_title_becomes_the_replacement_character(endpoint, tmp_path):
    ep = endpoint()
    log = write_bytes(tmp_path, [
        b'198.51.100.9 - - [02/Mar/2026:08:15:00 +0000] "GET /matomo.php?idsite=1&rec=1&action_name=Caf\xe9'
        b'&url=https%3A%2F%2Fwww.example.com%2F HTTP/1.1" 200 43 "-" "Mozilla/5.0"'])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--replay-tracking", log])
    assert code == 0, text
    [hit] = sent(ep)
    assert hit["action_name"] == "Caf\ufffd" and hit["url"] == "https://www.example.com/"


def test_summary_json_counts_undecodable_lines(endpoint, tmp_path):
    ep = endpoint()
    log = write_bytes(tmp_path, [CAFE, CAFE.replace(b"\xe9", b"e").replace(b"\xe8", b"e")])
    summary = tmp_path / "summary.json"
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--summary-json", summary, log])
    assert code == 0, text
    data = json.loads(summary.read_text())
    assert data["lines_undecodable"] == 1 and data["tracked"] == 2


def test_a_client_address_that_is_not_an_ip_is_never_sent_as_cip(endpoint, tmp_path):
    ep = endpoint()
    log = write_bytes(tmp_path, [line(ip=ip, request="GET /from/%d HTTP/1.1" % k).encode() for k, ip in enumerate([
        "198.51.100.7", "-", "unix:", "unix:/run/php.sock", "2001:db8::7", "203.0.113.9:51234", "localhost"])])
    summary = tmp_path / "summary.json"
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--summary-json", summary, log])
    assert code == 0, text
    assert unordered((r["url"].rpartition("/")[2], r["cip"]) for r in sent(ep)) == unordered([
        ("0", "198.51.100.7"), ("4", "2001:db8::7"), ("5", "203.0.113.9")])  # the port is not part of the IP
    assert "4 requests whose client address is not an IP" in text and "0 invalid log lines" in text
    assert json.loads(summary.read_text())["skipped"]["no_client_ip"] == 4
    assert "forwarded-for" not in text  # the format has no such field


W3C_PROXIED = [
    b"#Software: Microsoft Internet Information Services 10.0",
    b"#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status X-Forwarded-For",
    b"2026-03-02 08:15:00 - GET /shop - 200 203.0.113.20",
    b'2026-03-02 08:15:01 "" GET /cart - 200 203.0.113.21',
    b"2026-03-02 08:15:02 unix:/run/php.sock GET /pay - 200 203.0.113.22",
]


def test_the_summary_suggests_the_forwarded_for_field_when_the_format_has_one(endpoint, tmp_path):
    ep = endpoint()
    log = write_bytes(tmp_path, W3C_PROXIED, name="u_ex260302.log")
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0, text
    assert sent(ep) == []
    assert "3 requests whose client address is not an IP" in text
    assert "%s: --w3c-map-field X-Forwarded-For=c-ip" % log in text
    # The suggestion works.
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--reimport",
                           "--w3c-map-field", "X-Forwarded-For=c-ip", log])
    assert code == 0, text
    assert unordered((r["url"], r["cip"]) for r in sent(ep)) == unordered([
        ("https://www.example.com/shop", "203.0.113.20"), ("https://www.example.com/cart", "203.0.113.21"),
        ("https://www.example.com/pay", "203.0.113.22")])


VHOST = [line(host="www.example.com", ip="192.0.2.1", request="GET /a HTTP/1.1"),
         " " + line(ip="192.0.2.2", request="GET /no-host HTTP/1.1"),        # the host field is empty
         ":443 " + line(ip="192.0.2.3", request="GET /no-host-2 HTTP/1.1")]


def test_a_hit_with_an_empty_host_never_gets_a_url_without_host(endpoint, tmp_path):
    log = write_bytes(tmp_path, [t.encode() for t in VHOST])
    base = ["--token-auth", TOKEN, "--reimport", log]
    # Sites by host: it goes where a hit without a host goes: no site...
    ep = endpoint()
    code, text = importer(["--url", ep.url] + base)
    assert code == 0, text
    assert [r["url"] for r in sent(ep)] == ["https://www.example.com/a"]
    assert "2 requests that did not match any known site" in text
    # ... or --idsite-fallback, with that site's URL.
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--idsite-fallback", 2] + base)
    assert code == 0, text
    assert unordered((r["idsite"], r["url"]) for r in sent(ep)) == unordered([
        (1, "https://www.example.com/a"), (2, "http://blog.example.org/no-host"),
        (2, "http://blog.example.org/no-host-2")])
    # --add-sites-new-hosts creates no site for it, and never sends http:///path.
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--add-sites-new-hosts"] + base)
    assert code == 0, text
    assert [r["url"] for r in sent(ep)] == ["https://www.example.com/a"]
    assert not any(b"addSite" in h["body"] for h in ep.http_log)
    assert "0 sites were created" in text


ISO_DATES = [line(ip="198.51.100.%d" % k, date="2026-03-02T08:15:%02d +0000" % k,
                  request="GET /iso/%d HTTP/1.1" % k) for k in range(1, 5)]


def test_why_lines_were_invalid_is_said_without_debug_and_the_hint_works(endpoint, tmp_path):
    ep = endpoint()
    log = write_bytes(tmp_path, [line().encode()] + [t.encode() for t in ISO_DATES] + [b"garbage"])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0, text
    assert len(sent(ep)) == 1
    assert "Why lines were invalid" in text
    assert "%s: 5 of 6 lines are invalid (83.3%%):" % log in text
    assert "4 invalid date, first at %s:2:" % log in text
    assert ISO_DATES[0] in text
    assert ("the date '2026-03-02T08:15:01' does not match the date format '%d/%b/%Y:%H:%M:%S': "
            "try --log-format-name ncsa_extended --log-date-format '%Y-%m-%dT%H:%M:%S'") in text
    assert "1 line did not match the format, first at %s:6:" % log in text
    assert "not in the format ncsa_extended (detected from the first lines)" in text
    # The hint, followed, imports the lines.
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--reimport",
                           "--log-format-name", "ncsa_extended", "--log-date-format", "%Y-%m-%dT%H:%M:%S", log])
    assert code == 0, text
    assert sorted(r["cdt"] for r in sent(ep))[-4:] == ["2026-03-02 08:15:%02d" % k for k in range(1, 5)]


def test_broken_lines_among_lines_the_format_reads_are_not_blamed_on_the_format(endpoint, tmp_path, loggen):
    """The trial's hostile log: 71 of 5,000 lines not matched (a request without a path, "GET"),
    and the hint said to give the right format, which was right."""
    ep = endpoint()
    log = loggen(300, seed=2)
    with open(log, "ab") as f:
        for k in range(5):
            f.write(b'192.0.2.%d - - [01/Mar/2026:00:00:37 +0100] "GET" 200 12596 "-" "Mozilla/5.0"\n' % k)
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0, text
    assert "5 line did not match the format, first at %s:301:" % log in text
    assert "the format ncsa_extended read 98.4% of the file's lines: these are broken or of another kind" in text
    assert "give the right one" not in text


def test_a_few_invalid_lines_are_not_explained(endpoint, tmp_path, loggen):
    ep = endpoint()
    log = loggen(300, seed=2)
    with open(log, "ab") as f:
        f.write(b"garbage\n")  # 1 line in 301: under 1%
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0, text
    assert "1 invalid log lines" in text and "Why lines were invalid" not in text


def test_a_timezone_that_is_not_an_offset_is_named(endpoint, tmp_path):
    ep = endpoint()
    log = write_bytes(tmp_path, [line(date="02/Mar/2026:08:15:00 CET").encode(), line().encode()])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0, text
    assert len(sent(ep)) == 1
    assert "1 invalid timezone, first at %s:1:" % log in text
    assert "the timezone 'CET' is not an offset such as +0100 or -05:00" in text


def test_a_regex_group_that_is_not_a_field_is_refused_at_start_up(endpoint, tmp_path):
    ep = endpoint()
    log = write_bytes(tmp_path, [line(referrer="https://search.example/").encode()])
    regex = (r'(?P<ip>\S+) \S+ \S+ \[(?P<date>[^\]]+) (?P<timezone>\S+)\] "\S+ (?P<path>\S+) \S+" '
             r'(?P<status>\d+) \S+ "(?P<referer>[^"]*)" "(?P<user_agent>[^"]*)"')
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--log-format-regex", regex, log])
    assert code == 2 and "(?P<referer>...) is not a field the importer reads (did you mean referrer?)" in text
    assert len(text.strip().splitlines()) == 1 and ep.http_log == []
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1,
                           "--log-format-regex", regex.replace("referer", "referrer"), log])
    assert code == 0, text
    assert [r["urlref"] for r in sent(ep)] == ["https://search.example/"] and sent(ep)[0]["ua"] == COMBINED_UA
    # A group of the user's own is fine when an option reads it.
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--reimport",
                           "--log-format-regex", regex, "--regex-group-to-visit-cvar", "referer=Referer", log])
    assert code == 0, text
    assert json.loads(sent(ep)[-1]["_cvar"]) == {"1": ["Referer", "https://search.example/"]}


def test_a_useragent_exclude_with_a_wildcard_warns_that_it_is_a_substring(endpoint, tmp_path):
    ep = endpoint()
    log = write_bytes(tmp_path, [line(ua="Mozilla/5.0 MyPortal/2.1").encode(), line().encode()])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1,
                           "--useragent-exclude", "MyPortal*", log])
    assert code == 0, text
    assert "--useragent-exclude 'MyPortal*': the value is a plain substring" in text
    assert len(sent(ep)) == 2  # 'MyPortal*' is in neither agent
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--reimport",
                           "--useragent-exclude", "MyPortal", log])
    assert "plain substring" not in text and len(sent(ep)) == 3


UNQUOTED = ['198.51.100.%d - - [02/Mar/2026:08:15:00 +0000] "GET /u/%d HTTP/1.1" 200 812 - Mozilla/5.0 (X11; Linux)'
            % (k, k) for k in range(1, 4)]


def test_detection_says_what_it_left_unread(endpoint, tmp_path):
    ep = endpoint()
    log = write_bytes(tmp_path, [t.encode() for t in UNQUOTED])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0, text
    assert ("the format common, detected from the first lines, reads only the start of them: on line 1, "
            "27 characters after the match were ignored ('- Mozilla/5.0 (X11; Linux)')") in text
    assert len(sent(ep)) == 3
    # A vhost line is read whole by common_complete, not cut short by a shorter format.
    vhost = write_bytes(tmp_path, [line(host="www.example.com").encode()], name="vhost.log")
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--debug", vhost])
    assert "format of %s: common_complete" % vhost in text and "characters after the match" not in text


def test_detection_prefers_a_format_that_reads_the_whole_line_to_one_with_more_fields(monkeypatch):
    import formats
    from formats.base import Format
    more_fields = Format("more_fields", r"(?P<ip>\S+) (?P<userid>\S+) (?P<status>\d+) (?P<length>\d+)")
    whole_line = Format("whole_line", r"(?P<ip>\S+) \S+ (?P<status>\d+) \d+ (?P<path>.*)")
    monkeypatch.setattr(formats, "REGISTRY", {f.name: f for f in (more_fields, whole_line)})
    lines = ["192.0.2.%d alice 200 512 /page/%d?x=1 extra" % (k, k) for k in range(5)]
    assert formats.detect(lines).name == "whole_line"
    assert formats.detect([ln.rpartition(" /")[0] for ln in lines]).name == "more_fields"


# One rule for what a logged client address or host may look like, in every format (formats/addresses.py).
ODD_CLIENTS = {"[2001:db8::2]:443": "2001:db8::2", "[2001:db8::3]": "2001:db8::3", "2001:db8::4": "2001:db8::4",
               "unix:/run/php/php-fpm.sock": None, "unix:": None, "-": None}
ESCAPED_AGENT = 'Mozilla/5.0 (X11) \\"quoted\\" agent'


def _rendered(fmt, **changes):
    """Lines of `fmt` from the project's generator, one per set of changes to a plain hit."""
    from log_importer.loggen import _CLOCK, FORMATS, Hit
    render, header = FORMATS[fmt][:2]
    hits = []
    for k, change in enumerate(changes.get("each", [{}])):
        fields = dict(time=1772355600 + k, offset=3600, ip="192.0.2.%d" % (k + 1), host="www.example.com", port=443,
                      method="GET", path="/p/%d" % k, protocol="HTTP/1.1", status=200, length=512, referrer="-",
                      user_agent="Mozilla/5.0 (X11; Linux x86_64)", user=None, time_taken=25)
        fields.update(change)
        hits.append(Hit(**fields))
    head = header(hits[0], _CLOCK).rstrip("\n").split("\n") if header else []
    return [t.encode() for t in head + [render(h, _CLOCK) for h in hits]]


@pytest.mark.parametrize("fmt", ["combined", "vhost", "w3c_extended", "incapsula_w3c", "elb", "haproxy", "s3",
                                 "gandi", "squid"])
def test_every_format_reads_the_same_client_addresses(endpoint, tmp_path, fmt):
    ep = endpoint()
    log = write_bytes(tmp_path, _rendered(fmt, each=[{"ip": a} for a in ODD_CLIENTS]))
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0, text
    assert unordered(r["cip"] for r in sent(ep)) == unordered(ip for ip in ODD_CLIENTS.values() if ip)
    assert "3 requests whose client address is not an IP" in text and "0 invalid log lines" in text


@pytest.mark.parametrize("fmt", ["combined", "elb", "s3", "traefik_clf"])
def test_an_escaped_quote_in_a_quoted_user_agent_is_read_back(endpoint, tmp_path, fmt):
    ep = endpoint()
    log = write_bytes(tmp_path, _rendered(fmt, each=[{"user_agent": ESCAPED_AGENT}, {}]))
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0, text
    assert unordered(r["ua"] for r in sent(ep)) == unordered(['Mozilla/5.0 (X11) "quoted" agent',
                                                             "Mozilla/5.0 (X11; Linux x86_64)"])


def test_a_host_logged_as_a_dash_is_no_host(endpoint, tmp_path):
    lines = [(host + ' 192.0.2.%d - - [01/Mar/2026:10:00:00 +0100] "GET /h/%s HTTP/1.1" 200 5 "-" "Mozilla/5.0"'
              % (k, path)).encode() for k, (host, path) in enumerate(
                  [("-:443", "-:443"), (":443", "empty"), ("[2001:db8::2]:443", "v6"), ("www.example.com:443", "ok")])]
    log = write_bytes(tmp_path, lines)
    base = ["--token-auth", TOKEN, "--log-format-name", "common_complete", "--reimport", log]
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--add-sites-new-hosts"] + base)
    assert code == 0, text
    assert unordered(r["url"] for r in sent(ep)) == unordered(["http://[2001:db8::2]/h/v6",
                                                              "https://www.example.com/h/ok"])
    assert [h for h in ep.http_log if b"addSite" in h["body"]] and "- (ID:" not in text
    assert "1 sites were created:\n        [2001:db8::2] (ID: 3)" in text
    assert "hits without a host in the log (an empty or '-' virtual host) matched no site" in text
    assert "no-hostname-found-in-log" not in text and "use --add-sites-new-hosts" not in text
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--idsite-fallback", 2] + base)
    assert code == 0, text
    assert unordered((r["idsite"], r["url"]) for r in sent(ep)) == unordered([
        (2, "http://blog.example.org/h/-:443"), (2, "http://blog.example.org/h/empty"),
        (2, "http://[2001:db8::2]/h/v6"), (1, "https://www.example.com/h/ok")])


def test_one_rule_for_what_a_url_sends_percent_encoded(endpoint, tmp_path):
    ep = endpoint()
    log = write_bytes(tmp_path, [
        line(request="GET /nul\x00byte HTTP/1.1").encode(),
        line(request='GET /sp ace/<b>?q=a b&c=\\"d\\"#e HTTP/1.1', referrer="https://s.example/?q=<script> x").encode(),
        line(request="GET /caf\\xc3\\xa9/\\x01%41?q=\\xe9 HTTP/1.1").encode(),  # Apache's escapes, decoded
        line(request="GET /ok/caf\xc3\xa9?q=%20&r=a+b|c{d}'e` HTTP/1.1").encode("latin-1")])  # raw UTF-8
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0, text
    assert [(r["url"], r["urlref"]) for r in sent(ep)] == [
        ("https://www.example.com/nul%00byte", ""),
        ("https://www.example.com/sp%20ace/%3Cb%3E?q=a%20b&c=%22d%22%23e", "https://s.example/?q=%3Cscript%3E%20x"),
        ("https://www.example.com/café/%01%41?q=é", ""),
        ("https://www.example.com/ok/café?q=%20&r=a+b|c{d}'e`", "")]


def test_a_byte_order_mark_costs_no_line(endpoint, tmp_path, loggen):
    for fmt in ("combined", "nginx_json", "iis"):
        plain = loggen(300, seed=4, fmt=fmt)
        marked = tmp_path / ("bom-" + plain.name)
        marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
        counts = []
        for log in (plain, marked):
            ep = endpoint()
            code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, log])
            assert code == 0, text
            assert "0 invalid log lines" in text, (fmt, text)
            counts.append(unordered((r["url"], r["cdt"]) for r in sent(ep)))
        assert counts[0] == counts[1] and len(counts[0]) > 100, fmt


@pytest.mark.parametrize("fmt", ["haproxy", "elb", "s3", "squid"])
def test_no_unread_warning_for_a_format_whose_layout_has_more_fields(endpoint, tmp_path, loggen, fmt):
    log = loggen(200, seed=3, fmt=fmt)
    for by_name in ([], ["--log-format-name", fmt]):
        ep = endpoint()
        code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1] + by_name + [log])
        assert code == 0, text
        assert "characters after the match were ignored" not in text and "WARNING" not in text
        assert len(sent(ep)) > 50


def test_a_format_given_by_name_that_leaves_most_of_each_line_unread_is_told_once(endpoint, tmp_path, loggen):
    log = loggen(500, seed=3, fmt="combined")
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--log-format-name", "common", log])
    assert code == 0, text
    assert text.count("characters after the match were ignored") == 1
    assert ("%s: the format common (given with --log-format-name) reads only the start of its lines: on line 1, "
            % log) in text
    assert ("and on 49 more of the first 50 lines: their fields are not imported; detection reads them whole as "
            "ncsa_extended") in text
    assert {r["ua"] for r in sent(ep)} == {""}  # what the warning is about
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--log-format-name", "ncsa_extended",
                           log])
    assert code == 0 and "WARNING" not in text
    assert all(r["ua"] for r in sent(ep))


def test_a_regex_group_of_the_user_s_own_is_read_when_asked_else_ignored(endpoint, tmp_path):
    log = write_bytes(tmp_path, [(line() + " 3600").encode()])
    regex = (r'(?P<ip>\S+) \S+ \S+ \[(?P<date>[^\]]+) (?P<timezone>\S+)\] "\S+ (?P<path>\S+) \S+" '
             r'(?P<status>\d+) \S+ "(?P<referrer>[^"]*)" "(?P<user_agent>[^"]*)" (?P<session_time>\d+)')
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--debug",
                           "--log-format-regex", regex, log])
    assert code == 0, text
    assert "--log-format-regex: the groups session_time are not fields and no option reads them: ignored" in text
    assert len(sent(ep)) == 1 and "_cvar" not in sent(ep)[0]
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--reimport",
                           "--log-format-regex", regex, "--regex-group-to-visit-cvar", "session_time=Seconds", log])
    assert code == 0, text
    assert json.loads(sent(ep)[-1]["_cvar"]) == {"1": ["Seconds", "3600"]}


def test_an_impossible_date_is_told_apart_from_a_date_in_another_layout(endpoint, tmp_path):
    ep = endpoint()
    log = write_bytes(tmp_path, [line().encode(), line(date="01/Foo/2026:10:00:00 +0100").encode(),
                                 line(date="31/Feb/2026:10:00:00 +0100").encode()])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0, text
    assert len(sent(ep)) == 1 and "2 invalid date, first at %s:2:" % log in text
    assert ("the date '01/Foo/2026:10:00:00' has the layout of the date format '%d/%b/%Y:%H:%M:%S' but is not a "
            "date (no such day, month or time): the line is wrong, not the format") in text
    assert "--log-date-format" not in text


def test_a_quoted_incapsula_path_may_hold_spaces(endpoint, tmp_path):
    ep = endpoint()
    log = write_bytes(tmp_path, _rendered("incapsula_w3c", each=[{"path": "/a path/with spaces?q=a b"}, {}]))
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0 and "0 invalid log lines" in text, text
    assert unordered(r["url"] for r in sent(ep)) == unordered([
        "https://www.example.com/a%20path/with%20spaces?q=a%20b", "https://www.example.com/p/1"])


# The trial's run-wide stop: one line with a length of 2^64 or more made every run fail (exit 1,
# nothing imported from any input, the position never moving).
HUGE = str(1 << 66)


def test_numbers_out_of_range_are_unknown_values_not_a_stopped_run(endpoint, tmp_path):
    ep = endpoint()
    log = write_bytes(tmp_path, [line(ip="192.0.2.1").encode(),
                                 line(ip="192.0.2.2", size=HUGE).encode(),
                                 line(ip="192.0.2.3", size=1 << 63).encode(),
                                 line(ip="192.0.2.4").encode()])
    nginx = write_bytes(tmp_path, [json.dumps({"ip": "192.0.2.%d" % k, "host": "www.example.com", "path": "/j%d" % k,
                                               "status": 200, "length": length, "generation_time_milli": gen,
                                               "referrer": "-", "user_agent": COMBINED_UA,
                                               "date": "2026-03-01T10:00:0%d+00:00" % k}).encode()
                                   for k, length, gen in ((5, 1e20, 0.2), (6, 512, 1e300), (7, 512, 0.03))],
                        name="nginx.json")
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, log])
    assert code == 0, text
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--log-format-name", "nginx_json",
                           nginx])
    assert code == 0, text
    got = {r["cip"]: r for r in sent(ep)}
    assert sorted(got) == ["192.0.2.%d" % k for k in (1, 2, 3, 4, 5, 6, 7)]
    assert got["192.0.2.1"]["bw_bytes"] == 5120
    assert "bw_bytes" not in got["192.0.2.2"] and "bw_bytes" not in got["192.0.2.3"]  # no such length: unknown
    assert "bw_bytes" not in got["192.0.2.5"] and got["192.0.2.6"]["bw_bytes"] == 512
    assert "pf_srv" not in got["192.0.2.6"] and got["192.0.2.7"]["pf_srv"] == 30  # Matomo ignores > 16,777,215 ms


def test_a_value_that_cannot_be_serialised_is_one_invalid_line_not_a_stopped_run(monkeypatch):
    """Whatever a converter lets through, serialising a hit can fail for that hit only."""
    from conftest import process_lines
    from log_importer import chunks, invalid_lines
    real = chunks.request_builder

    def odd_builder(*args, **kw):
        build = real(*args, **kw)

        def odd(*a):
            args_ = build(*a)
            if args_["cip"] == "192.0.2.2":
                args_["bw_bytes"] = 1 << 70  # beyond any JSON encoder's integers
            return args_
        return odd
    monkeypatch.setattr(chunks, "request_builder", odd_builder)
    result, requests = process_lines([line(ip="192.0.2.%d" % k) for k in (1, 2, 3)])
    assert [r["cip"] for r in requests] == ["192.0.2.1", "192.0.2.3"]
    assert result.invalid_reasons[invalid_lines.UNSENDABLE][0] == 1
