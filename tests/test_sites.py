"""Sites by host against the embedded endpoint: normalised hosts, --site-map, --idsite-fallback,
--add-sites-new-hosts without duplicates (within a run, across runs, and with 8 importers at
once), and the --max-new-sites guard."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT, TOKEN, line, unordered
from log_importer.errors import UsageError
from log_importer.sites import read_site_map
from log_importer.tracking import host_key
from test_import_http import importer, write


@pytest.mark.parametrize("host,key", [
    ("www.example.com", "example.com"), ("WWW.Example.COM:8080", "example.com"), ("example.com.", "example.com"),
    ("shop.example.com:443", "shop.example.com"), ('"www.a.org"', "a.org"), ("[2001:db8::1]:80", "[2001:db8::1]"),
    ("www.", "www"), ("wwwx.org", "wwwx.org"),
])
def test_host_key(host, key):
    assert host_key(host) == key


def sites_of(ep):
    return sorted((s.idsite, s.main_url) for s in ep.sites.values())


def hosts_log(tmp_path, hosts, name="access.log"):
    return write(tmp_path, [line(host=h, ip="192.0.2.%d" % (i + 1)) for i, h in enumerate(hosts)], name)


def test_new_hosts_are_created_once_whatever_their_www_and_port(endpoint, tmp_path):
    ep = endpoint()
    log = hosts_log(tmp_path, ["new.example.net", "www.new.example.net", "NEW.example.net",
                               "www.other.example.net", "other.example.net"])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--add-sites-new-hosts", log])
    assert code == 0, text
    assert sites_of(ep) == [(1, "https://www.example.com"), (2, "http://blog.example.org"),
                            (3, "http://new.example.net"), (4, "http://other.example.net")]
    assert sorted(r["params"]["idsite"] for r in ep.received()) == [3, 3, 3, 4, 4]
    # Each hit keeps the host it was logged with in its URL.
    assert unordered(r["params"]["url"].split("/docs")[0] for r in ep.received()) == unordered([
        "http://new.example.net", "http://www.new.example.net", "http://new.example.net",
        "http://www.other.example.net", "http://other.example.net"])
    assert "2 sites were created" in text
    # A later run finds them: no new site.
    log2 = hosts_log(tmp_path, ["www.new.example.net", "Other.example.net"], "later.log")
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--add-sites-new-hosts", log2])
    assert code == 0, text
    assert len(ep.sites) == 4 and sorted(r["params"]["idsite"] for r in ep.received()[-2:]) == [3, 4]


def test_eight_importers_at_once_create_each_site_once(endpoint, tmp_path):
    ep = endpoint()
    hosts = ["site%d.example.net" % i for i in range(6)]
    procs = []
    for n in range(8):
        # The same new hosts, in another order and spelling in each log; each importer has its own
        # positions (--state-dir) so that they run together.
        order = hosts[n % 6:] + hosts[:n % 6]
        spelled = [("www." + h if (i + n) % 2 else h.upper()) for i, h in enumerate(order)]
        log = hosts_log(tmp_path, spelled, "access-%d.log" % n)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "log_importer", "--url", ep.url, "--token-auth", TOKEN, "--add-sites-new-hosts",
             "--recorders", "2", "--workers", "1", "--state-dir", str(tmp_path / ("state-%d" % n)), str(log)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, env=dict(os.environ)))
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, outputs
    created = sorted(url for i, url in sites_of(ep) if i > 2)
    assert created == sorted("http://" + h for h in hosts)
    assert len(ep.received()) == 8 * 6
    by_host = {}
    for r in ep.received():
        by_host.setdefault(host_key(r["params"]["url"].split("//")[1].split("/")[0]), set()).add(r["params"]["idsite"])
    assert all(len(ids) == 1 for ids in by_host.values()), by_host


def test_max_new_sites_guard(endpoint, tmp_path):
    ep = endpoint()
    log = hosts_log(tmp_path, ["a.example.net", "b.example.net", "www.a.example.net", "c.example.net"])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--add-sites-new-hosts", "--max-new-sites", 1, log])
    assert code == 0, text
    assert len(ep.sites) == 3
    assert [r["params"]["idsite"] for r in ep.received()] == [3, 3]
    assert "--max-new-sites=1 reached: no site is created for host b.example.net and later new hosts" in text
    assert "2 requests that did not match any known site" in text
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--add-sites-new-hosts", "--max-new-sites", 0, log])
    assert code == 0 and len(ep.sites) == 2 and ep.received() == []


def test_site_map_first_match_wins_before_matomo_and_fallback(endpoint, tmp_path):
    ep = endpoint(sites={1: "https://www.example.com", 2: "http://blog.example.org", 3: "http://shop.example.net"})
    site_map = tmp_path / "sites.map"
    site_map.write_text("# provider's mapping\n\n*.customer-a.net 2\nwww.example.com   3  # moved\n"
                        "*.net 1\n")
    log = hosts_log(tmp_path, ["shop.customer-a.net", "www.example.com", "EXAMPLE.com", "x.example.net",
                               "blog.example.org", "unknown.org"])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--site-map", site_map, "--idsite-fallback", 3,
                           log])
    assert code == 0, text
    assert sorted(r["params"]["idsite"] for r in ep.received()) == sorted([2, 3, 3, 1, 2, 3])
    lookups = [h for h in ep.http_log if b"getSitesIdFromSiteUrl" in h["body"]]
    assert len(lookups) == 2  # blog.example.org and unknown.org: the map answered the others


def test_a_site_map_wildcard_maps_the_www_host_too(endpoint, tmp_path):
    """The trial: `*.example.com 2` sent www.example.com to Matomo's lookup (site 1), since hosts are
    compared without `www.`; --hostname '*.example.com' keeps it."""
    ep = endpoint(sites={1: "https://www.example.com", 2: "http://blog.example.org"})
    site_map = tmp_path / "sites.map"
    site_map.write_text("*.example.com 2\n")
    log = hosts_log(tmp_path, ["www.example.com", "WWW.Example.COM", "cdn.example.com", "example.com"])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--site-map", site_map, log])
    assert code == 0, text
    assert [r["params"]["idsite"] for r in ep.received()] == [2, 2, 2, 2]  # example.com is www.example.com's host


@pytest.mark.parametrize("text,message", [
    ("example.com\n", "line 1: expected 'host-pattern idsite', got 'example.com'"),
    ("a.com 1\nb.com two\n", "line 2: expected 'host-pattern idsite', got 'b.com two'"),
    ("a.com 0\n", "line 1"),
])
def test_site_map_errors(tmp_path, text, message):
    path = tmp_path / "map"
    path.write_text(text)
    with pytest.raises(UsageError) as e:
        read_site_map(str(path))
    assert message in str(e.value)


def test_site_map_site_must_be_writable(endpoint, tmp_path):
    ep = endpoint()
    site_map = tmp_path / "map"
    site_map.write_text("*.example.com 7\n")
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--site-map", site_map, hosts_log(tmp_path, ["a"])])
    assert code == 2 and text.strip() == "log-importer: error: --site-map 7: site 7 does not exist in Matomo"
    code, text = importer(["--dry-run", "--site-map", tmp_path / "none", hosts_log(tmp_path, ["a"])])
    assert code == 2 and "--site-map %s" % (tmp_path / "none") in text


def test_include_exclude_hostname_and_log_hostname(endpoint, tmp_path):
    ep = endpoint()
    log = hosts_log(tmp_path, ["www.example.com", "blog.example.org", "www.example.com"])
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--exclude-host", "blog.example.org", log])
    assert code == 0 and [r["params"]["idsite"] for r in ep.received()] == [1, 1]
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--hostname", "*.org", log])
    assert code == 0 and [r["params"]["idsite"] for r in ep.received()] == [2]
    plain = write(tmp_path, [line(), line(ip="192.0.2.9")], "plain.log")
    ep = endpoint()
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--log-hostname", "blog.example.org", plain])
    assert code == 0 and [r["params"]["idsite"] for r in ep.received()] == [2, 2]
