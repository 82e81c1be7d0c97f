"""--client-ip-from-forwarded-for and --trusted-proxy: the visitor behind proxies, from the
format's X-Forwarded-For field (log_importer/proxies.py), over real HTTP."""
import pytest

from conftest import TOKEN
from log_importer.proxies import ForwardedFor, parse_networks
from test_import_http import importer, write

CONNECTION = "10.0.0.9"


@pytest.mark.parametrize("value,trusted,expected", [
    ("198.51.100.7", [], "198.51.100.7"),
    ("198.51.100.7, 10.0.0.1", [], "198.51.100.7"),                       # a private hop: skipped
    ("203.0.113.9, 198.51.100.7, 10.0.0.1", [], "198.51.100.7"),          # the rightmost public one
    ("203.0.113.9, 198.51.100.7, 10.0.0.1", ["198.51.100.0/24"], "203.0.113.9"),  # a trusted proxy
    ("203.0.113.9,198.51.100.7", ["198.51.100.7"], "203.0.113.9"),
    ("192.168.1.20, 10.0.0.1", [], "192.168.1.20"),                       # all private: the leftmost
    ("127.0.0.1", [], "127.0.0.1"),
    ("2001:db8::1, fd00::1", [], "2001:db8::1"),                          # IPv6, a ULA proxy
    ("2001:db8::1, fe80::1, ::1", [], "2001:db8::1"),
    ("[2001:db8::1]:443, 10.0.0.1", [], "2001:db8::1"),                   # ports and brackets
    ("198.51.100.7:5678", [], "198.51.100.7"),
    ("::ffff:198.51.100.7", [], "198.51.100.7"),                          # IPv4-mapped
    ('"198.51.100.7, 10.0.0.1"', [], "198.51.100.7"),                     # quoted (W3C)
    ("100.64.0.1, 198.51.100.7, 100.64.0.2", [], "198.51.100.7"),         # carrier-grade NAT hops
    ("unknown, 10.0.0.1", [], CONNECTION),                                # unreadable: fall back
    ("198.51.100.7, garbage", [], CONNECTION),
    ("-", [], CONNECTION),
    ("", [], CONNECTION),
    (None, [], CONNECTION),
    (" , ", [], CONNECTION),
])
def test_forwarded_for_walks_from_the_right(value, trusted, expected):
    xff = ForwardedFor(parse_networks(trusted))
    assert xff.client(value, CONNECTION) == expected
    assert xff.client(value, CONNECTION) == expected  # memoised


def test_trusted_proxies_must_be_addresses():
    with pytest.raises(ValueError, match="not an IP address or network"):
        parse_networks(["proxy.example.net"])


UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
APACHE = '%a %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" "%{X-Forwarded-For}i"'
NGINX = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
         '"$http_user_agent" "$http_x_forwarded_for"')
XFF = ["198.51.100.7, 10.0.0.1", "203.0.113.9, 198.51.100.8", "-", "unknown", "2001:db8::5, fd00::1"]


def _lines():
    return ['10.0.0.9 - - [01/Mar/2026:10:00:%02d +0100] "GET /p%d HTTP/1.1" 200 5 "-" "%s" "%s"' % (i, i, UA, x)
            for i, x in enumerate(XFF)]


@pytest.mark.parametrize("options", [["--log-format-apache", APACHE], ["--log-format-nginx", NGINX]],
                         ids=["apache", "nginx"])
def test_the_visitor_behind_proxies_over_http(options, endpoint, tmp_path):
    log = write(tmp_path, _lines())
    for extra, expected in (([], [CONNECTION] * 5),
                            (["--client-ip-from-forwarded-for"],
                             ["198.51.100.7", "198.51.100.8", CONNECTION, CONNECTION, "2001:db8::5"]),
                            (["--client-ip-from-forwarded-for", "--trusted-proxy", "198.51.100.0/24"],
                             ["198.51.100.7", "203.0.113.9", CONNECTION, CONNECTION, "2001:db8::5"])):
        ep = endpoint()
        code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1] + options + extra + [log])
        assert code == 0, text
        got = {r["params"]["url"].rsplit("/", 1)[1]: r["params"]["cip"] for r in ep.received()}
        assert got == {"p%d" % i: ip for i, ip in enumerate(expected)}  # visitors' hits go in any order


def test_w3c_x_forwarded_for_field(endpoint, tmp_path):
    head = ["#Software: Microsoft Internet Information Services 10.0",
            "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
            "cs(Referer) sc-status sc-substatus sc-win32-status time-taken X-Forwarded-For"]
    line = "2026-03-01 09:00:00 10.0.0.5 GET /a - 443 - 10.0.0.9 %s - 200 0 0 15 198.51.100.7,10.0.0.1"
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--idsite", 1, "--client-ip-from-forwarded-for",
                           write(tmp_path, head + [line % UA.replace(" ", "+")])])
    assert code == 0, text
    assert [r["params"]["cip"] for r in ep.received()] == ["198.51.100.7"]


def test_a_format_without_the_field_stops_the_run(tmp_path, loggen):
    code, text = importer(["--dry-run", "--client-ip-from-forwarded-for", loggen(10)])
    assert code == 2 and "has no X-Forwarded-For field" in text
    code, text = importer(["--dry-run", "--trusted-proxy", "10.0.0.1", loggen(10)])
    assert code == 2 and "--trusted-proxy needs --client-ip-from-forwarded-for" in text
    code, text = importer(["--dry-run", "--client-ip-from-forwarded-for", "--trusted-proxy", "lb1", loggen(10)])
    assert code == 2 and "--trusted-proxy: 'lb1' is not an IP address" in text
