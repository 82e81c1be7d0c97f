"""Lines of a known format behind a syslog prefix (formats/syslog.py): detected, read, and the
prefix's host standing in for a host the format lacks."""
import pytest

import formats
from conftest import TOKEN, line
from formats import REGISTRY
from log_importer.config import Config
from test_import_http import importer, write

PREFIXES = ["Mar  1 10:00:00 web1 nginx: ", "<134>Mar  1 10:00:00 web1 apache2[2342]: ",
            "2026-03-01T10:00:00.123456+01:00 web1 nginx: ", "<134>1 2026-03-01T10:00:00+01:00 web1 nginx 2342 - - ",
            '<134>1 2026-03-01T10:00:00Z web1 nginx - ID47 [origin ip="10.0.0.5"][meta x="a\\]b"] ']


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("name", ["ncsa_extended", "nginx_json", "common_vhost"])
def test_any_format_behind_any_prefix(prefix, name):
    sample, expected = REGISTRY[name].samples[0]
    fmt = formats.detect([prefix + sample] * 3)
    assert fmt.name == "syslog+" + name
    fields = fmt.compile().as_dict(prefix + sample)
    for key, value in expected.items():
        assert fields.get(key) == value, key
    assert fields["host"] == (expected.get("host") or "web1")


def test_the_prefix_host_fills_only_a_missing_host():
    fmt = formats.detect([PREFIXES[0] + line()] * 3)
    assert fmt.compile().as_dict(PREFIXES[0] + line())["host"] == "web1"
    vhost = REGISTRY["common_complete"].samples[0][0]
    fmt = formats.detect([PREFIXES[0] + vhost] * 3)
    assert fmt.compile().as_dict(PREFIXES[0] + vhost)["host"] == "blog.example.org"


def test_plain_lines_stay_plain_and_names_can_say_syslog():
    assert formats.detect([line()] * 3).name == "ncsa_extended"
    assert formats.detect([PREFIXES[0] + line(), line(), line()]).name == "ncsa_extended"  # most lines plain
    fmt = formats.resolve(Config(log_format_name="syslog+common"), [PREFIXES[1] + line()])
    assert fmt.name == "syslog+common" and fmt.compile().as_dict(PREFIXES[1] + line())["ip"] == "192.0.2.1"


def test_over_http_the_log_hostname_option_still_wins(endpoint, tmp_path):
    log = write(tmp_path, [PREFIXES[0] + line(request="GET /a HTTP/1.1"),
                           PREFIXES[2] + line(request="GET /b HTTP/1.1")])
    ep = endpoint(sites={1: "https://www.example.com", 2: "https://web1"})
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, log])
    assert code == 0, text
    assert [(r["params"]["idsite"], r["params"]["url"]) for r in ep.received()] == [
        (2, "https://web1/a"), (2, "https://web1/b")]
    ep = endpoint(sites={1: "https://www.example.com", 2: "https://web1"})
    code, text = importer(["--url", ep.url, "--token-auth", TOKEN, "--log-hostname", "www.example.com", log])
    assert code == 0, text
    assert {r["params"]["idsite"] for r in ep.received()} == {1}
