"""Why lines were invalid: the reasons the chunk stage gives, and the summary's section that
explains them without --debug.

The chunk stage counts each invalid line under one of the REASONS and keeps, per reason, the
first such line (its index, its text cut, a detail such as the date value). The parent folds
them per file (Stats.add_invalid). When more than SHOW_ABOVE of a file's lines are invalid, the
summary shows, per reason: the count, the first such line as file:line and its text, and a hint
that says what to change.
"""
from __future__ import annotations

import datetime as dt
import re

# Reasons, as the chunk stage gives them (also the --debug wording).
NOT_MATCHED = "line did not match the format"
EMPTY = "empty line"
BAD_DATE = "invalid date"
BAD_TIMEZONE = "invalid timezone"
MISSING_FIELDS = "line has no path, status or client IP"
NOT_TRACKER = "no query string, or the path is not a tracker request"
NO_IDSITE = "replayed request has no idsite"  # or one that is no site id (abc, -1, 1.5)
UNSENDABLE = "line has a value that cannot be sent"
# The reasons that say the format did not read a line (the others: it read it, and it is no hit).
FORMAT_REASONS = frozenset((NOT_MATCHED, EMPTY, BAD_DATE, BAD_TIMEZONE, MISSING_FIELDS))

SHOW_ABOVE = 0.01  # the share of a file's lines that are invalid above which the summary explains
FORMAT_FITS = 0.9  # a format that read this share of a file's lines fits it: the rest are broken lines
TEXT_CUT = 160     # characters of the first invalid line shown

# strptime formats tried, in order, to suggest a --log-date-format for a date that did not
# match the one in use (Apache's, ISO 8601 and the usual day/month orders; Python's strptime
# directives, https://docs.python.org/3/library/datetime.html#format-codes).
DATE_FORMATS = (
    "%d/%b/%Y:%H:%M:%S", "%d/%b/%Y %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f", "%d/%m/%Y:%H:%M:%S", "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y:%H:%M:%S", "%m/%d/%Y %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d:%H:%M:%S",
    "%d-%b-%Y:%H:%M:%S", "%d-%b-%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S", "%d/%b/%Y:%H:%M:%S.%f",
    "%b %d %Y %H:%M:%S", "%a %b %d %H:%M:%S %Y", "%Y%m%d%H%M%S",
)


def suggest_date_format(value: str) -> str | None:
    """The first of DATE_FORMATS that reads `value` (a date as the format's date group gave it),
    or None."""
    for fmt in DATE_FORMATS:
        try:
            dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
        return fmt
    return None


# The shape of the values of each strptime directive (others: any text), to tell a date that is
# impossible (31/Feb/2026, 01/Foo/2026, 2026-13-01) from one written in another layout.
_DIRECTIVE_SHAPES = {"Y": r"\d{4}", "y": r"\d\d", "m": r"\d{1,2}", "d": r"\d{1,2}", "H": r"\d{1,2}",
                     "I": r"\d{1,2}", "M": r"\d{1,2}", "S": r"\d{1,2}", "j": r"\d{1,3}", "f": r"\d{1,6}",
                     "b": r"[^\W\d_]+", "B": r"[^\W\d_]+", "a": r"[^\W\d_]+", "A": r"[^\W\d_]+",
                     "p": r"[^\W\d_]+", "z": r"(?:[+-]\d\d:?\d\d|Z)", "Z": r"\w+", "%": "%"}


def has_layout(value: str, date_format: str) -> bool:
    """Whether `value` has the shape of a strptime `date_format` (digits where it wants numbers,
    letters where it wants names), whether or not it is a real date."""
    if "%" not in date_format:
        return False  # epoch, iso8601: not strptime layouts
    pieces = re.split(r"%(.)", date_format)
    regex = "".join(re.escape(p) if i % 2 == 0 else _DIRECTIVE_SHAPES.get(p, ".+?") for i, p in enumerate(pieces))
    return re.fullmatch(regex, value) is not None


def hint(reason: str, detail, format_name: str | None, detected: bool, read_share: float = 0.0) -> str:
    """What to change, for the first line invalid for `reason` (`detail`: what the chunk stage
    kept about it: for dates, (date value, timezone, the date format in use)); `read_share`: the
    share of the file's lines the format read (0 to 1): when it read nearly all, lines it does
    not match are broken lines, not a sign of a wrong format."""
    if reason == NOT_MATCHED:
        if read_share >= FORMAT_FITS:
            return ("the format %s read %.1f%% of the file's lines: these are broken or of another kind "
                    "(cut, junk, another server's), not a sign of a wrong format" % (format_name or "?",
                                                                                    100.0 * read_share))
        how = "detected from the first lines" if detected else "given"
        return ("not in the format %s (%s): give the right one with --log-format-name, --log-format-apache, "
                "--log-format-nginx or --log-format-regex (--test-format FILE checks it)" % (format_name or "?", how))
    if reason == BAD_DATE:
        value, _, date_format = detail if detail else (None, None, None)
        if value is None:
            return "the format gives no date for these lines"
        text = "the date %r does not match the date format %r" % (value, date_format)
        # --log-date-format applies to a format given by name or regex, not to a detected one
        name = "--log-format-name %s " % format_name if detected and format_name else ""
        suggested = suggest_date_format(value)
        if suggested is not None and suggested != date_format:
            return text + ": try %s--log-date-format '%s'" % (name, suggested)
        if has_layout(value, date_format):
            return ("the date %r has the layout of the date format %r but is not a date (no such day, month "
                    "or time): the line is wrong, not the format" % (value, date_format))
        return text + ": give its layout with %s--log-date-format (strptime directives)" % name
    if reason == BAD_TIMEZONE:
        tz = detail[1] if detail else None
        return "the timezone %r is not an offset such as +0100 or -05:00" % tz
    if reason == MISSING_FIELDS:
        return ("the format gives no path, status or client address for these lines (with "
                "--log-format-regex: the groups path, status and ip)")
    if reason == NOT_TRACKER:
        return ("--replay-tracking replays only requests to piwik.php or matomo.php (or "
                "--replay-tracking-expected-tracker-file) that have a query string")
    if reason == NO_IDSITE:
        return "a replayed tracking request needs its idsite parameter, a site id (a whole number above 0)"
    if reason == EMPTY:
        return "an empty line is never a hit"
    if reason == UNSENDABLE:
        return ("a field of the line holds a value the tracking request cannot carry (%s): please report it "
                "with the line" % (detail or "?"))
    return ""


_CONTROL = {c: "\\x%02x" % c for c in list(range(0x20)) + [0x7f] if c != 0x09}
_CONTROL.update({c: "\\x%02x" % c for c in range(0x80, 0xa0)})  # C1 controls, and the line breaks
_CONTROL.update({0x2028: "\\u2028", 0x2029: "\\u2029"})    # that str.splitlines() knows


def _cut(text: str) -> str:
    """The line as shown: cut at TEXT_CUT characters, control characters written \\xNN (a line of
    binary junk must not move the terminal's cursor, nor break the summary's lines)."""
    text = text if len(text) <= TEXT_CUT else text[:TEXT_CUT] + "…"
    return text.translate(_CONTROL)


def render_section(stats) -> list:
    """The summary's "Why lines were invalid" section (no lines when no file is above SHOW_ABOVE)."""
    out = []
    for fi in sorted(stats.invalid_reasons):
        reasons = stats.invalid_reasons[fi]
        lines = stats.lines_by_file.get(fi, 0)
        invalid = sum(r[0] for r in reasons.values())
        if not lines or invalid <= SHOW_ABOVE * lines:
            continue
        name = stats.files[fi]
        format_name, detected = stats.file_formats.get(fi, (None, False))
        out.append("    %s: %s of %s lines are invalid (%.1f%%):"
                   % (name, "{:,}".format(invalid), "{:,}".format(lines), 100.0 * invalid / lines))
        for reason, (count, line_no, text, detail) in sorted(reasons.items(), key=lambda kv: -kv[1][0]):
            out.append("        %s %s, first at %s:%d:" % ("{:,}".format(count), reason, name, line_no))
            out.append("            %s" % _cut(text))
            read_share = stats.readable_by_file.get(fi, 0) / lines
            out.append("            %s" % hint(reason, detail, format_name, detected, read_share))
    if out:
        out = ["", "Why lines were invalid", "----------------------", ""] + out
    return out


def summary_data(stats) -> dict:
    """Per file and reason: count, first line and its text (for --summary-json)."""
    return {stats.files[fi]: {reason: {"count": count, "first_line": line_no, "text": _cut(text)}
                              for reason, (count, line_no, text, _) in reasons.items()}
            for fi, reasons in sorted(stats.invalid_reasons.items())}
