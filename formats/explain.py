"""Detection that explains itself: where a format stops reading a line, which format is nearest
for a line none reads, and why detection chose one format over the others.

Off the hot path: used when detection fails, under --debug, and by --test-format. Where a regex
stops is found with the `regex` package's partial matching (a prefix that can still become a
match), by bisection over the line's prefixes; where a JSON format stops, from the decoder's
error position.
"""
from __future__ import annotations

import regex as partial_regex

import orjson

from .jsonmap import decode_json

CONTEXT = 100  # characters of a long line shown around the column
ENDS_EARLY = "the line ends before the format does"


def stop_column(fmt, line: str):
    """The 0-based column where `fmt` stops reading `line`, and why (a short text); (None, "")
    when it reads the line."""
    if fmt.json_map is not None:
        return _json_stop(fmt, line)
    if fmt.regex is None:
        return 0, "needs its #Fields: header"
    if fmt.compile().extract(line) is not None:
        return None, ""
    pattern = partial_regex.compile(fmt.regex)
    lo, hi = 0, len(line)  # the longest prefix that can still become a match
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if pattern.match(line[:mid], partial=True) is not None:
            lo = mid
        else:
            hi = mid - 1
    if lo == len(line):
        return lo, ENDS_EARLY
    return lo, "unexpected %r" % line[lo]


def _json_stop(fmt, line):
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError as e:
        if decode_json(line) is None:
            return min(getattr(e, "pos", 0) or 0, len(line)), "not JSON: %s" % str(e).split(":")[0]
    obj = decode_json(line)
    if obj is None:
        return 0, "not a JSON object"
    missing = [k for k in fmt.signature if k not in obj]
    if missing:
        return len(line), "a JSON object without the key%s %s" % ("s" * (len(missing) > 1), ", ".join(missing))
    if fmt.compile().extract(line) is None:
        return len(line), "a value of the wrong type"
    return None, ""


def caret(line: str, column: int) -> list[str]:
    """Two lines: the line (a window of it around `column` when long) and a caret under the column."""
    start = max(0, column - CONTEXT // 2) if len(line) > CONTEXT else 0
    shown = line[start:start + CONTEXT]
    prefix = "…" if start else ""
    suffix = "…" if start + CONTEXT < len(line) else ""
    return ["  " + prefix + shown + suffix, "  " + " " * (len(prefix) + column - start) + "^"]


def nearest(formats, line: str):
    """(format, column, reason) of the format that reads `line` furthest, among `formats`."""
    best, best_rank = None, None
    for fmt in formats:
        column, reason = stop_column(fmt, line)
        if column is None:
            return fmt, None, ""
        rank = (column, reason != ENDS_EARLY)  # on a tie, a format that says what is wrong
        if best is None or rank > best_rank:
            best, best_rank = (fmt, column, reason), rank
    return best


def explain_line(formats, line: str, number: int) -> list[str]:
    """What reads line `number` (1-based), or the nearest format, its column and a caret."""
    fmt, column, reason = nearest(formats, line)
    if column is None:
        return ["line %d is read by %s" % (number, fmt.name)]
    return (["line %d: no format reads it; the nearest, %s, stops at column %d (%s):"
             % (number, fmt.name, column + 1, reason)] + caret(line, column))


def detection_report(formats, lines, winner) -> list[str]:
    """For --debug: which format detection chose, on which sample lines, and why each other format
    lost (fewer lines read, fewer fields, or where it stops on the first line it does not read)."""
    lines = [ln for ln in lines if ln.strip() and not ln.startswith("#")]
    read = {}
    for fmt in formats:
        decoder = fmt.compile()
        read[fmt.name] = (decoder, [i for i, ln in enumerate(lines) if decoder.extract(ln) is not None])
    out = []
    if winner is not None and winner.name in read:
        decoder, rows = read[winner.name]
        out.append("detection: %s reads %d of %d sample lines (%s), with %d fields" % (
            winner.name, len(rows), len(lines), _ranges(rows), decoder.group_count))
        won_rows, won_fields = len(rows), decoder.group_count
    else:
        won_rows, won_fields = 0, 0
        out.append("detection: %s" % (winner.name if winner is not None else "no format reads these lines"))
    for fmt in formats:
        if winner is not None and fmt.name == winner.name:
            continue
        decoder, rows = read[fmt.name]
        if not rows:
            column, reason = stop_column(fmt, lines[0]) if lines else (0, "")
            why = "reads none; on line 1 it stops at column %d (%s)" % ((column or 0) + 1, reason)
        elif len(rows) < won_rows:
            why = "reads %d lines (%s), fewer" % (len(rows), _ranges(rows))
        elif decoder.group_count <= won_fields:
            why = "reads %d lines too, with %d fields, not more" % (len(rows), decoder.group_count)
        else:
            why = "reads %d lines, with %d fields" % (len(rows), decoder.group_count)
        out.append("  %s lost: %s" % (fmt.name, why))
    unread = [i for i in range(len(lines)) if not any(i in rows for _, rows in read.values())]
    if unread:
        out.append("  sample lines no format reads: %s" % _ranges(unread))
        out += ["  " + t for t in explain_line(formats, lines[unread[0]], unread[0] + 1)]
    return out


def _ranges(rows) -> str:
    """1-based line numbers as ranges: "1-3, 7"."""
    parts, start, prev = [], None, None
    for r in rows:
        if start is None:
            start = prev = r
        elif r == prev + 1:
            prev = r
        else:
            parts.append(_span(start, prev))
            start = prev = r
    if start is not None:
        parts.append(_span(start, prev))
    return "lines " + ", ".join(parts) if parts else "no line"


def _span(a, b):
    return str(a + 1) if a == b else "%d-%d" % (a + 1, b + 1)


def fields_table(fmt, lines, limit=10, width=40, dates=None) -> list[str]:
    """--test-format: the fields `fmt` reads from the first `limit` lines (headers and empty lines
    aside) as a table (one row a line, one column a field the format gives; values cut at `width`
    characters), then, for each line it does not read, where it stops, with a caret. With
    `dates` (a base.DateConverter: --log-timezone, --add-to-date), a last column `cdt`: the
    date sent to Matomo, in UTC, or "(invalid date)"."""
    decoder = fmt.compile()
    header = fmt.header_prefix
    rows, unread = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip() or (header and line.startswith(header)):
            continue
        if len(rows) == limit:
            break
        values = decoder.extract(line)
        if values is None:
            unread.append((number, line))
            rows.append((number, None))
        else:
            rows.append((number, dict(zip(decoder.fields, values))))
    columns = [n for n in decoder.fields if n in decoder.present]
    with_cdt = dates is not None and "date" in columns
    table = [["line"] + columns + (["cdt"] if with_cdt else [])]
    for number, values in rows:
        if values is None:
            table.append([str(number), "(not read: see below)"] + [""] * (len(columns) - 1 + with_cdt))
        else:
            row = [str(number)] + [_cell(values.get(n), width) for n in columns]
            if with_cdt:
                date = values.get("date")
                cdt = dates.convert(date if date.__class__ is str else str(date), values.get("timezone")) \
                    if date is not None else None
                row.append(cdt or "(invalid date)")
            table.append(row)
    sizes = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    out = ["  ".join(cell.ljust(size) for cell, size in zip(row, sizes)).rstrip() for row in table]
    for number, line in unread:
        column, reason = stop_column(fmt, line)
        if column is None:  # read once syslog's prefix or the like is taken into account
            continue
        out += ["line %d: %s stops at column %d (%s):" % (number, fmt.name, column + 1, reason)] + caret(line, column)
    return out


def _cell(value, width):
    if value is None:
        return "-"
    text = str(value).replace("\t", " ")
    return text if len(text) <= width else text[:width - 1] + "…"
