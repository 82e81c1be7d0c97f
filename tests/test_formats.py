"""Every format's sample lines produce their declared fields; detection picks the right format."""
import pytest

import formats
from formats import FormatError, REGISTRY
from formats.base import DateConverter, timezone_offset
from formats.w3c import W3cFormat
from log_importer.config import Config


def _parser(fmt):
    if fmt.header_driven:
        fields_line = [h for h in fmt.header_lines if h.startswith("#Fields:")][0]
        return fmt.for_header(fields_line).compile()
    return fmt.compile()


SAMPLES = [(f.name, line, expected) for f in REGISTRY.values() for line, expected in f.samples]


def test_every_format_has_samples():
    assert all(f.samples for f in REGISTRY.values())
    assert set(REGISTRY) >= {"common", "common_vhost", "ncsa_extended", "common_complete", "w3c_extended", "iis"}


@pytest.mark.parametrize("name,line,expected", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_sample_lines_give_their_fields(name, line, expected):
    fields = _parser(REGISTRY[name]).as_dict(line)
    assert fields is not None, "%s does not match its own sample" % name
    for key, value in expected.items():
        assert fields.get(key) == value, key


@pytest.mark.parametrize("name,line,expected", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_detection_picks_the_sample_format(name, line, expected):
    fmt = REGISTRY[name]
    head = (fmt.header_lines if isinstance(fmt, W3cFormat) else []) + [line] * 3
    assert formats.detect(head).name == name


def test_detection_votes_over_garbage_first_lines():
    good = REGISTRY["ncsa_extended"].samples[0][0]
    common = REGISTRY["common"].samples[0][0]
    lines = ["\x16\x03\x01 garbage", "", "not a log line", common] + [good] * 5
    assert formats.detect(lines).name == "ncsa_extended"


def test_detection_fails_on_unknown_lines():
    assert formats.detect(["hello world", "foo bar"]) is None
    with pytest.raises(FormatError, match="--log-format-name"):
        formats.resolve(Config(), ["hello world"], "x.log")


def test_escaped_quotes_stay_inside_quoted_fields():
    line = ('192.0.2.9 - - [01/Mar/2026:10:00:00 +0100] "GET /a HTTP/1.1" 200 5 "https://r.example/?q=\\"x\\"" '
            '"Mozilla/5.0 \\"weird\\" agent" extra')
    d = REGISTRY["ncsa_extended"].compile().as_dict(line)
    assert d["referrer"] == 'https://r.example/?q=\\"x\\"'
    assert d["user_agent"] == 'Mozilla/5.0 \\"weird\\" agent'


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
        expected = None if m is None else {k: v for k, v in m.groupdict().items()}
        assert parser.as_dict(text) == (None if expected is None else
                                         {k: v for k, v in expected.items() if k in parser.present}), text
        plain_lines += "\\" not in text
    assert plain_lines > 10000
