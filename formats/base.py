"""Formats as data: a declaration (name, regex, date format, sample lines) compiled into a parser.

Every parser emits the same field vocabulary (`FIELDS`), as one tuple per line, so no later stage
knows which format a hit came from. Fields a format lacks are None.
"""
from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass, field
from operator import itemgetter

# The one field vocabulary (the contract's section 2, before normalisation).
FIELDS = (
    "ip", "host", "date", "time", "timezone", "method", "path", "query_string", "status", "length",
    "referrer", "user_agent", "userid", "generation_time_milli", "generation_time_micro",
    "generation_time_secs", "event_category", "event_action", "event_name",
)
FIELD_INDEX = {name: i for i, name in enumerate(FIELDS)}

APACHE_DATE = "%d/%b/%Y:%H:%M:%S"
# Memo tables are emptied past this many entries: a worker's memory stays flat on long logs.
MEMO_ENTRIES = 50_000
ISO_DATE = "%Y-%m-%d %H:%M:%S"

try:  # the C line scanners (setup.py builds them); without them, the regexes do the same work
    from ._scan import Scanner, TokenScanner, split_ascii
except ImportError:
    Scanner = TokenScanner = split_ascii = None
if os.environ.get("LOG_IMPORTER_NO_SCANNER"):  # to compare both (benchmarks/run.py dry-regex)
    Scanner = TokenScanner = split_ascii = None


def split_ascii_lines(data: bytes) -> list:
    """data.decode("ascii").split("\n") for ASCII data, in C when the extension is built."""
    if split_ascii is not None:
        return split_ascii(data)
    return data.decode("ascii").split("\n")


class FormatError(ValueError):
    """A format declaration, or a user-given regex, that cannot be used."""


@dataclass
class Format:
    """A log format declaration. `samples` pairs a line with fields it must produce."""
    name: str
    regex: str | None
    date_format: str = APACHE_DATE
    description: str = ""
    samples: list[tuple[str, dict]] = field(default_factory=list)
    detectable: bool = True
    header_driven: bool = False  # W3C: the regex comes from the file's #Fields: line
    # Optional: the same regex for lines without a backslash (no escapes to handle), which the
    # regex engine runs faster. It must give the same groups on such lines (a test checks).
    plain_regex: str | None = None
    # Optional: the hand-written C scanner that gives the same fields as `regex` (formats/_scan.c):
    # ("apache", vhost, combined) for the Apache family, ("tokens", kinds, slots) for W3C.
    scanner: tuple | None = None

    def compile(self, extra_groups=(), ignore_groups=()) -> "LineParser":
        if self.regex is None:
            raise FormatError("format %s needs a #Fields: header to build its regex" % self.name)
        return LineParser(self.name, self.regex, self.date_format, extra_groups, ignore_groups,
                          self.plain_regex, self.scanner)


class LineParser:
    """A compiled format: `extract(line)` gives a tuple of FIELDS (+ extra groups) or None."""

    def __init__(self, name, regex, date_format=APACHE_DATE, extra_groups=(), ignore_groups=(),
                 plain_regex=None, scanner=None):
        self.name = name
        try:
            self.regex = re.compile(regex)
        except re.error as e:
            raise FormatError("invalid regex for format %s: %s" % (name, e)) from None
        plain = re.compile(plain_regex) if plain_regex else None
        if plain is not None and plain.groupindex != self.regex.groupindex:
            raise FormatError("the plain regex of format %s has other groups" % name)
        self.date_format = date_format
        index = self.regex.groupindex
        ignored = set(ignore_groups)
        self.fields = FIELDS + tuple(extra_groups)
        pad = self.regex.groups  # index of the None appended to m.groups()
        positions = [index[n] - 1 if n in index and n not in ignored else pad for n in self.fields]
        self.present = frozenset(n for n in self.fields if n in index and n not in ignored)
        getter = itemgetter(*positions)
        match = self.regex.match
        none = (None,)
        if plain is not None:
            escaped_match, plain_match = match, plain.match

            def match(line):
                return (escaped_match if "\\" in line else plain_match)(line)

        def extract(line):
            m = match(line)
            if m is None:
                return None
            return getter(m.groups() + none)

        self.extract = extract
        self.scanned = False
        make = {"apache": Scanner, "tokens": TokenScanner}.get(scanner[0]) if scanner else None
        if make is not None and self.fields == FIELDS and not ignored:
            self.extract = make(*scanner[1:], fallback=extract).extract
            self.scanned = True
        self.group_count = len(self.present)

    def as_dict(self, line):
        values = self.extract(line)
        if values is None:
            return None
        return {n: v for n, v in zip(self.fields, values) if n in self.present}


_MISSING = object()
_MONTHS = {m: i + 1 for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])}
_TZ = re.compile(r"^[+-]?\d{1,4}$")


def timezone_offset(tz: str) -> int:
    """Seconds east of UTC for "+0100", "-05:30", "0000"; ValueError when not an offset."""
    tz = tz.replace(":", "")
    if not _TZ.match(tz):
        raise ValueError("invalid timezone %r" % tz)
    n = int(tz)
    sign = -1 if n < 0 else 1
    n = abs(n)
    return sign * ((n // 100) * 3600 + (n % 100) * 60)


class DateConverter:
    """Turns a log date (+ optional timezone) into Matomo's `cdt`: UTC "YYYY-MM-DD HH:MM:SS".

    Memoised per distinct (date, timezone), and behind that per minute for the Apache and ISO
    layouts (a timezone offset is whole minutes, so the seconds pass through unchanged). Returns
    None for an invalid date or timezone.
    """

    def __init__(self, date_format=APACHE_DATE, add_seconds=0):
        self.date_format = date_format
        self.add_seconds = add_seconds
        self._cache: dict = {}  # tz -> {date: cdt}
        self._minutes: dict = {}
        # Where the seconds are ("...:SS" at the end), for the per-minute memo.
        self._seconds_at = {APACHE_DATE: 20, ISO_DATE: 19}.get(date_format) if add_seconds % 60 == 0 else None
        if date_format == APACHE_DATE:
            self._parse = self._parse_apache
        elif date_format == ISO_DATE:
            self._parse = self._parse_iso
        else:
            self._parse = lambda s: _dt.datetime.strptime(s, date_format)

    @staticmethod
    def _parse_apache(s):
        # 10/Oct/2000:13:55:36
        if len(s) != 20 or s[2] != "/" or s[6] != "/" or s[11] != ":":
            return _dt.datetime.strptime(s, APACHE_DATE)
        return _dt.datetime(int(s[7:11]), _MONTHS[s[3:6]], int(s[0:2]),
                            int(s[12:14]), int(s[15:17]), int(s[18:20]))

    @staticmethod
    def _parse_iso(s):
        # 2000-10-10 13:55:36
        if len(s) != 19 or s[4] != "-" or s[10] != " ":
            return _dt.datetime.strptime(s, ISO_DATE)
        return _dt.datetime(int(s[0:4]), int(s[5:7]), int(s[8:10]),
                            int(s[11:13]), int(s[14:16]), int(s[17:19]))

    def memo(self, tz: str | None) -> dict:
        """The memo of one timezone: date -> cdt, or None for an invalid date. A hot loop may
        look dates up there and call `convert` on a miss: `convert` fills the same dict (until
        a log with very many timezones makes it start afresh; lookups then only miss)."""
        memo = self._cache.get(tz)
        if memo is None:
            if len(self._cache) > 100:
                self._cache.clear()
            memo = self._cache[tz] = {}
        return memo

    def convert(self, date: str, tz: str | None = None):
        memo = self.memo(tz)
        result = memo.get(date, _MISSING)
        if result is not _MISSING:
            return result
        if self._seconds_at is not None and len(date) == self._seconds_at and date[-3] == ":":
            minute = (date[:-2], tz)
            prefix = self._minutes.get(minute, False)
            if prefix is False:
                whole = self._full(date[:-2] + "00", tz)
                prefix = self._minutes[minute] = whole[:-2] if whole is not None else None
            seconds = date[-2:]
            ok = prefix is not None and seconds.isdigit() and seconds < "60"
            result = prefix + seconds if ok else None
        else:
            result = self._full(date, tz)
        if len(memo) > MEMO_ENTRIES:
            memo.clear()
            self._minutes.clear()
        memo[date] = result
        return result

    def _full(self, date: str, tz: str | None):
        try:
            d = self._parse(date)
            seconds = self.add_seconds
            if tz:
                seconds -= timezone_offset(tz)
            if seconds:
                d += _dt.timedelta(seconds=seconds)
            result = "%04d-%02d-%02d %02d:%02d:%02d" % (
                d.year, d.month, d.day, d.hour, d.minute, d.second)
        except (ValueError, KeyError, OverflowError, TypeError):
            result = None
        return result
