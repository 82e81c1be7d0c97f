"""Instructions per line of the JSON formats beside combined's, counted by callgrind in one run.

    .venv/bin/python benchmarks/decode_cost.py [--lines 25000] [--only nginx_json,caddy_json]
                                               [--no-scanner]

(`make bench` runs it last.) Issue 10's speed target: the JSON family must not be slower per line
than the Apache family with its regexes: each JSON format's decode is set against combined's
decode with its regexes (LOG_IMPORTER_NO_SCANNER=1, always counted), "!!" where it costs more.
The chunk stage is shown beside combined's with its C scanner. For each format (ncsa_extended, the
name of combined, first: the baseline), on a log of --lines lines from the project's generator
(cached in benchmarks/data/; every format gets the same hits from the same seed), two counts
under `valgrind --tool=callgrind`:

- chunk stage: benchmarks/chunk_stage.py (ChunkProcessor.process on the whole log: decode, date,
  classify, build, serialise: what a worker does), minus the same run with --setup-only;
- decode: the format's decoder alone, `extract(line)` on every line, minus the same run without
  the loop;

each divided by the lines. Start-up, imports, reading the log and compiling the decoder are
taken out by the subtraction; PYTHONHASHSEED=0 keeps the counts repeatable to a few
parts in a thousand, where timings on this shared machine move by 30 %. `--no-scanner` counts every format
again with LOG_IMPORTER_NO_SCANNER=1 (JSON: orjson decoding the whole object, as before the C
scanner).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import children  # benchmarks/children.py
from parse_cost import ROOT, ensure_log  # benchmarks/parse_cost.py

HERE = os.path.dirname(os.path.abspath(__file__))
# The importer's format name -> the generator's format of its log.
FORMATS = {"ncsa_extended": "combined", "nginx_json": "nginx_json", "traefik_json": "traefik_json",
           "caddy_json": "caddy_json", "cloudflare_json": "cloudflare_json", "akamai_json": "akamai_json"}
BASELINE = "ncsa_extended"


def _decode(name: str, path: str, setup_only: bool) -> int:
    """In the child (under callgrind): the decoder alone on every line of the log."""
    sys.path.insert(0, ROOT)
    import formats
    from log_importer.config import Config

    with open(path, "rb") as f:
        lines = f.read().decode("utf-8", "surrogateescape").split("\n")[:-1]
    extract = formats.resolve(Config(log_format_name=name, idsite=1, dry_run=True), lines[:200]).compile().extract
    if not setup_only:
        for line in lines:
            extract(line)
    return 0


def instructions(cmd: list[str], scanner: bool) -> int:
    """Instructions callgrind counts for one run of `cmd` (a Python script and its arguments)."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("LOG_IMPORTER_NO_SCANNER", None)
    if not scanner:
        env["LOG_IMPORTER_NO_SCANNER"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, sys.executable] + cmd,
                       check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as f:
            return int(re.search(r"^summary: (\d+)", f.read(), re.M).group(1))


def per_line(name: str, path: str, lines: int, scanner: bool) -> tuple[float, float]:
    """(chunk stage, decode): instructions a line, each a whole run minus its set-up alone."""
    stage = os.path.join(HERE, "chunk_stage.py")
    pairs = [([stage, path, "--", "--log-format-name", name],
              [stage, "--setup-only", path, "--", "--log-format-name", name]),
             ([__file__, "--decode", name, path], [__file__, "--decode", name, path, "--setup-only"])]
    # Once outside callgrind first: what a first run does once (Matomo's bot lists into their
    # cache, benchmarks/data's log) is not counted as the lines' cost.
    subprocess.run([sys.executable] + pairs[0][0], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return tuple((instructions(whole, scanner) - instructions(setup, scanner)) / lines for whole, setup in pairs)


def main(argv=None) -> int:
    children.install()  # stopped by a signal, it leaves nothing running
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=25_000)
    p.add_argument("--only", help="comma list of format names (%s)" % ", ".join(FORMATS))
    p.add_argument("--no-scanner", action="store_true", help="count again with LOG_IMPORTER_NO_SCANNER=1")
    p.add_argument("--decode", nargs=2, metavar=("NAME", "PATH"), help=argparse.SUPPRESS)
    p.add_argument("--setup-only", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.decode:
        return _decode(a.decode[0], a.decode[1], a.setup_only)
    names = a.only.split(",") if a.only else list(FORMATS)
    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        p.error("unknown format %s (known: %s)" % (", ".join(unknown), ", ".join(FORMATS)))
    if shutil.which("valgrind") is None:
        print("decode_cost.py: valgrind is not installed (Debian: apt-get install valgrind); nothing counted")
        return 1
    if BASELINE not in names:
        names.insert(0, BASELINE)
    rows = []
    for name in names:
        path = ensure_log(FORMATS[name], a.lines)
        with open(path, "rb") as f:
            size = len(f.read()) / a.lines
        # combined's regexes are the target's measure: the baseline is always counted without its scanner too.
        without = per_line(name, path, a.lines, False) if a.no_scanner or name == BASELINE else (None, None)
        rows.append((name, size, *per_line(name, path, a.lines, True), *without))
        print("  %-16s %4.0f bytes a line: chunk stage %6.0f, decode %6.0f instructions a line%s" % (
            *rows[-1][:4], "  (LOG_IMPORTER_NO_SCANNER=1: %.0f, %.0f)" % without if without[0] else ""), flush=True)
    base = rows[0]
    print("\nINSTRUCTIONS A LINE (callgrind, %s generated lines per format; combined = %s; target: decode "
          "/ combined's regexes <= 1)" % (f"{a.lines:,}", BASELINE))
    hdr = ["format", "bytes a line", "decode", "/ combined's regexes", "/ combined", "chunk stage", "/ combined"]
    if a.no_scanner:
        hdr += ["decode, NO_SCANNER", "chunk stage, NO_SCANNER"]
    print("| " + " | ".join(hdr) + " |\n|" + "---|" * len(hdr))
    for name, size, stage, decode, stage_ns, decode_ns in rows:
        target = decode / base[5]
        cells = [name, "%.0f" % size, f"{decode:,.0f}", "%.2fx%s" % (target, "  !!" if target > 1 else ""),
                 "%.2fx" % (decode / base[3]), f"{stage:,.0f}", "%.2fx" % (stage / base[2])]
        if a.no_scanner:
            cells += [f"{decode_ns:,.0f}", f"{stage_ns:,.0f}"]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
