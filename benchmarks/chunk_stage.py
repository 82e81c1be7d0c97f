"""The chunk stage alone (ChunkProcessor.process: decode, parse, classify, route, build, serialise),
in this process, for instruction counts of the hot loop under callgrind:

    .venv/bin/python -m log_importer.loggen --lines 25000 --format combined -o /tmp/c25k.log
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \\
        .venv/bin/python benchmarks/chunk_stage.py /tmp/c25k.log
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg0.out \\
        .venv/bin/python benchmarks/chunk_stage.py /tmp/c25k.log --setup-only

The loop's cost is the first count minus the second (`--setup-only` does everything but the
process() calls: start-up, imports, reading the log, resolving its format). Instruction counts
are repeatable to a few parts in a million, where timings on a shared machine are not.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import formats  # noqa: E402
from log_importer import chunks  # noqa: E402
from log_importer.cli import config_from_args  # noqa: E402
from log_importer.sources import head_lines  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("log")
    p.add_argument("--setup-only", action="store_true", help="everything but the process() calls")
    p.add_argument("--partitions", type=int, default=1)
    p.add_argument("options", nargs="*", help="importer options (after --), e.g. -- --enable-bots")
    a = p.parse_args(argv)
    config = config_from_args(["--dry-run", "--idsite", "1", a.log] + a.options)
    with open(a.log, "rb") as f:
        data = f.read()
    fmt = formats.resolve(config, head_lines(data[:1 << 20], config.encoding), a.log)
    sites = chunks.SiteMap(static=chunks.Site(1, "https://www.example.com"))
    tasks, pos, seq = [], 0, 0
    while pos < len(data):
        end = data.rfind(b"\n", pos, pos + config.chunk_bytes) + 1
        if end <= pos:
            end = len(data)
        tasks.append(chunks.ChunkTask(0, seq, pos, data[pos:end], fmt, sites, a.partitions))
        pos, seq = end, seq + 1
    processor = chunks.ChunkProcessor(config)  # fresh, like a worker's: memo tables start empty
    if a.setup_only:
        print("%d chunks, not processed" % len(tasks))
        return 0
    lines = hits = 0
    for task in tasks:
        result = processor.process(task)
        lines += result.lines
        hits += result.hits
    print("%d chunks, %d lines, %d hits" % (len(tasks), lines, hits))
    return 0


if __name__ == "__main__":
    sys.exit(main())
