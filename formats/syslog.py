"""Lines of any known format sent through syslog: the syslog prefix is stripped before the format's
decoder reads the rest, and the prefix's host is the hit's host where the format has none (as
--log-hostname would give it; --log-hostname still wins).

Prefixes read (RFC 3164 as syslogd and rsyslog write it, with or without `<PRI>`, with a classic
or an RFC 3339 timestamp; RFC 5424):

    Mar  1 10:00:00 web1 nginx: ...
    <134>Mar  1 10:00:00 web1 apache2[2342]: ...
    2026-03-01T10:00:00.123456+01:00 web1 nginx: ...
    <134>1 2026-03-01T10:00:00+01:00 web1 nginx 2342 - - ...

The date of the hit is the log line's own, not the prefix's (syslog adds its own, in local time
and without a year).
"""
from __future__ import annotations

import re

PREFIX = re.compile(
    r"(?:<\d{1,3}>)?"
    r"(?:1 (?P<ts5424>\S+) (?P<host5424>\S+) \S+ \S+ \S+ (?:-|(?:\[(?:[^\]\\]|\\.)*\])+) "
    r"|(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
    r" +(?P<host>[^\s:]+) +[^\s:\[]+(?:\[\d+\])?: ?)")

SYSLOG_NAME_PREFIX = "syslog+"


def strip(line: str):
    """(the line without its syslog prefix, the prefix's host), or None without a prefix."""
    m = PREFIX.match(line)
    if m is None:
        return None
    return line[m.end():], m.group("host") or m.group("host5424")


class SyslogDecoder:
    """The decoder of a format behind a syslog prefix: the same face as the inner decoder
    (`extract`, `fields`, `present`, ...), lines without a prefix read as they are."""

    def __init__(self, inner):
        self.inner = inner
        self.name = SYSLOG_NAME_PREFIX + inner.name
        self.fields = inner.fields
        self.present = inner.present | {"host"}
        self.group_count = inner.group_count + ("host" not in inner.present)
        self.scanned = inner.scanned
        self.regex = getattr(inner, "regex", None)
        read = inner.extract
        match = PREFIX.match
        host_at = self.fields.index("host")

        def extract(line):
            m = match(line)
            if m is None:
                return read(line)
            values = read(line[m.end():])
            if values is None or values[host_at] is not None:
                return values
            return values[:host_at] + (m.group("host") or m.group("host5424"),) + values[host_at + 1:]
        self.extract = extract

    def has_group(self, name) -> bool:
        return self.inner.has_group(name)

    def score(self, line) -> int:
        found = strip(line)
        return self.inner.score(found[0] if found else line)

    def as_dict(self, line):
        values = self.extract(line)
        if values is None:
            return None
        return {n: v for n, v in zip(self.fields, values) if n in self.present}
