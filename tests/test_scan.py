"""The C line scanner (formats/_scan.c) against the regexes it stands in for.

The scanner must accept exactly the lines the format's regex accepts, with the same fields. It is
checked on generated and hostile lines, on every prefix of sample lines, and on many random
mutations built from the characters the grammar turns on.
"""
import random

import pytest

from formats import REGISTRY
from formats.regex import RegexDecoder

from conftest import line

SCANNED = ["common", "common_vhost", "ncsa_extended", "common_complete"]
# The characters the grammar decides on, and a few ordinary ones.
ALPHABET = ['"', "\\", " ", "  ", "\t", "\x1c", "\x0b", "[", "]", ":", "-", ".", "*", "_", "0", "7",
            "a", "Z", "/", "?", "'", "\r", "é", '\\"', '" ', ' "', '"  2', " 200 ", "HTTP/1.1\""]


def parsers(name):
    fmt = REGISTRY[name]
    regex = RegexDecoder(fmt.name, fmt.regex, plain_regex=fmt.plain_regex, unescape=fmt.unescape)
    scanner = fmt.compile()
    return regex.extract, scanner


def seed_lines():
    plain = line()
    return [
        plain,
        line(request="GET /a b  c HTTP/1.1", ua='Mozilla \\"x\\" y', referrer="https://r/?q=\\\\"),
        line(request='GET /x\\"y HTTP/1.0" 200', status=404, size="-"),
        line(ip="2001:db8::7", date="1/Mar/2026:10:00:00 -05:30", request="POST / HTTP/2"),
        line(host="www.example.com", request="GET /p?q=1 HTTP/1.1"),
        'www.example.com 192.0.2.1 - bob [01/Mar/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1',
        '-.x_:8080 * ident user [d  t z] "M p HTTP/1.1" 2 x "" ""',
        '192.0.2.1 - - [01/Mar/2026:10:00:00 +0100] "GET /ünï HTTP/1.1" 200 1 "-" "é"',
    ]


def check(name, lines):
    by_regex, scanner = parsers(name)
    matched = 0
    for text in lines:
        expected = by_regex(text)
        assert scanner.extract(text) == expected, (name, text)
        matched += expected is not None
    return matched


@pytest.mark.parametrize("name", SCANNED)
def test_the_formats_use_the_scanner(name):
    # The extension is built by `pip install` (setup.py); CI has a compiler, so it must be there.
    assert parsers(name)[1].scanned


@pytest.mark.parametrize("name", SCANNED)
def test_same_as_the_regex_on_generated_and_hostile_lines(name, loggen):
    lines = []
    for fmt in ("combined", "common", "vhost"):
        for hostile in (False, True):
            lines += loggen(1500, seed=7, fmt=fmt, hostile=hostile).read_text(
                encoding="utf-8", errors="replace").splitlines()
    matched = check(name, lines)
    assert matched > 1000  # each format matches a good part of its own lines


@pytest.mark.parametrize("name", SCANNED)
def test_same_as_the_regex_on_every_prefix(name):
    lines = [s[:i] for s in seed_lines() for i in range(len(s) + 1)]
    check(name, lines)


def mutated(seed, lines, alphabet, count=20000):
    """`count` copies of the lines, each with 1 to 4 random insertions, deletions or
    replacements of pieces of `alphabet` (deterministic for a seed)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text = rng.choice(lines)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(text) + 1)
            op = rng.random()
            if op < 0.4:
                text = text[:i] + rng.choice(alphabet) + text[i:]
            elif op < 0.7:
                text = text[:i] + text[i + rng.randint(1, 3):]
            else:
                text = text[:i] + rng.choice(alphabet) + text[i + 1:]
        out.append(text)
    return out


@pytest.mark.parametrize("name", SCANNED)
def test_same_as_the_regex_on_mutated_lines(name):
    lines = mutated(name, seed_lines(), ALPHABET)
    matched = check(name, lines)
    assert 500 < matched < len(lines)  # both outcomes are exercised


def test_non_ascii_lines_go_to_the_regex():
    _, scanner = parsers("ncsa_extended")
    text = line(request="GET /ünï HTTP/1.1", ua="agent é")
    fields = scanner.extract(text)
    assert fields[6] == "/ünï" and fields[11] == "agent é"


def test_extra_groups_keep_the_regex():
    fmt = REGISTRY["ncsa_extended"]
    assert not fmt.compile(extra_groups=("extra",)).scanned
    assert not fmt.compile(ignore_groups=("user_agent",)).scanned


@pytest.mark.parametrize("data", [b"", b"\n", b"a", b"a\n", b"a\nb", b"\n\nx\n\n", b"one\r\ntwo\n" * 50,
                                  bytes(range(128)) * 3])
def test_split_ascii_is_decode_and_split(data):
    from formats.base import split_ascii
    assert split_ascii(data) == data.decode("ascii").split("\n")
    assert split_ascii(memoryview(data)) == data.decode("ascii").split("\n")


# The W3C formats: the regex is built from the #Fields: line, the scanner from the same patterns.
W3C_HEADERS = {
    "iis": "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
           "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken",
    "w3c_extended": "#Fields: date time c-ip cs-method cs-host cs-uri-stem cs-uri-query sc-status "
                    "sc-bytes time-taken cs(User-Agent) cs(Referer) x-custom",
    "w3c_extended-ip-last": "#Fields: time date cs-uri-stem sc-status time-taken c-ip",
    # IIS Advanced Logging's names for the same fields (local time, cs(Host), TimeTakenMS).
    "iis-advanced": "#Fields: date-local time-local s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
                    "cs(User-Agent) cs(Referer) cs(Host) sc-status sc-win32-status TimeTakenMS",
}
W3C_ALPHABET = ['"', " ", "  ", "\t", "-", "+", ":", ".", "/", "0", "9", "a", "é", "?", "*", "_",
                '"quoted agent"', " - ", "12:30:00.5", "2026-03-01"]


def w3c_parsers(key):
    """(the regex's extract, the scanner's extract, how many lines the scanner left to the regex)"""
    from formats.base import TokenScanner
    fmt = REGISTRY[key.split("-")[0]].for_header(W3C_HEADERS[key])
    by_regex = RegexDecoder(fmt.name, fmt.regex).extract
    assert fmt.compile().scanned
    passed = [0]

    def fallback(line):
        passed[0] += 1
        return by_regex(line)
    kind, kinds, slots = fmt.scanner
    return by_regex, TokenScanner(kinds, slots, fallback=fallback).extract, passed


def w3c_seed_lines():
    return [
        "2026-03-01 09:00:00 10.0.0.5 GET /blog/2024 q=1 443 - 192.0.2.1 Mozilla/5.0+(X11) "
        "https://r.example/ 200 0 0 135",
        "2026-03-01 09:00:00.25 192.0.2.7 POST www.example.com /a/b - 302 5120 0.25 Agent/1.0 - extra tail",
        "09:00:00 2026-03-01 /x 404 1.5 2001:db8::1",
        '2026-03-01 09:00:00 10.0.0.5 GET /q - 443 - 192.0.2.1 "Quoted Agent/1.0" - 200 0 0 7',
    ]


@pytest.mark.parametrize("key", sorted(W3C_HEADERS))
def test_w3c_scanner_same_as_the_regex(key, loggen):
    by_regex, scan, passed = w3c_parsers(key)
    lines = [ln for ln in loggen(2000, seed=5, fmt="w3c", hostile=True).read_text(
        encoding="utf-8", errors="replace").splitlines() if not ln.startswith("#")]
    lines += [s[:i] for s in w3c_seed_lines() for i in range(len(s) + 1)]
    lines += mutated(key, w3c_seed_lines(), W3C_ALPHABET)
    matched = 0
    for text in lines:
        expected = by_regex(text)
        assert scan(text) == expected, (key, text)
        matched += expected is not None
    scanned = len(lines) - passed[0]
    assert scanned > 1000 and matched > scanned  # both ways are exercised, and agree


def test_w3c_field_regex_of_unknown_shape_keeps_the_regex():
    fmt = REGISTRY["w3c_extended"].for_header(W3C_HEADERS["w3c_extended"],
                                              field_regexes={"x-custom": r"(?P<userid>[a-z]{2,})"})
    assert fmt.scanner is None and not fmt.compile().scanned
    fmt = REGISTRY["iis"].for_header(W3C_HEADERS["iis"], time_taken_millisecs=True,
                                     map_fields={"s-port": "cs-host"})
    assert fmt.compile().scanned


def test_json_pick_is_the_same_as_in_python():
    """formats/_scan.c's pick() (the JSON decoder's values by key) against jsonmap.pick_in_python."""
    from formats.base import pick
    from formats.jsonmap import pick_in_python
    assert pick is not None
    rng = random.Random(4)
    values = ["200", "", "é", 200, -1, 0.025, 1e300, True, False, None, [1], {"a": 1}, [], 10 ** 30]
    keys = ("a", "b", "c", None, "d")
    for _ in range(3000):
        obj = {k: rng.choice(values) for k in rng.sample("abcde", rng.randint(0, 5))}
        numeric = bytes(rng.randint(0, 1) for _ in keys)
        assert pick(obj, keys, numeric) == pick_in_python(obj, keys, numeric), (obj, numeric)
    with pytest.raises(TypeError):
        pick({}, ("a",), b"")


# The JSON formats: formats/_scan.c's JsonScanner against the orjson path (LOG_IMPORTER_NO_SCANNER's
# decoder). The scanner must give exactly what orjson's decoding gives for every line, or hand
# the line to it.
JSON_FORMATS = ["nginx_json", "traefik_json", "caddy_json", "cloudflare_json", "akamai_json"]
# Raw JSON values put in place of each key's value: every kind, numbers at the edges of what
# orjson reads as int, float or not at all, escapes (surrogates among them), invalid values.
RAW_VALUES = [
    "null", "true", "false", "0", "-0", "7", "200", '"200"', "-12", "0.5", "-0.0", "1e3", "1E-2", "2.5e+2",
    "1772319603.412", "123456789012345678", "1234567890123456789", "9223372036854775807",
    "-9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616",
    "123456789012345678901234567890", "1e300", "9e299", "1e400", "-1e400", "1e-400", "123.456e299",
    "0.1e-99999999", '"1e999"', '""', '" "', '"-"', '"a b"', '"https://r.example/?q=1&x=%20"',
    r'"\u0041\u00e9\u2028\u0026"', r'"\ud83d\ude00"', r'"\ud800"', r'"\udc00x"', r'"\ud83dx"',
    r'"a\"b\\c\/d\b\f\n\r\t"', r'"\u0000"', r'"\x41"', r'"\xc3\xa9 \x22"', r'"\q"', r'"\u12"', '"é"',
    '"\t"', '"\x7f"', "[]", '["x"]', '["", "y"]', '[1,"a",{"b":null}]', "[[[[[]]]]]", "{}",
    '{"User-Agent":["x"],"a":{"b":[]}}', '{"remote_ip":"192.0.2.9","headers":{"Referer":["r"]}}',
    "01", "1.", ".5", "-", "+1", "NaN", "Infinity", "tru", "nul", "[1,]", '{"a":1,}', '"abc', '{"a" 1}',
    "[" * 70 + "]" * 70, "1 2", '"a" "b"',
]
JSON_ALPHABET = ['"', "\\", "{", "}", "[", "]", ":", ",", " ", "\t", "\r", "0", "-", ".", "e", "9", "n",
                 "null", "true", '"x"', "\\u00e9", "\\ud83d", "\\ude00", "\\x41", "é", "\x00", "\x1f", "\x7f"]


def json_parsers(name, monkeypatch):
    """(the orjson path's extract, the scanner's extract, how many lines the scanner left to it)"""
    import formats.base
    fmt = REGISTRY[name]
    with monkeypatch.context() as m:
        m.setattr(formats.base, "JsonScanner", None)
        python = fmt.compile()
    assert not python.scanned
    scanner_class, passed = formats.base.JsonScanner, [0]

    def counting(nodes, fields, fallback):
        def fallback_counted(line):
            passed[0] += 1
            return fallback(line)
        return scanner_class(nodes, fields, fallback=fallback_counted)
    with monkeypatch.context() as m:
        m.setattr(formats.base, "JsonScanner", counting)
        scanner = fmt.compile()
    assert scanner.scanned
    return python.extract, scanner.extract, passed


def outcome(extract, line):
    """What extract gives, with types (repr: 0 is not 0.0, nor -0.0 0.0), or the exception raised."""
    try:
        return repr(extract(line))
    except Exception as e:  # a converter's own error: both paths must raise the same
        return "raises %s" % type(e).__name__


def json_edge_lines(sample):
    """The sample with each key's value (nested ones too) replaced by each of RAW_VALUES, a key
    written with escapes, a key twice, whitespace around every token."""
    import json
    out = []

    def paths(obj, prefix=()):
        for key, value in obj.items():
            yield prefix + (key,)
            if isinstance(value, dict):
                yield from paths(value, prefix + (key,))
    obj = json.loads(sample)
    for path in paths(obj):
        for raw in RAW_VALUES:
            copy = json.loads(sample)
            holder = copy
            for key in path[:-1]:
                holder = holder[key]
            holder[path[-1]] = "@MARK@"
            out.append(json.dumps(copy, separators=(",", ":")).replace('"@MARK@"', raw))
        text = json.dumps(obj, separators=(",", ":"))
        quoted = json.dumps(path[-1])
        escaped = '"\\u%04x%s' % (ord(path[-1][0]), quoted[2:])
        out.append(text.replace(quoted + ":", escaped + ":", 1))
        out.append(text.replace(quoted + ":", quoted + ':"dup",' + quoted + ":", 1))
        out.append(text.replace(quoted + ":", quoted + ':null,' + quoted + ":", 1))
    text = json.dumps(obj, separators=(",", ":"))
    out += [text.replace(",", " ,\t").replace(":", " : ").replace("{", "{ \r\n"), " " + text + "\r",
            text + " x", text + "{}", "[" + text + "]", "", " ", "null", '"x"', "{}", text.replace('"', "'")]
    return out


@pytest.mark.parametrize("name", JSON_FORMATS)
def test_json_scanner_same_as_orjson_on_generated_and_hostile_lines(name, loggen, monkeypatch):
    python, scan, passed = json_parsers(name, monkeypatch)
    lines = []
    for hostile in (False, True):
        data = loggen(2000, seed=9, fmt=name, hostile=hostile).read_bytes()
        lines += data.decode("utf-8", "surrogateescape").split("\n")
        lines += data.decode("utf-8", "replace").split("\n")
    decoded = 0
    for text in lines:
        expected = outcome(python, text)
        assert outcome(scan, text) == expected, (name, text)
        decoded += expected != "None"
    assert decoded > 3000 and len(lines) - passed[0] > 3000  # the scanner itself answers most lines


@pytest.mark.parametrize("name", JSON_FORMATS)
def test_json_scanner_same_as_orjson_on_edge_lines(name, loggen, monkeypatch):
    python, scan, passed = json_parsers(name, monkeypatch)
    sample = loggen(1, seed=2, fmt=name).read_text().strip()
    lines = json_edge_lines(sample)
    lines += [sample[:i] for i in range(len(sample) + 1)]
    lines += mutated(name, [sample], JSON_ALPHABET, count=5000)
    outcomes = {}
    for text in lines:
        expected = outcome(python, text)
        assert outcome(scan, text) == expected, (name, text)
        outcomes[expected == "None"] = True
    assert outcomes == {True: True, False: True} and len(lines) - passed[0] > 1000


def test_json_scanner_reads_what_it_is_sure_of_and_hands_on_the_rest(loggen, monkeypatch):
    """The lines the scanner answers itself, and those it leaves to orjson (escaped keys it
    reads, a key it reads twice, surrogate escapes, non-ASCII text, nginx's \\xHH escapes)."""
    python, scan, passed = json_parsers("traefik_json", monkeypatch)
    line = ('{"ClientHost":"192.0.2.1","DownstreamStatus":404,"Duration":2500000,"RequestHost":"a.example",'
            '"RequestMethod":"GET","RequestPath":"/p?q=\\u0026x","request_User-Agent":"A \\"B\\"",'
            '"time":"2026-03-01T00:00:03+01:00","Other":{"ClientHost":1,"x":[1,2.5e3,null,true]},"x":-0}')
    fields = scan(line)
    assert passed[0] == 0 and fields == python(line)
    assert fields[:3] == ("192.0.2.1", "a.example", "2026-03-01T00:00:03+01:00")
    assert fields[5:9] == ("GET", "/p?q=&x", None, "404") and fields[11] == 'A "B"'
    assert fields[13] == 2.5  # Duration in ms
    for handed_on in (line.replace('"ClientHost"', '"\\u0043lientHost"'),
                      line.replace('"x":-0', '"RequestPath":"/again"'),
                      line.replace("\\u0026", "\\ud83d\\ude00"),
                      line.replace("a.example", "é.example"),
                      line.replace("\\u0026", "\\x26")):
        before = passed[0]
        assert scan(handed_on) == python(handed_on)
        assert passed[0] == before + 1, handed_on
    assert scan(line.replace('"x":-0', '"x":-0,')) is None and python(line.replace('"x":-0', '"x":-0,')) is None


def test_json_map_beyond_the_scanners_bounds_is_read_by_orjson():
    """More key paths than JsonScanner holds (64; extra groups add top-level keys): the decoder
    keeps the orjson path, with the same fields."""
    from formats.jsonmap import JsonMapDecoder
    groups = ["k%d" % i for i in range(70)]
    wide = JsonMapDecoder("wide", {"ip": "ip"}, extra_groups=groups)
    narrow = JsonMapDecoder("narrow", {"ip": "ip"}, extra_groups=groups[:10])
    assert not wide.scanned and narrow.scanned
    line = '{"ip":"192.0.2.1","k3":"three","k69":7}'
    assert wide.extract(line)[0] == narrow.extract(line)[0] == "192.0.2.1"
    assert wide.as_dict(line)["k69"] == "7" and narrow.as_dict(line)["k3"] == "three"
