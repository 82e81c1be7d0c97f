"""Odd input from real users' logs never loses or garbles a hit: undecodable bytes, client
addresses that are not IPs, empty virtual hosts, and lines that are invalid for a reason the
summary names. Every case goes to the embedded endpoint over real HTTP."""
import json

import orjson

from conftest import TOKEN, line
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
    got = sent(ep)
    assert [r["url"] for r in got] == ["http://site.example/menu/caf%E9-cr%E8me", "http://site.example/menu",
                                       "http://site.example/caf\u00e9"]
    assert got[1]["urlref"] == "http://search.example/?q=cr%E8me br%FBl%E9e"
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
    assert [(r["url"].rpartition("/")[2], r["cip"]) for r in sent(ep)] == [
        ("0", "198.51.100.7"), ("4", "2001:db8::7"), ("5", "203.0.113.9")]  # the port is not part of the IP
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
    assert [(r["url"], r["cip"]) for r in sent(ep)] == [
        ("https://www.example.com/shop", "203.0.113.20"), ("https://www.example.com/cart", "203.0.113.21"),
        ("https://www.example.com/pay", "203.0.113.22")]


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
    assert [(r["idsite"], r["url"]) for r in sent(ep)] == [
        (1, "https://www.example.com/a"), (2, "http://blog.example.org/no-host"),
        (2, "http://blog.example.org/no-host-2")]
    # --add-sites-new-hosts creates no site for it, and never sends http:///path.
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--add-sites-new-hosts"] + base)
    assert code == 0, text
    assert [r["url"] for r in sent(ep)] == ["https://www.example.com/a"]
    assert not any(b"addSite" in h["body"] for h in ep.http_log)
    assert "0 sites were created" in text
