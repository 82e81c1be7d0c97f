"""The C line scanner (formats/_scan.c) against the regexes it stands in for.

The scanner must accept exactly the lines the format's regex accepts, with the same fields. It is
checked on generated and hostile lines, on every prefix of sample lines, and on many random
mutations built from the characters the grammar turns on.
"""
import random

import pytest

from formats import REGISTRY
from formats.base import LineParser

from conftest import line

SCANNED = ["common", "common_vhost", "ncsa_extended", "common_complete"]
# The characters the grammar decides on, and a few ordinary ones.
ALPHABET = ['"', "\\", " ", "  ", "\t", "\x1c", "\x0b", "[", "]", ":", "-", ".", "*", "_", "0", "7",
            "a", "Z", "/", "?", "'", "\r", "é", '\\"', '" ', ' "', '"  2', " 200 ", "HTTP/1.1\""]


def parsers(name):
    fmt = REGISTRY[name]
    regex = LineParser(fmt.name, fmt.regex, fmt.date_format, plain_regex=fmt.plain_regex)
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


@pytest.mark.parametrize("name", SCANNED)
def test_same_as_the_regex_on_mutated_lines(name):
    rng = random.Random(name)
    seeds = seed_lines()
    lines = []
    for _ in range(20000):
        text = rng.choice(seeds)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(text) + 1)
            op = rng.random()
            if op < 0.4:
                text = text[:i] + rng.choice(ALPHABET) + text[i:]
            elif op < 0.7:
                text = text[:i] + text[i + rng.randint(1, 3):]
            else:
                text = text[:i] + rng.choice(ALPHABET) + text[i + 1:]
        lines.append(text)
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
