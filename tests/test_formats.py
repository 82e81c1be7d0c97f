"""Every format's sample lines produce their declared fields; detection picks the right format."""
import re

import orjson
import pytest

import formats
from formats import FormatError, REGISTRY
from formats.base import EPOCH, ISO8601, ISO_T_DATE, DateConverter, timezone_offset
from formats.escapes import backslash
from log_importer.config import Config

# import_logs.py's 18 names, and Netscaler's W3C logs.
REFERENCE_NAMES = {"common", "common_vhost", "ncsa_extended", "common_complete", "w3c_extended",
                   "amazon_cloudfront", "incapsula_w3c", "iis", "shoutcast", "s3", "icecast2", "elb",
                   "traefik_json", "nginx_json", "caddy_json", "ovh", "haproxy", "gandi"}
# Formats beyond the reference, each from its vendor's documentation.
BEYOND = {"netscaler", "varnishncsa", "squid", "traefik_clf", "gcs", "cloudflare_json", "bunny", "akamai_json",
          "caddy"}
# Their lines are also lines of another format (ovh: combined with an ident; varnishncsa and caddy:
# combined or common lines): detection reads them as those, with the same hits (but ovh's host).
BY_NAME_ONLY = {"ovh", "varnishncsa", "caddy"}


def _parser(fmt):
    if fmt.header_driven:
        return fmt.for_header(_fields_line(fmt)).compile()
    return fmt.compile()


def _fields_line(fmt):
    return [h for h in fmt.header_lines if h.startswith("#Fields:")][0]


SAMPLES = [(f.name, line, expected) for f in REGISTRY.values() for line, expected in f.samples]
DETECTABLE = [s for s in SAMPLES if s[0] not in BY_NAME_ONLY]


def test_every_format_of_the_reference_and_beyond_is_there_with_samples():
    assert set(REGISTRY) == REFERENCE_NAMES | BEYOND
    assert all(f.samples for f in REGISTRY.values())
    assert {n for n, f in REGISTRY.items() if not f.detectable} == BY_NAME_ONLY


@pytest.mark.parametrize("name,line,expected", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_sample_lines_give_their_fields(name, line, expected):
    fields = _parser(REGISTRY[name]).as_dict(line)
    assert fields is not None, "%s does not match its own sample" % name
    for key, value in expected.items():
        assert fields.get(key) == value, key


def _head(name, lines):
    fmt = REGISTRY[name]
    return fmt.header_lines + lines


@pytest.mark.parametrize("name,line,expected", DETECTABLE, ids=[s[0] for s in DETECTABLE])
def test_detection_picks_the_sample_format(name, line, expected):
    assert formats.detect(_head(name, [line] * 3)).name == name


def _outside_quotes(line, change):
    """Apply `change` to the parts of a line outside double quotes (as import_logs.py's tests do)."""
    parts = line.split('"')
    return '"'.join(change(p) if i % 2 == 0 else p for i, p in enumerate(parts))


SPACES_ARE_DATA = {"bunny"}  # pipe-separated: a space is part of a value (the user agent)


def _variants(name, line, expected):
    """(what, line, expected fields): the sample with an IPv6 client, runs of spaces, extra
    trailing fields, a CRLF line end."""
    json = REGISTRY[name].json_map is not None
    out = []
    ip = expected.get("ip")
    if ip:
        v6 = "2001:db8:85a3::8a2e:370:7334"
        out.append(("ipv6", line.replace(ip, v6), dict(expected, ip=v6)))
    if name not in SPACES_ARE_DATA:
        out.append(("spaces", _outside_quotes(line, lambda p: p.replace(" ", "  ").replace("\t", "\t\t")), expected))
    out.append(("trailing", line[:-1] + ',"x-extra":[1,{"y":null}]}' if json else line + " 0.123 - junk", expected))
    out.append(("crlf", line + "\r", expected))
    return out


VARIANTS = [(name, what, v, exp) for name, line, expected in DETECTABLE
            for what, v, exp in _variants(name, line, expected)]


@pytest.mark.parametrize("name,what,line,expected", VARIANTS, ids=["%s-%s" % (v[0], v[1]) for v in VARIANTS])
def test_detection_and_fields_survive_ipv6_spaces_trailing_fields_and_crlf(name, what, line, expected):
    fmt = formats.detect(_head(name, [line] * 3))
    assert fmt.name == name
    fields = fmt.compile().as_dict(line[:-1] if line.endswith("\r") else line)  # the chunk stage strips \r
    for key, value in expected.items():
        assert fields.get(key) == value, key


W3C = [f for f in REGISTRY.values() if f.header_driven]


@pytest.mark.parametrize("fmt", W3C, ids=[f.name for f in W3C])
def test_detection_finds_a_w3c_header_that_moved_or_repeats(fmt):
    line = fmt.samples[0][0]
    header = fmt.header_lines
    moved = [line, line] + header + [line]  # a file that starts mid-log, then a restart
    repeated = header + [line] + header + [line, "", line]
    for head in (moved, repeated, [h + "\r" for h in header] + [line + "\r"]):
        assert formats.detect(head).name == fmt.name


@pytest.mark.parametrize("name", sorted(BY_NAME_ONLY))
def test_by_name_only_formats_are_never_detected_but_read_by_name(name):
    """ovh's lines are combined lines with the host where the ident is: detection must never pick
    ovh (it would read every combined log's "-" ident as the host), only --log-format-name does."""
    for _, line, _ in SAMPLES:
        fmt = formats.detect([line] * 3)
        assert fmt is None or fmt.name != name
    line, expected = REGISTRY[name].samples[0]
    fmt = formats.resolve(Config(log_format_name=name), [line])
    fields = fmt.compile().as_dict(line)
    assert fmt.name == name and all(fields.get(k) == v for k, v in expected.items())


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_name_resolves_with_its_sample_head(name):
    fmt = REGISTRY[name]
    resolved = formats.resolve(Config(log_format_name=name), _head(name, [fmt.samples[0][0]]))
    assert resolved.name == name and resolved.compile().extract(fmt.samples[0][0]) is not None


def test_detection_votes_over_garbage_first_lines():
    good = REGISTRY["ncsa_extended"].samples[0][0]
    common = REGISTRY["common"].samples[0][0]
    lines = ["\x16\x03\x01 garbage", "", "not a log line", common] + [good] * 5
    assert formats.detect(lines).name == "ncsa_extended"


def test_detection_fails_on_unknown_lines():
    assert formats.detect(["hello world", "foo bar"]) is None
    with pytest.raises(FormatError, match="--log-format-name"):
        formats.resolve(Config(), ["hello world"], "x.log")


def test_escaped_quotes_stay_inside_quoted_fields_and_escapes_are_decoded():
    """Apache writes a quote in a field as \\", a backslash as \\\\ and other bytes as \\xHH; nginx
    writes \\xHH for all three: both read back the text the client sent."""
    line = ('192.0.2.9 - - [01/Mar/2026:10:00:00 +0100] "GET /caf\\xc3\\xa9 HTTP/1.1" 200 5 '
            '"https://r.example/?q=\\"x\\"" "Mozilla/5.0 \\"weird\\" agent \\\\o/" extra')
    d = REGISTRY["ncsa_extended"].compile().as_dict(line)
    assert d["path"] == "/café"
    assert d["referrer"] == 'https://r.example/?q="x"'
    assert d["user_agent"] == 'Mozilla/5.0 "weird" agent \\o/'
    nginx = line.replace('\\"', "\\x22").replace("\\\\", "\\x5C")
    assert REGISTRY["ncsa_extended"].compile().as_dict(nginx) == d


def test_path_with_spaces_ends_before_the_protocol():
    line = '192.0.2.9 - - [01/Mar/2026:10:00:00 +0100] "GET /a b/c d HTTP/1.1" 404 5'
    assert REGISTRY["common"].compile().as_dict(line)["path"] == "/a b/c d"


@pytest.mark.parametrize("line", [
    '192.0.2.1 - - [01/Mar/2026:10:00:00 +0100] "\\x16\\x03\\x01\\x00" 400 157 "-" "-"',
    '192.0.2.1 - - [01/Mar/2026:10:00:00 +0100] "-" 408 - "-" "-"',
    "",
    "this is not a log line at all",
])
def test_broken_lines_do_not_match(line):
    assert REGISTRY["ncsa_extended"].compile().extract(line) is None


def test_w3c_header_decides_between_iis_and_w3c():
    iis = REGISTRY["iis"]
    assert formats.detect(iis.header_lines + [iis.samples[0][0]]).name == "iis"
    w3c = REGISTRY["w3c_extended"]
    assert formats.detect(w3c.header_lines + [w3c.samples[0][0]]).name == "w3c_extended"


def test_w3c_fields_option_and_mapping():
    c = Config(log_format_name="w3c_extended", w3c_fields="#Fields: date time c-ip my-path sc-status",
               w3c_map_fields={"my-path": "cs-uri-stem"})
    fmt = formats.resolve(c, ["2026-03-01 10:00:00 192.0.2.1 /x 200"])
    assert fmt.compile().as_dict("2026-03-01 10:00:00 192.0.2.1 /x 200")["path"] == "/x"
    with pytest.raises(FormatError, match="--w3c-map-field"):
        formats.resolve(Config(log_format_name="w3c_extended", w3c_fields="#Fields: a",
                               w3c_map_fields={"a": "nope"}), [])


def test_w3c_without_fields_line_says_what_to_do():
    with pytest.raises(FormatError, match="--w3c-fields"):
        formats.resolve(Config(log_format_name="iis"), ["2026-03-01 10:00:00 1.2.3.4"], "x.log")


def test_custom_regex_and_date_format():
    c = Config(log_format_regex=r"(?P<ip>\S+) (?P<date>\S+ \S+) (?P<path>\S+) (?P<status>\d+)",
               log_date_format="%Y-%m-%d %H:%M:%S")
    fmt = formats.resolve(c, [])
    assert fmt.name == "custom"
    assert fmt.compile().as_dict("1.2.3.4 2026-03-01 10:00:00 /x 200")["date"] == "2026-03-01 10:00:00"
    with pytest.raises(FormatError, match="named groups"):
        formats.resolve(Config(log_format_regex=r"\S+"), [])
    with pytest.raises(FormatError, match="invalid regex"):
        formats.resolve(Config(log_format_regex=r"(?P<ip>\S+"), []).compile()


@pytest.mark.parametrize("date,tz,expected", [
    ("01/Mar/2026:00:30:00", "+0100", "2026-02-28 23:30:00"),
    ("01/Mar/2026:23:30:00", "-0500", "2026-03-02 04:30:00"),
    ("01/Mar/2026:10:00:00", "+05:30", "2026-03-01 04:30:00"),
    ("01/Mar/2026:10:00:00", None, "2026-03-01 10:00:00"),
    ("31/Feb/2026:10:00:00", "+0000", None),
    ("01/Foo/2026:10:00:00", "+0000", None),
    ("01/Mar/2026:10:00:00", "+01x0", None),
])
def test_apache_dates_to_utc(date, tz, expected):
    assert DateConverter().convert(date, tz) == expected


def test_iso_dates_and_add_seconds():
    conv = DateConverter("%Y-%m-%d %H:%M:%S", add_seconds=3600)
    assert conv.convert("2026-03-01 23:30:00") == "2026-03-02 00:30:00"
    assert timezone_offset("-0130") == -5400


@pytest.mark.parametrize("name", ["common", "common_vhost", "ncsa_extended", "common_complete"])
def test_no_catastrophic_backtracking_on_odd_lines(name):
    """Each of these took exponential time with a regex whose loop pieces overlapped."""
    import signal

    def hang(*_):
        raise AssertionError("regex of %s backtracks without end" % name)

    odd = [
        '192.0.2.1 - - [01/Mar/2026:10:00:00 +0100] "GET /a' + " " * 40 + 'b HTTP/1.1" 200 5',
        '192.0.2.1 - - [01/Mar/2026:10:00:00 +0100] "GET ' + "/a b" * 40 + ' HTTP/1.1" 200 5 "-"',
        '192.0.2.1 - - [01/Mar/2026:10:00:00 +0100] "GET ' + "\\x" * 40 + ' HTTP/1.1" 200 5 "' + "\\" * 41,
    ] + [s[0] for f in REGISTRY.values() if not f.header_driven for s in f.samples]
    parser = REGISTRY[name].compile()
    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(20)
    try:
        for text in odd:
            parser.extract(text)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_w3c_field_regex_adds_a_group():
    c = Config(log_format_name="w3c_extended", w3c_fields="#Fields: date time c-ip cs-uri-stem sc-status x-tenant",
               w3c_field_regexes={"x-tenant": r"(?P<tenant>\w+)"})
    parser = formats.resolve(c, []).compile(extra_groups=("tenant",))
    assert parser.as_dict("2026-03-01 10:00:00 192.0.2.1 /x 200 acme")["tenant"] == "acme"
    with pytest.raises(FormatError, match="named group"):
        formats.resolve(Config(log_format_name="w3c_extended", w3c_fields="#Fields: a",
                               w3c_field_regexes={"a": r"\w+"}), [])


@pytest.mark.parametrize("name", ["common", "common_vhost", "ncsa_extended", "common_complete"])
def test_the_plain_regex_gives_the_same_fields_as_the_full_one(name, loggen):
    """Lines without a backslash go through a simpler regex: it must not change any field."""
    import re
    fmt = REGISTRY[name]
    full = re.compile(fmt.regex)
    parser = fmt.compile()
    texts = []
    for seed, kind in ((21, "combined"), (22, "vhost"), (23, "common")):
        texts += loggen(4000, seed=seed, fmt=kind, hostile=True).read_text(errors="replace").split("\n")
    texts += [s[0] for f in REGISTRY.values() if not f.header_driven for s in f.samples]
    plain_lines = 0
    for text in texts:
        m = full.match(text)
        expected = None if m is None else {k: v if v is None else backslash(v) for k, v in m.groupdict().items()}
        assert parser.as_dict(text) == (None if expected is None else
                                         {k: v for k, v in expected.items() if k in parser.present}), text
        plain_lines += "\\" not in text
    assert plain_lines > 10000


# JSON formats ----------------------------------------------------------------------------------
JSON_SAMPLES = [s for s in SAMPLES if REGISTRY[s[0]].json_map is not None]


def _reordered(line):
    """The same object with its keys in reverse order, other spacing, an extra key and every
    non-ASCII character and slash written as a \\u escape."""
    obj = orjson.loads(line)
    obj = dict(reversed(list(obj.items())), **{"zz_extra": {"nested": [1, 2]}})
    text = orjson.dumps(obj).decode()
    text = re.sub(r"[^\x00-\x7f/]", lambda m: "\\u%04x" % ord(m.group()), text).replace("/", "\\/")
    return _outside_quotes(text, lambda p: p.replace(",", " ,\t").replace(":", " : "))


PLAIN_JSON = [s for s in JSON_SAMPLES if "\\x" not in s[1]]  # nginx's \xHH: tested below


@pytest.mark.parametrize("name,line,expected", PLAIN_JSON, ids=[s[0] for s in PLAIN_JSON])
def test_json_key_order_spacing_extra_keys_and_escapes_do_not_matter(name, line, expected):
    decoder = REGISTRY[name].compile()
    assert decoder.extract(_reordered(line)) == decoder.extract(line)
    assert formats.detect([_reordered(line)]).name == name


@pytest.mark.parametrize("raw,path", [
    ('/caf\\xC3\\xA9', "/café"),                      # UTF-8 bytes
    ('/caf\\xE9', "/café"),                           # not UTF-8: Latin-1, as import_logs.py reads it
    ('/a\\x22b\\x5Cc', '/a"b\\c'),                    # escape=default's quote and backslash
    ('/tab\\x09end', "/tab\tend"),
    ('/lit\\\\x41', "/lit\\x41"),                     # an escaped backslash, then the text x41
])
def test_nginx_hex_escapes_inside_json_strings(raw, path):
    line = '{"ip":"192.0.2.1","path":"%s","status":"200","date":"2026-03-01T10:00:00+01:00"}' % raw
    assert REGISTRY["nginx_json"].compile().as_dict(line)["path"] == path


@pytest.mark.parametrize("line", ["", "not json", "[1, 2]", '"a string"', "{broken", '{"path": "/\\xZZ"}'])
def test_lines_that_are_not_json_objects_do_not_match(line):
    for name in ("nginx_json", "traefik_json", "caddy_json"):
        assert REGISTRY[name].compile().extract(line) is None


def test_json_values_of_the_wrong_type_never_reach_the_chunk_stage():
    line = ('{"ip": ["192.0.2.1"], "path": {"a": 1}, "status": 200, "length": [5], "user_agent": 7, '
            '"date": "2026-03-01T10:00:00Z", "generation_time_milli": "x"}')
    assert REGISTRY["nginx_json"].compile().extract(line) is None  # "x" seconds: the converter refuses
    fields = REGISTRY["nginx_json"].compile().as_dict(line.replace('"x"', "0.5"))
    assert fields["ip"] is None and fields["path"] is None and fields["length"] is None
    assert fields["status"] == "200" and fields["user_agent"] == "7" and fields["generation_time_milli"] == 500.0


def test_json_extra_and_ignored_groups():
    line = REGISTRY["nginx_json"].samples[0][0][:-1] + ', "request_id": "abc", "userid": "bob"}'
    decoder = REGISTRY["nginx_json"].compile(extra_groups=("request_id",), ignore_groups=("userid",))
    fields = dict(zip(decoder.fields, decoder.extract(line)))
    assert fields["request_id"] == "abc" and fields["userid"] is None and decoder.has_group("anything")


def test_json_detection_needs_the_signature_keys():
    assert formats.detect(['{"level": "info", "msg": "started", "time": "2026-03-01T10:00:00Z"}']) is None
    assert formats.detect(['{"date": "2026-03-01T10:00:00Z", "path": "/"}']).name == "nginx_json"


# W3C ------------------------------------------------------------------------------------------
ADVANCED = ("#Fields: date-local time-local s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
            "cs(User-Agent) cs(Referer) cs(Host) sc-status sc-substatus sc-win32-status TimeTakenMS X-Forwarded-For")


def test_iis_advanced_logging_names_fractions_and_quoted_values():
    head = ["#Software: IIS Advanced Logging Module", "", "#Version: 1.0", "#Start-Date: 2026-03-01 00:00:00.128",
            ADVANCED.replace(" s-ip", "   s-ip")]
    line = ('2026-03-01 10:00:00.363 10.0.0.5 GET /Products/theProduct - 443 - "192.0.2.1" '
            '"Mozilla/5.0 (Linux; Android 14) Chrome/131.0" "https://www.google.com/search?q=x" "www.example.com" '
            '200 0 0 109 "198.51.100.7, 10.0.0.1"')
    fmt = formats.detect(head + [line])
    assert fmt.name == "iis"
    fields = fmt.compile().as_dict(line)
    assert fields == {
        "date": "2026-03-01", "time": "10:00:00", "method": "GET", "path": "/Products/theProduct",
        "query_string": "-", "userid": "-", "ip": "192.0.2.1",
        "user_agent": '"Mozilla/5.0 (Linux; Android 14) Chrome/131.0"',
        "referrer": '"https://www.google.com/search?q=x"', "host": '"www.example.com"', "status": "200",
        "generation_time_milli": "109"}
    # A quoted value with spaces in an unknown field, and a "-" client.
    odd = line.replace('"192.0.2.1"', "-").replace(" 0 0 109", ' " sub status " 0 359')
    assert fmt.compile().as_dict(odd)["generation_time_milli"] == "359"


def test_w3c_fields_in_any_order():
    names = ADVANCED.split()[1:]
    values = ["2026-03-01", "10:00:00", "10.0.0.5", "GET", "/p", "a=1", "443", "bob", "192.0.2.1", "Agent/1.0",
              "-", "www.example.com", "200", "0", "0", "15", "198.51.100.7"]
    expected = None
    for seed in range(5):
        order = list(range(len(names)))
        __import__("random").Random(seed).shuffle(order)
        fmt = REGISTRY["iis"].for_header("#Fields: " + " ".join(names[i] for i in order))
        fields = fmt.compile().as_dict(" ".join(values[i] for i in order))
        assert expected is None or fields == expected
        expected = fields
    assert expected["path"] == "/p" and expected["host"] == "www.example.com" and expected["userid"] == "bob"


def test_when_two_fields_give_the_same_thing_the_first_of_the_table_is_read():
    fmt = REGISTRY["iis"].for_header("#Fields: date-local time-local date time cs-uri-stem sc-status c-ip "
                                     "cs(Host) cs-host TimeTakenMS time-taken")
    fields = fmt.compile().as_dict("2026-03-01 11:00:00 2026-03-01 10:00:00 /x 200 192.0.2.1 b.example a.example 7 9")
    assert (fields["date"], fields["time"], fields["host"]) == ("2026-03-01", "10:00:00", "a.example")
    assert fields["generation_time_milli"] == "9"  # IIS's time-taken is milliseconds too, listed first


def test_cloudfront_rtmp_lines_are_events():
    head = ["#Version: 1.0",
            "#Fields: date time x-edge-location c-ip x-event sc-bytes x-cf-status x-cf-client-id cs-uri-stem "
            "cs-uri-query c-referrer x-page-url\tc-user-agent x-sname x-sname-query x-file-ext x-sid"]
    line = ("2026-03-01\t 09:00:00\t CDG50\t 192.0.2.1\t play\t 3914\t OK\t bfd8a98bee0840d9b871b7f6ade9908f\t "
            "rtmp://s5c39gqb8ow64r.cloudfront.net/cfx/st\tkey=value\t http://player.example.com/player.swf\t "
            "https://www.example.com/videos\t LNX%2010,0,32,18\t intro\t p=2\t flv\t 1")
    fmt = formats.detect(head + [line])
    assert fmt.name == "amazon_cloudfront"
    fields = fmt.compile().as_dict(line)
    assert fields["path"] == "/s5c39gqb8ow64r.cloudfront.net/cfx/st" and fields["query_string"] == "key=value"
    assert fields["event_category"] == "cloudfront_rtmp"
    assert (fields["event_action"], fields["event_name"]) == ("play", "intro")
    assert fields["status"] == "200" and fields["user_agent"] == "LNX 10,0,32,18" and fields["length"] == "3914"


def test_incapsula_reads_its_quoted_fields():
    fmt = REGISTRY["incapsula_w3c"]
    fields = fmt.for_header(_fields_line(fmt)).compile().as_dict(fmt.samples[1][0])
    assert fields["status"] == "200"  # "" is a 200 (import_logs.py)


@pytest.mark.parametrize("line", [
    '2026-03-01T09:00:00.123456Z my-lb 192.0.2.1:52310 10.0.0.5:80 0.000041 0.000028 0.000041 - - 82 305 '
    '"- - - " "-" - -',
    '2026-03-01T09:00:00Z my-lb 192.0.2.1:52310 10.0.0.5:80 0.1 0.2 0.3 200 200 0 5 "GET https://h:443/ HTTP/1.1" '
    '"a" b c',
])
def test_elb_tcp_lines_and_dates_without_fraction_are_invalid(line):
    assert REGISTRY["elb"].compile().extract(line) is None


# Dates -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("date_format,date,expected", [
    (ISO8601, "2026-03-01T10:00:00+01:00", "2026-03-01 09:00:00"),
    (ISO8601, "2026-03-01T10:00:00.123456789Z", "2026-03-01 10:00:00"),
    (ISO8601, "2026-03-01T00:30:00-0230", "2026-03-01 03:00:00"),
    (ISO8601, "2026-03-01T10:00:00", "2026-03-01 10:00:00"),
    (ISO8601, "01/Mar/2026:10:00:00 +0100", None),
    (ISO8601, 1772355600, None),
    (EPOCH, 1772355600, "2026-03-01 09:00:00"),
    (EPOCH, 1772355600.999, "2026-03-01 09:00:00"),
    (EPOCH, "1772355600.5", "2026-03-01 09:00:00"),
    (EPOCH, "soon", None),
    (ISO_T_DATE, "2026-03-01T09:00:59", "2026-03-01 09:00:59"),
    (ISO_T_DATE, "2026-02-30T09:00:00", None),
])
def test_epoch_and_iso8601_dates(date_format, date, expected):
    assert DateConverter(date_format).convert(date) == expected
    if expected is not None:
        shifted = DateConverter(date_format, add_seconds=3600).convert(date)
        assert shifted[:11] == expected[:11] and int(shifted[11:13]) == (int(expected[11:13]) + 1) % 24


@pytest.mark.parametrize("name", ["nginx_json", "traefik_json", "caddy_json"])
def test_json_decoders_give_the_same_without_the_c_picker(name, monkeypatch):
    from log_importer.loggen import generate
    lines = [t.decode("utf-8", "surrogateescape") for t in generate(1500, name, seed=8, hostile=True)]
    lines += [s[1] for s in JSON_SAMPLES] + [_reordered(s[1]) for s in PLAIN_JSON]
    with_c = [REGISTRY[name].compile().extract(ln) for ln in lines]
    monkeypatch.setattr(formats.base, "pick", None)
    assert [REGISTRY[name].compile().extract(ln) for ln in lines] == with_c
    assert sum(v is not None for v in with_c) > 1300
