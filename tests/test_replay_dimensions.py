"""--replay-tracking keeps each replayed request's own parameters (PHP-style nesting included) and
each visitor's order; --regex-group-to-*-dimension sends custom dimensions, stored and reported."""
import random
from urllib.parse import unquote

import httpx
import pytest

from conftest import TOKEN, line, unordered
from log_importer.cli import main
from log_importer.tracking import php_form_pairs, php_parse_str
from test_import_http import importer, tracking_calls, write


@pytest.mark.parametrize("qs,expected", [
    ("a=1&a=2", {"a": "2"}),
    ("a[]=1&a[]=2", {"a": ["1", "2"]}),
    ("a[b][]=1&a[b][]=2&a[c]=3", {"a": {"b": ["1", "2"], "c": "3"}}),
    ("m[1]=x&m[0]=y", {"m": {"1": "x", "0": "y"}}),
    ("z[k]=v&z[]=w", {"z": {"k": "v", "0": "w"}}),
    ("q=a+b%26c&e=", {"q": "a b&c", "e": ""}),
    ("d.e=1&f g=2&x[=3", {"d_e": "1", "f_g": "2", "x_": "3"}),
    ("&&=1&ok", {"ok": ""}),
    ("_cvar=%7B%221%22%3A%5B%22a%22%2C%22b%22%5D%7D", {"_cvar": '{"1":["a","b"]}'}),
])
def test_php_parse_str(qs, expected):
    assert php_parse_str(qs) == expected


def test_php_form_pairs_are_the_inverse():
    params = php_parse_str("a[b][]=1&a[b][]=2&a[c]=3&u=x")
    assert php_form_pairs(params) == [("a[b][0]", "1"), ("a[b][1]", "2"), ("a[c]", "3"), ("u", "x")]
    assert php_parse_str("&".join("%s=%s" % p for p in php_form_pairs(params))) == params


REPLAYED = ("GET /matomo.php?idsite=1&rec=1&action_name=Home&url=https%3A%2F%2Fwww.example.com%2F&_id=0123456789abcdef"
            "&ec_items=%5B%5B%22SKU%22%2C%22Name%22%5D%5D&custom[color][]=red&custom[color][]=blue&custom[size]=L"
            "&dimension4=gold HTTP/1.1")


def test_replay_keeps_each_request_s_own_parameters(endpoint, tmp_path):
    ep = endpoint()
    log = write(tmp_path, [line(request=REPLAYED)])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--replay-tracking", log])
    assert code == 0, text
    (got,) = [r["params"] for r in ep.received()]
    assert got["custom"] == {"color": ["red", "blue"], "size": "L"}
    assert got["ec_items"] == '[["SKU","Name"]]' and got["dimension4"] == "gold"
    assert got["action_name"] == "Home" and got["_id"] == "0123456789abcdef" and got["rec"] == "1"
    assert got["url"] == "https://www.example.com/" and got["idsite"] == 1
    # One request per hit: the same nesting, as PHP reads a form.
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--replay-tracking", "--disable-bulk-tracking", log])
    assert code == 0, text
    (call,) = [h for h in tracking_calls(ep) if b"action_name" in h["body"]]
    body = unquote(call["body"].decode())
    assert "custom[color][0]=red&custom[color][1]=blue&custom[size]=L" in body
    assert b"token_auth" in call["body"] and TOKEN not in call["path"]


@pytest.mark.parametrize("param", ["uid", "cid", "_id"])
def test_replayed_visitors_stay_in_order_across_ips_and_senders(endpoint, tmp_path, param):
    rng = random.Random(7)
    lines, expected = [], {}
    for n in range(300):
        visitor = "%016x" % rng.randrange(12)
        ip = "192.0.2.%d" % rng.randrange(1, 200)  # each request from any address (mobile clients)
        expected.setdefault(visitor, []).append("p%d" % n)
        lines.append(line(ip=ip, date="01/Mar/2026:10:%02d:%02d +0000" % (n // 60, n % 60),
                          request="GET /matomo.php?idsite=1&rec=1&action_name=p%d&%s=%s HTTP/1.1"
                          % (n, param, visitor)))
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--replay-tracking", "--recorders", 4,
                           "--recorder-max-payload-size", 7, write(tmp_path, lines)])
    assert code == 0, text
    got = {}
    for r in ep.received():
        got.setdefault(r["params"][param], []).append(r["params"]["action_name"])
    assert got == expected


def test_custom_dimensions_from_regex_groups(endpoint, tmp_path):
    ep = endpoint(dimensions={1: {1: "visit", 3: "action"}})  # configured for site 1, as in Matomo
    regex = (r'(?P<ip>\S+) (?P<country>\S+) (?P<plan>\S+) \[(?P<date>.*?) (?P<timezone>.*?)\] '
             r'"\S+ (?P<path>.*?) \S+" (?P<status>\d+) (?P<length>\S+) "(?P<referrer>.*?)" "(?P<user_agent>.*?)"')
    rows = [("192.0.2.1", "fr", "gold"), ("192.0.2.2", "de", "-"), ("192.0.2.1", "fr", "silver"),
            ("192.0.2.3", "fr", "gold")]
    log = write(tmp_path, ['%s %s %s [01/Mar/2026:10:00:0%d +0000] "GET /p%d HTTP/1.1" 200 10 "-" "Mozilla/5.0"'
                           % (ip, country, plan, i, i) for i, (ip, country, plan) in enumerate(rows)])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--log-format-regex", regex,
                           "--regex-group-to-visit-dimension", "country=1",
                           "--regex-group-to-action-dimension", "plan=3", log])
    assert code == 0, text
    got = [{k: v for k, v in r["params"].items() if k.startswith("dimension")} for r in ep.received()]
    assert unordered(got) == unordered([{"dimension1": "fr", "dimension3": "gold"}, {"dimension1": "de"},
                                        {"dimension1": "fr", "dimension3": "silver"},
                                        {"dimension1": "fr", "dimension3": "gold"}])

    def report(ident):
        answer = httpx.post(ep.url + "/index.php", data={
            "module": "API", "format": "json", "method": "CustomDimensions.getCustomDimension",
            "idSite": "1", "idDimension": ident, "period": "day", "date": "2026-03-01",
            "token_auth": TOKEN}).json()
        return {r["label"]: r.get("nb_hits", r["nb_visits"]) for r in answer}
    assert report("1") == {"fr": 2, "de": 1}  # visit scope: two visitors from fr, one from de
    assert report("3") == {"gold": 2, "silver": 1, "Value not defined": 1}  # action scope: hits
    assert "Custom dimension 3 (action)" in httpx.get(ep.url + "/report").text


@pytest.mark.parametrize("value", ["country", "country=x", "country=0"])
def test_dimension_option_needs_an_id(tmp_path, value, capsys):
    with pytest.raises(SystemExit) as e:
        main(["--dry-run", "--regex-group-to-visit-dimension", value, str(write(tmp_path, [line()]))])
    assert e.value.code == 2
    assert "argument --regex-group-to-visit-dimension: expected" in capsys.readouterr().err


def test_replayed_idsites_that_are_not_sites_are_not_reported_as_host_names(endpoint, tmp_path):
    ep = endpoint()
    log = write(tmp_path, [line(request="GET /matomo.php?idsite=%s&rec=1&url=https%%3A%%2F%%2Fwww.example.com%%2F "
                                        "HTTP/1.1" % idsite) for idsite in ("1", "999", "abc")])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--replay-tracking", log])
    assert code == 0, text
    assert [r["params"]["idsite"] for r in ep.received()] == [1]
    assert "1 requests that did not match any known site" in text
    assert "0 distinct hostnames did not match any existing site" in text
    assert "1 replayed idsite values are not sites this token may write to: 999" in text
    assert "#999" not in text and "--add-sites-new-hosts" not in text


def test_replayed_idsites_no_site_can_have_are_invalid_lines_not_pending_for_ever(endpoint, tmp_path):
    """The trial: idsite=abc, idsite=, -1, 1.5 and a[] were kept pending "until their site exists"."""
    ep = endpoint()
    values = ("abc", "", "-1", "1.5", "0", "%C2%B2")
    log = write(tmp_path, [line(request="GET /matomo.php?idsite=%s&rec=1&url=https%%3A%%2F%%2Fwww.example.com%%2F "
                                        "HTTP/1.1" % v) for v in values]
                + [line(request="GET /matomo.php?idsite[]=1&rec=1 HTTP/1.1")] * 30)
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--replay-tracking", log])
    assert code == 0, text
    assert ep.received() == []
    assert "36 invalid log lines" in text and "0 requests that did not match any known site" in text
    assert "replayed request has no idsite" in text and "a site id (a whole number above 0)" in text


def test_replaying_a_log_without_tracker_requests_is_no_failure(endpoint, tmp_path):
    """The trial: an hour without tracker requests ended with exit 1, "none of its lines could be
    read with the format", and the position kept: every cron run read the lines again."""
    ep = endpoint()
    log = write(tmp_path, [line(request="GET /page%d HTTP/1.1" % k) for k in range(30)])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--replay-tracking", log])
    assert code == 0, text
    assert "could not be read" not in text and "not that of" not in text
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--replay-tracking", log])
    assert "skipped 30 lines already imported" in text
