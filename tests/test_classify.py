"""The skip rules of the contract's section 3, one by one, and their order of precedence."""
import pytest

from conftest import line, process_lines
from log_importer import classify as C
from log_importer.config import DOWNLOAD_EXTENSIONS


def reason_of(text, **options):
    result, requests = process_lines([text], **options)
    skipped = [k for k, v in result.counts.items() if v and k != "comment"]
    assert len(skipped) + len(requests) == 1
    return skipped[0] if skipped else "tracked"


@pytest.mark.parametrize("text,options,expected", [
    (line(), {}, "tracked"),
    ("garbage", {}, C.INVALID),
    (line(date="31/Feb/2026:10:00:00 +0100"), {}, C.INVALID),
    (line(date="01/Mar/2026:10:00:00 +01:00x"), {}, C.INVALID),
    (line(status=404), {}, C.HTTP_ERROR),
    (line(status=503), {}, C.HTTP_ERROR),
    (line(status=404), {"enable_http_errors": True}, "tracked"),
    (line(status=301), {}, C.HTTP_REDIRECT),
    (line(status=302), {"enable_http_redirects": True}, "tracked"),
    (line(status=304), {}, "tracked"),
    (line(request="GET /style.css HTTP/1.1"), {}, C.STATIC),
    (line(request="GET /robots.txt HTTP/1.1"), {}, C.STATIC),
    (line(request="GET /img/Logo.PNG HTTP/1.1"), {}, C.STATIC),
    (line(request="GET /style.css HTTP/1.1"), {"enable_static": True}, "tracked"),
    (line(ua="Mozilla/5.0 (compatible; Googlebot/2.1)"), {}, C.BOT),
    (line(ua="curl/8.5.0"), {}, C.BOT),
    (line(ua="Mozilla/5.0 (compatible; Googlebot/2.1)"), {"enable_bots": True}, "tracked"),
    (line(ua="Mozilla/5.0 MyMonitor/1.0"), {"useragent_excludes": ["mymonitor"]}, C.BOT),
    (line(request="GET /files/a.pdf HTTP/1.1"), {}, "tracked"),
    (line(request="GET /files/a.pdf HTTP/1.1"),
     {"download_extensions": frozenset({"zip"})}, C.DOWNLOAD_NOT_LISTED),
    (line(request="GET /admin/users HTTP/1.1"), {"exclude_paths": ["/admin/*"]}, C.EXCLUDED_PATH),
    (line(request="GET /blog/x HTTP/1.1"), {"include_paths": ["/docs/*"]}, C.EXCLUDED_PATH),
    (line(request="GET /docs/x?admin HTTP/1.1"), {"include_paths": ["/docs/*"]}, "tracked"),
    (line(date="01/Mar/2026:10:00:00 +0000"), {"exclude_older_than": "2026-03-01 10:00:01"}, C.FILTERED),
    (line(date="01/Mar/2026:10:00:00 +0000"), {"exclude_older_than": "2026-03-01 10:00:00"}, "tracked"),
    (line(date="01/Mar/2026:10:00:00 +0000"), {"exclude_newer_than": "2026-03-01 09:59:59"}, C.FILTERED),
])
def test_rule(text, options, expected):
    assert reason_of(text, **options) == expected


@pytest.mark.parametrize("host,options,expected", [
    ("www.example.com", {"hostnames": ["*.example.com"]}, "tracked"),
    ("blog.example.org", {"hostnames": ["*.example.com"]}, C.HOSTNAME_MISMATCH),
    ("www.example.com", {"exclude_hosts": ["www.example.com"]}, C.FILTERED),
    ("www.example.com", {"include_hosts": ["blog.example.org"]}, C.FILTERED),
    ("WWW.Example.COM.", {"include_hosts": ["www.example.com"]}, "tracked"),
])
def test_host_rules(host, options, expected):
    assert reason_of(line(host=host), fmt_name="common_complete", **options) == expected


@pytest.mark.parametrize("text,options,expected", [
    # download-not-listed beats everything after it
    (line(request="GET /a.pdf HTTP/1.1", status=404, ua="curl/1"),
     {"download_extensions": frozenset({"zip"})}, C.DOWNLOAD_NOT_LISTED),
    # HTTP errors before static files and bots
    (line(request="GET /a.css HTTP/1.1", status=404, ua="curl/1"), {}, C.HTTP_ERROR),
    # redirects before static files
    (line(request="GET /a.css HTTP/1.1", status=301), {}, C.HTTP_REDIRECT),
    # path exclusion before static files
    (line(request="GET /x/a.css HTTP/1.1"), {"exclude_paths": ["/x/*"]}, C.EXCLUDED_PATH),
    # static before bots
    (line(request="GET /a.css HTTP/1.1", ua="curl/1"), {}, C.STATIC),
    # bots before date filters
    (line(ua="curl/1"), {"exclude_newer_than": "2000-01-01 00:00:00"}, C.BOT),
    # an invalid date beats every skip reason
    (line(request="GET /a.css HTTP/1.1", date="99/Mar/2026:10:00:00 +0100"), {}, C.INVALID),
])
def test_precedence(text, options, expected):
    assert reason_of(text, **options) == expected


def test_xml_is_static_unless_enabled_then_a_download():
    assert reason_of(line(request="GET /feed.xml HTTP/1.1")) == C.STATIC
    _, [req] = process_lines([line(request="GET /feed.xml HTTP/1.1")], enable_static=True)
    assert req["download"] == req["url"]


def test_download_extensions_are_the_contracts():
    assert "md5" in DOWNLOAD_EXTENSIONS and "sig" in DOWNLOAD_EXTENSIONS


def test_counts_add_up_on_a_generated_log(loggen):
    path = loggen(3000, seed=3, hostile=True)
    lines = path.read_bytes().decode("utf-8", "surrogateescape").split("\n")[:-1]
    result, requests = process_lines(lines)
    assert result.lines == len(lines)
    assert sum(result.counts.values()) + len(requests) == len(lines)
    assert result.counts[C.INVALID] > 0 and result.counts[C.STATIC] > 0 and result.counts[C.BOT] > 0
