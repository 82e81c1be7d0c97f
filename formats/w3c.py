"""W3C extended logs (IIS, CloudFront, Incapsula, SHOUTcast, Netscaler): the regex is built from
the file's #Fields: header, field by field, in the header's order.

Field patterns follow Matomo's import_logs.py so the same lines parse the same way; an unknown
field (a custom one such as X-Forwarded-For) is skipped as a quoted string or a run of
non-spaces. The W3C reader also knows IIS Advanced Logging's names (`date-local`, `time-local`,
`cs(Host)`, `TimeTakenMS`); when a header has two fields for the same thing (`date` and
`date-local`), the one listed first in the format's table is read and the other skipped.
Fractional seconds (`10:00:00.363`) and quoted values (`"192.0.2.1"`, `"Mozilla/5.0 (X11)"`) are
read too. For ASCII lines without quotes whose fields each have the expected shape, a C scanner
(TokenScanner in `_scan.c`) gives the regex's fields about 2x faster; every other line goes to
the regex.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from .addresses import CLIENT_CHARS
from .base import FIELD_INDEX, ISO_DATE, Format, FormatError

FIELDS_PREFIX = "#Fields:"
UNKNOWN_FIELD = r'(?:".*?"|\S+)'
DATE = r'"?(?P<date>\d+[-\d+]+)"?'
TIME = r'"?(?P<time>[\d+:]+)[.\d]*?"?'  # the fraction of a second is matched, not kept
TIME_TAKEN_MILLI = r"(?P<generation_time_milli>[.\d]+)"
# The client address (formats/addresses.py: an IP, or `-`, unix:/run/php.sock..., skipped as not an IP).
CLIENT_IP = r'"?(?P<ip>[' + CLIENT_CHARS + r']*)"?'

# The order matters where two fields give the same group: the first one listed is read.
W3C_FIELDS = {
    "date": DATE,
    "time": TIME,
    "cs-uri-stem": r"(?P<path>/\S*)",
    "cs-uri-query": r"(?P<query_string>\S*)",
    "c-ip": CLIENT_IP,
    "cs(User-Agent)": r'(?P<user_agent>".*?"|\S*)',
    "cs(Referer)": r"(?P<referrer>\S+)",
    "sc-status": r"(?P<status>\d+)",
    "sc-bytes": r"(?P<length>\S+)",
    "cs-host": r"(?P<host>\S+)",
    "cs-method": r"(?P<method>\S+)",
    "cs-username": r"(?P<userid>\S+)",
    "time-taken": r"(?P<generation_time_secs>[.\d]+)",
    # IIS Advanced Logging (the server's local time, read as given: no offset is logged).
    "date-local": DATE,
    "time-local": TIME,
    "cs(Host)": r"(?P<host>\S+)",
    "TimeTakenMS": TIME_TAKEN_MILLI,
    # For --client-ip-from-forwarded-for (IIS custom fields, CloudFront's x-forwarded-for).
    "X-Forwarded-For": r'(?P<forwarded_for>".*?"|\S*)',
    "x-forwarded-for": r'(?P<forwarded_for>".*?"|\S*)',
}
IIS_FIELDS = dict(W3C_FIELDS, **{
    "time-taken": TIME_TAKEN_MILLI,
    "sc-win32-status": r"(?P<win32_status>\S+)",
})
SHOUTCAST_FIELDS = dict(W3C_FIELDS, **{
    "c-status": r"(?P<status>\d+)",
    "x-duration": r"(?P<generation_time_secs>[.\d]+)",
})
CLOUDFRONT_FIELDS = dict(W3C_FIELDS, **{
    "x-event": r"(?P<event_action>\S+)",
    "x-sname": r"(?P<event_name>\S+)",
    "cs-uri-stem": r"(?:rtmp:/)?(?P<path>/\S*)",
    "c-user-agent": r'(?P<user_agent>".*?"|\S+)',
    "x-host-header": r'(?P<host>".*?"|\S+)',
    "cs(Host)": None,  # the distribution's own domain (d111111abcdef8.cloudfront.net): the host is x-host-header
})
# Incapsula quotes every value (so a space inside one is read: a path with spaces is a hit); its
# own names: cs-uri (host and path), cs-bytes, cs(Referrer).
INCAPSULA_FIELDS = dict(W3C_FIELDS, **{
    "cs-uri": r'"(?P<host>[^/\s"]+)(?P<path>/[^"]*)"',
    "cs-uri-query": r'"(?P<query_string>[^"]*)"',
    "c-ip": r'"(?P<ip>[' + CLIENT_CHARS + r']*)"',
    "cs(User-Agent)": r'"(?P<user_agent>.*?)"',
    "cs(Referrer)": r'"(?P<referrer>[^"]*)"',
    "cs(Referer)": r'"(?P<referrer>[^"]*)"',
    "sc-status": r'"(?P<status>\d*)"',
    "cs-bytes": r'"(?P<length>\d*)"',
    "cs-method": r'"(?P<method>[^\s"]*)"',
})


def _unquote_twice(text):
    return unquote(unquote(text))


def _status_or_200(status):
    return status or "200"


# CloudFront URL-encodes field values (spaces, %, quotes, ... and bytes outside ASCII): the path,
# query and referrer are decoded once (the vendor's documentation), the user agent twice (it
# comes encoded twice, as import_logs.py's tests show).
CLOUDFRONT_DECODING = {"path": unquote, "query_string": unquote, "referrer": unquote, "user_agent": _unquote_twice}


_IIS_FIELDS_LINE = ("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username "
                    "c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken")
_W3C_FIELDS_LINE = ("#Fields: date time c-ip cs-method cs-host cs-uri-stem cs-uri-query sc-status "
                    "sc-bytes time-taken cs(User-Agent) cs(Referer)")
_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


@dataclass
class W3cFormat(Format):
    """A header-driven format: `regex` is None until `for_header` builds it from #Fields:.

    `fields`: W3C field name -> pattern (None: read as unknown); `unknown`: the pattern of
    fields not in the table. Detection (`claims`) picks a format by its #Software: line
    (`software`, a regex) or by a field only it has (`marker_fields`); w3c_extended claims the
    rest.
    """
    fields: dict = field(default_factory=dict)
    unknown: str = UNKNOWN_FIELD
    software: str | None = None
    marker_fields: frozenset = frozenset()
    header_prefix: str | None = "#"

    def claims(self, names, header_lines) -> bool:
        if self.marker_fields & set(names):
            return True
        if self.software is None:
            return False
        return any(re.search(self.software, h, re.IGNORECASE) for h in header_lines if h.startswith("#Software:"))

    def for_header(self, fields_line: str, time_taken_millisecs=False, map_fields=None,
                   field_regexes=None) -> Format:
        """The format of one file, from its `#Fields:` line and the --w3c-* options. Raises
        FormatError for an option that names a field the format does not know, or a regex
        without a named group."""
        expected = dict(self.fields)
        if time_taken_millisecs:
            expected["time-taken"] = TIME_TAKEN_MILLI
        for custom, standard in (map_fields or {}).items():
            if expected.get(standard) is None:
                known = sorted(n for n, p in expected.items() if p is not None)
                raise FormatError("--w3c-map-field %s=%s: %r is not a field this format knows (known: %s)"
                                  % (custom, standard, standard, ", ".join(known)))
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
        patterns = _one_field_per_group(names, expected, self.unknown)
        regex = r"\s+".join(patterns)
        return Format(self.name, regex, ISO_DATE, self.description, detectable=False, header_driven=True,
                      scanner=token_scanner(patterns), converters=self.converters, defaults=self.defaults,
                      header_prefix="#")


def _one_field_per_group(names, expected, unknown):
    """The pattern of each header field; where two fields give the same group, the one the table
    lists first keeps it and the other is read as unknown (a regex cannot name a group twice)."""
    rank = {n: i for i, n in enumerate(expected)}
    patterns = [expected.get(n) or unknown for n in names]
    owner: dict = {}  # group -> position of the field that gives it
    for pos, name in enumerate(names):
        for group in _GROUP.findall(patterns[pos]):
            held = owner.get(group)
            if held is None or rank.get(name, len(rank)) < rank.get(names[held], len(rank)):
                owner[group] = pos
    for pos in range(len(names)):
        if any(owner[g] != pos for g in _GROUP.findall(patterns[pos])):
            patterns[pos] = unknown
    return patterns


# The C scanner's kind of token for each field pattern (with its group's name taken out): see
# TokenScanner in _scan.c. A pattern not listed here (a --w3c-field-regex, CloudFront's stem,
# Incapsula's quoted fields) leaves the format to its regex alone.
_K_ANY, _K_DATE, _K_TIME, _K_PATH, _K_IP, _K_DIGITS, _K_DECIMAL = range(7)
_GROUP = re.compile(r"\(\?P<(\w+)>")
_TOKEN_KINDS = {
    r"(\S*)": _K_ANY, r"(\S+)": _K_ANY, r'(".*?"|\S*)': _K_ANY, UNKNOWN_FIELD: _K_ANY,
    r'"?(\d+[-\d+]+)"?': _K_DATE,
    r'"?([\d+:]+)[.\d]*?"?': _K_TIME,
    r"(/\S*)": _K_PATH,
    _GROUP.sub("(", CLIENT_IP): _K_IP,
    r"(\d+)": _K_DIGITS,
    r"([.\d]+)": _K_DECIMAL,
}


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


def fields_lines(data: bytes):
    """The #Fields: lines of a block of a W3C file, as (offset of the line in the block, the line's
    field names): a server that changes its logging settings (IIS) writes a new header, and its
    fields apply to the lines after it. Only lines that start with #Fields: count."""
    out = []
    at = data.find(b"#Fields:")
    while at >= 0:
        if at == 0 or data[at - 1:at] == b"\n" or (at == 3 and data[:3] == b"\xef\xbb\xbf"):  # after a BOM
            end = data.find(b"\n", at)
            line = data[at:end if end >= 0 else len(data)].decode("utf-8", "replace")
            out.append((at, tuple(line[len(FIELDS_PREFIX):].split())))
        at = data.find(b"#Fields:", at + len(FIELDS_PREFIX))
    return out


def read_header(lines):
    """The W3C header among a file's first lines: (its #Fields: line or None, the other '#' lines
    of the same header). The header may come after data lines (a file that starts mid-log) and
    may repeat: the first #Fields: line is the one read."""
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith(FIELDS_PREFIX):
            others = []
            for before in reversed(lines[:i]):
                b = before.strip()
                if b and not b.startswith("#"):
                    break
                if b:
                    others.insert(0, b)
            return s, others
    return None, []


FORMATS = [
    W3cFormat(
        "amazon_cloudfront", None, ISO_DATE, header_driven=True, fields=CLOUDFRONT_FIELDS,
        marker_fields=frozenset(["x-edge-location", "x-edge-request-id", "x-event", "x-host-header"]),
        converters=CLOUDFRONT_DECODING, defaults={"event_category": "cloudfront_rtmp", "status": "200"},
        description="Amazon CloudFront standard logs (web distributions, tab-separated, URL-encoded agents) and "
                    "RTMP streaming logs (each line an event: e_c=cloudfront_rtmp, e_a=x-event, e_n=x-sname)",
        header_lines=["#Version: 1.0",
                      "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
                      "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
                      "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
                      "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
                      "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
                      "sc-range-start sc-range-end"],
        samples=[
            ("2026-03-01\t09:00:00\tCDG50-C1\t5120\t192.0.2.1\tGET\td111111abcdef8.cloudfront.net\t"
             "/docs/caf%25C3%25A9\t200\t"
             "https://www.google.com/\tMozilla/5.0%2520(X11;%2520Linux%2520x86_64)\tpage=2\t-\tHit\t"
             "SOOztvZ9Sx3Cmr1F5cDvMx3NxMAWiWhXzo1qjpHcE8fq8Fu5tLKX0A==\twww.example.com\thttps\t412\t0.004\t-\t"
             "TLSv1.3\tTLS_AES_128_GCM_SHA256\tHit\tHTTP/2.0\t-\t-\t52310\t0.004\tHit\ttext/html\t5032\t-\t-",
             {"date": "2026-03-01", "time": "09:00:00", "ip": "192.0.2.1", "method": "GET",
              "host": "www.example.com", "path": "/docs/caf%C3%A9", "query_string": "page=2", "status": "200",
              "length": "5120", "referrer": "https://www.google.com/", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
              "generation_time_secs": "0.004", "event_category": "cloudfront_rtmp", "event_action": None}),
        ]),
    W3cFormat(
        "incapsula_w3c", None, ISO_DATE, header_driven=True, fields=INCAPSULA_FIELDS, unknown=r'".*?"',
        software=r"incapsula", converters={"status": _status_or_200},
        description="Imperva Incapsula logs in W3C format (every value quoted; cs-uri holds host and path)",
        header_lines=["#Software: Incapsula LOGS API", "#Version: 1.1", "#Date: 01/Mar/2026 09:05:00",
                      "#Fields: date time cs-vid cs-clapp cs-browsertype c-ip s-caip cs(User-Agent) s-siteid "
                      "cs-countrycode cs-uri cs-version sc-action cs(Referrer) s-ip s-port cs-method cs-uri-query "
                      "sc-status s-xff cs-bytes cs-start"],
        samples=[
            ('"2026-03-01" "09:00:00" "4f1b2c3d-0000-4000-8000-00000000cafe" "Firefox" "Browser" "192.0.2.1" '
             '"" "%s" "10203040" "FR" "www.example.com/docs/install" "HTTP/1.1" "REQ_PASSED" '
             '"https://www.google.com/" "198.51.100.7" "443" "GET" "page=2" "200" "192.0.2.1" "5120" '
             '"1772355600000"' % _UA,
             {"date": "2026-03-01", "time": "09:00:00", "ip": "192.0.2.1", "user_agent": _UA,
              "host": "www.example.com", "path": "/docs/install", "referrer": "https://www.google.com/",
              "method": "GET", "query_string": "page=2", "status": "200", "length": "5120"}),
            ('"2026-03-01" "09:00:01" "4f1b2c3d-0000-4000-8000-00000000cafe" "Firefox" "Browser" "192.0.2.1" '
             '"" "%s" "10203040" "FR" "www.example.com/feed" "HTTP/1.1" "REQ_PASSED" "" "198.51.100.7" "443" '
             '"GET" "" "" "192.0.2.1" "" "1772355601000"' % _UA,
             {"path": "/feed", "status": "200", "length": "", "referrer": "", "query_string": ""}),
        ]),
    W3cFormat(
        "shoutcast", None, ISO_DATE, header_driven=True, fields=SHOUTCAST_FIELDS, software=r"shoutcast",
        marker_fields=frozenset(["c-status", "x-duration"]), converters={"user_agent": unquote},
        description="SHOUTcast DNAS W3C logs (c-status, x-duration in seconds, URL-encoded agents)",
        header_lines=["#Software: SHOUTcast", "#Version: 2.6.1",
                      "#Fields: c-ip c-dns date time cs-uri-stem c-status cs(User-Agent) sc-bytes x-duration "
                      "avgbandwidth"],
        samples=[
            ("192.0.2.1 192.0.2.1 2026-03-01 09:00:00 /stream?title=Morning%20Show 200 "
             "VLC%2F3.0.20%20LibVLC%2F3.0.20 1048576 65 129055",
             {"ip": "192.0.2.1", "date": "2026-03-01", "time": "09:00:00", "path": "/stream?title=Morning%20Show",
              "status": "200", "user_agent": "VLC/3.0.20 LibVLC/3.0.20", "length": "1048576",
              "generation_time_secs": "65"}),
        ]),
    W3cFormat(
        "netscaler", None, ISO_DATE, header_driven=True, fields=W3C_FIELDS, software=r"netscaler",
        description="Citrix NetScaler web logging (NSWL) in W3C format (time-taken in seconds)",
        header_lines=["#Version: 1.0", "#Software: Netscaler Web Logging(NSWL)", "#Date: 2026-03-01 09:00:00",
                      "#Fields: date time c-ip cs-username sc-servicename s-ip s-port cs-method cs-uri-stem "
                      "cs-uri-query sc-status cs-bytes sc-bytes time-taken cs-version cs(User-Agent) cs(Cookie) "
                      "cs(Referer)"],
        samples=[
            ("2026-03-01 09:00:00 192.0.2.1 - HTTP 10.0.0.5 443 GET /docs/install page=2 200 412 5120 1 HTTP/1.1 "
             "Mozilla/5.0+(X11;+Linux+x86_64) - https://www.google.com/",
             {"date": "2026-03-01", "time": "09:00:00", "ip": "192.0.2.1", "userid": "-", "method": "GET",
              "path": "/docs/install", "query_string": "page=2", "status": "200", "length": "5120",
              "generation_time_secs": "1", "user_agent": "Mozilla/5.0+(X11;+Linux+x86_64)",
              "referrer": "https://www.google.com/"}),
        ]),
    W3cFormat(
        "iis", None, ISO_DATE, header_driven=True, fields=IIS_FIELDS,
        software=r"\biis\b|internet information services", marker_fields=frozenset(["sc-win32-status"]),
        description="Microsoft IIS W3C logs, and IIS Advanced Logging (time-taken in milliseconds)",
        header_lines=["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
                      "#Date: 2026-03-01 00:00:00", _IIS_FIELDS_LINE],
        samples=[
            ("2026-03-01 09:00:00 10.0.0.5 GET /blog/2024 - 443 - 192.0.2.1 "
             "Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 135",
             {"date": "2026-03-01", "time": "09:00:00", "method": "GET", "path": "/blog/2024",
              "query_string": "-", "userid": "-", "ip": "192.0.2.1", "referrer": "-", "status": "200",
              "generation_time_milli": "135"}),
        ]),
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
]
