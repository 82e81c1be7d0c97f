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
