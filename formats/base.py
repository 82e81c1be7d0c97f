"""Formats as data: a declaration (name, how to decode, date layout, sample lines) compiled into a
decoder.

Every decoder has the same face: `extract(line) -> tuple | None`, one tuple of the field
vocabulary (`FIELDS`, plus any extra groups asked for) per line, None for a line that is not of
the format. Fields a format lacks are None. So no later stage knows which format, or which kind
of decoder, a hit came from. The kinds (one module each):

- regex (`formats/regex.py`): a regex with named groups, and for some formats a C scanner
  (`formats/_scan.c`) that gives the same fields faster;
- W3C header (`formats/w3c.py`): builds the regex (and scanner) from a file's `#Fields:` line;
- JSON map (`formats/jsonmap.py`): decodes a JSON object and reads the vocabulary from keys or key
  paths, with converters;
- format strings (`formats/logformat.py`): Apache's LogFormat and nginx's log_format, compiled into
  one of the kinds above (a regex, with the Apache family's C scanner where the layout is one of
  theirs, or a JSON map for a JSON-shaped log_format).

Decoders also give `fields` (the names of the tuple's positions), `present` (the fields they can
fill), `group_count`, `has_group(name)` and `score(line)` (used by detection).
"""
from __future__ import annotations

import datetime as _dt
import math
import os
import re
from dataclasses import dataclass, field

# The one field vocabulary (the contract's section 2, before normalisation).
FIELDS = (
    "ip", "host", "date", "time", "timezone", "method", "path", "query_string", "status", "length",
    "referrer", "user_agent", "userid", "generation_time_milli", "generation_time_micro",
    "generation_time_secs", "event_category", "event_action", "event_name",
)
FIELD_INDEX = {name: i for i, name in enumerate(FIELDS)}

# Date layouts (a Format's `date_format`): strptime formats, with fast paths for the first three,
# and two kinds strptime cannot say.
APACHE_DATE = "%d/%b/%Y:%H:%M:%S"
ISO_DATE = "%Y-%m-%d %H:%M:%S"
ISO_T_DATE = "%Y-%m-%dT%H:%M:%S"
EPOCH = "epoch"  # seconds since 1970-01-01 UTC: an int, a float or their text (Caddy's `ts`)
EPOCH_MS = "epoch_ms"  # the same in milliseconds (Apache's %{msec}t, Cloudflare's EdgeStartTimestamp)
EPOCH_US = "epoch_us"  # the same in microseconds (Apache's %{usec}t)
EPOCH_NS = "epoch_ns"  # the same in nanoseconds (Cloudflare Logpush's default unixnano)
_EPOCH_UNITS = {EPOCH: 1, EPOCH_MS: 1000, EPOCH_US: 1000000, EPOCH_NS: 1000000000}
ISO8601 = "iso8601"  # 2026-03-01T10:00:00[.fraction][Z|+01:00|+0100]: the offset is in the date
# Memo tables are emptied past this many entries: a worker's memory stays flat on long logs.
MEMO_ENTRIES = 50_000

try:  # the C line scanners (setup.py builds them); without them, the regexes (JSON: orjson) do the same work
    from ._scan import JsonScanner, Scanner, TokenScanner, pick, split_ascii
except ImportError:
    JsonScanner = Scanner = TokenScanner = pick = split_ascii = None
if os.environ.get("LOG_IMPORTER_NO_SCANNER"):  # to compare both (benchmarks/run.py dry-regex)
    JsonScanner = Scanner = TokenScanner = pick = split_ascii = None


def split_ascii_lines(data: bytes) -> list:
    """data.decode("ascii").split("\n") for ASCII data, in C when the extension is built."""
    if split_ascii is not None:
        return split_ascii(data)
    return data.decode("ascii").split("\n")


class FormatError(ValueError):
    """A format declaration, or a user-given regex, that cannot be used."""


@dataclass
class Format:
    """A log format declaration, compiled by `compile()` into a decoder (see the module's doc).

    `samples` pairs a line with fields it must produce (tests check every one). A regex format
    has `regex` (+ optional `plain_regex` and `scanner`); a JSON format has `json_map` instead
    (formats/jsonmap.py, whose keys carry their own converters). For regex formats, `converters`
    (field -> function of the found text) and `defaults` (field -> value when the line or the
    format has none) finish a decoded tuple: the reference importer's per-format fix-ups
    (URL-encoded agents, a missing status) are declared there.
    `detectable=False`: only ever chosen by --log-format-name (a format whose lines other formats
    also read, such as ovh).
    """
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
    converters: dict = field(default_factory=dict)
    defaults: dict = field(default_factory=dict)
    json_map: dict | None = None
    signature: tuple = ()  # JSON: the keys whose presence says a line is of this format
    # The escapes the server writes into fields (formats/escapes.py: "backslash" for Apache and
    # nginx, "json"), decoded on the lines that hold a backslash; None: fields are read as written.
    unescape: str | None = None
    # Lines that start with this are the format's header (counted as comments, not invalid lines):
    # "#" for W3C, GCS's column names.
    header_prefix: str | None = None
    header_lines: list[str] = field(default_factory=list)  # sample header (for detection tests)
    syslog: bool = False  # the lines come behind a syslog prefix (formats/syslog.py)
    # The vendor's layout has more fields after the last one the regex reads (S3, ELB/ALB, HAProxy,
    # Squid): text after the match is expected, not a sign that the format reads too little.
    trailing_fields: bool = False
    # A JSON format written from a template (a JSON-shaped nginx log_format): callable(line) ->
    # the line made JSON, or None, for lines where an unquoted variable's value is not JSON
    # (nginx writes `-` or "0.010, 0.002" for $upstream_response_time). Must pickle.
    json_repair: object = None

    def compile(self, extra_groups=(), ignore_groups=()):
        """The decoder of this format. `extra_groups`: more names to extract after FIELDS (for
        --regex-group-to-*-cvar); `ignore_groups`: fields to leave None (--ignore-groups).
        Raises FormatError for a regex that does not compile, or a W3C format without header."""
        if self.json_map is not None:
            from .jsonmap import JsonMapDecoder
            decoder = JsonMapDecoder(self.name, self.json_map, self.signature, extra_groups, ignore_groups,
                                     self.json_repair)
        elif self.regex is None:
            raise FormatError("format %s needs a #Fields: header to build its regex" % self.name)
        else:
            from .regex import RegexDecoder
            decoder = RegexDecoder(self.name, self.regex, extra_groups, ignore_groups, self.plain_regex,
                                   self.scanner, self.converters, self.defaults, self.unescape)
        if self.syslog:
            from .syslog import SyslogDecoder
            decoder = SyslogDecoder(decoder)
        return decoder


def finisher(fields, converters, defaults):
    """A function that applies `converters` and `defaults` (see Format) to a decoded tuple laid
    out as `fields`, or None when there is nothing to apply."""
    convert = [(fields.index(n), f) for n, f in converters.items() if n in fields]
    default = [(fields.index(n), v) for n, v in defaults.items() if n in fields]
    if not convert and not default:
        return None

    def finish(values):
        values = list(values)
        for i, f in convert:
            if values[i] is not None:
                values[i] = f(values[i])
        for i, v in default:
            if values[i] is None:
                values[i] = v
        return tuple(values)
    return finish


_MISSING = object()
_MONTHS = {m: i + 1 for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])}
_TZ = re.compile(r"^[+-]?\d{1,4}$")
_UTC_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


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

    `date_format` is a strptime format (fast paths for APACHE_DATE, ISO_DATE and ISO_T_DATE), or
    EPOCH, EPOCH_MS, EPOCH_US, EPOCH_NS (time since 1970 in s, ms, µs or ns, UTC, as a number or
    its text; fractions of a second are cut, as Matomo keeps whole seconds) or ISO8601 (RFC 3339
    dates with their own offset, `Z` for UTC, any fraction: nginx's $time_iso8601, Traefik's
    `time`). A date whose layout carries an offset (ISO8601, or a strptime `%z`) is moved to UTC
    by it; otherwise by `tz` ("+0100", "-05:30"); a date without either is local time of `zone`
    (a tzinfo, --log-timezone: daylight saving time is followed; a time that happens twice when
    the clocks go back is read as the first, a time skipped when they go forward with the offset
    before the change), or UTC without a zone. `add_seconds` (--add-to-date) is added last.

    Memoised per distinct (date, timezone), and behind that per minute (a timezone offset is whole
    minutes, so the seconds pass through unchanged). Returns None for an invalid date or timezone.
    """

    def __init__(self, date_format=APACHE_DATE, add_seconds=0, zone=None):
        self.date_format = date_format
        self.add_seconds = add_seconds
        self.zone = zone
        self._unit = _EPOCH_UNITS.get(date_format)
        self._cache: dict = {}  # tz -> {date: cdt}
        self._minutes: dict = {}
        # The per-minute memo (not when --add-to-date moves the seconds): where the seconds are
        # ("...:SS" at the end) in the fixed layouts; how to find them in the other two.
        whole_minutes = add_seconds % 60 == 0
        self._seconds_at = {APACHE_DATE: 20, ISO_DATE: 19, ISO_T_DATE: 19}.get(date_format) if whole_minutes else None
        self._split_minute = None
        if whole_minutes:
            self._split_minute = self._split_epoch if self._unit else \
                {ISO8601: self._split_iso8601}.get(date_format)
        self._parse = self._parse_epoch if self._unit else {
            APACHE_DATE: self._parse_apache, ISO_DATE: self._parse_iso, ISO_T_DATE: self._parse_iso,
            ISO8601: _dt.datetime.fromisoformat,
        }.get(date_format) or (lambda s: _dt.datetime.strptime(s, date_format))

    @staticmethod
    def _parse_apache(s):
        # 10/Oct/2000:13:55:36
        if len(s) != 20 or s[2] != "/" or s[6] != "/" or s[11] != ":":
            return _dt.datetime.strptime(s, APACHE_DATE)
        return _dt.datetime(int(s[7:11]), _MONTHS[s[3:6]], int(s[0:2]),
                            int(s[12:14]), int(s[15:17]), int(s[18:20]))

    @staticmethod
    def _parse_iso(s):
        # 2000-10-10 13:55:36 (ISO_DATE) or 2000-10-10T13:55:36 (ISO_T_DATE)
        if len(s) != 19 or s[4] != "-" or s[10] not in " T":
            return _dt.datetime.strptime(s, ISO_DATE if s[10:11] == " " else ISO_T_DATE)
        return _dt.datetime(int(s[0:4]), int(s[5:7]), int(s[8:10]),
                            int(s[11:13]), int(s[14:16]), int(s[17:19]))

    def _parse_epoch(self, value):
        if value.__class__ is str and value.isdigit():
            seconds = int(value) // self._unit  # exact, where a float would round nanoseconds
        else:
            seconds = math.floor(float(value) / self._unit)
        return _UTC_EPOCH + _dt.timedelta(seconds=seconds)

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

    def convert(self, date, tz: str | None = None):
        memo = self.memo(tz)
        result = memo.get(date, _MISSING)
        if result is not _MISSING:
            return result
        split = None
        if self._seconds_at is not None:  # inline: the Apache and W3C dates' common case
            if len(date) == self._seconds_at and date[-3] == ":":
                split = date[:-2] + "00", date[-2:]
        elif self._split_minute is not None:
            split = self._split_minute(date)
        if split is not None:
            minute, seconds = split
            prefix = self._minutes.get((minute, tz), False)
            if prefix is False:
                whole = self._full(minute, tz)
                prefix = self._minutes[(minute, tz)] = whole[:-2] if whole is not None else None
            ok = prefix is not None and seconds.isdigit() and seconds < "60"
            result = prefix + seconds if ok else None
        else:
            result = self._full(date, tz)
        if len(memo) > MEMO_ENTRIES:
            memo.clear()
            self._minutes.clear()
        memo[date] = result
        return result

    # The date at second 00 of its minute, and its seconds as 2 digits (or None): dates of one
    # minute then share one full conversion (an offset is whole minutes, and a fraction of a
    # second is cut, so the seconds pass through).
    @staticmethod
    def _split_iso8601(date):
        if date.__class__ is not str or len(date) < 19 or date[16] != ":" or date[13] != ":":
            return None
        tail = date[19:]
        if tail[:1] == ".":
            tail = tail.lstrip(".0123456789")
        return date[:17] + "00" + tail, date[17:19]

    def _split_epoch(self, date):
        if date.__class__ is str:
            whole = date.partition(".")[0]
            if not whole.isdigit():
                return None
            date = int(whole)
        elif date.__class__ is float and date == date and abs(date) < 1e30:
            date = int(date)
        elif date.__class__ is not int:
            return None
        unit = self._unit
        seconds = date // unit
        return (seconds - seconds % 60) * unit, "%02d" % (seconds % 60)

    def _full(self, date: str, tz: str | None):
        try:
            d = self._parse(date)
            seconds = self.add_seconds
            if d.tzinfo is not None:
                d = d.replace(tzinfo=None) - d.utcoffset()
            elif tz:
                seconds -= timezone_offset(tz)
            elif self.zone is not None:
                d -= d.replace(tzinfo=self.zone).utcoffset()
            if seconds:
                d += _dt.timedelta(seconds=seconds)
            result = "%04d-%02d-%02d %02d:%02d:%02d" % (
                d.year, d.month, d.day, d.hour, d.minute, d.second)
        except (ValueError, KeyError, OverflowError, TypeError):
            result = None
        return result
