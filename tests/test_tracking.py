"""What one tracked hit sends: the contract's section 4, field by field."""
import json
from urllib.parse import quote

import formats
from conftest import COMBINED_UA, line, process_lines
from log_importer import chunks


def one(text, **options):
    result, requests = process_lines([text], **options)
    assert len(requests) == 1, result.counts
    return requests[0]


def test_a_pageview_sends_exactly_these_parameters():
    req = one(line(referrer="https://www.google.com/"))
    assert req == {
        "rec": "1", "apiv": "1", "idsite": 1, "url": "https://www.example.com/docs/install",
        "urlref": "https://www.google.com/", "cip": "192.0.2.1", "cdt": "2026-03-01 09:00:00",
        "ua": COMBINED_UA, "dp": "1", "queuedtracking": "0",
        "cvar": json.dumps({"1": ["HTTP-code", "200"]}), "bw_bytes": 5120,
    }


def test_url_uses_the_site_scheme_with_the_hit_host():
    req = one(line(host="Blog.Example.ORG", request="GET /news?x=1 HTTP/1.1"), fmt_name="common_complete",
              site=chunks.Site(3, "http://www.example.com/sub"))
    assert req["url"] == "http://blog.example.org/news?x=1"
    assert req["idsite"] == 3


def test_url_is_the_main_url_plus_path_without_a_host_in_the_log():
    req = one(line(request="GET /a HTTP/1.1"), site=chunks.Site(1, "https://example.org/sub"))
    assert req["url"] == "https://example.org/sub/a"


def test_log_hostname_forces_the_host():
    assert one(line(), log_hostname="forced.example")["url"] == "https://forced.example/docs/install"


def test_absolute_url_in_request_line_is_sent_as_is():
    req = one(line(request="GET http://proxy.example/x?y HTTP/1.1"))
    assert req["url"] == "http://proxy.example/x?y"


def test_strip_query_string_and_delimiter():
    assert one(line(request="GET /a?b=1 HTTP/1.1"), strip_query_string=True)["url"].endswith("/a")
    assert one(line(request="GET /a;b=1 HTTP/1.1"), query_string_delimiter=";")["url"].endswith("/a;b=1")


def test_url_path_and_referrer_are_cut_at_1024():
    long = "/" + "x" * 3000
    req = one(line(request="GET %s HTTP/1.1" % long, referrer="https://r/" + "y" * 2000))
    assert req["url"] == "https://www.example.com" + long[:1024]
    assert len(req["urlref"]) == 1024


def test_force_lowercase_path():
    assert one(line(request="GET /Docs/Install HTTP/1.1"), force_lowercase_path=True)["url"].endswith("/docs/install")


def test_download_and_error_and_redirect_hits():
    req = one(line(request="GET /files/a.pdf HTTP/1.1"))
    assert req["download"] == req["url"] == "https://www.example.com/files/a.pdf"
    req = one(line(status=404, referrer="https://r.example/p?q=1"), enable_http_errors=True)
    assert req["action_name"] == "404/URL = %s/From = %s" % (
        quote("https://www.example.com/docs/install", ""), quote("https://r.example/p?q=1", ""))
    req = one(line(status=301), enable_http_redirects=True, title_category_delimiter=" > ")
    assert req["action_name"] == "301 > URL = %s" % quote("https://www.example.com/docs/install", "")
    assert "bw_bytes" in req


def test_bots_enabled_marks_visits():
    req = one(line(ua="curl/8.5.0"), enable_bots=True)
    assert req["bots"] == "1"
    assert json.loads(req["_cvar"]) == {"1": ["Bot", "curl/8.5.0"]}
    req = one(line(), enable_bots=True)
    assert json.loads(req["_cvar"]) == {"1": ["Not-Bot", COMBINED_UA]}


def test_reverse_dns_and_replay_flags():
    assert one(line(), enable_reverse_dns=True)["dp"] == "0"


def test_http_method_and_regex_group_cvars():
    fmt = formats.Format("custom", r'(?P<ip>\S+) \[(?P<date>[^\]]+) (?P<timezone>\S+)\] "(?P<method>\S+) '
                         r'(?P<path>\S+)" (?P<status>\d+) (?P<userid>\S+) (?P<tenant>\S+)')
    text = '192.0.2.1 [01/Mar/2026:10:00:00 +0000] "POST /x" 200 alice acme'
    req = one(text, fmt_name=fmt, track_http_method=True, page_cvar_groups={"tenant": "Tenant"},
              visit_cvar_groups={"userid": "User"})
    assert json.loads(req["cvar"]) == {"1": ["HTTP-code", "200"], "2": ["HTTP-method", "POST"], "3": ["Tenant", "acme"]}
    assert json.loads(req["_cvar"]) == {"1": ["User", "alice"]}
    assert req["uid"] == "alice"
    assert "uid" not in one(text, fmt_name=fmt, ignore_groups=["userid"])


def test_generation_time_and_length():
    fmt = formats.REGISTRY["iis"]
    head = fmt.header_lines
    result, [req] = process_lines(head + [fmt.samples[0][0]], fmt_name=fmt)
    assert req["pf_srv"] == 135
    assert "bw_bytes" not in req
    assert req["cdt"] == "2026-03-01 09:00:00"
    assert req["urlref"] == ""
    assert req["url"] == "https://www.example.com/blog/2024"
    assert result.counts.get("comment") == 4
    fmt = formats.REGISTRY["w3c_extended"]
    _, [req] = process_lines(fmt.header_lines + [fmt.samples[0][0]], fmt_name=fmt)
    assert req["pf_srv"] == 250  # seconds → milliseconds
    assert req["url"] == "https://www.example.com/docs/install?page=2"


def test_add_to_date():
    assert one(line(), add_to_date=3600)["cdt"] == "2026-03-01 10:00:00"


def test_replay_tracking_sends_the_logged_parameters_with_rec_0():
    text = line(request="GET /matomo.php?idsite=5&rec=1&action_name=Home&uid=bob&_idts=100 HTTP/1.1")
    site = chunks.SiteMap(by_key={"#5": chunks.Site(5, "https://shop.example")})
    result, [req] = process_lines([text], site=site, replay_tracking=True, add_to_date=10)
    assert req["rec"] == "1"  # the logged value wins, as in import_logs.py
    assert req["idsite"] == 5 and req["action_name"] == "Home" and req["uid"] == "bob" and req["_idts"] == 110
    result, reqs = process_lines([line(request="GET /page HTTP/1.1")], site=site, replay_tracking=True)
    assert reqs == [] and result.counts["invalid"] == 1
    result, reqs = process_lines([text.replace("idsite=5", "idsite=6")], site=site, replay_tracking=True)
    assert result.need_keys == {"#6"}


def test_unknown_host_asks_for_site_resolution_then_counts_no_site():
    text = line(host="new.example")
    result, reqs = process_lines([text], fmt_name="common_complete", site=chunks.SiteMap())
    assert result.need_keys == {"new.example"} and reqs == []
    result, reqs = process_lines([text], fmt_name="common_complete", site=chunks.SiteMap(by_key={"new.example": None}))
    assert result.counts["no_site"] == 1 and result.no_site_keys == {"new.example"}


def test_visitor_partition_is_stable_and_keeps_order():
    lines = [line(ip="192.0.2.%d" % (i % 7), request="GET /p%d HTTP/1.1" % i) for i in range(70)]
    result, _ = process_lines(lines, partitions=3)
    seen = {}
    for p, part in enumerate(result.parts):
        body, ends, offsets, idxs = part
        assert list(idxs) == sorted(idxs) and list(offsets) == sorted(offsets)
        for i in idxs:
            seen.setdefault(i % 7, set()).add(p)
    assert all(len(parts) == 1 for parts in seen.values())
    assert len({next(iter(v)) for v in seen.values()}) > 1


def test_undecodable_bytes_keep_the_hit():
    result, reqs = process_lines([line(ua="broken \udcff agent", request="GET /caf\udce9?q=cr\udce8me HTTP/1.1",
                                       referrer="https://ex.example/\udce0"), line()])
    assert "invalid" not in result.counts and len(reqs) == 2 and result.undecodable == 1
    assert reqs[0]["ua"] == "broken \ufffd agent"
    assert reqs[0]["url"] == "https://www.example.com/caf%E9?q=cr%E8me"
    assert reqs[0]["urlref"] == "https://ex.example/%E0"


def test_latin1_encoding():
    result, reqs = process_lines([line(ua="caf\udce9")], encoding="latin-1")
    assert reqs[0]["ua"] == "café"
