"""W3C extended logs (and IIS, which writes them): the regex is built from the #Fields: header.

Field patterns follow Matomo's import_logs.py so the same lines parse the same way; an unknown
field is skipped as a quoted string or a run of non-spaces. For ASCII lines without quotes whose
fields each have the expected shape, a C scanner (TokenScanner in `_scan.c`) gives the regex's
fields about 2x faster; every other line goes to the regex.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .base import FIELD_INDEX, ISO_DATE, Format, FormatError

FIELDS_PREFIX = "#Fields:"
UNKNOWN_FIELD = r'(?:".*?"|\S+)'

W3C_FIELDS = {
    "date": r'"?(?P<date>\d+[-\d+]+)"?',
    "time": r'"?(?P<time>[\d+:]+)[.\d]*?"?',
    "cs-uri-stem": r"(?P<path>/\S*)",
    "cs-uri-query": r"(?P<query_string>\S*)",
    "c-ip": r'"?(?P<ip>[\w*.:/-]*)"?',  # "/": unix:/run/php.sock, skipped as not an IP
    "cs(User-Agent)": r'(?P<user_agent>".*?"|\S*)',
    "cs(Referer)": r"(?P<referrer>\S+)",
    "sc-status": r"(?P<status>\d+)",
    "sc-bytes": r"(?P<length>\S+)",
    "cs-host": r"(?P<host>\S+)",
    "cs-method": r"(?P<method>\S+)",
    "cs-username": r"(?P<userid>\S+)",
    "time-taken": r"(?P<generation_time_secs>[.\d]+)",
}
TIME_TAKEN_MILLI = r"(?P<generation_time_milli>[.\d]+)"
IIS_FIELDS = dict(W3C_FIELDS, **{
    "time-taken": TIME_TAKEN_MILLI,
    "sc-win32-status": r"(?P<win32_status>\S+)",
})

_IIS_FIELDS_LINE = ("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username "
                    "c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken")
_W3C_FIELDS_LINE = ("#Fields: date time c-ip cs-method cs-host cs-uri-stem cs-uri-query sc-status "
                    "sc-bytes time-taken cs(User-Agent) cs(Referer)")


@dataclass
class W3cFormat(Format):
    """A header-driven format: `regex` is None until `for_header` builds it from #Fields:."""
    fields: dict = field(default_factory=dict)
    header_lines: list[str] = field(default_factory=list)  # sample header (for detection tests)

    def for_header(self, fields_line: str, time_taken_millisecs=False, map_fields=None,
                   field_regexes=None) -> Format:
        expected = dict(self.fields)
        if time_taken_millisecs:
            expected["time-taken"] = TIME_TAKEN_MILLI
        for custom, standard in (map_fields or {}).items():
            if standard not in expected:
                raise FormatError("--w3c-map-field %s=%s: %r is not a field this format knows (known: %s)"
                                  % (custom, standard, standard, ", ".join(sorted(expected))))
            expected[custom] = expected.pop(standard)
        for name, regex in (field_regexes or {}).items():
            if "(?P<" not in regex:
                raise FormatError("--w3c-field-regex %s: the regex needs a named group (?P<name>...)" % name)
            expected[name] = regex
        line = fields_line.strip()
        if line.startswith(FIELDS_PREFIX):
            line = line[len(FIELDS_PREFIX):]
        names = line.split()
        if not names:
            raise FormatError("the #Fields: line lists no field")
        patterns = [expected.get(n, UNKNOWN_FIELD) for n in names]
        regex = r"\s+".join(patterns)
        return Format(self.name, regex, ISO_DATE, self.description, detectable=False, header_driven=True,
                      scanner=token_scanner(patterns))


# The C scanner's kind of token for each field pattern (with its group's name taken out): see
# TokenScanner in _scan.c. A pattern not listed here (a --w3c-field-regex) leaves the format to
# its regex alone.
_K_ANY, _K_DATE, _K_TIME, _K_PATH, _K_IP, _K_DIGITS, _K_DECIMAL = range(7)
_TOKEN_KINDS = {
    r"(\S*)": _K_ANY, r"(\S+)": _K_ANY, r'(".*?"|\S*)': _K_ANY, UNKNOWN_FIELD: _K_ANY,
    r'"?(\d+[-\d+]+)"?': _K_DATE,
    r'"?([\d+:]+)[.\d]*?"?': _K_TIME,
    r"(/\S*)": _K_PATH,
    r'"?([\w*.:/-]*)"?': _K_IP,
    r"(\d+)": _K_DIGITS,
    r"([.\d]+)": _K_DECIMAL,
}
_GROUP = re.compile(r"\(\?P<(\w+)>")


def token_scanner(patterns):
    """("tokens", kinds, slots) for the C scanner, or None when a pattern is not a known kind."""
    kinds, slots = [], []
    for pattern in patterns:
        group = _GROUP.search(pattern)
        kind = _TOKEN_KINDS.get(_GROUP.sub("(", pattern))
        if kind is None or len(patterns) > 64:
            return None
        kinds.append(kind)
        slots.append(FIELD_INDEX.get(group.group(1), -1) if group else -1)
    return ("tokens", bytes(kinds), tuple(slots))


def read_header(lines):
    """Split the leading '#' lines of a W3C file: (fields_line or None, other header lines)."""
    fields_line, others = None, []
    for line in lines:
        s = line.strip()
        if not s:
            continue
        if not s.startswith("#"):
            break
        if s.startswith(FIELDS_PREFIX):
            fields_line = s
            break
        others.append(s)
    return fields_line, others


def looks_like_iis(fields_line: str, header_lines) -> bool:
    if "sc-win32-status" in fields_line.split():
        return True
    return any("internet information services" in h.lower() or re.search(r"\biis\b", h.lower())
               for h in header_lines)


FORMATS = [
    W3cFormat(
        "w3c_extended", None, ISO_DATE, header_driven=True, fields=W3C_FIELDS,
        description="W3C extended log file format, driven by its #Fields: header (time-taken in seconds)",
        header_lines=["#Software: nginx-w3c", "#Version: 1.0", _W3C_FIELDS_LINE],
        samples=[
            ("2026-03-01 09:00:00 192.0.2.1 GET www.example.com /docs/install page=2 200 5120 0.25 "
             "Mozilla/5.0+(X11;+Linux+x86_64) https://www.google.com/",
             {"date": "2026-03-01", "time": "09:00:00", "ip": "192.0.2.1", "host": "www.example.com",
              "path": "/docs/install", "query_string": "page=2", "status": "200", "length": "5120",
              "generation_time_secs": "0.25", "user_agent": "Mozilla/5.0+(X11;+Linux+x86_64)",
              "referrer": "https://www.google.com/"}),
        ]),
    W3cFormat(
        "iis", None, ISO_DATE, header_driven=True, fields=IIS_FIELDS,
        description="Microsoft IIS W3C logs, driven by the #Fields: header (time-taken in milliseconds)",
        header_lines=["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
                      "#Date: 2026-03-01 00:00:00", _IIS_FIELDS_LINE],
        samples=[
            ("2026-03-01 09:00:00 10.0.0.5 GET /blog/2024 - 443 - 192.0.2.1 "
             "Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 135",
             {"date": "2026-03-01", "time": "09:00:00", "method": "GET", "path": "/blog/2024",
              "query_string": "-", "userid": "-", "ip": "192.0.2.1", "referrer": "-", "status": "200",
              "generation_time_milli": "135"}),
        ]),
]
