"""The project's own log generator, and the promise that the repository stands alone."""
import re
import subprocess
import sys

import pytest

import formats
from conftest import ROOT
from log_importer.config import Config
from log_importer.loggen import ALIASES, FORMATS, generate

# What each generator format must be read as, by detection (W3C: by its #Fields: header); the
# others are named after the format that reads them.
DETECTED_AS = {"combined": "ncsa_extended", "common": "common", "vhost": "common_complete",
               "common_vhost": "common_vhost", "w3c": "iis", "ovh": "ncsa_extended", "varnishncsa": "ncsa_extended",
               "caddy": "ncsa_extended", "syslog": "syslog+ncsa_extended"}


def test_the_generator_writes_every_format_the_importer_reads():
    assert set(formats.REGISTRY) <= set(FORMATS) | set(ALIASES)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_generator_format_is_detected_and_every_line_parses(name):
    lines = [t.decode() for t in generate(2000, name, seed=4)]
    lines = [ln for text in lines for ln in text.split("\n")]
    fmt = formats.detect(lines[:60])
    assert fmt is not None and fmt.name == DETECTED_AS.get(name, name)
    if name in formats.REGISTRY and not formats.REGISTRY[name].detectable:  # ovh: by name only
        fmt = formats.resolve(Config(log_format_name=name), lines[:60])
    parser = fmt.compile()
    records = [ln for ln in lines if not (fmt.header_prefix and ln.startswith(fmt.header_prefix))]
    assert len(records) == 2000
    assert [ln for ln in records if parser.extract(ln) is None] == []


def test_the_same_options_give_the_same_bytes_and_seeds_differ():
    a = b"\n".join(generate(3000, "vhost", seed=5, hostile=True))
    assert a == b"\n".join(generate(3000, "vhost", seed=5, hostile=True))
    assert a != b"\n".join(generate(3000, "vhost", seed=6, hostile=True))
    assert b"\n".join(generate(50, "ncsa_extended", 2)) == b"\n".join(generate(50, "combined", 2))
    assert set(ALIASES.values()) <= set(FORMATS)


def test_a_long_log_has_visits_returning_sites_bots_campaigns_and_crosses_utc_midnight():
    lines = [t.decode() for t in generate(20000, "vhost", seed=7)]
    hosts = {ln.split(":", 1)[0] for ln in lines}
    assert hosts == {"www.example.com", "example.com", "blog.example.org", "shop.example.net"}
    days = {re.search(r"\[(\d\d/\w+/\d{4}):(\d\d)", ln).group(1, 2) for ln in lines}
    assert ("01/Mar/2026", "00") in days and ("01/Mar/2026", "01") in days  # 23:00 and 00:00 UTC
    text = "\n".join(lines)
    for needle in ("utm_campaign=", "Googlebot", "GPTBot", "/search?q=", '" 404 ', '" 304 ',
                   '" 301 ', ".pdf ", "/favicon.ico", "2001:db8:"):
        assert needle in text, needle


def test_hostile_lines_hold_every_kind_of_oddity():
    data = b"\n".join(generate(20000, "vhost", seed=3, hostile=True)) + b"\n"
    lines = data.split(b"\n")[:-1]
    assert len(lines) == 20000
    odd = {
        "crlf": any(ln.endswith(b"\r") for ln in lines),
        "nul": b"\x00" in data,
        "undecodable": any(_undecodable(ln) for ln in lines),
        "raw utf-8": "café".encode() in data,
        "escaped quote": b'\\"' in data,
        "\\x escape": b"\\xc3" in data,
        "over 20 KB": max(map(len, lines)) > 20_000,
        "empty": b"" in lines,
        "empty host": any(ln.startswith(b" ") and b"[" in ln for ln in lines),
        "no client ip": b":443 - - - [" in data or b":443 unix:" in data,
        "bad date": b"31/Feb/2026" in data or b"01/Foo/2026" in data or b"00/Mar/2026" in data,
        "tls handshake": b"\x16\x03\x01" in data,
    }
    assert [k for k, v in odd.items() if not v] == []
    # Still mostly ordinary: about 8% of the lines are odd.
    ordinary = sum(ln.isascii() and b"\\" not in ln and ln[:1] != b" " for ln in lines)
    assert 0.85 * len(lines) < ordinary < 0.99 * len(lines)


def test_hostile_w3c_repeats_its_header_and_quotes_fields():
    lines = b"\n".join(generate(20000, "w3c", seed=3, hostile=True)).split(b"\n")
    assert sum(ln.startswith(b"#Fields:") for ln in lines) > 1
    assert any(b' "Mozilla' in ln for ln in lines)


def _undecodable(line):
    try:
        line.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


def test_command_line(tmp_path):
    out = tmp_path / "x.log"
    run = [sys.executable, "-m", "log_importer.loggen"]
    p = subprocess.run(run + ["--lines", "25", "--format", "common", "--seed", "9", "-o", str(out)],
                       capture_output=True)
    assert p.returncode == 0 and p.stderr == b""
    assert out.read_bytes() == b"".join(t + b"\n" for t in generate(25, "common", 9))
    p = subprocess.run(run + ["--format", "nginx-ish"], capture_output=True, text=True)
    assert p.returncode == 2 and "unknown --format 'nginx-ish'" in p.stderr
    # A reader that stops early (| head) ends the generator quietly.
    p = subprocess.run(" ".join(run) + " --lines 200000 | head -n 3", shell=True, capture_output=True)
    assert p.returncode == 0 and p.stdout.count(b"\n") == 3 and b"Traceback" not in p.stderr


def test_distinct_agents_adds_new_agents_per_million_lines_and_keeps_the_rest():
    plain = list(generate(20000, "combined", 5))
    varied = list(generate(20000, "combined", 5, distinct_agents=20000))
    agent = lambda line: line.rsplit(b'"', 2)[-2]
    # 20,000 per million lines: about 400 more in 20,000 lines, beyond the fixed set.
    assert len({agent(x) for x in plain}) < 30
    assert 390 <= len({agent(x) for x in varied}) - len({agent(x) for x in plain}) <= 410
    # Only the agents change: the same visits, paths and times.
    assert [x.rsplit(b'"', 2)[0] for x in plain] == [x.rsplit(b'"', 2)[0] for x in varied]
    assert varied == list(generate(20000, "combined", 5, distinct_agents=20000))


# The repository stands alone: a user clones it and runs `make test` with nothing beside it.
OUTSIDE = re.compile(r"""\.\./shared|/work/|parents?\[\d\]\s*/\s*["']shared|parent\s*/\s*["']shared""")


@pytest.mark.parametrize("where", ["tests", "benchmarks", "log_importer", "formats", ".ci",
                                   "Makefile", "pyproject.toml", "setup.py", "setup.cfg"])
def test_nothing_reads_a_path_outside_the_repository(where):
    root = ROOT / where
    files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()
                                          and p.suffix in ("", ".py", ".c", ".toml", ".cfg", ".sh")]
    found = []
    for path in files:
        if path == ROOT / "tests" / "test_loggen.py" or ".venv" in path.parts:
            continue
        for n, text in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(text):
                found.append("%s:%d: %s" % (path.relative_to(ROOT), n, text.strip()))
    assert found == []
